"""Follow-up tasks in an agent's list: ask again after no order, remind to pay (催付), confirm the address.

The rules are pure (`plan_after_conversation`, `resolution`) over small fact records; the
functions below them read those facts from the store and write the tasks.

Rules, with the shop's policy keys (``Shop.policies``) and their defaults:

- **no_order**: a pre-sale buyer who wrote in the conversation and placed no order gets a task
  for the conversation's agent, due ``follow_up_after_h`` hours (default 24) after their last
  message. A day lets the buyer sleep on it and reaches them again at the same time of day.
  A conversation routed to the ``aftersale`` group is not pre-sale and gets none.
- **unpaid** (催付): an order placed and not paid gets a task due
  ``payment_reminder_after_min`` minutes (default 30) after it was placed: most buyers who
  mean to pay do so within minutes, and a reminder within the hour comes while they still
  remember the item, well before the marketplace closes unpaid orders.
- **confirm_address**: every new order gets a task due at once: the address is checked
  before the parcel leaves.

An order counts for a conversation when it was placed from ``ORDER_LOOKBACK`` (one hour)
before the conversation started: a buyer often orders first and then writes to ask about it.
A policy value of 0 (or less) turns its rule off; a value that is not a number uses the default.

A task nobody needs any more (the buyer ordered, the order was paid, shipped or cancelled)
is closed by `refresh_follow_ups` before a list is shown, with an audit entry naming why, so
the list never asks an agent to remind someone who already paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.desk.access import SUPERVISING_ROLES
from kefu.store.models import AuditEntry, Conversation, FollowUp, Message, Order, Shop, Staff

DEFAULT_FOLLOW_UP_AFTER_H = 24.0
DEFAULT_PAYMENT_REMINDER_AFTER_MIN = 30.0
ORDER_LOOKBACK = timedelta(hours=1)
MAX_NOTE_CHARS = 500
MAX_DUE_AHEAD = timedelta(days=366)

# Order statuses after which there is no address left to confirm / nothing left to pay.
_DISPATCHED_OR_CLOSED = frozenset({"shipped", "delivered", "completed", "cancelled", "refunded"})
_NOT_PAYABLE = frozenset({"cancelled", "refunded"})

FOLLOW_UP_ADDED = "follow_up_added"
FOLLOW_UP_COMPLETED = "follow_up_completed"
FOLLOW_UP_RESOLVED = "follow_up_resolved"


class FollowUpError(ValueError):
    """A task an agent may not add as given (a due time in the past, an empty note...).

    `code` and `values` let the UI say it in its language.
    """

    def __init__(self, code: str, message: str, **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


# --- rules (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpRules:
    """The shop's rules; None turns a rule off."""

    no_order_after: timedelta | None
    unpaid_after: timedelta | None


def _positive(policies: Mapping[str, Any], name: str, default: float) -> float | None:
    value = policies.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = default
    return float(value) if value > 0 else None


def rules_from(policies: Mapping[str, Any] | None) -> FollowUpRules:
    policies = policies or {}
    hours = _positive(policies, "follow_up_after_h", DEFAULT_FOLLOW_UP_AFTER_H)
    minutes = _positive(policies, "payment_reminder_after_min", DEFAULT_PAYMENT_REMINDER_AFTER_MIN)
    return FollowUpRules(
        no_order_after=timedelta(hours=hours) if hours is not None else None,
        unpaid_after=timedelta(minutes=minutes) if minutes is not None else None,
    )


@dataclass(frozen=True)
class ConversationFacts:
    id: str
    shop_id: str
    buyer_id: str
    agent_id: str | None  # the conversation's agent: the task goes to them
    skill_group: str | None
    started_at: datetime
    last_buyer_message_at: datetime | None  # None: the buyer never wrote


@dataclass(frozen=True)
class OrderFacts:
    id: str
    created_at: datetime
    paid_at: datetime | None
    status: str | None

    @property
    def unpaid(self) -> bool:
        return self.paid_at is None and self.status not in _NOT_PAYABLE and self.status != "paid"

    @property
    def awaiting_dispatch(self) -> bool:
        return self.status not in _DISPATCHED_OR_CLOSED


