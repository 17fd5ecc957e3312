"""The conversations behind a number of the agent table: what a lead opens to check a figure.

Each list is made of the definitions the number comes from (turns, attribution, `within`), kept
by the snapshot's engine, narrowed to the shop, the agent and the period, so that the list and
the number cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from kefu.analytics import turns
from kefu.analytics.diagnosis import shop_bounds
from kefu.analytics.expressions import within
from kefu.analytics.period import Period
from kefu.analytics.snapshots import Snapshot

# What stands behind each number, and the numbers that stand on each.
ANSWERED = "answered"  # conversations with turns the agent answered in P
FIRST = "first"  # conversations starting in P whose first turn the agent answered
SERVED = "served"  # conversations where the agent wrote in P
ORDERED = "ordered"  # conversations holding the attributing message of an order credited in P
PAID = "paid"  # the same, for paid orders
RATED = "rated"  # conversations rated in P
INVITED = "invited"  # conversations the agent wrote in and invited the buyer to rate, in P

DRILLS: dict[str, str] = {
    "turns": ANSWERED,
    "avg_response_s": ANSWERED,
    "reply_within_30s_rate": ANSWERED,
    "first_response_s": FIRST,
    "served_buyers": SERVED,
    "ordered_buyers": ORDERED,
    "order_rate": ORDERED,
    "paid_buyers": PAID,
    "sales": PAID,
    "aov": PAID,
    "inquiry_conversion_rate": PAID,
    "payment_rate": PAID,
    "ratings": RATED,
    "ratings_counted": RATED,
    "satisfaction_old": RATED,
    "satisfaction_new": RATED,
    "invited_conversations": INVITED,
    "rating_invitation_rate": INVITED,
}


def conversations_behind(
    snapshot: Snapshot,
    shop_id: str,
    period: Period,
    metric_key: str,
    agent_id: str | None = None,
    *,
    segment: str = "all",
    channel: str = "all",
) -> list[dict]:
    """The conversations behind `metric_key` of an agent (or of the whole shop), oldest first.

    Each row: `conversation_id`, `buyer_id`, `started_at` (first message, on the shop's clock),
    `agents` (who stands behind the number in it), `items` (turns, messages, orders or ratings
    of the conversation that count) and `value` (their mean response time in seconds, or the
    sales in yuan; None for the others), `scores` for ratings.
    """
    kind = DRILLS.get(metric_key)
    if kind is None:
        raise ValueError(f"no conversations stand behind {metric_key!r}")
    return snapshot.remembered(
        ("drill", shop_id, period, kind, agent_id, segment, channel),
        lambda: _behind(snapshot, shop_id, period, kind, agent_id, segment, channel),
    )


def _behind(
    snapshot: Snapshot,
    shop_id: str,
    period: Period,
    kind: str,
    agent_id: str | None,
    segment: str,
    channel: str,
) -> list[dict]:
    tables = snapshot.narrowed(segment, channel)
    bounds = shop_bounds(snapshot, shop_id, period, "drill_bounds")
    per = _per_conversation(snapshot, tables, bounds, shop_id, kind, agent_id)
    if per is None:
        return []
    messages = snapshot.tables["messages"]
    firsts = messages.semi_join(per, "conversation_id")
    firsts = firsts.group_by(["conversation_id", "buyer_id"]).aggregate(first_at=firsts.at.min())
    rows = snapshot.engine.fetch(per.inner_join(firsts, "conversation_id").order_by("first_at")).to_pylist()
    zone = ZoneInfo(snapshot.zone_of(shop_id))
    conversations = snapshot.facts.decode("conversation_id", [r["conversation_id"] for r in rows])
    buyers = snapshot.facts.decode("buyer_id", [r["buyer_id"] for r in rows])
    return [
        {
            "conversation_id": conversation,
            "buyer_id": buyer,
            "started_at": datetime.fromtimestamp(r["first_at"] / 1e6, UTC).astimezone(zone),
            "agents": sorted(a for a in r["agents"] or () if a),
            "items": r["items"],
            "value": r["value"],
            "scores": r.get("scores"),
        }
        for r, conversation, buyer in zip(rows, conversations, buyers, strict=True)
    ]


def _per_conversation(
    snapshot: Snapshot,
    tables: dict[str, ir.Table],
    bounds: ir.Table,
    shop_id: str,
    kind: str,
    agent_id: str | None,
) -> ir.Table | None:
    """One row per conversation behind the number: items, value and agents."""
    messages = tables["messages"]
    no_value = ibis.null("float64")
    if kind in (ANSWERED, FIRST):
        every_turn = snapshot.turn_table(messages)
        answered = turns.answers(every_turn.filter(every_turn.shop_id == shop_id))
        answered = within(answered, "turn_at", bounds)
        if kind == FIRST:
            answered = answered.filter(answered["first"])
        answered = _of_agent(answered, agent_id)
        return answered.group_by("conversation_id").aggregate(
            items=answered.count(),
            value=answered.response_us.cast("float64").mean() / 1e6,
            agents=answered.agent_id.collect(distinct=True),
        )
    if kind == SERVED:
        sent = _written(messages, bounds, shop_id, agent_id)
        return sent.group_by("conversation_id").aggregate(
            items=sent.count(), value=no_value, agents=sent.agent_id.collect(distinct=True)
        )
    if kind in (ORDERED, PAID):
        orders = tables.get("orders")
        if orders is None:
            return None
        credited = snapshot.credited(messages, orders)
        counted = credited.filter(credited.agent_id.notnull() & (credited.shop_id == shop_id))
        counted = within(_of_agent(counted, agent_id), "credited_at", bounds)
        if kind == PAID:
            counted = counted.filter(counted.paid.notnull())
        return counted.group_by(conversation_id=counted.credited_conversation).aggregate(
            items=counted.count(),
            value=counted.cents.sum().cast("float64") / 100,
            agents=counted.agent_id.collect(distinct=True),
        )
    if kind == INVITED:
        invitations = tables.get("rating_invitations")
        if invitations is None:
            return None
        ours = _of_agent(invitations.filter(invitations.shop_id == shop_id), agent_id)
        invited = within(ours, "at", bounds)
        invited = invited.semi_join(_written(messages, bounds, shop_id, agent_id), "conversation_id")
        return invited.group_by("conversation_id").aggregate(
            items=invited.count(), value=no_value, agents=invited.agent_id.collect(distinct=True)
        )
    ratings = tables.get("ratings")
    if ratings is None:
        return None
    rated = within(_of_agent(ratings.filter(ratings.shop_id == shop_id), agent_id), "at", bounds)
    return rated.group_by("conversation_id").aggregate(
        items=rated.count(),
        value=no_value,
        agents=rated.agent_id.collect(distinct=True),
        scores=rated.score.collect(),
    )


def _written(messages: ir.Table, bounds: ir.Table, shop_id: str, agent_id: str | None) -> ir.Table:
    """The agent's (or any agent's) messages at the shop in the period: what "served" rests on."""
    sent = messages.filter((messages.sender == "agent") & (messages.shop_id == shop_id))
    return within(_of_agent(sent, agent_id), "at", bounds)


def _of_agent(table: ir.Table, agent_id: str | None) -> ir.Table:
    return table if agent_id is None else table.filter(table.agent_id == agent_id)
