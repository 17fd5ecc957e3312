"""The report: every metric of the contract per agent, per shop and per product for one period.

The definitions live in turns.py, attribution.py, satisfaction.py and here (sales, orders,
refunds, reviews); all are Ibis expressions over the fact tables, run on whichever engine the
caller picked. Each query returns a small aggregate; the rows are put together in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kefu.analytics import satisfaction, turns
from kefu.analytics.attribution import BOT_ASSISTED, INQUIRY, SILENT, attributed_orders
from kefu.analytics.engines import Engine
from kefu.analytics.expressions import count_where
from kefu.analytics.facts import ShopInfo
from kefu.analytics.period import Period, bounds_table

AGENT_KEYS = (
    "turns",
    "avg_response_s",
    "first_response_s",
    "reply_within_30s_rate",
    "served_buyers",
    "ordered_buyers",
    "paid_buyers",
    "inquiry_conversion_rate",
    "order_rate",
    "payment_rate",
    "sales",
    "aov",
    "refund_rate",
    "ratings",
    "ratings_counted",
    "satisfaction_old",
    "satisfaction_new",
)
SHOP_KEYS = (
    *AGENT_KEYS,
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
PRODUCT_KEYS = ("refund_rate", "refund_reasons")
SALES_KEYS = AGENT_KEYS[5:13]

Progress = Callable[[str], None]


@dataclass
class Report:
    period: dict[str, str]
    agents: list[dict] = field(default_factory=list)
    shops: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"period": self.period, "agents": self.agents, "shops": self.shops, "products": self.products}


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """A rate; null, never 0 or an error, when there is nothing to divide by."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def within(table: ir.Table, column: str, bounds: ir.Table, start: str = "p_from") -> ir.Table:
    """Rows of `table` whose `column` lies in [start, p_to) of their shop."""
    joined = table.inner_join(bounds, "shop_id")
    return joined.filter((joined[column] >= joined[start]) & (joined[column] < joined.p_to))