@dataclass(frozen=True)
class PlannedFollowUp:
    kind: str
    agent_id: str | None
    buyer_id: str
    conversation_id: str
    order_id: str | None
    due_at: datetime

    @property
    def key(self) -> tuple[str, str]:
        return task_key(self.kind, self.conversation_id, self.order_id)


def task_key(kind: str, conversation_id: str | None, order_id: str | None) -> tuple[str, str]:
    """What makes a planned task unique: one no_order per conversation, one task of a kind per order."""
    return (kind, order_id or "") if order_id else (kind, f"conversation:{conversation_id}")


def orders_for(conversation: ConversationFacts, orders: Iterable[OrderFacts]) -> list[OrderFacts]:
    """The buyer's orders that belong to this conversation's reception, oldest first."""
    since = conversation.started_at - ORDER_LOOKBACK
    return sorted((o for o in orders if o.created_at >= since), key=lambda o: (o.created_at, o.id))


def plan_after_conversation(
    conversation: ConversationFacts,
    orders: Iterable[OrderFacts],
    rules: FollowUpRules,
    existing: Iterable[tuple[str, str]] = (),
) -> list[PlannedFollowUp]:
    """The tasks the conversation calls for that do not exist yet (`existing`: their `task_key`s)."""
    have = set(existing)
    placed = orders_for(conversation, orders)
    planned: list[PlannedFollowUp] = []

    def plan(kind: str, order_id: str | None, due_at: datetime) -> None:
        task = PlannedFollowUp(
            kind, conversation.agent_id, conversation.buyer_id, conversation.id, order_id, due_at
        )
        if task.key not in have:
            have.add(task.key)
            planned.append(task)

    if (
        not placed
        and conversation.last_buyer_message_at is not None
        and conversation.skill_group != "aftersale"
        and rules.no_order_after is not None
    ):
        plan("no_order", None, conversation.last_buyer_message_at + rules.no_order_after)
    for order in placed:
        if order.awaiting_dispatch and order.status not in _NOT_PAYABLE:
            plan("confirm_address", order.id, order.created_at)
        if order.unpaid and rules.unpaid_after is not None:
            plan("unpaid", order.id, order.created_at + rules.unpaid_after)
    return planned


def resolution(
    kind: str, order_id: str | None, conversation_started_at: datetime | None, orders: Sequence[OrderFacts]
) -> str | None:
    """Why an open task is no longer needed (`ordered`, `paid`, `dispatched`, `closed`), or None.

    `orders` are the buyer's orders at the shop.
    """
    if kind == "no_order":
        if conversation_started_at is None:
            return None
        since = conversation_started_at - ORDER_LOOKBACK
        return "ordered" if any(o.created_at >= since for o in orders) else None
    order = next((o for o in orders if o.id == order_id), None)
    if order is None:
        return None
    if kind == "unpaid":
        if order.status in _NOT_PAYABLE:
            return "closed"
        return None if order.unpaid else "paid"
    if kind == "confirm_address":
        if order.status in _NOT_PAYABLE:
            return "closed"
        return None if order.awaiting_dispatch else "dispatched"
    return None  # custom tasks end only when someone completes them


# --- the store ----------------------------------------------------------------------------


def _order_facts(session: Session, shop_id: str, buyer_id: str) -> list[OrderFacts]:
    rows = session.execute(
        select(Order.id, Order.created_at, Order.paid_at, Order.status).where(
            Order.shop_id == shop_id, Order.buyer_id == buyer_id
        )
    )
    return [OrderFacts(*row) for row in rows]


