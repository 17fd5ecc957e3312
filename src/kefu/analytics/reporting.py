"""The report: every metric of the contract per agent, per shop and per product for one period.

The definitions live in turns.py, attribution.py, satisfaction.py and here (sales, orders,
refunds, reviews); all are Ibis expressions over the fact tables, run on whichever engine the
caller picked. Each query returns a small aggregate; the rows are put together in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import ibis.expr.types as ir
import pyarrow as pa

from kefu.analytics import satisfaction, segments, service_metrics, timelines, turns
from kefu.analytics.attribution import attributed_orders
from kefu.analytics.catalogue import METRICS, Unit
from kefu.analytics.engines import Engine
from kefu.analytics.expressions import within
from kefu.analytics.facts import ShopInfo
from kefu.analytics.invitation_metrics import invitation_metrics
from kefu.analytics.period import Period, bounds_table
from kefu.analytics.refund_metrics import refund_metrics
from kefu.analytics.review_metrics import review_metrics
from kefu.analytics.rows import Rows, ratio
from kefu.analytics.sales_metrics import order_metrics, product_orders, sales_metrics
from kefu.analytics.service_metrics import (
    bot_conversations,
    bot_metrics,
    response_metrics,
    served_metrics,
)

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
# kefu's additions (docs/metrics.md): after the contract's keys in each row.
AGENT_EXTRAS = (
    "reply_within_3min_rate",
    "slow_replies",
    "agent_messages",
    "reply_question_ratio",
    "invited_conversations",
    "rating_invitation_rate",
    "invitation_response_rate",
)
SHOP_EXTRAS = (*AGENT_EXTRAS, "bot_conversations", "bot_resolution_rate", "bot_handover_rate")
PRODUCT_EXTRAS = ("paid_lines", "refunds", "orders", "paid_orders", "inquiry_orders", "order_payment_rate")
SALES_KEYS = AGENT_KEYS[5:13]

Progress = Callable[[str], None]


@dataclass
class Report:
    period: dict[str, str]
    agents: list[dict] = field(default_factory=list)
    shops: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    sections: dict[str, object] = field(default_factory=dict)  # kefu's additions: comparison, scorecard

    def to_json(self) -> dict:
        return {
            "period": self.period,
            "agents": self.agents,
            "shops": self.shops,
            "products": self.products,
            **self.sections,
        }


def build_report(
    engine: Engine,
    facts: dict[str, ir.Table],
    shops: dict[str, ShopInfo],
    period: Period,
    default_zone: str,
    shop_id: str | None = None,
    progress: Progress | None = None,
    *,
    segment: str = "all",
    channel: str = "all",
) -> Report:
    """Compute the report for `period` from fact tables bound to `engine`.

    `segment` (pre-sale, after-sale) and `channel` (human, bot) narrow the conversations that
    count; see segments.py. The contract's figures are those with both left at "all".
    """
    step = progress or (lambda message: None)
    step("finding shops")
    recorded_invitations = facts.get("rating_invitations")  # before the filters narrow them
    unscoped = facts
    scoped = scope(engine, facts, shops, period, default_zone, shop_id, segment=segment, channel=channel)
    facts, bounds = scoped.facts, scoped.bounds
    orders, items, refunds = facts.get("orders"), facts.get("order_items"), facts.get("refunds")
    ratings = facts.get("ratings")
    rows = Rows(list(scoped.zones))
    credited = credited_orders(engine, facts) if orders is not None else None
    # Refunds and products are worked out on a second connection beside the rest where the engine
    # has one (DuckDB): each connection runs its queries on its own thread. Their rows are apart
    # until both are done (no metric is written by both).
    beside = engine.beside() if orders is not None else None
    refund_rows = Rows(rows.shop_ids)
    numpy_figures = {"turns": timelines.response_figures, "messages": timelines.served_figures}
    with ThreadPoolExecutor(len(numpy_figures)) as pool, ThreadPoolExecutor(1) as second:
        # The period's turn and message figures, where numpy computes them (period_arrays), are
        # worked out beside the engine's queries for the rest, each on a thread of its own (they
        # were the last to finish one after the other: 7 alternated pairs at 10 M, 3.75 -> 3.66 s).
        # Numpy, Arrow and DuckDB let go of the GIL. Each metric is written by one step, so the
        # order of the steps does not change the rows.
        ahead = {
            name: pool.submit(figures, *arrays)
            for name, figures in numpy_figures.items()
            if (arrays := period_arrays(engine, unscoped, scoped, name)) is not None
        }
        refunds_done = None
        try:
            if orders is not None:
                arguments = (orders, items, refunds, credited, bounds, refund_rows)
                if beside is not None:
                    refunds_done = second.submit(refund_and_product_metrics, beside, *arguments)
                else:
                    refund_and_product_metrics(engine, *arguments)
            bot_metrics(engine, bot_conversations_of(facts), bounds, rows)
            if orders is not None:
                step("attributing orders")
                sales_metrics(engine, credited, refunds, bounds, rows)
                step("orders")
                order_metrics(engine, credited, bounds, rows)
            if ratings is not None:
                step("satisfaction")
                rated = engine.fetch(satisfaction.ratings_in_period(ratings, facts.get("buyers"), bounds))
                per_agent, per_shop = satisfaction.satisfaction_rows(rated)
                for key, values in per_agent.items():
                    rows.agent(key).update(values)
                for key, values in per_shop.items():
                    rows.shop(key).update(values)
            if facts.get("reviews") is not None:
                step("reviews")
                review_metrics(engine, facts["reviews"], bounds, rows)
            step("turns and response times")
            response_metrics_of(engine, scoped, rows, ahead.get("turns"))
            step("served buyers")
            wrote = served_metrics_of(engine, scoped, rows, ahead.get("messages"))
            if refunds_done is not None:
                step("refunds")
                refunds_done.result()
        finally:
            if beside is not None:
                if refunds_done is not None:
                    refunds_done.exception()  # its queries are over before its connection closes
                beside.close()
    rows.merge(refund_rows)
    if facts.get("rating_invitations") is not None:
        step("rating invitations")
        invitations = facts["rating_invitations"]
        invitation_metrics(engine, invitations, recorded_invitations, ratings, wrote, bounds, rows)

    step("assembling")
    present = set(facts)
    return Report(
        period=period.label(default_zone),
        agents=[
            _complete(k, v, AGENT_KEYS + AGENT_EXTRAS, present, agent=True)
            for k, v in sorted(rows.agents.items())
        ],
        shops=[_complete((s,), rows.shops[s], SHOP_KEYS + SHOP_EXTRAS, present) for s in sorted(rows.shops)],
        products=[
            {"shop_id": s, "product_id": p, **{k: v.get(k) for k in PRODUCT_KEYS + PRODUCT_EXTRAS}}
            for (s, p), v in sorted(rows.products.items())
        ],
    )


def refund_and_product_metrics(
    engine: Engine,
    orders: ir.Table,
    items: ir.Table | None,
    refunds: ir.Table | None,
    credited: ir.Table,
    bounds: ir.Table,
    rows: Rows,
) -> None:
    """refund_metrics, then each product's orders (product_orders) on the product rows it made."""
    refund_metrics(engine, orders, items, refunds, bounds, rows)
    if items is not None:
        for key, values in product_orders(engine, credited, items, bounds).items():
            if key in rows.products:
                rows.products[key].update(values)


