"""Refund rate and reasons of the shop and of each product (退款率, as the platforms count it)."""

from __future__ import annotations

import ibis.expr.types as ir

from kefu.analytics.engines import Engine
from kefu.analytics.expressions import within
from kefu.analytics.rows import Rows, fetch_rows, ratio

PRODUCT = ["shop_id", "product_id"]


def paid_lines(
    orders: ir.Table, items: ir.Table | None, bounds: ir.Table
) -> tuple[ir.Table, ir.Table | None]:
    """Order lines of orders paid in P, per shop and per product (an order without lines is one line)."""
    paid = within(orders.filter(orders.paid.notnull()), "paid", bounds)
    if items is None:
        return paid.group_by("shop_id").aggregate(n=paid.count()), None
    per_order = items.group_by("order_id").aggregate(lines=items.count())
    with_lines = paid.left_join(per_order, "order_id")
    per_shop = with_lines.group_by("shop_id").aggregate(n=with_lines.lines.fill_null(1).sum())
    line_rows = paid.select("order_id", "shop_id").inner_join(items, "order_id")
    return per_shop, line_rows.group_by(PRODUCT).aggregate(n=line_rows.count())


def completed_refunds(orders: ir.Table, refunds: ir.Table, bounds: ir.Table) -> ir.Table:
    """Refunds completed in P, each with its order's shop (refunds of unknown orders have none)."""
    done = refunds.filter(refunds.status == "completed").inner_join(
        orders.select("order_id", "shop_id"), "order_id"
    )
    return within(done, "completed", bounds)


def refund_metrics(
    engine: Engine,
    orders: ir.Table,
    items: ir.Table | None,
    refunds: ir.Table | None,
    bounds: ir.Table,
    rows: Rows,
) -> None:
    """Shop refund_rate and refund_reasons; the product rows with theirs."""
    per_shop, per_product = paid_lines(orders, items, bounds)
    shop_lines = {r["shop_id"]: r["n"] for r in fetch_rows(engine, per_shop)}
    product_lines = {}
    if per_product is not None:
        product_lines = {(r["shop_id"], r["product_id"]): r["n"] for r in fetch_rows(engine, per_product)}
    if refunds is None:
        for row in rows.shops.values():
            row["refund_rate"] = row["refund_reasons"] = None
        for key, lines in product_lines.items():
            rows.product(key).update(refund_rate=None, refund_reasons=None, paid_lines=lines, refunds=None)
        return
    done = completed_refunds(orders, refunds, bounds)
    shop_reasons: dict[str, dict[str, int]] = {}
    for r in fetch_rows(engine, done.group_by(["shop_id", "reason"]).aggregate(n=done.count())):
        shop_reasons.setdefault(r["shop_id"], {})[r["reason"]] = r["n"]
    named = done.filter(done.product_id.notnull())
    product_reasons: dict[tuple[str, str], dict[str, int]] = {}
    for r in fetch_rows(engine, named.group_by([*PRODUCT, "reason"]).aggregate(n=named.count())):
        product_reasons.setdefault((r["shop_id"], r["product_id"]), {})[r["reason"]] = r["n"]
    for shop, row in rows.shops.items():
        found = shop_reasons.get(shop, {})
        row["refund_rate"] = ratio(sum(found.values()), shop_lines.get(shop, 0))
        row["refund_reasons"] = most_first(found)
    for key in set(product_lines) | set(product_reasons):
        found = product_reasons.get(key, {})
        rows.product(key).update(
            refund_rate=ratio(sum(found.values()), product_lines.get(key, 0)),
            refund_reasons=most_first(found),
            paid_lines=product_lines.get(key, 0),
            refunds=sum(found.values()),
        )


def most_first(counts: dict[str, int]) -> dict[str, int]:
    """Reasons shown most first (ties by name, so the order never depends on the engine)."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
