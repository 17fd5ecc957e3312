"""The contract metrics (shared/spec/metrics.md) in vectorised pandas: the benchmark's baseline.

    .venv/bin/python bench/pandas_metrics.py --data DIR --from 2026-10-01 --to 2026-10-31 --out report.json

Written the way a capable analyst would: read the Parquet tables with pandas, sort once,
shift/cumsum for turns, merge_asof for the 24 h attribution, groupby aggregations; no Python
function per group. `pandas_report` returns the same document as `kefu report --format json`.

Readings fixed by the team where the contract leaves room:
- P = [from, to) at local midnight in `tz`, one zone for every shop (no per-shop zones);
- ties on equal timestamps break by file order (for a folder of parts: parts by name);
- a refund whose order is not in `orders` has no shop and is not counted;
- `sales` is rounded to 2 decimals, `aov` is the exact sales / paid_buyers;
- `refund_reasons` are ordered most first, then by reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

DAY_WINDOW = pd.Timedelta(hours=24)
DSR_DAYS = 180
HIGH_FREQUENCY_US = 600 * 1_000_000
KEPT_PER_BUYER = 3
GOOD_SCORES = ("very_satisfied", "satisfied")

RESPONSE_KEYS = ("turns", "avg_response_s", "first_response_s", "reply_within_30s_rate")
SALES_KEYS = (
    "served_buyers",
    "ordered_buyers",
    "paid_buyers",
    "inquiry_conversion_rate",
    "order_rate",
    "payment_rate",
    "sales",
    "aov",
    "refund_rate",
)
RATING_KEYS = ("ratings", "ratings_counted", "satisfaction_old", "satisfaction_new")
AGENT_KEYS = ("shop_id", "agent_id", *RESPONSE_KEYS, *SALES_KEYS, *RATING_KEYS)
SHOP_KEYS = (
    "shop_id",
    *RESPONSE_KEYS,
    *SALES_KEYS,
    *RATING_KEYS,
    "unanswered_turns",
    "buyer_last_word_conversations",
    "orders",
    "paid_orders",
    "inquiry_orders",
    "bot_assisted_orders",
    "silent_orders",
    "refund_reasons",
    "dsr_description",
    "dsr_service",
    "dsr_shipping",
    "positive_review_rate",
)
PRODUCT_KEYS = ("shop_id", "product_id", "refund_rate", "refund_reasons")
COUNT_KEYS = {
    "turns",
    "served_buyers",
    "ordered_buyers",
    "paid_buyers",
    "ratings",
    "ratings_counted",
    "unanswered_turns",
    "buyer_last_word_conversations",
    "orders",
    "paid_orders",
    "inquiry_orders",
    "bot_assisted_orders",
    "silent_orders",
}

COLUMNS = {
    "messages": ["conversation_id", "shop_id", "buyer_id", "sender", "agent_id", "sent_at"],
    "orders": ["order_id", "shop_id", "buyer_id", "created_at", "paid_at", "amount"],
    "order_items": ["order_id", "product_id"],
    "refunds": ["order_id", "product_id", "reason", "completed_at", "status"],
    "ratings": ["shop_id", "buyer_id", "agent_id", "rated_at", "score", "robot"],
    "reviews": ["shop_id", "created_at", "rating", "dsr_description", "dsr_service", "dsr_shipping"],
    "buyers": ["buyer_id", "shop_id", "risk_flag"],
}
TIMES = {"sent_at", "created_at", "paid_at", "completed_at", "rated_at"}
MAY_BE_EMPTY = {
    ("messages", "agent_id"),
    ("ratings", "agent_id"),
    ("refunds", "product_id"),
    ("buyers", "shop_id"),
    ("buyers", "risk_flag"),
}


def read(folder: Path, name: str) -> pd.DataFrame | None:
    """A table of the dataset as pandas (a `name.parquet` file or a `name/` folder of parts)."""
    path = folder / f"{name}.parquet"
    if not path.exists():
        path = folder / name
        if not path.is_dir():
            return None
    present = set(pq.ParquetDataset(path).schema.names)
    columns = [c for c in COLUMNS[name] if c in present]
    if name == "orders":  # money: pyarrow decimals, turned into integer cents
        frame = pd.read_parquet(path, columns=columns, dtype_backend="pyarrow")
        frame["amount"] = (frame["amount"].astype("float64") * 100).round().astype("int64")
        frame = frame.astype({c: "str" for c in ("order_id", "shop_id", "buyer_id")})
        frame = frame.astype({c: "datetime64[us, UTC]" for c in ("created_at", "paid_at") if c in frame})
    else:
        frame = pd.read_parquet(path, columns=columns)
    for column in COLUMNS[name]:
        if column not in frame.columns:
            frame[column] = False if column == "robot" else None
        elif column in TIMES and not isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        elif column in TIMES:
            frame[column] = frame[column].astype("datetime64[us, UTC]")
        elif (name, column) in MAY_BE_EMPTY:
            frame[column] = frame[column].replace("", None)  # an empty string means no value
    return frame


def empty(name: str) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype="str") for c in COLUMNS[name]})
    for column in COLUMNS[name]:
        if column in TIMES:
            frame[column] = pd.Series([], dtype="datetime64[us, UTC]")
    if name == "orders":
        frame["amount"] = pd.Series([], dtype="int64")
    if name == "ratings":
        frame["robot"] = pd.Series([], dtype="bool")
    return frame


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, null where den is 0 (or missing)."""
    den = den.astype("float64")
    return (num.astype("float64") / den).where(den > 0)


