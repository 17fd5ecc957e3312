"""客户档案: what the sidebar reads about a buyer at a shop, and the rules and audit of editing it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kefu.crm.actions import do_set_buyer_notes, do_set_buyer_tags, do_update_buyer_attributes
from kefu.crm.profiles import (
    MAX_TAGS,
    ProfileError,
    check_attribute_changes,
    check_notes,
    check_tags,
    get_buyer_profile,
    snippet,
    split_tags,
)
from kefu.store.engine import make_sessionmaker
from kefu.store.models import (
    AuditEntry,
    Buyer,
    Conversation,
    LogisticsEvent,
    Message,
    Order,
    OrderItem,
    Product,
    Shop,
    ShopBuyer,
    Staff,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
PHONE = "13912345678"


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session, session.begin():
        session.add_all([Shop(id="s1", name="悦衣坊"), Shop(id="s2", name="别家店")])
        session.flush()
        session.add(Staff(shop_id="s1", agent_id="a1", username="xiaomei", nickname="小美", role="agent"))
        session.add(Buyer(id="b1", nickname="小王", phone=PHONE, risk_flag="fake_reviews"))
        session.add(Product(id="p1", shop_id="s1", title="羊毛大衣", price=Decimal("899"), stock=3))
        session.flush()
        yield session
        session.rollback()


def _conversation(session: Session, cid: str, started: datetime, shop: str = "s1", **fields) -> Conversation:
    conversation = Conversation(id=cid, shop_id=shop, buyer_id="b1", started_at=started, **fields)
    session.add(conversation)
    session.flush()
    return conversation


def _order(
    session: Session, oid: str, created: datetime, paid: datetime | None, shop: str = "s1", **fields
) -> None:
    status = "paid" if paid else "unpaid"
    session.add(
        Order(
            id=oid,
            shop_id=shop,
            buyer_id="b1",
            created_at=created,
            paid_at=paid,
            amount=Decimal("100"),
            status=fields.pop("status", status),
            **fields,
        )
    )
    session.flush()


def test_a_buyer_with_nothing_yet_is_new(session):
    conversation = _conversation(session, "c1", T0)

    profile = get_buyer_profile(session, "s1", "b1", conversation=conversation)

    assert (profile.nickname, profile.masked_phone) == ("小王", "139****5678")
    assert not profile.returning and not profile.asked_before
    assert (profile.order_count, profile.paid_order_count, profile.paid_total) == (0, 0, Decimal("0.00"))
    assert profile.tags == () and profile.attributes == {} and profile.notes is None
    assert profile.risk_flag == "fake_reviews"  # flagged at every shop


def test_returning_means_paid_here_before_this_conversation(session):
    _order(session, "o-before", T0 - timedelta(days=30), T0 - timedelta(days=30))
    _order(session, "o-elsewhere", T0 - timedelta(days=5), T0 - timedelta(days=5), shop="s2")
    conversation = _conversation(session, "c1", T0)

    assert get_buyer_profile(session, "s1", "b1", conversation=conversation).returning
    assert not get_buyer_profile(session, "s2", "b1", as_of=T0 - timedelta(days=6)).returning


def test_an_order_paid_during_the_chat_or_left_unpaid_does_not_make_a_returning_buyer(session):
    _order(session, "o-unpaid", T0 - timedelta(days=3), None)
    _order(session, "o-now", T0 + timedelta(minutes=5), T0 + timedelta(minutes=6))
    _conversation(session, "c0", T0 - timedelta(days=3))
    conversation = _conversation(session, "c1", T0)

    profile = get_buyer_profile(session, "s1", "b1", conversation=conversation)

    assert not profile.returning
    assert profile.asked_before  # chatted three days ago
    assert (profile.order_count, profile.paid_order_count) == (2, 1)


def test_orders_come_with_lines_titles_latest_tracking_and_masked_address(session):
    _order(
        session,
        "o1",
        T0 - timedelta(days=2),
        T0 - timedelta(days=2),
        status="shipped",
        address=f"杭州市 西湖区 文三路 8 号 {PHONE}",
    )
    session.add_all(
        [
            OrderItem(
                order_id="o1", line_no=1, product_id="p1", sku="L", quantity=1, unit_price=Decimal("899")
            ),
            OrderItem(order_id="o1", line_no=2, product_id="gone", quantity=2, unit_price=Decimal("5")),
            LogisticsEvent(
                order_id="o1", seq=1, event_at=T0 - timedelta(days=1), status="shipped", courier="中通"
            ),
            LogisticsEvent(
                order_id="o1",
                seq=2,
                event_at=T0,
                status="in_transit",
                courier="中通",
                description="已到达杭州转运中心",
            ),
        ]
    )
    session.flush()

    (order,) = get_buyer_profile(session, "s1", "b1").orders

    assert [(line.title, line.sku, line.quantity) for line in order.lines] == [
        ("羊毛大衣", "L", 1),
        (None, None, 2),
    ]
    assert order.tracking is not None and order.tracking.status == "in_transit"
    assert order.address == "杭州市 西湖区 文三路 8 号 139****5678"


def test_earlier_conversations_show_the_last_words_masked_and_the_agent(session):
    old = _conversation(session, "c-old", T0 - timedelta(days=9), assigned_agent_id="a1", status="closed")
    _conversation(session, "c-other-shop", T0 - timedelta(days=8), shop="s2")
    current = _conversation(session, "c1", T0)
    session.add_all(
        [
            Message(
                conversation_id=old.id,
                seq=1,
                ordinal=1,
                sender="buyer",
                sent_at=old.started_at,
                text="我的电话 139 1234 5678",
            ),
            Message(
                conversation_id=old.id,
                seq=2,
                ordinal=2,
                sender="agent",
                agent_id="a1",
                sent_at=old.started_at,
                text="好的，已经记下，" + "稍后给您回电" * 10,
            ),
            Message(
                conversation_id=old.id,
                seq=3,
                ordinal=3,
                sender="system",
                sent_at=old.started_at,
                text="会话结束",
            ),
        ]
    )
    session.flush()

    profile = get_buyer_profile(session, "s1", "b1", conversation=current)

    (past,) = profile.previous_conversations
    assert (past.id, past.agent_nickname, past.status) == ("c-old", "小美", "closed")
    assert past.last_text.startswith("好的，已经记下，稍后给您回电") and past.last_text.endswith("…")
    assert profile.conversation_count == 1


def test_snippets_are_one_line():
    assert snippet("第一行\n第二行", 10) == "第一行 第二行"
    assert snippet("一二三四五六", 4) == "一二三…"


def test_tags_are_trimmed_and_deduplicated_across_traditional_and_simplified():
    assert check_tags([" 老客户 ", "老客戶", "", "怕冷"]) == ["老客户", "怕冷"]
    assert split_tags("老客户，怕冷、送礼;  ") == ["老客户", "怕冷", "送礼"]


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        (["特别特别特别特别特别长的一个标签名字"], "tag_too_long"),
        ([f"t{i}" for i in range(MAX_TAGS + 1)], "too_many_tags"),
        (["a\x00b"], "control_character"),
    ],
)
def test_tags_that_break_a_rule_are_refused_with_its_code(tags, code):
    with pytest.raises(ProfileError) as refused:
        check_tags(tags)
    assert refused.value.code == code


def test_notes_keep_their_lines_and_empty_notes_are_none():
    assert check_notes("  第一行\r\n第二行  ") == "第一行\n第二行"
    assert check_notes("   ") is None
    with pytest.raises(ProfileError, match="at most"):
        check_notes("字" * 2001)


def test_attribute_changes_set_remove_and_keep_the_rest():
    after = check_attribute_changes(
        {"size": "M", "budget": "500"}, {"size": "L", "budget": "", "鞋码": " 38 "}
    )

    assert after == {"size": "L", "鞋码": "38"}
    with pytest.raises(ProfileError) as refused:
        check_attribute_changes({}, {"two words": "x"})
    assert refused.value.code == "attribute_name"


def test_edits_are_stored_and_audited_once_per_change(session):
    staff = session.scalars(select(Staff)).one()
    conversation = _conversation(session, "c1", T0)

    do_set_buyer_tags(session, staff, conversation, ["老客户"])
    do_set_buyer_tags(session, staff, conversation, ["老客戶"])  # the same tag: nothing changes
    do_set_buyer_notes(session, staff, conversation, "家里有猫，不要羊毛")
    do_update_buyer_attributes(session, staff, conversation, {"size": "M", "preferences": "素色"})

    record = session.get(ShopBuyer, ("s1", "b1"))
    assert record.tags == ["老客户"] and record.notes == "家里有猫，不要羊毛"
    assert record.attributes == {"size": "M", "preferences": "素色"}
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["buyer_tags_set", "buyer_notes_set", "buyer_attributes_set"]
    assert all(e.actor == "xiaomei" and e.target == "buyer:b1" and e.shop_id == "s1" for e in entries)
    assert "猫" not in str(entries[1].detail)  # notes are about a person: the log keeps only their size
    assert entries[2].detail["changed"]["size"] == {"before": None, "after": "M"}


def test_a_buyer_known_only_from_chat_gets_a_record_on_the_first_edit(session):
    staff = session.scalars(select(Staff)).one()
    conversation = Conversation(id="c-anon", shop_id="s1", buyer_id="anon-1", started_at=T0)
    session.add(conversation)
    session.flush()

    do_set_buyer_tags(session, staff, conversation, ["游客"])

    assert session.get(Buyer, "anon-1") is not None
    assert get_buyer_profile(session, "s1", "anon-1").tags == ("游客",)


def test_the_profile_costs_the_same_queries_for_one_order_or_many(session, engine):
    def queries_for_profile() -> int:
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            get_buyer_profile(session, "s1", "b1", conversation=session.get(Conversation, "c-now"))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    for number in range(2):
        _conversation(session, f"c{number}", T0 - timedelta(days=10 - number))
    _conversation(session, "c-now", T0)
    _order(session, "o0", T0 - timedelta(days=9), T0 - timedelta(days=9))
    session.add(OrderItem(order_id="o0", line_no=1, product_id="p1", quantity=1, unit_price=Decimal("1")))
    session.flush()
    session.expire_all()
    with_one = queries_for_profile()
    for number in range(1, 8):
        _order(session, f"o{number}", T0 - timedelta(days=9 - number), None)
        session.add(
            OrderItem(order_id=f"o{number}", line_no=1, product_id="p1", quantity=1, unit_price=Decimal("1"))
        )
        session.add(LogisticsEvent(order_id=f"o{number}", seq=1, event_at=T0, status="shipped"))
        _conversation(session, f"c-more{number}", T0 - timedelta(hours=number))
    session.flush()
    session.expire_all()

    assert queries_for_profile() == with_one
