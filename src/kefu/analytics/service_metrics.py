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


def response_metrics(engine: Engine, messages: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    """turns, avg/first response, 30 s and 3 min rates, slow replies; unanswered turns, last word."""
    every_turn = engine.keep(turns.turn_table(messages), "turns")
    answered = within(turns.answers(every_turn), "turn_at", bounds)
    first = answered.filter(answered.first)
    for group in (AGENT, SHOP):
        for r in fetch_rows(engine, response_summary(answered, group)):
            rows.put(group, r).update(response_values(r))
        firsts = first.group_by(group).aggregate(avg=first.response_us.cast("float64").mean())
        for r in fetch_rows(engine, firsts):
            rows.put(group, r)["first_response_s"] = r["avg"] / 1e6

    started = within(every_turn, "turn_at", bounds)
    for r in fetch_rows(engine, started.group_by("shop_id").aggregate(n=started.count())):
        rows.shop(r["shop_id"])["unanswered_turns"] = r["n"]
    for r in fetch_rows(engine, answered.group_by("shop_id").aggregate(n=answered.count())):
        rows.shop(r["shop_id"])["unanswered_turns"] -= r["n"]
    talks = within(turns.conversations(every_turn), "started", bounds)
    last_word = talks.group_by("shop_id").aggregate(n=count_where(talks.buyer_last))
    for r in fetch_rows(engine, last_word):
        rows.shop(r["shop_id"])["buyer_last_word_conversations"] = r["n"]


def served_metrics(engine: Engine, messages: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    """served_buyers, and the reply/question ratio (答问比) over the conversations an agent wrote in."""
    in_period = within(messages, "at", bounds)
    sent = in_period.filter(in_period.sender == "agent")
    for group in (AGENT, SHOP):
        agg = sent.group_by(group).aggregate(n=sent.buyer_id.nunique(), replies=sent.count())
        for r in fetch_rows(engine, agg):
            rows.put(group, r).update(served_buyers=r["n"], agent_messages=r["replies"])
    asked = in_period.filter(in_period.sender == "buyer")
    per_conversation = asked.group_by(["conversation_id"]).aggregate(questions=asked.count())
    wrote = sent.select("shop_id", "agent_id", "conversation_id").distinct()
    paired = wrote.inner_join(per_conversation, "conversation_id")
    for r in fetch_rows(engine, paired.group_by(AGENT).aggregate(q=paired.questions.sum())):
        row = rows.agent((r["shop_id"], r["agent_id"]))
        row["reply_question_ratio"] = ratio(row.get("agent_messages"), r["q"])
    for r in fetch_rows(engine, asked.group_by(SHOP).aggregate(q=asked.count())):
        row = rows.shop(r["shop_id"])
        row["reply_question_ratio"] = ratio(row.get("agent_messages"), r["q"])


def bot_metrics(engine: Engine, messages: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    """Conversations the bot took part in, and whether a person had to take over (转人工)."""
    voiced = messages.filter(messages.sender.isin(("bot", "agent")))
    per = voiced.group_by(["conversation_id", "shop_id"]).aggregate(
        bot_first=ibis.ifelse(voiced.sender == "bot", voiced.at, ibis.null("int64")).min(),
        agent_last=ibis.ifelse(voiced.sender == "agent", voiced.at, ibis.null("int64")).max(),
    )
    per = within(per.filter(per.bot_first.notnull()), "bot_first", bounds)
    agg = per.group_by("shop_id").aggregate(
        bot=per.count(), handed=count_where(per.agent_last.notnull() & (per.agent_last >= per.bot_first))
    )
    for r in fetch_rows(engine, agg):
        rows.shop(r["shop_id"]).update(
            bot_conversations=r["bot"],
            bot_handover_rate=ratio(r["handed"], r["bot"]),
            bot_resolution_rate=ratio(r["bot"] - r["handed"], r["bot"]),
        )
