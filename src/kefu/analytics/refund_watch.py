"""Refunds over time, with the products and reasons that stand out against the shop's own history.

History is the shop's previous periods of the same length (up to eight). A product or reason is
flagged when this period's refund rate lies more than two standard deviations above its
historical mean, and at least three refunds make up the figure (a single refund of a rarely
sold product is noise, not a signal). Buckets are multiples of the period's length in hours, so
a DST change can move a bucket's edge by an hour; the flags do not depend on such precision.
"""

from __future__ import annotations

import statistics

import ibis
import ibis.expr.types as ir

from kefu.analytics.engines import Engine
from kefu.analytics.period import Period
from kefu.analytics.rows import fetch_rows, ratio

HISTORY = 8
MIN_REFUNDS = 3
SPREAD = 2.0


def _bucketed(table: ir.Table, column: str, bounds: ir.Table, length_us: int) -> ir.Table:
    joined = table.inner_join(bounds, "shop_id")
    start = joined.p_from - HISTORY * length_us
    joined = joined.filter((joined[column] >= start) & (joined[column] < joined.p_to))
    # 0 is the report's period, 1 the one before, ... (integer division rounds toward minus infinity).
    return joined.mutate(bucket=-((joined[column] - joined.p_from) // length_us))


def refund_watch(
    engine: Engine,
    orders: ir.Table,
    items: ir.Table | None,
    refunds: ir.Table,
    bounds: ir.Table,
    period: Period,
) -> dict:
    """Per product and per reason: the refund rate of this period and of each earlier one, and flags."""
    length_us = period.days * 24 * 3600 * 1_000_000
    paid = _bucketed(orders.filter(orders.paid.notnull()), "paid", bounds, length_us)
    if items is not None:
        lines = paid.select("order_id", "shop_id", "bucket").inner_join(items, "order_id")
        product_lines = lines.group_by(["shop_id", "product_id", "bucket"]).aggregate(n=lines.count())
        per_order = items.group_by("order_id").aggregate(k=items.count())
        counted = paid.left_join(per_order, "order_id")
        shop_lines = counted.group_by(["shop_id", "bucket"]).aggregate(n=counted.k.fill_null(1).sum())
    else:
        product_lines = None
        shop_lines = paid.group_by(["shop_id", "bucket"]).aggregate(n=paid.count())
    done = refunds.filter(refunds.status == "completed").inner_join(
        orders.select("order_id", "shop_id"), "order_id"
    )
    done = _bucketed(done, "completed", bounds, length_us)
    by_product = done.filter(done.product_id.notnull()).group_by(["shop_id", "product_id", "bucket"])
    by_reason = done.group_by(["shop_id", "reason", "bucket"])

    lines_of = {(r["shop_id"], r["bucket"]): r["n"] for r in fetch_rows(engine, shop_lines)}
    product_lines_of = (
        {(r["shop_id"], r["product_id"], r["bucket"]): r["n"] for r in fetch_rows(engine, product_lines)}
        if product_lines is not None
        else {}
    )
    products = _series(
        fetch_rows(engine, by_product.aggregate(n=ibis._.count())),
        "product_id",
        lambda s, k, b: product_lines_of.get((s, k, b), 0),
    )
    reasons = _series(
        fetch_rows(engine, by_reason.aggregate(n=ibis._.count())),
        "reason",
        lambda s, k, b: lines_of.get((s, b), 0),
    )
    return {"products": products, "reasons": reasons}


def _series(found: list[dict], name: str, lines) -> list[dict]:
    counts: dict[tuple[str, str], dict[int, int]] = {}
    for r in found:
        counts.setdefault((r["shop_id"], r[name]), {})[r["bucket"]] = r["n"]
    out = []
    for (shop, key), per_bucket in sorted(counts.items()):
        rates = [ratio(per_bucket.get(b, 0), lines(shop, key, b)) for b in range(HISTORY + 1)]
        history = [r for r in rates[1:] if r is not None]
        current, refunds_now = rates[0], per_bucket.get(0, 0)
        flagged = False
        # Without two earlier periods there is no history to stand out against.
        if current is not None and refunds_now >= MIN_REFUNDS and len(history) >= 2:
            flagged = current > statistics.fmean(history) + SPREAD * statistics.pstdev(history)
        out.append(
            {
                "shop_id": shop,
                name: key,
                "refunds": refunds_now,
                "refund_rate": current,
                "history": rates[1:],  # previous periods, nearest first
                "flagged": flagged,
            }
        )
    return out