def turn_table(engine: Engine, facts: dict[str, ir.Table]) -> ir.Table:
    """Every turn (turns.turn_table): precomputed with the facts on DuckDB, else kept from its definition."""
    if facts.get("turns") is not None:
        return facts["turns"]
    return engine.keep(turns.turn_table(facts["messages"]), "turns")


def response_metrics_of(
    engine: Engine, scoped: Scope, rows: Rows, figures: Future[dict[str, pa.Table]] | None
) -> None:
    """service_metrics.response_metrics, or the figures numpy computed (timelines.response_figures)."""
    if figures is None:
        response_metrics(engine, turn_table(engine, scoped.facts), scoped.bounds, rows)
    else:
        service_metrics.put_responses(rows, figures.result())


def served_metrics_of(
    engine: Engine, scoped: Scope, rows: Rows, figures: Future[dict[str, pa.Table]] | None
) -> ir.Table:
    """service_metrics.served_metrics, or the figures numpy computed (timelines.served_figures); the
    conversations each agent wrote in, for the invitations."""
    if figures is None:
        counts = engine.keep(service_metrics.talk_counts(scoped.facts["messages"], scoped.bounds), "talk")
        return served_metrics(engine, counts, rows)
    served = figures.result()
    wrote = engine.load("period_wrote", served.pop("wrote"))
    service_metrics.put_served(rows, served)
    return wrote


