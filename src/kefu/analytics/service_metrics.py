"""Response times, served buyers, the reply/question ratio and the bot's share of the work."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kefu.analytics import turns
from kefu.analytics.engines import Engine
from kefu.analytics.expressions import count_where, within
from kefu.analytics.rows import Rows, fetch_rows, ratio

AGENT, SHOP = ["shop_id", "agent_id"], ["shop_id"]


def response_summary(answered: ir.Table, group: list[str]) -> ir.Table:
    """Per group: the answered turns, their mean response and how many were fast or slow."""
    return answered.group_by(group).aggregate(
        turns=answered.count(),
        avg=answered.response_us.cast("float64").mean(),
        within_30s=count_where(answered.response_us <= turns.WITHIN_30S_US),
        within_3min=count_where(answered.response_us <= turns.WITHIN_3MIN_US),
        slow=count_where(answered.response_us > turns.SLOW_REPLY_US),
    )


def response_values(summary: dict) -> dict:
    """A row of `response_summary` as the report's keys."""
    return {
        "turns": summary["turns"],
        "avg_response_s": summary["avg"] / 1e6,
        "reply_within_30s_rate": summary["within_30s"] / summary["turns"],
        "reply_within_3min_rate": summary["within_3min"] / summary["turns"],
        "slow_replies": summary["slow"],
    }


def response_metrics(engine: Engine, every_turn: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    """turns, avg/first response, 30 s and 3 min rates, slow replies; unanswered turns, last word.

    `every_turn` is turns.turn_table of the messages.
    """
    started = engine.keep(within(every_turn, "turn_at", bounds), "started")  # the period's turns
    answered = turns.answers(started)
    first = answered.filter(answered.first)
    for group in (AGENT, SHOP):
        for r in fetch_rows(engine, response_summary(answered, group)):
            rows.put(group, r).update(response_values(r))
        firsts = first.group_by(group).aggregate(avg=first.response_us.cast("float64").mean())
        for r in fetch_rows(engine, firsts):
            rows.put(group, r)["first_response_s"] = r["avg"] / 1e6

    open_turns = started.group_by("shop_id").aggregate(n=count_where(started.answered_at.isnull()))
    for r in fetch_rows(engine, open_turns):
        rows.shop(r["shop_id"])["unanswered_turns"] = r["n"]
    # A conversation counts in the period its first turn starts in; the buyer has the last word when
    # its last turn went unanswered.
    opened = started.filter(started.first)
    left_open = every_turn.filter(every_turn.last & every_turn.answered_at.isnull())
    unanswered_at_end = opened.semi_join(left_open, "conversation_id")
    last_word = unanswered_at_end.group_by("shop_id").aggregate(n=unanswered_at_end.count())
    for r in fetch_rows(engine, last_word):
        rows.shop(r["shop_id"])["buyer_last_word_conversations"] = r["n"]


def served_metrics(engine: Engine, messages: ir.Table, bounds: ir.Table, rows: Rows) -> ir.Table:
    """served_buyers, and the reply/question ratio (答问比) over the conversations an agent wrote in.

    Returns those conversations: (shop_id, agent_id, conversation_id) for every agent that wrote in P.
    """
    # One pass over the period's messages: how many each conversation has from its buyer and from
    # each agent. The figures below read these few rows instead of the messages again.
    in_period = within(messages, "at", bounds)
    talk = in_period.filter(in_period.sender.isin(("agent", "buyer")))
    counts = engine.keep(
        talk.group_by(["shop_id", "conversation_id", "buyer_id", "sender", "agent_id"]).aggregate(
            n=talk.count()
        ),
        "talk",
    )
    sent = counts.filter(counts.sender == "agent")
    for group in (AGENT, SHOP):
        agg = sent.group_by(group).aggregate(n=sent.buyer_id.nunique(), replies=sent.n.sum())
        for r in fetch_rows(engine, agg):
            rows.put(group, r).update(served_buyers=r["n"], agent_messages=r["replies"])
    asked = counts.filter(counts.sender == "buyer")
    per_conversation = asked.group_by(["conversation_id"]).aggregate(questions=asked.n.sum())
    wrote = sent.select("shop_id", "agent_id", "conversation_id").distinct()
    paired = wrote.inner_join(per_conversation, "conversation_id")
    for r in fetch_rows(engine, paired.group_by(AGENT).aggregate(q=paired.questions.sum())):
        row = rows.agent((r["shop_id"], r["agent_id"]))
        row["reply_question_ratio"] = ratio(row.get("agent_messages"), r["q"])
    for r in fetch_rows(engine, asked.group_by(SHOP).aggregate(q=asked.n.sum())):
        row = rows.shop(r["shop_id"])
        row["reply_question_ratio"] = ratio(row.get("agent_messages"), r["q"])
    return wrote


def bot_conversations(messages: ir.Table) -> ir.Table:
    """Per conversation the bot spoke in: its shop, the bot's first message and the last agent message."""
    voiced = messages.filter(messages.sender.isin(("bot", "agent")))
    per = voiced.group_by(["conversation_id", "shop_id"]).aggregate(
        bot_first=ibis.ifelse(voiced.sender == "bot", voiced.at, ibis.null("int64")).min(),
        agent_last=ibis.ifelse(voiced.sender == "agent", voiced.at, ibis.null("int64")).max(),
    )
    return per.filter(per.bot_first.notnull())


def bot_metrics(engine: Engine, spoke: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    """Conversations the bot took part in, and whether a person had to take over (转人工).

    `spoke` is bot_conversations of the messages.
    """
    per = within(spoke, "bot_first", bounds)
    agg = per.group_by("shop_id").aggregate(
        bot=per.count(), handed=count_where(per.agent_last.notnull() & (per.agent_last >= per.bot_first))
    )
    for r in fetch_rows(engine, agg):
        rows.shop(r["shop_id"]).update(
            bot_conversations=r["bot"],
            bot_handover_rate=ratio(r["handed"], r["bot"]),
            bot_resolution_rate=ratio(r["bot"] - r["handed"], r["bot"]),
        )