def build_report(
    engine: Engine,
    facts: dict[str, ir.Table],
    shops: dict[str, ShopInfo],
    period: Period,
    default_zone: str,
    shop_id: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Compute the contract's report for `period` from fact tables bound to `engine`."""
    step = progress or (lambda message: None)
    if shop_id is not None:
        facts = only_shop(facts, shop_id)
    step("finding shops")
    shop_ids = list_shops(engine, facts)
    bounds = engine.load(
        "bounds", bounds_table(period, shop_ids, {s: i.zone for s, i in shops.items()}, default_zone)
    )
    messages = facts["messages"]
    agent_rows: dict[tuple[str, str], dict] = {}
    shop_rows: dict[str, dict] = {s: {} for s in shop_ids}

    def agent_row(key: tuple[str, str]) -> dict:
        return agent_rows.setdefault(key, {})

    step("turns and response times")
    _response_metrics(engine, messages, bounds, agent_row, shop_rows)
    step("served buyers")
    served = messages.filter(messages.sender == "agent")
    served = within(served, "at", bounds)
    for r in _rows(engine, served.group_by(["shop_id", "agent_id"]).aggregate(n=served.buyer_id.nunique())):
        agent_row((r["shop_id"], r["agent_id"]))["served_buyers"] = r["n"]
    for r in _rows(engine, served.group_by("shop_id").aggregate(n=served.buyer_id.nunique())):
        shop_rows[r["shop_id"]]["served_buyers"] = r["n"]

    orders = facts.get("orders")
    if orders is not None:
        step("attributing orders")
        credited = engine.keep(attributed_orders(messages, orders), "credited")
        _sales_metrics(engine, credited, facts.get("refunds"), bounds, agent_row, shop_rows)
        step("orders")
        _order_metrics(engine, credited, bounds, shop_rows)
        step("refunds")
        products = _refund_metrics(engine, facts, bounds, shop_rows)
    else:
        products = {}

    if facts.get("ratings") is not None:
        step("satisfaction")
        rated = engine.fetch(satisfaction.ratings_in_period(facts["ratings"], facts.get("buyers"), bounds))
        per_agent, per_shop = satisfaction.satisfaction_rows(rated)
        for key, values in per_agent.items():
            agent_row(key).update(values)
        for key, values in per_shop.items():
            shop_rows[key].update(values)

    if facts.get("reviews") is not None:
        step("reviews")
        _review_metrics(engine, facts["reviews"], bounds, shop_rows)

    step("assembling")
    present = set(facts)
    return Report(
        period=period.label(default_zone),
        agents=[_complete(k, v, AGENT_KEYS, present, agent=True) for k, v in sorted(agent_rows.items())],
        shops=[_complete((s,), shop_rows[s], SHOP_KEYS, present) for s in sorted(shop_rows)],
        products=[
            {"shop_id": s, "product_id": p, **{k: v.get(k) for k in PRODUCT_KEYS}}
            for (s, p), v in sorted(products.items())
        ],
    )


def only_shop(facts: dict[str, ir.Table], shop_id: str) -> dict[str, ir.Table]:
    kept = {}
    for name, table in facts.items():
        if name == "buyers":  # a flag with no shop holds at every shop, this one too
            kept[name] = table.filter(table.shop_id.isnull() | (table.shop_id == shop_id))
        elif "shop_id" in table.columns:
            kept[name] = table.filter(table.shop_id == shop_id)
        else:
            kept[name] = table
    if "orders" in kept:
        for name in ("order_items", "refunds"):
            if name in kept:
                kept[name] = kept[name].semi_join(kept["orders"], "order_id")
    return kept


def list_shops(engine: Engine, facts: dict[str, ir.Table]) -> list[str]:
    """Every shop that appears anywhere in the data (refunds reach a shop only through their order)."""
    parts = [
        facts[name].select("shop_id")
        for name in ("messages", "orders", "ratings", "reviews", "buyers")
        if facts.get(name) is not None
    ]
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part)
    union = union.filter(union.shop_id.notnull()).distinct()
    return sorted(engine.fetch(union).column("shop_id").to_pylist())


def _rows(engine: Engine, expr: ir.Table) -> list[dict]:
    return engine.fetch(expr).to_pylist()


def _response_metrics(engine, messages, bounds, agent_row, shop_rows) -> None:
    steps = turns.turn_steps(messages)
    steps = engine.keep(steps.filter(steps.starts | steps.answers | steps.last), "steps")
    answered = within(turns.answers(steps), "turn_at", bounds)
    first = answered.filter(answered.turn_no == 1)

    def timing(group: list[str]) -> dict[tuple, dict]:
        out: dict[tuple, dict] = {}
        agg = answered.group_by(group).aggregate(
            turns=answered.count(),
            avg=answered.response_us.cast("float64").mean(),
            fast=count_where(answered.response_us <= turns.WITHIN_30S_US),
        )
        for r in _rows(engine, agg):
            out[tuple(r[g] for g in group)] = {
                "turns": r["turns"],
                "avg_response_s": r["avg"] / 1e6,
                "reply_within_30s_rate": r["fast"] / r["turns"],
            }
        firsts = first.group_by(group).aggregate(avg=first.response_us.cast("float64").mean())
        for r in _rows(engine, firsts):
            out.setdefault(tuple(r[g] for g in group), {})["first_response_s"] = r["avg"] / 1e6
        return out

    for key, values in timing(["shop_id", "agent_id"]).items():
        agent_row(key).update(values)
    for (shop,), values in timing(["shop_id"]).items():
        shop_rows[shop].update(values)

    started = within(turns.turn_starts(steps), "turn_at", bounds)
    answered_count = answered.group_by("shop_id").aggregate(n=answered.count())
    for r in _rows(engine, started.group_by("shop_id").aggregate(n=started.count())):
        shop_rows[r["shop_id"]]["unanswered_turns"] = r["n"]
    for r in _rows(engine, answered_count):
        shop_rows[r["shop_id"]]["unanswered_turns"] -= r["n"]
    talks = within(turns.conversations(steps), "started", bounds)
    last_word = talks.group_by("shop_id").aggregate(n=count_where(talks.buyer_last))
    for r in _rows(engine, last_word):
        shop_rows[r["shop_id"]]["buyer_last_word_conversations"] = r["n"]