def pandas_report(folder, date_from, date_to, tz: str = "Asia/Shanghai") -> dict:
    folder = Path(folder)
    start = pd.Timestamp(str(date_from)).tz_localize(tz)
    end = pd.Timestamp(str(date_to)).tz_localize(tz)
    dsr_start = (pd.Timestamp(str(date_to)) - pd.Timedelta(days=DSR_DAYS)).tz_localize(tz)
    lo, hi = start.tz_convert("UTC"), end.tz_convert("UTC")

    def in_p(times: pd.Series) -> pd.Series:
        return (times >= lo) & (times < hi)

    m = read(folder, "messages")
    if m is None:
        raise SystemExit(f"{folder} has no messages table")
    orders, items, refunds, ratings, reviews, buyers = (
        read(folder, k) if (folder / k).is_dir() or (folder / f"{k}.parquet").is_file() else empty(k)
        for k in ("orders", "order_items", "refunds", "ratings", "reviews", "buyers")
    )
    message_shops = m["shop_id"].unique()

    # --- turns and response times -------------------------------------------------------------
    ba = m.loc[
        m["sender"].isin(["buyer", "agent"]),
        ["conversation_id", "shop_id", "sender", "agent_id", "sent_at"],
    ]
    ba["conv"] = pd.factorize(ba["conversation_id"])[0]
    ba = ba.sort_values(["conv", "sent_at"], ignore_index=True)  # several keys: a stable lexsort
    is_buyer = ba["sender"].eq("buyer")
    same_conv = ba["conv"].eq(ba["conv"].shift())
    after_buyer = is_buyer.shift(fill_value=False) & same_conv
    turn_start = is_buyer & ~after_buyer
    answer = ~is_buyer & after_buyer  # the agent message right after a run of buyer messages
    ba["turn"] = turn_start.cumsum()
    ba["turn_at"] = ba["sent_at"].where(turn_start).ffill()
    turns = ba.loc[turn_start, ["turn", "conv", "shop_id", "sent_at"]].rename(columns={"sent_at": "start"})
    turns["first"] = ~turns["conv"].duplicated()
    answers = ba.loc[answer, ["turn", "agent_id"]].assign(
        response=(ba["sent_at"] - ba["turn_at"].shift()).loc[answer].dt.total_seconds()
    )
    turns = turns.merge(answers, on="turn", how="left")
    turns = turns[in_p(turns["start"])]
    answered = turns[turns["agent_id"].notna()].assign(fast=lambda d: d["response"] <= 30)

    def response_stats(answered: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        grouped = answered.groupby(keys)
        stats = pd.DataFrame(
            {
                "turns": grouped.size(),
                "avg_response_s": grouped["response"].mean(),
                "reply_within_30s_rate": grouped["fast"].mean(),
            }
        )
        firsts = answered[answered["first"]].groupby(keys)["response"].mean()
        return stats.join(firsts.rename("first_response_s"), how="outer")

    agent_response = response_stats(answered, ["shop_id", "agent_id"])
    shop_response = response_stats(answered, ["shop_id"])
    shop_response = shop_response.join(
        turns[turns["agent_id"].isna()].groupby("shop_id").size().rename("unanswered_turns"), how="outer"
    )
    last = ba[~ba["conv"].eq(ba["conv"].shift(-1))]  # each conversation's last buyer-or-agent message
    starts = turns.loc[turns["first"], ["conv"]]  # conversations whose first turn starts in P
    left_alone = last[last["sender"].eq("buyer") & last["conv"].isin(starts["conv"])]
    shop_response = shop_response.join(
        left_alone.groupby("shop_id").size().rename("buyer_last_word_conversations"), how="outer"
    )
    del ba, turns, answers, answered, last, starts, left_alone, is_buyer, same_conv, after_buyer

    # --- attribution of orders (24 h, inclusive, latest agent message; ties: later in file) -------
    agent_msgs = m.loc[m["sender"].eq("agent"), ["shop_id", "buyer_id", "agent_id", "sent_at"]]
    bot_msgs = m.loc[m["sender"].eq("bot"), ["shop_id", "buyer_id", "sent_at"]]
    served = agent_msgs[in_p(agent_msgs["sent_at"])]
    agent_served = served.drop_duplicates(["shop_id", "agent_id", "buyer_id"])
    agent_served = agent_served.groupby(["shop_id", "agent_id"]).size().rename("served_buyers")
    shop_served = (
        served.drop_duplicates(["shop_id", "buyer_id"]).groupby("shop_id").size().rename("served_buyers")
    )
    del served, m

    o = orders.assign(at=orders["created_at"]).sort_values("at", kind="stable")
    right = agent_msgs.sort_values("sent_at", kind="stable").rename(columns={"sent_at": "at"})
    right["message_at"] = right["at"]
    o = pd.merge_asof(
        o,
        right[["at", "shop_id", "buyer_id", "agent_id", "message_at"]],
        on="at",
        by=["shop_id", "buyer_id"],
        tolerance=DAY_WINDOW,
        direction="backward",
    )
    bots = bot_msgs.sort_values("sent_at", kind="stable").rename(columns={"sent_at": "at"})
    bots["bot_at"] = bots["at"]
    o = pd.merge_asof(
        o,
        bots[["at", "shop_id", "buyer_id", "bot_at"]],
        on="at",
        by=["shop_id", "buyer_id"],
        tolerance=DAY_WINDOW,
        direction="backward",
    )
    del agent_msgs, bot_msgs, right, bots
    o["attributed"] = o["agent_id"].notna()
    o["bot"] = ~o["attributed"] & o["bot_at"].notna()
    o["paid"] = o["paid_at"].notna()
    completed = refunds[refunds["status"].eq("completed")]
    o["refunded"] = o["order_id"].isin(completed["order_id"])

    counted = o[o["attributed"] & in_p(o["message_at"])]
    paid = counted[counted["paid"]]

    def sales_stats(keys: list[str], served_buyers: pd.Series) -> pd.DataFrame:
        stats = pd.DataFrame({"served_buyers": served_buyers})
        stats = stats.join(
            counted.drop_duplicates([*keys, "buyer_id"]).groupby(keys).size().rename("ordered_buyers"),
            how="outer",
        )
        grouped = paid.groupby(keys)
        stats = stats.join(
            pd.DataFrame(
                {
                    "paid_buyers": paid.drop_duplicates([*keys, "buyer_id"]).groupby(keys).size(),
                    "cents": grouped["amount"].sum(),
                    "paid_orders_n": grouped.size(),
                    "refunded_n": grouped["refunded"].sum(),
                }
            ),
            how="outer",
        )
        return stats

    agent_sales = sales_stats(["shop_id", "agent_id"], agent_served)
    shop_sales = sales_stats(["shop_id"], shop_served)

    created = o[in_p(o["created_at"])]
    grouped = created.groupby("shop_id")
    shop_orders = pd.DataFrame(
        {
            "orders": grouped.size(),
            "paid_orders": grouped["paid"].sum(),
            "inquiry_orders": grouped["attributed"].sum(),
            "bot_assisted_orders": grouped["bot"].sum(),
        }
    )
    shop_orders["silent_orders"] = (
        shop_orders["orders"] - shop_orders["inquiry_orders"] - shop_orders["bot_assisted_orders"]
    )

    # --- refunds: shop and product -------------------------------------------------------------
    line_counts = items.groupby("order_id").size()
    paid_in_p = o.loc[o["paid"] & in_p(o["paid_at"]), ["order_id", "shop_id"]]
    paid_in_p["lines"] = paid_in_p["order_id"].map(line_counts).fillna(1)
    shop_lines = paid_in_p.groupby("shop_id")["lines"].sum()
    done = completed[in_p(completed["completed_at"])].merge(o[["order_id", "shop_id"]], on="order_id")
    shop_refunds = done.groupby("shop_id").size()
    shop_refund = pd.DataFrame({"lines": shop_lines, "refunds": shop_refunds})
    shop_refund["refund_rate"] = ratio(shop_refund["refunds"].fillna(0), shop_refund["lines"].fillna(0))

    product_lines = (
        items.merge(paid_in_p[["order_id", "shop_id"]], on="order_id")
        .groupby(["shop_id", "product_id"])
        .size()
    )
    named = done[done["product_id"].notna()]
    products = pd.DataFrame(
        {"lines": product_lines, "refunds": named.groupby(["shop_id", "product_id"]).size()}
    )
    products["refund_rate"] = ratio(products["refunds"].fillna(0), products["lines"].fillna(0))

    def reasons(frame: pd.DataFrame, keys: list[str]) -> dict:
        counts = frame.groupby([*keys, "reason"]).size().reset_index(name="n")
        counts = counts.sort_values([*keys, "n", "reason"], ascending=[True] * len(keys) + [False, True])
        result: dict = {}
        for row in counts.itertuples(index=False):  # one row per (key, reason): output, not per group work
            key = tuple(row[: len(keys)]) if len(keys) > 1 else row[0]
            result.setdefault(key, {})[row.reason] = int(row.n)
        return result

    shop_reasons = reasons(done, ["shop_id"])
    product_reasons = reasons(named, ["shop_id", "product_id"])

    # --- satisfaction ---------------------------------------------------------------------------
    r = ratings[in_p(ratings["rated_at"])].copy()
    r["row"] = np.arange(len(r))
    r["good"] = r["score"].isin(GOOD_SCORES)
    flagged = buyers[buyers["risk_flag"].notna()]
    everywhere = flagged.loc[flagged["shop_id"].isna(), "buyer_id"]
    at_shop = (
        flagged.loc[flagged["shop_id"].notna(), ["buyer_id", "shop_id"]].drop_duplicates().assign(risky=True)
    )
    r = r.merge(at_shop, on=["buyer_id", "shop_id"], how="left")
    risky = r["risky"].eq(True) | r["buyer_id"].isin(everywhere)
    robot = r["robot"].fillna(False).astype(bool)
    kept = r[~risky & ~robot].sort_values(["shop_id", "buyer_id", "rated_at", "row"], ignore_index=True)
    # Step 3: keep a rating only 10 minutes or more after the previous one kept. The next kept
    # rating is the first at least 10 minutes after the current one, so follow those links.
    group = pd.factorize(kept["shop_id"] + "\x1f" + kept["buyer_id"])[0].astype(np.int64)
    micros = kept["rated_at"].astype("int64").to_numpy()
    base = micros.min() if len(micros) else 0
    span = (micros.max() - base if len(micros) else 0) + HIGH_FREQUENCY_US + 1
    assert (group.max() + 1 if len(group) else 0) * span < 2**62, "too many buyers for the composite key"
    key = group * span + (micros - base)
    following = np.searchsorted(key, key + HIGH_FREQUENCY_US, side="left")
    keep = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, dtype=bool)
    frontier = np.flatnonzero(keep)
    while frontier.size:
        nxt = following[frontier]
        ok = nxt < len(key)
        nxt, frontier = nxt[ok], frontier[ok]
        frontier = nxt[group[nxt] == group[frontier]]
        keep[frontier] = True
    kept = kept[keep]
    kept = kept[kept.groupby(["shop_id", "buyer_id"]).cumcount() < KEPT_PER_BUYER]

    def rating_stats(keys: list[str], frame: pd.DataFrame, counted_frame: pd.DataFrame) -> pd.DataFrame:
        stats = pd.DataFrame(
            {
                "ratings": frame.groupby(keys).size(),
                "good_old": frame.groupby(keys)["good"].sum(),
                "ratings_counted": counted_frame.groupby(keys).size(),
                "good_new": counted_frame.groupby(keys)["good"].sum(),
            }
        )
        stats[["ratings", "ratings_counted"]] = stats[["ratings", "ratings_counted"]].fillna(0)
        stats["satisfaction_old"] = ratio(stats["good_old"], stats["ratings"])
        stats["satisfaction_new"] = ratio(stats["good_new"].fillna(0), stats["ratings_counted"])
        return stats

    agent_ratings = rating_stats(
        ["shop_id", "agent_id"], r[r["agent_id"].notna()], kept[kept["agent_id"].notna()]
    )
    shop_ratings = rating_stats(["shop_id"], r, kept)

    # --- reviews --------------------------------------------------------------------------------
    recent = reviews[(reviews["created_at"] >= dsr_start.tz_convert("UTC")) & (reviews["created_at"] < hi)]
    dsr = recent.groupby("shop_id")[["dsr_description", "dsr_service", "dsr_shipping"]].mean()
    in_period = reviews[in_p(reviews["created_at"])]
    positive = in_period.assign(good=in_period["rating"].eq("good")).groupby("shop_id")["good"].mean()

    # --- rows -----------------------------------------------------------------------------------
    agents = agent_response.join(agent_sales, how="outer").join(agent_ratings, how="outer")
    agents = agents[
        agents["turns"].fillna(0).gt(0)
        | agents["served_buyers"].fillna(0).gt(0)
        | agents["ratings"].fillna(0).gt(0)
    ]
    finish_sales(agents)
    agents["refund_rate"] = ratio(agents["refunded_n"].fillna(0), agents["paid_orders_n"].fillna(0))

    shop_ids = (
        pd.concat(
            [
                pd.Series(message_shops),
                orders["shop_id"],
                ratings["shop_id"],
                reviews["shop_id"],
                buyers["shop_id"],
            ]
        )
        .dropna()
        .unique()
    )
    shops = pd.DataFrame(index=pd.Index(sorted(shop_ids), name="shop_id"))
    for part in (shop_response, shop_sales, shop_ratings, shop_orders, dsr):
        shops = shops.join(part, how="left")
    shops["positive_review_rate"] = positive
    finish_sales(shops)
    shops["refund_rate"] = shop_refund["refund_rate"]
    shops["refund_reasons"] = [shop_reasons.get(s, {}) for s in shops.index]
    products["refund_reasons"] = [product_reasons.get(k, {}) for k in products.index]

    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "agents": records(agents.reset_index(), AGENT_KEYS),
        "shops": records(shops.reset_index(), SHOP_KEYS),
        "products": records(products.reset_index(), PRODUCT_KEYS),
    }


