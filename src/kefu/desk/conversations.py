"""What happens to a live conversation: opened by a buyer, assigned, picked up, transferred,
noted, closed with a rating invitation, reopened and rated.

Functions take a Session in the caller's transaction and return the events to publish once it
commits (`Change`); the messages they want the buyer to see (a transfer notice) are returned
too, for the caller to put through the message writer like any other message.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.desk import followups, webhooks
from kefu.desk.access import SUPERVISING_ROLES, can_write
from kefu.desk.routing import PRESENCES, AgentLoad, choose_agent
from kefu.store.models import (
    Buyer,
    Conversation,
    ConversationNote,
    Order,
    Rating,
    RatingInvitation,
    Shop,
    Staff,
    Transfer,
)
from kefu.vocabularies import RATING_SCORES, SKILL_GROUPS

# A buyer with an order paid at the shop in this window before the conversation is after-sale
# (the same rule as the analytics' pre-/after-sale split, docs/metrics.md).
AFTERSALE_WINDOW = timedelta(days=30)
MAX_NOTE_LENGTH = 2000


class NotAllowed(PermissionError):
    """The staff member may not do this to this conversation; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Change:
    """What a change needs published after its commit, and what the buyer should be told."""

    events: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # system messages for the buyer


def new_conversation_id() -> str:
    return "c" + secrets.token_hex(10)


def state_event(conversation: Conversation, change: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "conversation",
        "change": change,
        "shop_id": conversation.shop_id,
        "conversation_id": conversation.id,
        "buyer_id": conversation.buyer_id,
        "status": conversation.status,
        "assigned_agent_id": conversation.assigned_agent_id,
        "skill_group": conversation.skill_group,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "last_sender": conversation.last_sender,
        **extra,
    }


def _webhook(session: Session, conversation: Conversation, event: str, now: datetime, **extra: Any) -> None:
    payload = {"conversation_id": conversation.id, "buyer_id": conversation.buyer_id, **extra}
    webhooks.enqueue(session.connection(), [webhooks.WebhookEvent(conversation.shop_id, event, payload)], now)


def skill_group_for(session: Session, shop_id: str, buyer_id: str, now: datetime) -> str:
    paid = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.shop_id == shop_id,
            Order.buyer_id == buyer_id,
            Order.paid_at.is_not(None),
            Order.paid_at > now - AFTERSALE_WINDOW,
            Order.paid_at <= now,
        )
    )
    return "aftersale" if paid else "presale"


def open_for_buyer(
    session: Session,
    shop: Shop,
    buyer_id: str,
    now: datetime,
    *,
    nickname: str | None = None,
    channel: str = "web",
) -> tuple[Conversation, Change]:
    """The buyer's open conversation at the shop, or a new one, queued or assigned at once."""
    change = Change()
    buyer = session.get(Buyer, buyer_id)
    if buyer is None:
        session.add(Buyer(id=buyer_id, nickname=nickname))
    elif nickname and not buyer.nickname:
        buyer.nickname = nickname
    conversation = session.scalars(
        select(Conversation)
        .where(
            Conversation.shop_id == shop.id, Conversation.buyer_id == buyer_id, Conversation.status == "open"
        )
        .order_by(Conversation.started_at.desc())
        .limit(1)
    ).first()
    if conversation is not None:
        return conversation, change
    conversation = Conversation(
        id=new_conversation_id(),
        shop_id=shop.id,
        buyer_id=buyer_id,
        started_at=now,
        status="open",
        skill_group=skill_group_for(session, shop.id, buyer_id, now),
        channel=channel,
        last_seq=0,
        buyer_read_seq=0,
        agent_read_seq=0,
    )
    session.add(conversation)
    session.flush()
    if not assign_automatically(session, conversation, now, change):
        change.events.append(state_event(conversation, "new"))  # queued: every agent's waiting list shows it
    return conversation, change


def queue_load(session: Session, shop_id: str) -> tuple[int, int]:
    """(buyers waiting in the queue, agents online) at the shop now: the peak notice's inputs."""
    waiting = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.shop_id == shop_id,
            Conversation.status == "open",
            Conversation.assigned_agent_id.is_(None),
        )
    )
    online = session.scalar(
        select(func.count()).select_from(Staff).where(Staff.shop_id == shop_id, Staff.presence == "online")
    )
    return waiting or 0, online or 0


def agent_loads(session: Session, shop_id: str) -> list[AgentLoad]:
    active = dict(
        session.execute(
            select(Conversation.assigned_agent_id, func.count())
            .where(
                Conversation.shop_id == shop_id,
                Conversation.status == "open",
                Conversation.assigned_agent_id.is_not(None),
            )
            .group_by(Conversation.assigned_agent_id)
        ).all()
    )
    staff = session.scalars(
        select(Staff).where(Staff.shop_id == shop_id, Staff.password_hash.is_not(None), Staff.role == "agent")
    )
    return [
        AgentLoad(
            agent_id=member.agent_id,
            skill_group=member.skill_group,
            presence=member.presence,
            active=active.get(member.agent_id, 0),
            max_concurrent=member.max_concurrent,
            last_assigned_at=member.last_assigned_at,
        )
        for member in staff
    ]