def _completed_orders(refunds: ir.Table | None) -> ir.Table | None:
    if refunds is None:
        return None
    done = refunds.filter(refunds.status == "completed")
    return done.select(refunded_order="order_id").distinct()


def _sales_metrics(engine, credited, refunds, bounds, agent_row, shop_rows) -> None:
    counted = within(credited.filter(credited.agent_id.notnull()), "credited_at", bounds)
    refunded = _completed_orders(refunds)
    if refunded is not None:
        counted = counted.left_join(refunded, counted.order_id == refunded.refunded_order)
        has_refund = counted.refunded_order.notnull()
    else:
        has_refund = ibis.literal(False)
    counted = counted.mutate(is_paid=counted.paid.notnull(), has_refund=has_refund)
    paid = counted.is_paid
    for group, put in ((["shop_id", "agent_id"], agent_row), (["shop_id"], lambda k: shop_rows[k[0]])):
        agg = counted.group_by(group).aggregate(
            ordered=counted.buyer_id.nunique(),
            paid_buyers=counted.buyer_id.nunique(where=paid),
            cents=counted.cents.sum(where=paid),
            paid_orders=count_where(paid),
            refunded=count_where(paid & counted.has_refund),
        )
        for r in _rows(engine, agg):
            row = put(tuple(r[g] for g in group))
            row["ordered_buyers"] = r["ordered"]
            row["paid_buyers"] = r["paid_buyers"]
            row["sales"] = round((r["cents"] or 0) / 100, 2)
            if len(group) == 2:
                row["refund_rate"] = ratio(r["refunded"], r["paid_orders"]) if refunds is not None else None


def _order_metrics(engine, credited, bounds, shop_rows) -> None:
    placed = within(credited, "created", bounds)
    agg = placed.group_by("shop_id").aggregate(
        orders=placed.count(),
        paid_orders=count_where(placed.paid.notnull()),
        inquiry_orders=count_where(placed.channel == INQUIRY),
        bot_assisted_orders=count_where(placed.channel == BOT_ASSISTED),
        silent_orders=count_where(placed.channel == SILENT),
    )
    for r in _rows(engine, agg):
        shop_rows[r.pop("shop_id")].update(r)


def _refund_metrics(engine, facts, bounds, shop_rows) -> dict[tuple[str, str], dict]:
    """Shop and product refund rates and reasons; returns the product rows."""
    orders, items, refunds = facts["orders"], facts.get("order_items"), facts.get("refunds")
    paid = within(orders.filter(orders.paid.notnull()), "paid", bounds, start="p_from")
    if items is not None:
        per_order = items.group_by("order_id").aggregate(lines=items.count())
        paid_lines = paid.left_join(per_order, "order_id")
        lines = paid_lines.group_by("shop_id").aggregate(n=paid_lines.lines.fill_null(1).sum())
        line_rows = paid.select("order_id", "shop_id").inner_join(items, "order_id")
        by_product = line_rows.group_by(["shop_id", "product_id"]).aggregate(n=line_rows.count())
    else:
        lines = paid.group_by("shop_id").aggregate(n=paid.count())
        by_product = None
    shop_lines = {r["shop_id"]: r["n"] for r in _rows(engine, lines)}
    products: dict[tuple[str, str], dict] = {}
    product_lines: dict[tuple[str, str], int] = {}
    if by_product is not None:
        for r in _rows(engine, by_product):
            product_lines[(r["shop_id"], r["product_id"])] = r["n"]
    if refunds is None:
        for row in shop_rows.values():
            row["refund_rate"] = row["refund_reasons"] = None
        return {key: {"refund_rate": None, "refund_reasons": None} for key in product_lines}
    done = refunds.filter(refunds.status == "completed").inner_join(
        orders.select("order_id", "shop_id"), "order_id"
    )
    done = within(done, "completed", bounds)
    reasons = done.group_by(["shop_id", "reason"]).aggregate(n=done.count())
    shop_reasons: dict[str, dict[str, int]] = {}
    for r in _rows(engine, reasons):
        shop_reasons.setdefault(r["shop_id"], {})[r["reason"]] = r["n"]
    named = done.filter(done.product_id.notnull())
    named_reasons = named.group_by(["shop_id", "product_id", "reason"]).aggregate(n=named.count())
    product_reasons: dict[tuple[str, str], dict[str, int]] = {}
    for r in _rows(engine, named_reasons):
        product_reasons.setdefault((r["shop_id"], r["product_id"]), {})[r["reason"]] = r["n"]
    for shop, row in shop_rows.items():
        found = shop_reasons.get(shop, {})
        row["refund_rate"] = ratio(sum(found.values()), shop_lines.get(shop, 0))
        row["refund_reasons"] = most_first(found)
    for key in set(product_lines) | set(product_reasons):
        found = product_reasons.get(key, {})
        products[key] = {
            "refund_rate": ratio(sum(found.values()), product_lines.get(key, 0)),
            "refund_reasons": most_first(found),
        }
    return products