def finish_sales(frame: pd.DataFrame) -> None:
    """Fill the counts and derive the rates and money of a joined agents or shops frame."""
    for key in COUNT_KEYS & set(frame.columns):
        frame[key] = frame[key].fillna(0).astype("int64")
    cents = frame["cents"].fillna(0)
    frame["sales"] = (cents / 100).round(2)
    frame["aov"] = ratio(cents / 100, frame["paid_buyers"])
    frame["inquiry_conversion_rate"] = ratio(frame["paid_buyers"], frame["served_buyers"])
    frame["order_rate"] = ratio(frame["ordered_buyers"], frame["served_buyers"])
    frame["payment_rate"] = ratio(frame["paid_buyers"], frame["ordered_buyers"])


def records(frame: pd.DataFrame, keys: tuple[str, ...]) -> list[dict]:
    """Rows as JSON-ready dicts: ints for counts, floats or None for the rest."""
    frame = frame.sort_values([k for k in ("shop_id", "agent_id", "product_id") if k in keys])
    columns = {}
    for key in keys:
        series = frame[key] if key in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        if key in COUNT_KEYS:
            columns[key] = [int(v) for v in series.fillna(0)]
        elif key in ("shop_id", "agent_id", "product_id", "refund_reasons"):
            columns[key] = series.tolist()
        else:
            values = series.astype("float64")
            columns[key] = [None if v != v else float(v) for v in values.tolist()]
    return [dict(zip(keys, row, strict=True)) for row in zip(*(columns[k] for k in keys), strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True)
    parser.add_argument("--tz", default="Asia/Shanghai")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    report = pandas_report(args.data, args.date_from, args.date_to, args.tz)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    print(f"pandas_report {time.perf_counter() - started:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
