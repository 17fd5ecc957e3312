"""Turns and response times (metrics.md, "Conversations, turns and response time").

A turn is a run of consecutive buyer messages; the first agent message after it answers it.
Bot and system messages are left out before anything else, so they neither break a run nor
answer one. Everything is engine-free Ibis over the `messages` facts.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kefu.analytics.expressions import count_where

SLOW_REPLY_US = 100 * 1_000_000  # the platforms flag replies slower than 100 s
WITHIN_30S_US = 30 * 1_000_000
WITHIN_3MIN_US = 180 * 1_000_000


def turn_steps(messages: ir.Table) -> ir.Table:
    """Buyer and agent messages, each with the number and start of the turn it belongs to or answers."""
    talk = messages.filter(messages.sender.isin(("buyer", "agent")))
    order = ["at", "ord"]
    w = ibis.window(group_by="conversation_id", order_by=order)
    talk = talk.mutate(previous=talk.sender.lag().over(w), following=talk.sender.lead().over(w))
    talk = talk.mutate(
        starts=(talk.sender == "buyer") & (talk.previous.fill_null("") != "buyer"),
        answers=(talk.sender == "agent") & (talk.previous.fill_null("") == "buyer"),
        last=talk.following.isnull(),
    )
    # Times never decrease along (at, ord), so the latest turn start is the running maximum.
    upto = ibis.cumulative_window(group_by="conversation_id", order_by=order)
    return talk.mutate(
        turn_no=count_where(talk.starts).over(upto),
        turn_at=ibis.ifelse(talk.starts, talk.at, ibis.null("int64")).max().over(upto),
    )


def turn_starts(steps: ir.Table) -> ir.Table:
    """One row per turn: conversation, shop, buyer, turn number (1 = the first) and start."""
    starts = steps.filter(steps.starts)
    return starts.select("conversation_id", "shop_id", "buyer_id", "turn_no", "turn_at")


def answers(steps: ir.Table) -> ir.Table:
    """One row per answered turn: who answered it and how long the buyer waited, in microseconds."""
    replies = steps.filter(steps.answers)
    return replies.select(
        "conversation_id",
        "shop_id",
        "buyer_id",
        "agent_id",
        "turn_no",
        "turn_at",
        response_us=replies.at - replies.turn_at,
    )


def conversations(steps: ir.Table) -> ir.Table:
    """Per conversation with a buyer message: its shop, start, and whether the buyer spoke last."""
    return steps.group_by(["conversation_id", "shop_id", "buyer_id"]).aggregate(
        started=steps.turn_at.min(),
        buyer_last=(steps.last & (steps.sender == "buyer")).any(),
        has_buyer=(steps.sender == "buyer").any(),
    )