def _assign(
    session: Session, conversation: Conversation, agent: Staff, now: datetime, change: Change
) -> None:
    conversation.assigned_agent_id = agent.agent_id
    conversation.assigned_at = now
    agent.last_assigned_at = now
    change.events.append(state_event(conversation, "assigned", agent_nickname=agent.nickname))
    _webhook(session, conversation, "conversation.assigned", now, agent_id=agent.agent_id)


def _staff_by_agent(session: Session, shop_id: str, agent_id: str) -> Staff | None:
    return session.scalars(select(Staff).where(Staff.shop_id == shop_id, Staff.agent_id == agent_id)).first()


def assign_automatically(
    session: Session, conversation: Conversation, now: datetime, change: Change, *, exclude: str | None = None
) -> bool:
    """Give a waiting conversation to the best placed online agent; False leaves it queued.

    `exclude`: the agent who just handed it on, who must not get it straight back.
    """
    loads = [load for load in agent_loads(session, conversation.shop_id) if load.agent_id != exclude]
    chosen = choose_agent(loads, conversation.skill_group)
    if chosen is None:
        return False
    agent = _staff_by_agent(session, conversation.shop_id, chosen)
    if agent is None:
        return False
    _assign(session, conversation, agent, now, change)
    return True


def assign_waiting(session: Session, shop_id: str, now: datetime) -> Change:
    """Hand queued conversations to agents with room, oldest first (someone came online or closed one)."""
    change = Change()
    waiting = session.scalars(
        select(Conversation)
        .where(
            Conversation.shop_id == shop_id,
            Conversation.status == "open",
            Conversation.assigned_agent_id.is_(None),
        )
        .order_by(Conversation.started_at)
        .limit(200)
    ).all()
    for conversation in waiting:
        assign_automatically(session, conversation, now, change)
    return change


def pick_up(session: Session, staff: Staff, conversation: Conversation, now: datetime) -> Change:
    """An agent takes a waiting conversation by hand; a supervisor may take any open one."""
    if conversation.status != "open":
        raise NotAllowed("closed")
    if conversation.assigned_agent_id and staff.role not in SUPERVISING_ROLES:
        raise NotAllowed("taken")
    change = Change()
    _assign(session, conversation, staff, now, change)
    return change


def transfer(
    session: Session,
    staff: Staff,
    conversation: Conversation,
    now: datetime,
    *,
    note: str,
    to_agent_id: str | None = None,
    to_group: str | None = None,
) -> Change:
    """Hand the conversation to a colleague or a skill group, with a note for whoever takes it."""
    if not can_write(staff, conversation):
        raise NotAllowed("not yours")
    if conversation.status != "open":
        raise NotAllowed("closed")
    if (to_agent_id is None) == (to_group is None):
        raise NotAllowed("name a colleague or a group")
    note = note.strip()
    if not note:
        raise NotAllowed("a hand-over note is required")
    if len(note) > MAX_NOTE_LENGTH:
        raise NotAllowed("note too long")
    target: Staff | None = None
    if to_agent_id is not None:
        target = _staff_by_agent(session, conversation.shop_id, to_agent_id)
        if target is None or target.password_hash is None:
            raise NotAllowed("no such colleague")
        if target.agent_id == conversation.assigned_agent_id:
            raise NotAllowed("already theirs")
    elif to_group not in SKILL_GROUPS:
        raise NotAllowed("no such group")
    session.add(
        Transfer(
            conversation_id=conversation.id,
            at=now,
            from_agent_id=conversation.assigned_agent_id,
            to_agent_id=to_agent_id,
            to_group=to_group,
            note=note,
        )
    )
    change = Change()
    from_agent = conversation.assigned_agent_id
    extra = {"note": note, "from_agent_id": from_agent, "to_group": to_group}
    if target is not None:
        conversation.assigned_agent_id = target.agent_id
        conversation.assigned_at = now
        target.last_assigned_at = now
        change.events.append(
            state_event(conversation, "transferred", agent_nickname=target.nickname, **extra)
        )
        change.notices.append(f"已为您转接给{target.nickname}，请稍候。")
    else:
        conversation.assigned_agent_id = None
        conversation.skill_group = to_group
        change.events.append(state_event(conversation, "transferred", agent_nickname=None, **extra))
        change.notices.append("已为您转接给更合适的同事，请稍候。")
        assign_automatically(session, conversation, now, change, exclude=from_agent)
    _webhook(
        session,
        conversation,
        "conversation.transferred",
        now,
        from_agent_id=from_agent,
        to_agent_id=conversation.assigned_agent_id,
        to_group=to_group,
    )
    return change