def period_arrays(
    engine: Engine, unscoped: dict[str, ir.Table], scoped: Scope, name: str
) -> tuple[pa.Table, pa.Table] | None:
    """The table `name` of the facts and the period's bounds as Arrow, when numpy computes the
    period's figures from them (timelines.py): the engine takes the fast paths and holds both as
    Arrow, and no segment or channel filter chose the conversations (a semi-join on the engine).

    The table is the one before the report's scope: the bounds list only the report's shops,
    which is all that choosing a shop does to it.
    """
    if not engine.timelines or scoped.chosen or unscoped.get(name) is None:
        return None
    table, bounds = engine.loaded(unscoped[name]), engine.loaded(scoped.bounds)
    return None if table is None or bounds is None else (table, bounds)


def bot_conversations_of(facts: dict[str, ir.Table]) -> ir.Table:
    """The conversations the bot spoke in (service_metrics.bot_conversations), precomputed or not."""
    if facts.get("bot_conversations") is not None:
        return facts["bot_conversations"]
    return bot_conversations(facts["messages"])


def credited_orders(engine: Engine, facts: dict[str, ir.Table]) -> ir.Table:
    """Orders with the agent credited (attribution.attributed_orders), precomputed or kept."""
    if facts.get("credited") is not None:
        return facts["credited"]
    return engine.keep(attributed_orders(facts["messages"], facts["orders"]), "credited")


@dataclass
class Scope:
    """What a report's queries read: the facts narrowed to its shop and conversations, and when."""

    facts: dict[str, ir.Table]
    bounds: ir.Table  # per shop: the period's start and end, the DSR window's start
    zones: dict[str, str]  # every shop of the report, in order, with its time zone
    chosen: bool = False  # a segment or channel filter chose the conversations


def scope(
    engine: Engine,
    facts: dict[str, ir.Table],
    shops: dict[str, ShopInfo],
    period: Period,
    default_zone: str,
    shop_id: str | None = None,
    *,
    segment: str = "all",
    channel: str = "all",
    shop_ids: list[str] | None = None,
) -> Scope:
    """Narrow the facts to `shop_id` and the chosen conversations and load each shop's bounds.

    `shop_ids` saves the query for the shops when a report of the same scope already lists them.
    """
    if shop_id is not None:
        facts = only_shop(facts, shop_id)
    if shop_ids is None:
        shop_ids = list_shops(engine, facts)
    zones = {s: shops[s].zone if s in shops else default_zone for s in shop_ids}
    bounds = engine.load("bounds", bounds_table(period, shop_ids, zones, default_zone))
    chosen = (segment, channel) != ("all", "all")
    return Scope(segments.narrow(engine, facts, segment, channel), bounds, zones, chosen)


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


# What a row holds when nothing happened, given which tables exist.
_NEEDS = {
    # A refund reaches its shop through its order: without orders there are no refund figures.
    "orders": {
        *SALES_KEYS,
        "orders",
        "paid_orders",
        "inquiry_orders",
        "bot_assisted_orders",
        "silent_orders",
        "refund_rate",
        "refund_reasons",
    },
    "refunds": {"refund_rate", "refund_reasons"},
    "ratings": {"ratings", "ratings_counted", "satisfaction_old", "satisfaction_new"},
    "reviews": {"dsr_description", "dsr_service", "dsr_shipping", "positive_review_rate"},
    "rating_invitations": {"invited_conversations", "rating_invitation_rate", "invitation_response_rate"},
}
# Counts are 0, not null, when nothing happened (their tables being present).
_COUNTS = {m.key for m in METRICS if m.unit is Unit.COUNT}


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
    if "orders" in present:
        row["inquiry_conversion_rate"] = ratio(row["paid_buyers"], row["served_buyers"])
        row["order_rate"] = ratio(row["ordered_buyers"], row["served_buyers"])
        row["payment_rate"] = ratio(row["paid_buyers"], row["ordered_buyers"])
        row["aov"] = ratio(row["sales"], row["paid_buyers"])
    return row


__all__ = ["Report", "build_report", "within"]