def conversation_facts(session: Session, conversation: Conversation, now: datetime) -> ConversationFacts:
    last_buyer = session.scalar(
        select(func.max(Message.sent_at)).where(
            Message.conversation_id == conversation.id, Message.sender == "buyer"
        )
    )
    return ConversationFacts(
        id=conversation.id,
        shop_id=conversation.shop_id,
        buyer_id=conversation.buyer_id,
        agent_id=conversation.assigned_agent_id,
        skill_group=conversation.skill_group,
        started_at=conversation.started_at or now,
        last_buyer_message_at=last_buyer,
    )


def do_plan_follow_ups(
    session: Session, conversation: Conversation, now: datetime | None = None
) -> list[FollowUp]:
    """Store the tasks the conversation calls for now; safe to call again (nothing is doubled).

    Call it when a conversation closes; `refresh_follow_ups` calls it again for conversations
    whose buyer ordered later.
    """
    now = now or datetime.now(UTC)
    shop_policies = conversation_policies(session, conversation)
    facts = conversation_facts(session, conversation, now)
    existing = {
        task_key(kind, conversation_id, order_id)
        for kind, conversation_id, order_id in session.execute(
            select(FollowUp.kind, FollowUp.conversation_id, FollowUp.order_id).where(
                FollowUp.shop_id == conversation.shop_id, FollowUp.buyer_id == conversation.buyer_id
            )
        )
    }
    orders = _order_facts(session, conversation.shop_id, conversation.buyer_id)
    tasks = [
        FollowUp(
            shop_id=facts.shop_id,
            agent_id=task.agent_id,
            buyer_id=task.buyer_id,
            conversation_id=task.conversation_id,
            order_id=task.order_id,
            kind=task.kind,
            created_at=now,
            due_at=task.due_at,
            note="",
        )
        for task in plan_after_conversation(facts, orders, rules_from(shop_policies), existing)
    ]
    session.add_all(tasks)
    session.flush()
    return tasks


def conversation_policies(session: Session, conversation: Conversation) -> Mapping[str, Any]:
    shop = session.get(Shop, conversation.shop_id)
    return (shop.policies or {}) if shop is not None else {}


def refresh_follow_ups(
    session: Session, shop_id: str, now: datetime, *, agent_id: str | None = None, buyer_id: str | None = None
) -> int:
    """Close the open tasks nobody needs any more and plan those that later orders call for.

    Limited to one agent's and/or one buyer's tasks when given. Returns how many were closed.
    """
    query = select(FollowUp).where(
        FollowUp.shop_id == shop_id, FollowUp.done_at.is_(None), FollowUp.kind != "custom"
    )
    if agent_id is not None:
        query = query.where(FollowUp.agent_id == agent_id)
    if buyer_id is not None:
        query = query.where(FollowUp.buyer_id == buyer_id)
    open_tasks = session.scalars(query).all()
    orders_by_buyer: dict[str, list[OrderFacts]] = {}
    closed = 0
    for task in open_tasks:
        if task.buyer_id not in orders_by_buyer:
            orders_by_buyer[task.buyer_id] = _order_facts(session, shop_id, task.buyer_id)
        conversation = session.get(Conversation, task.conversation_id) if task.conversation_id else None
        started = conversation.started_at if conversation is not None else None
        reason = resolution(task.kind, task.order_id, started, orders_by_buyer[task.buyer_id])
        if reason is None:
            continue
        task.done_at = now
        closed += 1
        session.add(
            AuditEntry(
                at=now,
                shop_id=shop_id,
                actor="system",
                action=FOLLOW_UP_RESOLVED,
                target=f"follow_up:{task.id}",
                detail={"kind": task.kind, "reason": reason},
            )
        )
        if task.kind == "no_order" and conversation is not None:
            # The buyer ordered after all: the order's own tasks take over.
            session.flush()
            do_plan_follow_ups(session, conversation, now)
    session.flush()
    return closed


