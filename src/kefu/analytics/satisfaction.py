"""Service satisfaction under the old and the new (2022) rule (metrics.md, "Satisfaction").

Steps 1 and 2 of the new rule (flagged buyers, robot ratings) are row filters and run on the
engine. Step 3 is sequential by nature: whether a rating counts depends on the previous rating
that *this step kept*, so no window expression states it. It runs here over the period's
ratings, which are few (at most one per conversation), in one ordered pass.
"""

from __future__ import annotations

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kefu.interchange.dictionaries import codes as value_codes

BURST_US = 10 * 60 * 1_000_000  # a rating within 10 minutes of the buyer's previous one is a burst
MAX_PER_BUYER = 3  # a buyer's ratings of one shop after the third in the period do not count
GOOD_SCORES = ("very_satisfied", "satisfied")


def ratings_in_period(ratings: ir.Table, buyers: ir.Table | None, bounds: ir.Table) -> ir.Table:
    """The period's ratings with `eligible`: not removed by step 1 (flagged buyer) nor 2 (robot)."""
    rated = ratings.inner_join(bounds, "shop_id")
    rated = rated.filter((rated.at >= rated.p_from) & (rated.at < rated.p_to))
    eligible = rated.robot == 0
    if buyers is not None:
        buyers = buyers.filter(buyers.risk_flag.notnull() & (buyers.risk_flag != ""))
        everywhere = buyers.filter(buyers.shop_id.isnull()).select(flag_all="buyer_id").distinct()
        at_shop = (
            buyers.filter(buyers.shop_id.notnull())
            .select(flag_buyer="buyer_id", flag_shop="shop_id")
            .distinct()
        )
        rated = rated.left_join(everywhere, rated.buyer_id == everywhere.flag_all)
        rated = rated.left_join(
            at_shop, [rated.buyer_id == at_shop.flag_buyer, rated.shop_id == at_shop.flag_shop]
        )
        eligible = (rated.robot == 0) & rated.flag_all.isnull() & rated.flag_buyer.isnull()
    return rated.select(
        "shop_id",
        "buyer_id",
        "agent_id",
        "at",
        "ord",
        good=rated.score.isin(GOOD_SCORES),
        eligible=eligible,
    )


def counted(rated: pa.Table) -> np.ndarray:
    """Which of the period's ratings the new rule keeps (steps 3 and 4 over the eligible ones)."""
    keep = np.zeros(rated.num_rows, dtype=bool)
    eligible = np.flatnonzero(rated.column("eligible").to_numpy(zero_copy_only=False))
    if len(eligible) == 0:
        return keep
    sub = rated.take(pa.array(eligible))
    # Groups are (shop, buyer): codes stand in for the values (only equality matters, not order).
    # The shop is never null (ratings_in_period joins the bounds); a rating without a buyer is a
    # group of its own.
    shop = _codes(sub.column("shop_id"))
    buyer = _codes(sub.column("buyer_id"))
    at = sub.column("at").to_numpy()
    ord_ = sub.column("ord").to_numpy()
    order = np.lexsort((ord_, at, buyer, shop))
    shop, buyer, at, rows = shop[order], buyer[order], at[order], eligible[order]
    new_group = np.ones(len(rows), dtype=bool)
    new_group[1:] = (shop[1:] != shop[:-1]) | (buyer[1:] != buyer[:-1])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], len(rows))
    # Without a burst in a group (every rating 10 minutes or more after the one before), each
    # rating is kept by step 3 and step 4 keeps the first three: no need to walk the group.
    burst = np.zeros(len(rows), dtype=bool)
    burst[1:] = ~new_group[1:] & (at[1:] - at[:-1] < BURST_US)
    has_burst = np.add.reduceat(burst, starts) > 0 if len(starts) else np.zeros(0, dtype=bool)
    group = np.cumsum(new_group) - 1
    place = np.arange(len(rows)) - starts[group]  # place in its group, from 0
    calm = ~has_burst[group]
    keep[rows[calm & (place < MAX_PER_BUYER)]] = True
    for start, end in zip(starts[has_burst], ends[has_burst], strict=True):
        kept, last = 0, None
        for i in range(start, end):
            if last is not None and at[i] - last < BURST_US:
                continue
            last = at[i]
            kept += 1
            if kept <= MAX_PER_BUYER:
                keep[rows[i]] = True
    return keep


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Per row a code, equal exactly when the values are; a null equals nothing, not even a null."""
    codes = value_codes(column).astype(np.int64)
    missing = np.flatnonzero(codes < 0)
    codes[missing] = len(codes) + np.arange(len(missing))
    return codes


def satisfaction_rows(rated: pa.Table) -> tuple[dict, dict]:
    """Per (shop, agent) and per shop: ratings, ratings_counted, satisfaction_old, satisfaction_new."""
    keep = counted(rated)
    good = rated.column("good").to_numpy(zero_copy_only=False).astype(bool)
    tallies = pa.table(
        {
            "shop_id": rated.column("shop_id"),
            "agent_id": rated.column("agent_id"),
            "one": np.ones(rated.num_rows, dtype=np.int64),
            "kept": keep.astype(np.int64),
            "good": good.astype(np.int64),
            "good_kept": (good & keep).astype(np.int64),
        }
    )
    sums = [(c, "sum") for c in ("one", "kept", "good", "good_kept")]
    per_agent = tallies.filter(pc.is_valid(tallies["agent_id"])).group_by(["shop_id", "agent_id"])
    per_shop = tallies.group_by(["shop_id"])
    return (
        {(r["shop_id"], r["agent_id"]): _values(r) for r in per_agent.aggregate(sums).to_pylist()},
        {r["shop_id"]: _values(r) for r in per_shop.aggregate(sums).to_pylist()},
    )


def _values(row: dict) -> dict:
    ratings, kept, good, good_kept = (row[f"{c}_sum"] for c in ("one", "kept", "good", "good_kept"))
    return {
        "ratings": ratings,
        "ratings_counted": kept,
        "satisfaction_old": good / ratings if ratings else None,
        "satisfaction_new": good_kept / kept if kept else None,
    }


def no_ratings() -> dict:
    return {"ratings": 0, "ratings_counted": 0, "satisfaction_old": None, "satisfaction_new": None}
