"""Response times, served buyers, the reply/question ratio and the bot's share of the work."""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pyarrow as pa

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
    figures = response_figures(every_turn, started)
    put_responses(rows, {name: engine.fetch(expr) for name, expr in figures.items()})


def response_figures(every_turn: ir.Table, started: ir.Table) -> dict[str, ir.Table]:
    """What response_metrics reads of the period's turns (`started`): per agent and per shop the
    answered turns (`answered_*`, response_summary) and the first answers' mean (`first_*`); per
    shop the turns left open and the conversations where the buyer has the last word."""
    answered = turns.answers(started)
    first = answered.filter(answered.first)
    first_mean = first.response_us.cast("float64").mean()
    figures = {}
    for name, group in (("agents", AGENT), ("shops", SHOP)):
        figures[f"answered_{name}"] = response_summary(answered, group)
        figures[f"first_{name}"] = first.group_by(group).aggregate(avg=first_mean)
    figures["open_turns"] = started.group_by("shop_id").aggregate(n=count_where(started.answered_at.isnull()))
    # A conversation counts in the period its first turn starts in; the buyer has the last word when its
    # last turn went unanswered.
    opened = started.filter(started.first)
    left_open = every_turn.filter(every_turn.last & every_turn.answered_at.isnull())
    unanswered_at_end = opened.semi_join(left_open, "conversation_id")
    figures["last_word"] = unanswered_at_end.group_by("shop_id").aggregate(n=unanswered_at_end.count())
    return figures


def put_responses(rows: Rows, figures: Mapping[str, pa.Table]) -> None:
    """The results of response_figures into the report's rows."""
    for name, group in (("agents", AGENT), ("shops", SHOP)):
        for r in figures[f"answered_{name}"].to_pylist():
            rows.put(group, r).update(response_values(r))
        for r in figures[f"first_{name}"].to_pylist():
            rows.put(group, r)["first_response_s"] = r["avg"] / 1e6
    for r in figures["open_turns"].to_pylist():
        rows.shop(r["shop_id"])["unanswered_turns"] = r["n"]
    for r in figures["last_word"].to_pylist():
        rows.shop(r["shop_id"])["buyer_last_word_conversations"] = r["n"]


def talk_counts(messages: ir.Table, bounds: ir.Table) -> ir.Table:
    """The period's buyer and agent messages counted per (shop, conversation, buyer, sender, agent).

    served_metrics reads these few rows instead of the messages again.
    """
    in_period = within(messages, "at", bounds)
    talk = in_period.filter(in_period.sender.isin(("agent", "buyer")))
    return talk.group_by(["shop_id", "conversation_id", "buyer_id", "sender", "agent_id"]).aggregate(
        n=talk.count()
    )


def served_metrics(engine: Engine, counts: ir.Table, rows: Rows) -> ir.Table:
    """served_buyers, and the reply/question ratio (答问比) over the conversations an agent wrote in.

    `counts` is talk_counts of the period, kept. Returns the conversations an agent wrote in:
    (shop_id, agent_id, conversation_id) for every agent that wrote in the period.
    """
    figures = served_figures(counts)
    wrote = figures.pop("wrote")
    put_served(rows, {name: engine.fetch(expr) for name, expr in figures.items()})
    return wrote


def served_figures(counts: ir.Table) -> dict[str, ir.Table]:
    """What served_metrics reads of talk_counts: per agent and per shop the buyers an agent wrote to
    and its messages (`sent_*`), the buyers' questions in those conversations (`asked_*`), and
    `wrote` (the conversations each agent wrote in)."""
    sent = counts.filter(counts.sender == "agent")
    asked = counts.filter(counts.sender == "buyer")
    per_conversation = asked.group_by(["conversation_id"]).aggregate(questions=asked.n.sum())
    wrote = sent.select("shop_id", "agent_id", "conversation_id").distinct()
    paired = wrote.inner_join(per_conversation, "conversation_id")
    figures = {
        f"sent_{name}": sent.group_by(group).aggregate(n=sent.buyer_id.nunique(), replies=sent.n.sum())
        for name, group in (("agents", AGENT), ("shops", SHOP))
    }
    figures["asked_agents"] = paired.group_by(AGENT).aggregate(q=paired.questions.sum())
    figures["asked_shops"] = asked.group_by(SHOP).aggregate(q=asked.n.sum())
    return figures | {"wrote": wrote}


def put_served(rows: Rows, figures: Mapping[str, pa.Table]) -> None:
    """The results of served_figures (but `wrote`) into the report's rows."""
    for name, group in (("agents", AGENT), ("shops", SHOP)):
        for r in figures[f"sent_{name}"].to_pylist():
            rows.put(group, r).update(served_buyers=r["n"], agent_messages=r["replies"])
    for name, group in (("agents", AGENT), ("shops", SHOP)):
        for r in figures[f"asked_{name}"].to_pylist():
            row = rows.put(group, r)
            row["reply_question_ratio"] = ratio(row.get("agent_messages"), r["q"])


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
