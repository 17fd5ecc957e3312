"""Filters a lead applies to the report: pre-sale or after-sale, human or bot conversations.

A conversation is **after-sale** when the buyer has an order at the shop paid in the 30 days
up to the conversation's first message (售后: the buyer already holds the goods or waits for
them); otherwise it is **pre-sale** (售前). A conversation is **human** when an agent wrote in
it and **bot** when only the bot answered. Both are conversation filters: messages, ratings and
rating invitations of the other conversations leave the report; orders, refunds and reviews stay.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

SEGMENTS = ("all", "presale", "aftersale")
CHANNELS = ("all", "human", "bot")
AFTERSALE_WINDOW_US = 30 * 24 * 3600 * 1_000_000


def conversation_kinds(messages: ir.Table, orders: ir.Table | None) -> ir.Table:
    """Per conversation: `aftersale`, `has_agent`, `has_bot`."""
    per = messages.group_by(["conversation_id", "shop_id", "buyer_id"]).aggregate(
        first_at=messages.at.min(),
        has_agent=(messages.sender == "agent").any(),
        has_bot=(messages.sender == "bot").any(),
    )
    if orders is None:
        return per.mutate(aftersale=ibis.literal(False))
    paid = orders.filter(orders.paid.notnull())
    no_conversation = ibis.null(messages.conversation_id.type())
    line = per.select(
        "shop_id", "buyer_id", "conversation_id", at=per.first_at, kind=ibis.literal(1, "int8")
    ).union(
        paid.select(
            "shop_id", "buyer_id", conversation_id=no_conversation, at=paid.paid, kind=ibis.literal(0, "int8")
        )
    )
    upto = ibis.cumulative_window(group_by=["shop_id", "buyer_id"], order_by=["at", "kind"])
    line = line.mutate(last_paid=ibis.ifelse(line.kind == 0, line.at, ibis.null("int64")).max().over(upto))
    starts = line.filter(line.kind == 1)
    starts = starts.select(
        "conversation_id",
        aftersale=starts.last_paid.notnull() & (starts.last_paid >= starts.at - AFTERSALE_WINDOW_US),
    )
    return per.inner_join(starts, "conversation_id")


def selected_conversations(kinds: ir.Table, segment: str, channel: str) -> ir.Table:
    keep = ibis.literal(True)
    if segment == "presale":
        keep = keep & ~kinds.aftersale
    elif segment == "aftersale":
        keep = keep & kinds.aftersale
    if channel == "human":
        keep = keep & kinds.has_agent
    elif channel == "bot":
        keep = keep & kinds.has_bot & ~kinds.has_agent
    return kinds.filter(keep).select("conversation_id")


def narrow(engine, tables: dict[str, ir.Table], segment: str, channel: str) -> dict[str, ir.Table]:
    """The fact tables with the messages and ratings of the chosen conversations only."""
    check(segment, channel)
    if segment == "all" and channel == "all":
        return tables
    kinds = engine.keep(conversation_kinds(tables["messages"], tables.get("orders")), "kinds")
    chosen = selected_conversations(kinds, segment, channel)
    narrowed = dict(tables, messages=tables["messages"].semi_join(chosen, "conversation_id"))
    for name in ("ratings", "rating_invitations"):
        if tables.get(name) is not None:
            narrowed[name] = tables[name].semi_join(chosen, "conversation_id")
    for name in ("turns", "bot_conversations"):  # precomputed (timelines.py), a row per conversation
        if tables.get(name) is not None:
            narrowed[name] = tables[name].semi_join(chosen, "conversation_id")
    # An order is credited to the latest message that counts: precomputed credits no longer hold.
    narrowed.pop("credited", None)
    return narrowed


def check(segment: str, channel: str) -> None:
    if segment not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}; choose one of {', '.join(SEGMENTS)}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
