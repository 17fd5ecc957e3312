"""Inquiry conversion and sales credited to agents; the shop's orders by how they came about."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kefu.analytics.attribution import BOT_ASSISTED, INQUIRY, SILENT
from kefu.analytics.engines import Engine
from kefu.analytics.expressions import count_where, within
from kefu.analytics.rows import Rows, fetch_rows, ratio

AGENT, SHOP = ["shop_id", "agent_id"], ["shop_id"]


def refunded_orders(refunds: ir.Table | None) -> ir.Table | None:
    """Orders with at least one completed refund (at any time)."""
    if refunds is None:
        return None
    done = refunds.filter(refunds.status == "completed")
    return done.select(refunded_order="order_id").distinct()


def credited_in(credited: ir.Table, refunds: ir.Table | None, bounds: ir.Table) -> ir.Table:
    """Orders credited to an agent by a message within the bounds, with `is_paid` and `has_refund`."""
    counted = within(credited.filter(credited.agent_id.notnull()), "credited_at", bounds)
    refunded = refunded_orders(refunds)
    if refunded is not None:
        counted = counted.left_join(refunded, counted.order_id == refunded.refunded_order)
        has_refund = counted.refunded_order.notnull()
    else:
        has_refund = ibis.literal(False)
    return counted.mutate(is_paid=counted.paid.notnull(), has_refund=has_refund)


def sales_summary(counted: ir.Table, group: list[str]) -> ir.Table:
    """Per group of `credited_in` rows: buyers who ordered and paid, paid cents, paid and refunded orders."""
    paid = counted.is_paid
    return counted.group_by(group).aggregate(
        ordered=counted.buyer_id.nunique(),
        paid_buyers=counted.buyer_id.nunique(where=paid),
        cents=counted.cents.sum(where=paid),
        paid_orders=count_where(paid),
        refunded=count_where(paid & counted.has_refund),
    )


def sales_metrics(
    engine: Engine, credited: ir.Table, refunds: ir.Table | None, bounds: ir.Table, rows: Rows
) -> None:
    """ordered/paid buyers, sales and the agent refund rate, over orders credited by a message in P."""
    counted = credited_in(credited, refunds, bounds)
    for group in (AGENT, SHOP):
        for r in fetch_rows(engine, sales_summary(counted, group)):
            row = rows.put(group, r)
            row.update(
                ordered_buyers=r["ordered"],
                paid_buyers=r["paid_buyers"],
                sales=round((r["cents"] or 0) / 100, 2),
            )
            if group is AGENT and refunds is not None:
                row["refund_rate"] = ratio(r["refunded"], r["paid_orders"])


def order_metrics(engine: Engine, credited: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    """Orders created in P: paid, and whether an agent, the bot or nobody preceded them."""
    placed = within(credited, "created", bounds)
    agg = placed.group_by("shop_id").aggregate(
        orders=placed.count(),
        paid_orders=count_where(placed.paid.notnull()),
        inquiry_orders=count_where(placed.channel == INQUIRY),
        bot_assisted_orders=count_where(placed.channel == BOT_ASSISTED),
        silent_orders=count_where(placed.channel == SILENT),
    )
    for r in fetch_rows(engine, agg):
        rows.shop(r.pop("shop_id")).update(r)


def product_orders(engine: Engine, credited: ir.Table, items: ir.Table, bounds: ir.Table) -> dict:
    """Per (shop, product): orders created in P holding it, paid ones, and those credited to an agent."""
    placed = within(credited, "created", bounds).select("order_id", "shop_id", "paid", "channel")
    lines = placed.inner_join(items.select("order_id", "product_id").distinct(), "order_id")
    agg = lines.group_by(["shop_id", "product_id"]).aggregate(
        orders=lines.count(),
        paid_orders=count_where(lines.paid.notnull()),
        inquiry_orders=count_where(lines.channel == INQUIRY),
    )
    found = {}
    for r in fetch_rows(engine, agg):
        found[(r["shop_id"], r["product_id"])] = {
            "orders": r["orders"],
            "paid_orders": r["paid_orders"],
            "inquiry_orders": r["inquiry_orders"],
            "order_payment_rate": ratio(r["paid_orders"], r["orders"]),
        }
    return found