def add_note(session: Session, staff: Staff, conversation: Conversation, text: str, now: datetime) -> Change:
    text = text.strip()
    if not text:
        raise NotAllowed("empty note")
    if len(text) > MAX_NOTE_LENGTH:
        raise NotAllowed("note too long")
    session.add(
        ConversationNote(conversation_id=conversation.id, author_agent_id=staff.agent_id, at=now, text=text)
    )
    event = {
        "type": "note",
        "shop_id": conversation.shop_id,
        "conversation_id": conversation.id,
        "author_agent_id": staff.agent_id,
        "text": text,
        "at": now.isoformat(),
    }
    return Change(events=[event])


def close(session: Session, staff: Staff, conversation: Conversation, now: datetime) -> Change:
    """End the conversation and invite the buyer to rate it; the invitation is recorded for analytics."""
    if not can_write(staff, conversation):
        raise NotAllowed("not yours")
    if conversation.status != "open":
        raise NotAllowed("closed")
    conversation.status = "closed"
    conversation.closed_at = now
    conversation.waiting_since = None
    session.add(
        RatingInvitation(
            conversation_id=conversation.id,
            shop_id=conversation.shop_id,
            buyer_id=conversation.buyer_id,
            agent_id=conversation.assigned_agent_id,
            invited_at=now,
        )
    )
    _webhook(session, conversation, "conversation.closed", now, agent_id=conversation.assigned_agent_id)
    # A buyer who asked and did not order, or ordered and did not pay, gets a task in the agent's list.
    followups.do_plan_follow_ups(session, conversation, now)
    change = Change(events=[state_event(conversation, "closed", rating_invited=True)])
    freed = assign_waiting(session, conversation.shop_id, now)
    change.events.extend(freed.events)
    return change


def reopen(session: Session, staff: Staff, conversation: Conversation, now: datetime) -> Change:
    if conversation.status != "closed":
        raise NotAllowed("open")
    if conversation.assigned_agent_id != staff.agent_id and staff.role not in SUPERVISING_ROLES:
        raise NotAllowed("not yours")
    open_again = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.shop_id == conversation.shop_id,
            Conversation.buyer_id == conversation.buyer_id,
            Conversation.status == "open",
        )
    )
    if open_again:
        raise NotAllowed("the buyer has another open conversation")
    conversation.status = "open"
    conversation.closed_at = None
    if conversation.assigned_agent_id is None:
        conversation.assigned_agent_id = staff.agent_id
        conversation.assigned_at = now
    return Change(events=[state_event(conversation, "reopened")])


def set_presence(session: Session, staff: Staff, presence: str, now: datetime) -> Change:
    if presence not in PRESENCES:
        raise NotAllowed(f"presence must be one of {', '.join(PRESENCES)}")
    staff.presence = presence
    event = {"type": "presence", "shop_id": staff.shop_id, "agent_id": staff.agent_id, "presence": presence}
    change = Change(events=[event])
    if presence == "online":
        session.flush()
        change.events.extend(assign_waiting(session, staff.shop_id, now).events)
    return change


def rate(
    session: Session,
    conversation: Conversation,
    score: str,
    tags: Sequence[str],
    now: datetime,
) -> tuple[Rating, Change]:
    """The buyer's rating of a conversation; rating again replaces the first score."""
    if score not in RATING_SCORES:
        raise NotAllowed(f"score must be one of {', '.join(RATING_SCORES)}")
    clean_tags = [tag.strip().replace("|", "/")[:20] for tag in tags if tag.strip()][:10]
    rating_id = f"r-{conversation.id}"
    rating = session.get(Rating, rating_id)
    if rating is None:
        rating = Rating(
            id=rating_id,
            ordinal=int(now.timestamp() * 1_000_000),
            conversation_id=conversation.id,
            shop_id=conversation.shop_id,
            buyer_id=conversation.buyer_id,
            agent_id=conversation.assigned_agent_id,
            robot=False,
        )
        session.add(rating)
    rating.rated_at = now
    rating.score = score
    rating.tags = "|".join(clean_tags) or None
    invitation = session.scalars(
        select(RatingInvitation)
        .where(RatingInvitation.conversation_id == conversation.id)
        .order_by(RatingInvitation.invited_at.desc())
        .limit(1)
    ).first()
    if invitation is not None:
        invitation.rating_id = rating_id
    _webhook(session, conversation, "conversation.rated", now, score=score, agent_id=rating.agent_id)
    event = state_event(conversation, "rated", score=score)
    event["staff_only"] = True
    return rating, Change(events=[event])


def staff_nickname(session: Session, shop_id: str, agent_id: str | None) -> str | None:
    if agent_id is None:
        return None
    member = _staff_by_agent(session, shop_id, agent_id)
    return member.nickname if member else None
