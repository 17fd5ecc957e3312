"""接待: product cards, related items, promotions, the reception steps and the canned replies' context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from kefu.desk.canned_replies import SCENES_BY_NAME, render
from kefu.desk.default_replies import DEFAULT_REPLIES
from kefu.desk.reception import (
    STEPS,
    Promotion,
    current_promotions,
    parse_promotions,
    related_products,
    reply_context,
    search_products,
    steps_for,
    suggested_steps,
)
from kefu.store.engine import make_sessionmaker
from kefu.store.models import Buyer, Conversation, Message, Order, OrderItem, Product, Shop

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
REPLIES = {reply.key: reply for reply in DEFAULT_REPLIES}

CATALOGUE = [
    # id, title, price, stock, category
    ("coat1", "羊毛大衣 经典款", "899", 5, "coat"),
    ("coat2", "呢子大衣", "699", 0, "coat"),  # sold out
    ("coat3", "大衣 短款", "599", 2, "coat"),
    ("coat4", "双面羊绒大衣", "1299", None, "coat"),  # the shop does not report stock
    ("scarf", "羊绒围巾", "199", 8, "scarf"),
    ("gloves", "触屏手套", "59", 0, "gloves"),
    ("hat", "针织帽", "79", 4, "hat"),
]


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session, session.begin():
        session.add_all([Shop(id="s1", name="悦衣坊"), Shop(id="s2", name="别家店")])
        session.flush()
        for pid, title, price, stock, category in CATALOGUE:
            session.add(
                Product(
                    id=pid, shop_id="s1", title=title, price=Decimal(price), stock=stock, category=category
                )
            )
        session.add(Product(id="other", shop_id="s2", title="羊毛大衣 别家", stock=9, category="coat"))
        session.add(Buyer(id="b1", nickname="小王"))
        session.flush()
        yield session
        session.rollback()


def _order(
    session: Session, oid: str, products: list[str], created: datetime = T0, paid: bool = True
) -> None:
    session.add(
        Order(
            id=oid,
            shop_id="s1",
            buyer_id="b1",
            created_at=created,
            paid_at=created if paid else None,
            amount=Decimal("128.5"),
            status="paid" if paid else "unpaid",
        )
    )
    for line, pid in enumerate(products, start=1):
        session.add(
            OrderItem(order_id=oid, line_no=line, product_id=pid, quantity=1, unit_price=Decimal("1"))
        )
    session.flush()


def test_search_ranks_the_id_then_titles_starting_with_it_then_containing_it(session):
    ids = [card.id for card in search_products(session, "s1", "大衣")]

    # 大衣 短款 starts with it; then the others by title, the sold-out one last; not the other shop's.
    assert ids == ["coat3", "coat4", "coat1", "coat2"]
    assert [card.id for card in search_products(session, "s1", "scarf")] == ["scarf"]


def test_search_folds_traditional_and_full_width_input_and_needs_every_word(session):
    # 羊绒围巾 starts with it, 双面羊绒大衣 only contains it.
    assert [card.id for card in search_products(session, "s1", "羊絨")] == ["scarf", "coat4"]
    assert [card.id for card in search_products(session, "s1", "ＳＣＡＲＦ")] == ["scarf"]
    assert [card.id for card in search_products(session, "s1", "羊毛 經典")] == ["coat1"]
    assert search_products(session, "s1", "   ") == []


def test_cards_know_when_they_are_in_stock(session):
    cards = {card.id: card for card in search_products(session, "s1", "大衣")}

    assert not cards["coat2"].in_stock and cards["coat4"].in_stock
    assert cards["coat1"].as_json() == {
        "product_id": "coat1",
        "title": "羊毛大衣 经典款",
        "price": "899.00",
        "stock": 5,
        "in_stock": True,
        "category": "coat",
    }


def test_related_items_are_bought_together_first_then_the_same_category(session):
    _order(session, "o1", ["coat1", "scarf", "hat"])
    _order(session, "o2", ["coat1", "scarf", "gloves"])
    _order(session, "o3", ["coat3"])

    related = [card.id for card in related_products(session, "s1", "coat1", limit=4)]

    # scarf (2 orders), hat (1); gloves is sold out; then coats by sales: coat3 sold once.
    assert related == ["scarf", "hat", "coat3", "coat4"]
    assert related_products(session, "s1", "other") == []  # another shop's product


def test_promotions_run_whole_days_in_the_shops_zone():
    value = [
        {"title": "双十一满减", "text": "满300减40", "starts": "2026-11-01", "ends": "2026-11-11"},
        {"title": "晚八点秒杀", "starts": "2026-11-11T20:00:00+08:00", "ends": "2026-11-11T21:00"},
    ]

    (whole_days, evening), problems = parse_promotions(value, "Asia/Shanghai")

    assert problems == []
    assert whole_days.runs_at(datetime(2026, 11, 11, 15, 59, tzinfo=UTC))  # 23:59 on the 11th in Shanghai
    assert not whole_days.runs_at(datetime(2026, 11, 11, 16, 0, tzinfo=UTC))
    assert not whole_days.runs_at(datetime(2026, 10, 31, 15, 59, tzinfo=UTC))
    assert evening.runs_at(datetime(2026, 11, 11, 12, 30, tzinfo=UTC))
    assert not evening.runs_at(datetime(2026, 11, 11, 13, 0, tzinfo=UTC))


def test_malformed_promotions_are_left_out_with_a_reason():
    value = [
        "满减",
        {"text": "没有标题"},
        {"title": "倒着的", "starts": "2026-11-11", "ends": "2026-11-01"},
        {"title": "坏日期", "starts": "11月1日"},
        {"title": "好的"},
    ]

    promotions, problems = parse_promotions(value, "Asia/Shanghai")

    assert promotions == [Promotion("好的", "", None, None)]
    assert [problem.split(":")[0] for problem in problems] == [f"promotion {n}" for n in (1, 2, 3, 4)]
    assert parse_promotions({"title": "x"}, "Asia/Shanghai") == (
        [],
        ["promotions: must be a list of objects"],
    )


def test_only_running_promotions_are_current():
    shop = Shop(
        id="s1",
        name="悦衣坊",
        timezone="Asia/Shanghai",
        policies={
            "promotions": [
                {"title": "已结束", "ends": "2026-11-19"},
                {"title": "进行中", "starts": "2026-11-20"},
                {"title": "未开始", "starts": "2026-11-21"},
            ]
        },
    )

    assert [p.title for p in current_promotions(shop, T0)] == ["进行中"]


def test_every_step_names_a_known_scene_and_the_suggestions_follow_the_order():
    assert all(step.scene is None or step.scene in SCENES_BY_NAME for step in STEPS)
    names = {step.name for step in STEPS}
    for answered in (False, True):
        for ordered, paid in ((False, False), (True, False), (True, True)):
            assert set(suggested_steps(agent_answered=answered, ordered=ordered, paid=paid)) <= names
    assert suggested_steps(agent_answered=False, ordered=False, paid=False)[0] == "welcome"
    assert "confirm" in suggested_steps(agent_answered=True, ordered=True, paid=False)
    assert "goodbye" in suggested_steps(agent_answered=True, ordered=True, paid=True)


def test_the_context_takes_the_last_product_card_and_the_latest_order(session):
    _order(session, "o-old", ["hat"], created=T0 - timedelta(days=30))
    _order(session, "o-new", ["coat1"], created=T0 - timedelta(minutes=5), paid=False)
    conversation = Conversation(id="c1", shop_id="s1", buyer_id="b1", started_at=T0 - timedelta(minutes=20))
    session.add(conversation)
    session.flush()
    for seq, product in ((1, "scarf"), (2, "coat3"), (3, "other")):
        session.add(
            Message(
                conversation_id="c1",
                seq=seq,
                ordinal=seq,
                sender="buyer",
                sent_at=T0,
                kind="product",
                payload={"product_id": product},
            )
        )
    session.flush()

    context = reply_context(session, conversation)

    # The latest card names another shop's product: it is ignored, and the order's first item stands in.
    assert context == {
        "buyer_name": "小王",
        "shop": "悦衣坊",
        "product": "羊毛大衣 经典款",
        "order": "o-new",
        "amount": Decimal("128.50"),
        "date": None,
    }
    assert steps_for(session, conversation) == ("confirm", "record")  # ordered, not paid


def test_a_product_card_fills_the_product_and_a_reply_needs_no_typing(session):
    conversation = Conversation(id="c1", shop_id="s1", buyer_id="b1", started_at=T0)
    session.add(conversation)
    session.flush()
    session.add(
        Message(
            conversation_id="c1",
            seq=1,
            ordinal=1,
            sender="buyer",
            sent_at=T0,
            kind="product",
            payload={"product_id": "scarf"},
        )
    )
    session.flush()

    rendered = render(REPLIES["hy3"], reply_context(session, conversation))

    assert rendered.complete and "羊绒围巾" in rendered.text
    assert steps_for(session, conversation)[0] == "welcome"


def test_an_unknown_buyer_leaves_prompts_never_none(session):
    conversation = Conversation(id="c1", shop_id="s1", buyer_id="nobody", started_at=T0)
    session.add(conversation)
    session.flush()

    rendered = render(REPLIES["hy2"], reply_context(session, conversation))

    assert "None" not in rendered.text
    assert [prompt.variable for prompt in rendered.prompts] == ["buyer_name"]