def list_follow_ups(
    session: Session,
    shop_id: str,
    now: datetime,
    *,
    agent_id: str | None = None,
    buyer_id: str | None = None,
    due_only: bool = True,
) -> list[FollowUp]:
    """Open tasks of the shop, soonest due first; narrowed to an agent and/or a buyer."""
    query = select(FollowUp).where(FollowUp.shop_id == shop_id, FollowUp.done_at.is_(None))
    if agent_id is not None:
        query = query.where(FollowUp.agent_id == agent_id)
    if buyer_id is not None:
        query = query.where(FollowUp.buyer_id == buyer_id)
    if due_only:
        query = query.where(FollowUp.due_at <= now)
    return list(session.scalars(query.order_by(FollowUp.due_at, FollowUp.id)))


def list_due_for_agent(session: Session, staff: Staff, now: datetime | None = None) -> list[FollowUp]:
    """The staff member's tasks due now, after closing those nobody needs any more."""
    now = now or datetime.now(UTC)
    refresh_follow_ups(session, staff.shop_id, now, agent_id=staff.agent_id)
    return list_follow_ups(session, staff.shop_id, now, agent_id=staff.agent_id)


def access_follow_up(session: Session, staff: Staff, follow_up_id: int) -> FollowUp:
    """A task the staff member may complete: their own, or any of the shop's for a supervisor."""
    task = session.get(FollowUp, follow_up_id)
    if task is None or task.shop_id != staff.shop_id:
        raise NotFound("follow_up")
    if task.agent_id != staff.agent_id and staff.role not in SUPERVISING_ROLES:
        raise NotFound("follow_up")
    return task


def _checked_note(note: str | None, *, required: bool) -> str:
    text = " ".join((note or "").split()) if note else ""
    if required and not text:
        raise FollowUpError("note_empty", "say what to follow up: the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise FollowUpError(
            "note_too_long",
            f"the note is {len(text)} characters long; at most {MAX_NOTE_CHARS}",
            limit=MAX_NOTE_CHARS,
        )
    return text


def do_complete_follow_up(
    session: Session, staff: Staff, task: FollowUp, note: str | None = None, now: datetime | None = None
) -> FollowUp:
    """Mark the task done (a second call changes nothing); an optional note says how it went."""
    now = now or datetime.now(UTC)
    if task.done_at is not None:
        return task
    text = _checked_note(note, required=False)
    task.done_at = now
    if text:
        task.note = f"{task.note}\n{text}".strip() if task.note else text
    session.add(
        AuditEntry(
            at=now,
            shop_id=task.shop_id,
            actor=staff.username,
            action=FOLLOW_UP_COMPLETED,
            target=f"follow_up:{task.id}",
            detail={"kind": task.kind, "buyer_id": task.buyer_id},
        )
    )
    session.flush()
    return task


def do_add_follow_up(
    session: Session,
    staff: Staff,
    conversation: Conversation,
    due_at: datetime,
    note: str,
    now: datetime | None = None,
) -> FollowUp:
    """A task of the agent's own making (kind ``custom``) about the conversation's buyer."""
    now = now or datetime.now(UTC)
    if due_at.tzinfo is None:
        raise FollowUpError("due_naive", "the due time has no time zone")
    if due_at < now - timedelta(minutes=1):
        raise FollowUpError("due_passed", "the due time has passed")
    if due_at > now + MAX_DUE_AHEAD:
        raise FollowUpError("due_too_far", "the due time is more than a year away")
    text = _checked_note(note, required=True)
    task = FollowUp(
        shop_id=conversation.shop_id,
        agent_id=staff.agent_id,
        buyer_id=conversation.buyer_id,
        conversation_id=conversation.id,
        order_id=None,
        kind="custom",
        created_at=now,
        due_at=due_at,
        note=text,
    )
    session.add(task)
    session.flush()
    session.add(
        AuditEntry(
            at=now,
            shop_id=task.shop_id,
            actor=staff.username,
            action=FOLLOW_UP_ADDED,
            target=f"follow_up:{task.id}",
            detail={
                "kind": task.kind,
                "buyer_id": task.buyer_id,
                "due_at": due_at.astimezone(UTC).isoformat(),
            },
        )
    )
    session.flush()
    return task