def most_first(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _review_metrics(engine, reviews, bounds, shop_rows) -> None:
    recent = within(reviews, "created", bounds, start="dsr_from")
    dsr = recent.group_by("shop_id").aggregate(
        dsr_description=recent.dsr_description.cast("float64").mean(),
        dsr_service=recent.dsr_service.cast("float64").mean(),
        dsr_shipping=recent.dsr_shipping.cast("float64").mean(),
    )
    for r in _rows(engine, dsr):
        shop_rows[r.pop("shop_id")].update(r)
    current = within(reviews, "created", bounds)
    good = current.group_by("shop_id").aggregate(
        n=current.count(), good=count_where(current.rating == "good")
    )
    for r in _rows(engine, good):
        shop_rows[r["shop_id"]]["positive_review_rate"] = ratio(r["good"], r["n"])


# What a row holds when nothing happened, given which tables exist.
_NEEDS = {
    "orders": set(SALES_KEYS)
    | {"orders", "paid_orders", "inquiry_orders", "bot_assisted_orders", "silent_orders"},
    "refunds": {"refund_rate", "refund_reasons"},
    "ratings": {"ratings", "ratings_counted", "satisfaction_old", "satisfaction_new"},
    "reviews": {"dsr_description", "dsr_service", "dsr_shipping", "positive_review_rate"},
}
_COUNTS = {
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


def _complete(
    key: tuple, values: dict, keys: tuple[str, ...], present: set[str], agent: bool = False
) -> dict:
    row: dict = {"shop_id": key[0]}
    if agent:
        row["agent_id"] = key[1]
    missing = {k for table, ks in _NEEDS.items() if table not in present for k in ks}
    for k in keys:
        if k in missing:
            row[k] = None
        elif k in values:
            row[k] = values[k]
        elif k in _COUNTS:
            row[k] = 0
        elif k == "sales":
            row[k] = 0.0
        elif k == "refund_reasons":
            row[k] = {}
        else:
            row[k] = None
    row["inquiry_conversion_rate"] = (
        None if "orders" not in present else ratio(row["paid_buyers"], row["served_buyers"])
    )
    row["order_rate"] = (
        None if "orders" not in present else ratio(row["ordered_buyers"], row["served_buyers"])
    )
    row["payment_rate"] = (
        None if "orders" not in present else ratio(row["paid_buyers"], row["ordered_buyers"])
    )
    row["aov"] = None if "orders" not in present else ratio(row["sales"], row["paid_buyers"])
    return row


__all__ = ["AGENT_KEYS", "PRODUCT_KEYS", "SHOP_KEYS", "Report", "build_report", "pa"]
