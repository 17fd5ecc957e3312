"""Rating invitations (邀评): how many of an agent's conversations the buyer was asked to rate,
and how many invitations a rating answered.

Invitations exist only where they are recorded (the desk records one when a conversation is
closed; a dataset may carry the `rating_invitations` extension table). A shop with no invitation
anywhere in the data gets nulls, not a rate of zero: it did not fail to invite, it did not record.
"""

from __future__ import annotations

import ibis.expr.types as ir

from kefu.analytics.engines import Engine
from kefu.analytics.expressions import within
from kefu.analytics.rows import Rows, fetch_rows, ratio

KEYS = ("invited_conversations", "rating_invitation_rate", "invitation_response_rate")
AGENT, SHOP = ["shop_id", "agent_id"], ["shop_id"]


def invitation_metrics(
    engine: Engine,
    invitations: ir.Table,
    recorded_in: ir.Table,
    ratings: ir.Table | None,
    wrote: ir.Table,
    bounds: ir.Table,
    rows: Rows,
) -> None:
    """invited_conversations, rating_invitation_rate and invitation_response_rate, per agent and shop.

    `wrote` holds (shop_id, agent_id, conversation_id) for every agent message in the period: an
    agent's conversations are those it wrote in, the shop's those any agent wrote in.
    `recorded_in` is the invitations before the segment and channel filters: a shop that records
    invitations gets zeros where a filter leaves none.
    """
    recorded = set(engine.fetch(recorded_in.select("shop_id").distinct()).column("shop_id").to_pylist())
    invited = within(invitations, "at", bounds)

    # Invited by this agent (the agent the invitation names), in the period.
    by_agent = invited.filter(invited.agent_id.notnull()).select("conversation_id", "agent_id").distinct()
    mine = wrote.semi_join(by_agent, ["conversation_id", "agent_id"])
    served = wrote.select("shop_id", "conversation_id").distinct()
    ours = served.semi_join(invited.select("conversation_id"), "conversation_id")
    for group, base, hit in ((AGENT, wrote, mine), (SHOP, served, ours)):
        invited_counts = {
            tuple(r[g] for g in group): r["n"]
            for r in fetch_rows(engine, hit.group_by(group).aggregate(n=hit.count()))
        }
        for r in fetch_rows(engine, base.group_by(group).aggregate(n=base.count())):
            key = tuple(r[g] for g in group)
            n = invited_counts.get(key, 0)
            rows.put(group, r).update(invited_conversations=n, rating_invitation_rate=ratio(n, r["n"]))

    # Answered: a rating of the conversation at or after the invitation, before the period ends.
    # Counted per (shop, agent) with the agent possibly empty; the shop's figure is their sum.
    answered: dict[tuple, int] = {}
    if ratings is not None:
        answers = ratings.select(rated_conversation=ratings.conversation_id, rated=ratings.at)
        pairs = invited.inner_join(answers, invited.conversation_id == answers.rated_conversation)
        pairs = pairs.filter((pairs.rated >= pairs.at) & (pairs.rated < pairs.p_to))
        hit = invited.semi_join(pairs.select("conversation_id", "at").distinct(), ["conversation_id", "at"])
        answered = {(r["shop_id"], r["agent_id"]): r["n"] for r in _per_agent(engine, hit)}
    sent = {(r["shop_id"], r["agent_id"]): r["n"] for r in _per_agent(engine, invited)}
    shops: dict[str, list[int]] = {}
    for (shop, agent), n in sent.items():
        got = answered.get((shop, agent), 0) if ratings is not None else None
        totals = shops.setdefault(shop, [0, 0])
        totals[0] += n
        totals[1] += got or 0
        if (shop, agent) in rows.agents:  # an agent of the report; invitations add no agents
            rows.agents[(shop, agent)]["invitation_response_rate"] = None if got is None else got / n
    if ratings is not None:
        for shop, (n, got) in shops.items():
            rows.shop(shop)["invitation_response_rate"] = ratio(got, n)

    # Shops that record no invitations at all: unknown, not zero.
    for (shop, _agent), row in rows.agents.items():
        if shop not in recorded:
            row.update(dict.fromkeys(KEYS))
    for shop, row in rows.shops.items():
        if shop not in recorded:
            row.update(dict.fromkeys(KEYS))


def _per_agent(engine: Engine, invitations: ir.Table) -> list[dict]:
    return fetch_rows(engine, invitations.group_by(AGENT).aggregate(n=invitations.count()))
