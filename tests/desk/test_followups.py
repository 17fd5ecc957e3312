"""Follow-up tasks: who gets which task when, and how tasks nobody needs close themselves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.desk.followups import (
    ConversationFacts,
    FollowUpError,
    FollowUpRules,
    OrderFacts,
    access_follow_up,
    do_add_follow_up,
    do_complete_follow_up,
    do_plan_follow_ups,
    list_due_for_agent,
    list_follow_ups,
    plan_after_conversation,
    resolution,
    rules_from,
)
from kefu.store.engine import make_sessionmaker
from kefu.store.models import AuditEntry, Conversation, FollowUp, Message, Order, Shop, Staff
from kefu.vocabularies import FOLLOW_UP_KINDS

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
DEFAULT = rules_from({})


def facts(**changes) -> ConversationFacts:
    base = dict(
        id="c1",
        shop_id="s1",
        buyer_id="b1",
        agent_id="a1",
        skill_group="presale",
        started_at=T0,
        last_buyer_message_at=T0 + timedelta(minutes=10),
    )
    return ConversationFacts(**{**base, **changes})


def order(oid: str = "o1", minutes: int = 15, paid: bool = False, status: str | None = None) -> OrderFacts:
    created = T0 + timedelta(minutes=minutes)
    return OrderFacts(oid, created, created if paid else None, status or ("paid" if paid else "unpaid"))


# --- the rules --------------------------------------------------------------------------------


def test_the_defaults_are_a_day_to_follow_up_and_half_an_hour_to_remind():
    assert DEFAULT == FollowUpRules(timedelta(hours=24), timedelta(minutes=30))


def test_policies_change_the_windows_and_zero_turns_a_rule_off():
    assert rules_from({"follow_up_after_h": 48, "payment_reminder_after_min": 0}) == FollowUpRules(
        timedelta(hours=48), None
    )
    assert rules_from({"follow_up_after_h": "soon", "payment_reminder_after_min": True}) == DEFAULT


def test_asked_but_no_order_gets_a_task_a_day_after_the_last_question():
    (task,) = plan_after_conversation(facts(), [], DEFAULT)

    assert (task.kind, task.agent_id, task.order_id) == ("no_order", "a1", None)
    assert task.due_at == T0 + timedelta(minutes=10, hours=24)


@pytest.mark.parametrize(
    "conversation",
    [facts(skill_group="aftersale"), facts(last_buyer_message_at=None)],
    ids=["after-sale conversation", "the buyer never wrote"],
)
def test_no_follow_up_for_after_sale_or_for_a_buyer_who_said_nothing(conversation):
    assert plan_after_conversation(conversation, [], DEFAULT) == []


def test_an_unpaid_order_gets_an_address_check_now_and_a_reminder_after_half_an_hour():
    tasks = plan_after_conversation(facts(), [order()], DEFAULT)

    assert [(t.kind, t.order_id, t.due_at - T0) for t in tasks] == [
        ("confirm_address", "o1", timedelta(minutes=15)),
        ("unpaid", "o1", timedelta(minutes=45)),
    ]


def test_a_paid_order_needs_only_the_address_check_and_a_shipped_one_nothing():
    assert [t.kind for t in plan_after_conversation(facts(), [order(paid=True)], DEFAULT)] == [
        "confirm_address"
    ]
    assert plan_after_conversation(facts(), [order(paid=True, status="shipped")], DEFAULT) == []
    assert plan_after_conversation(facts(), [order(status="cancelled")], DEFAULT) == []


def test_an_order_placed_just_before_the_chat_belongs_to_it_an_older_one_does_not():
    just_before = plan_after_conversation(facts(), [order(minutes=-30, paid=True)], DEFAULT)
    long_before = plan_after_conversation(facts(), [order(minutes=-24 * 60, paid=True)], DEFAULT)

    assert [t.kind for t in just_before] == ["confirm_address"]
    assert [t.kind for t in long_before] == ["no_order"]


def test_planning_again_adds_nothing_that_exists():
    first = plan_after_conversation(facts(), [order()], DEFAULT)

    assert plan_after_conversation(facts(), [order()], DEFAULT, existing=[t.key for t in first]) == []


def test_tasks_resolve_when_the_buyer_orders_pays_or_the_order_moves_on():
    assert resolution("no_order", None, T0, [order()]) == "ordered"
    assert resolution("no_order", None, T0, [order(minutes=-24 * 60)]) is None
    assert resolution("unpaid", "o1", T0, [order()]) is None
    assert resolution("unpaid", "o1", T0, [order(paid=True)]) == "paid"
    assert resolution("unpaid", "o1", T0, [order(status="cancelled")]) == "closed"
    assert resolution("confirm_address", "o1", T0, [order(paid=True, status="shipped")]) == "dispatched"
    assert resolution("custom", None, T0, [order()]) is None


def test_every_kind_has_a_rule_or_is_the_agents_own():
    planned = {t.kind for t in plan_after_conversation(facts(), [], DEFAULT)}
    planned |= {t.kind for t in plan_after_conversation(facts(), [order()], DEFAULT)}
    assert planned | {"custom"} == set(FOLLOW_UP_KINDS)


# --- in the store -----------------------------------------------------------------------------


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session, session.begin():
        session.add_all([Shop(id="s1", name="悦衣坊"), Shop(id="s2", name="别家店")])
        session.flush()
        session.add_all(
            [
                Staff(shop_id="s1", agent_id="a1", username="xiaomei", nickname="小美", role="agent"),
                Staff(shop_id="s1", agent_id="a2", username="xiaoli", nickname="小丽", role="agent"),
                Staff(shop_id="s1", agent_id="sup", username="azhe", nickname="阿哲", role="supervisor"),
                Staff(shop_id="s2", agent_id="a1", username="dashan", nickname="大山", role="admin"),
            ]
        )
        session.add(
            Conversation(
                id="c1", shop_id="s1", buyer_id="b1", started_at=T0, assigned_agent_id="a1", status="closed"
            )
        )
        session.flush()
        session.add(
            Message(
                conversation_id="c1",
                seq=1,
                ordinal=1,
                sender="buyer",
                sent_at=T0 + timedelta(minutes=10),
                text="这件有M码吗",
            )
        )
        session.flush()
        yield session
        session.rollback()


def _staff(session: Session, username: str) -> Staff:
    return session.scalars(select(Staff).where(Staff.username == username)).one()


def test_a_conversation_without_an_order_plans_one_task_once(session):
    conversation = session.get(Conversation, "c1")

    first = do_plan_follow_ups(session, conversation, T0 + timedelta(hours=1))
    again = do_plan_follow_ups(session, conversation, T0 + timedelta(hours=2))

    assert [(t.kind, t.agent_id) for t in first] == [("no_order", "a1")]
    assert again == []


def test_the_task_shows_only_once_due_and_only_to_its_agent(session):
    do_plan_follow_ups(session, session.get(Conversation, "c1"), T0 + timedelta(hours=1))
    xiaomei, xiaoli = _staff(session, "xiaomei"), _staff(session, "xiaoli")

    assert list_due_for_agent(session, xiaomei, T0 + timedelta(hours=12)) == []
    assert [t.kind for t in list_due_for_agent(session, xiaomei, T0 + timedelta(hours=25))] == ["no_order"]
    assert list_due_for_agent(session, xiaoli, T0 + timedelta(hours=25)) == []


def test_an_order_after_the_chat_closes_the_no_order_task_and_opens_the_orders_tasks(session):
    do_plan_follow_ups(session, session.get(Conversation, "c1"), T0 + timedelta(hours=1))
    session.add(
        Order(
            id="o1",
            shop_id="s1",
            buyer_id="b1",
            created_at=T0 + timedelta(hours=3),
            amount=Decimal("99"),
            status="unpaid",
        )
    )
    session.flush()

    due = list_due_for_agent(session, _staff(session, "xiaomei"), T0 + timedelta(hours=4))

    assert sorted((t.kind, t.order_id) for t in due) == [("confirm_address", "o1"), ("unpaid", "o1")]
    no_order = session.scalars(select(FollowUp).where(FollowUp.kind == "no_order")).one()
    assert no_order.done_at == T0 + timedelta(hours=4)
    resolved = session.scalars(select(AuditEntry).where(AuditEntry.action == "follow_up_resolved")).one()
    assert resolved.actor == "system" and resolved.detail == {"kind": "no_order", "reason": "ordered"}


def test_a_payment_closes_the_reminder_before_anyone_sees_it(session):
    session.add(
        Order(
            id="o1",
            shop_id="s1",
            buyer_id="b1",
            created_at=T0 + timedelta(minutes=20),
            amount=Decimal("99"),
            status="unpaid",
        )
    )
    session.flush()
    do_plan_follow_ups(session, session.get(Conversation, "c1"), T0 + timedelta(minutes=30))
    paid = session.get(Order, "o1")
    paid.paid_at, paid.status = T0 + timedelta(minutes=40), "paid"
    session.flush()

    due = list_due_for_agent(session, _staff(session, "xiaomei"), T0 + timedelta(hours=1))

    assert [t.kind for t in due] == ["confirm_address"]


def test_completing_is_audited_and_allowed_to_the_agent_or_a_supervisor_of_the_shop(session):
    (task,) = do_plan_follow_ups(session, session.get(Conversation, "c1"), T0)

    with pytest.raises(NotFound):
        access_follow_up(session, _staff(session, "xiaoli"), task.id)
    with pytest.raises(NotFound):
        access_follow_up(session, _staff(session, "dashan"), task.id)  # same agent id, other shop
    assert access_follow_up(session, _staff(session, "azhe"), task.id) is task
    xiaomei = _staff(session, "xiaomei")
    do_complete_follow_up(session, xiaomei, access_follow_up(session, xiaomei, task.id), "买家说再考虑", T0)
    do_complete_follow_up(session, xiaomei, task, None, T0 + timedelta(hours=1))  # twice: no change

    assert (task.done_at, task.note) == (T0, "买家说再考虑")
    assert session.scalars(select(AuditEntry.action)).all() == ["follow_up_completed"]
    assert list_follow_ups(session, "s1", T0 + timedelta(days=9), due_only=False) == []


def test_an_agent_adds_a_reminder_of_their_own(session):
    xiaomei = _staff(session, "xiaomei")
    conversation = session.get(Conversation, "c1")

    task = do_add_follow_up(session, xiaomei, conversation, T0 + timedelta(days=3), "  到货后问问尺码  ", T0)

    assert (task.kind, task.agent_id, task.note, task.buyer_id) == ("custom", "a1", "到货后问问尺码", "b1")
    assert session.scalars(select(AuditEntry.action)).all() == ["follow_up_added"]


@pytest.mark.parametrize(
    ("due", "note", "code"),
    [
        (T0 - timedelta(hours=1), "x", "due_passed"),
        (T0 + timedelta(days=400), "x", "due_too_far"),
        (T0 + timedelta(hours=1), "  ", "note_empty"),
        (T0 + timedelta(hours=1), "字" * 501, "note_too_long"),
        (datetime(2026, 12, 1), "x", "due_naive"),  # noqa: DTZ001 - the naive time is the point
    ],
)
def test_a_reminder_that_cannot_be_kept_is_refused(session, due, note, code):
    with pytest.raises(FollowUpError) as refused:
        do_add_follow_up(session, _staff(session, "xiaomei"), session.get(Conversation, "c1"), due, note, T0)

    assert refused.value.code == code
    assert session.scalars(select(FollowUp)).all() == []
