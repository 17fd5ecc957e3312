"""The workbench's buyer sidebar, reply and product search, tasks and the library page, over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import (
    AuditEntry,
    Buyer,
    Conversation,
    FollowUp,
    LogisticsEvent,
    Message,
    Order,
    OrderItem,
    Product,
    ShopBuyer,
)
from kefu.web import i18n

from .conftest import ADMIN, AGENT, OTHER_SHOP_AGENT, SUPERVISOR, YIYI

HTML = {"Accept": "text/html"}
HTMX = {"HX-Request": "true"}
PHONE = "13812345678"
SCRIPT = "<script>alert(1)</script>"
NOW = datetime.now(UTC)
TEMPLATES = Path(i18n.__file__).parent / "templates" / "desk"


@pytest.fixture
def history(seeded: Engine) -> Engine:
    """A buyer of 悦衣坊 with a hostile nickname and notes, a phone, orders and an earlier chat."""
    with session_scope(make_sessionmaker(seeded)) as session:
        session.add(Buyer(id="b1", nickname=f"小王{SCRIPT}", phone=PHONE))
        session.add(
            ShopBuyer(
                shop_id=YIYI[0],
                buyer_id="b1",
                tags=["老客户"],
                notes=f"怕冷 {SCRIPT}",
                attributes={"size": "M"},
            )
        )
        session.add_all(
            [
                Product(
                    id="p1",
                    shop_id=YIYI[0],
                    title="羊毛大衣 经典款",
                    price=Decimal("899"),
                    stock=5,
                    category="coat",
                ),
                Product(
                    id="p2",
                    shop_id=YIYI[0],
                    title="羊绒围巾",
                    price=Decimal("199"),
                    stock=3,
                    category="scarf",
                ),
                Product(
                    id="p3", shop_id=YIYI[0], title="呢子大衣", price=Decimal("699"), stock=2, category="coat"
                ),
            ]
        )
        session.add_all(
            [
                Conversation(
                    id="c-old",
                    shop_id=YIYI[0],
                    buyer_id="b1",
                    started_at=NOW - timedelta(days=40),
                    status="closed",
                    assigned_agent_id="yiyi_a01",
                ),
                Conversation(
                    id="c1",
                    shop_id=YIYI[0],
                    buyer_id="b1",
                    started_at=NOW - timedelta(minutes=10),
                    status="open",
                    assigned_agent_id="yiyi_a01",
                ),
            ]
        )
        session.flush()
        session.add_all(
            [
                Message(
                    conversation_id="c-old",
                    seq=1,
                    ordinal=1,
                    sender="buyer",
                    sent_at=NOW - timedelta(days=40),
                    text=f"发到这个号 {PHONE} 谢谢",
                ),
                Message(
                    conversation_id="c1",
                    seq=1,
                    ordinal=2,
                    sender="buyer",
                    sent_at=NOW - timedelta(minutes=9),
                    kind="product",
                    payload={"product_id": "p1"},
                    text="",
                ),
            ]
        )
        session.add(
            Order(
                id="o1",
                shop_id=YIYI[0],
                buyer_id="b1",
                created_at=NOW - timedelta(days=39),
                paid_at=NOW - timedelta(days=39),
                amount=Decimal("1098.00"),
                status="delivered",
                address=f"上海市 徐汇区 某路 1 号 {PHONE}",
            )
        )
        session.add_all(
            [
                OrderItem(order_id="o1", line_no=1, product_id="p1", quantity=1, unit_price=Decimal("899")),
                OrderItem(order_id="o1", line_no=2, product_id="p2", quantity=1, unit_price=Decimal("199")),
            ]
        )
        session.add(
            LogisticsEvent(
                order_id="o1",
                seq=1,
                event_at=NOW - timedelta(days=37),
                status="delivered",
                courier="顺丰",
                tracking_no="SF100",
            )
        )
    return seeded


def _token(client) -> str:
    # The CSRF token sits in every page the logged-in staff member opens.
    page = client.get("/home", headers=HTML).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_sidebar_shows_the_buyer_with_the_phone_masked_and_text_escaped(client, log_in, history):
    log_in(AGENT.username)

    answer = client.get("/desk/conversations/c1/sidebar", headers=HTMX)

    assert answer.status_code == 200
    html = answer.text
    assert PHONE not in html
    assert "138****5678" in html
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "老顾客" in html  # paid 39 days before this conversation
    assert "羊毛大衣 经典款" in html and "顺丰" in html  # the order's lines and tracking
    assert "羊绒围巾" in html  # bought together with the coat: suggested with it
    assert 'value="M"' in html


def test_another_shops_agent_gets_the_same_404_as_for_a_missing_conversation(client, log_in, history):
    log_in(OTHER_SHOP_AGENT.username)

    other = client.get("/desk/conversations/c1/sidebar", headers=HTMX)
    missing = client.get("/desk/conversations/nope/sidebar", headers=HTMX)

    assert other.status_code == missing.status_code == 404
    assert other.text == missing.text
    assert "小王" not in other.text


def test_the_sidebar_needs_a_login(client, history):
    assert client.get("/desk/conversations/c1/sidebar").status_code == 401


def test_tags_and_notes_are_saved_and_shown_as_text(client, log_in, history):
    log_in(AGENT.username)
    token = _token(client)

    tags = client.post(
        "/desk/conversations/c1/buyer/tags",
        data={"tags": "老客户，怕冷, 老客戶"},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    notes = client.post(
        "/desk/conversations/c1/buyer/notes",
        data={"notes": "<b>送礼</b>，要发票"},
        headers={**HTMX, "X-CSRF-Token": token},
    )

    assert tags.status_code == notes.status_code == 200
    assert "怕冷" in tags.text and "老客戶" not in tags.text  # the traditional twin is the same tag
    assert "&lt;b&gt;送礼&lt;/b&gt;" in notes.text and "<b>送礼" not in notes.text
    with session_scope(make_sessionmaker(history)) as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target == "buyer:b1")).all()
    assert sorted(actions) == ["buyer_notes_set", "buyer_tags_set"]


def test_a_post_without_the_csrf_token_is_refused(client, log_in, history):
    log_in(AGENT.username)

    answer = client.post("/desk/conversations/c1/buyer/notes", data={"notes": "x"}, headers=HTMX)

    assert answer.status_code == 403


def test_attributes_are_set_removed_and_refused_with_a_reason(client, log_in, history):
    log_in(AGENT.username)
    token = _token(client)
    form = {"key": ["size", "preferences", "鞋码"], "value": ["", "素色", "38"], "csrf_token": token}

    saved = client.post("/desk/conversations/c1/buyer/attributes", data=form, headers=HTMX)
    refused = client.post(
        "/desk/conversations/c1/buyer/attributes",
        data={"key": ["bad key"], "value": ["x"], "csrf_token": token},
        headers=HTML,
    )

    assert saved.status_code == 200
    assert 'value="素色"' in saved.text and 'value="38"' in saved.text and 'value="M"' not in saved.text
    assert refused.status_code == 422
    assert "bad key" in refused.text


def test_replies_are_filled_from_the_conversation(client, log_in, history):
    log_in(AGENT.username)

    found = client.get("/desk/replies", params={"q": "hy3", "conversation_id": "c1"}).json()["replies"]
    with_prompt = client.get("/desk/replies", params={"q": "hy5", "conversation_id": "c1"}).json()["replies"]

    assert found[0]["key"] == "hy3"
    assert "羊毛大衣 经典款" in found[0]["text"] and found[0]["complete"]
    assert with_prompt[0]["prompts"] == [{"label": "接待时间", "variable": None}]
    assert client.get("/desk/replies", params={"q": "hy3", "conversation_id": "nope"}).status_code == 404


def test_products_are_found_by_title_in_traditional_characters(client, log_in, history):
    log_in(AGENT.username)

    products = client.get("/desk/products", params={"q": "大衣"}).json()["products"]
    traditional = client.get("/desk/products", params={"q": "羊絨圍巾"}).json()["products"]

    assert [p["product_id"] for p in products] == ["p3", "p1"]  # both titles contain it: by title
    assert [p["product_id"] for p in traditional] == ["p2"]


def test_a_follow_up_is_added_listed_when_due_and_completed(client, log_in, history):
    log_in(AGENT.username)
    token = _token(client)
    due = (NOW + timedelta(hours=2)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))

    added = client.post(
        "/desk/conversations/c1/follow-ups",
        data={"due": due.strftime("%Y-%m-%dT%H:%M"), "note": "到货后问尺码", "csrf_token": token},
        headers=HTMX,
    )
    with session_scope(make_sessionmaker(history)) as session:
        task = session.scalars(select(FollowUp)).one()
        task.due_at = NOW - timedelta(minutes=1)  # as if two hours had passed
        task_id = task.id
    listed = client.get("/desk/tasks").json()["tasks"]
    as_html = client.get("/desk/tasks", headers=HTMX)
    done = client.post(f"/desk/tasks/{task_id}/complete", headers={"X-CSRF-Token": token})

    assert added.status_code == 200 and "到货后问尺码" in added.text
    assert [(t["id"], t["kind"], t["buyer_id"]) for t in listed] == [(task_id, "custom", "b1")]
    assert "到货后问尺码" in as_html.text and f"/desk/tasks/{task_id}/complete" in as_html.text
    assert SCRIPT not in as_html.text  # the buyer's nickname is escaped there too
    assert done.status_code == 200 and done.json()["done_at"]
    assert client.get("/desk/tasks").json()["tasks"] == []


def test_another_agent_cannot_complete_a_task_but_a_supervisor_can(client, log_in, history):
    with session_scope(make_sessionmaker(history)) as session:
        task = FollowUp(
            shop_id=YIYI[0],
            agent_id="yiyi_a99",
            buyer_id="b1",
            conversation_id="c1",
            kind="custom",
            created_at=NOW,
            due_at=NOW,
            note="x",
        )
        session.add(task)
        session.flush()
        task_id = task.id
    log_in(AGENT.username)
    refused = client.post(f"/desk/tasks/{task_id}/complete", headers={"X-CSRF-Token": _token(client)})
    log_in(SUPERVISOR.username)
    done = client.post(f"/desk/tasks/{task_id}/complete", headers={"X-CSRF-Token": _token(client)})

    assert refused.status_code == 404
    assert done.status_code == 200


def test_agents_cannot_open_the_library_page(client, log_in, history):
    log_in(AGENT.username)

    assert client.get("/desk/library", headers=HTML).status_code == 403


def test_a_supervisor_adds_a_reply_that_agents_then_find(client, log_in, history):
    log_in(ADMIN.username)
    token = _token(client)

    page = client.get("/desk/library", headers=HTML)
    saved = client.post(
        "/desk/library",
        data={
            "key": "dy1",
            "scene": "product",
            "title": "大衣尺码",
            "text": "{buyer_name}，{product}偏大半码",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    refused = client.post(
        "/desk/library",
        data={"key": "dy2", "scene": "product", "title": "坏的", "text": "{产品}", "csrf_token": token},
        headers=HTML,
    )
    log_in(AGENT.username)
    found = client.get("/desk/replies", params={"q": "dy1", "conversation_id": "c1"}).json()["replies"]

    assert page.status_code == 200 and "hy1" in page.text
    assert saved.status_code == 303
    assert refused.status_code == 422 and "dy2" in refused.text
    assert (
        found[0]["text"] == f"小王{SCRIPT}，羊毛大衣 经典款偏大半码"
    )  # JSON: the page shows it with textContent


def test_every_word_the_sidebar_templates_use_exists():
    used = {
        key
        for template in TEMPLATES.glob("*sidebar*.html")
        for key in re.findall(r"""\bt\(\s*["']([\w.\-]+)["']""", template.read_text(encoding="utf-8"))
    }
    assert len(used) > 40
    # A key ending in "." is completed in the template ("sidebar.saved." ~ section).
    prefixes = {key for key in used if key.endswith(".")}
    for language, catalogue in i18n.MESSAGES.items():
        assert used - prefixes <= set(catalogue), sorted(used - prefixes - set(catalogue))
        for prefix in prefixes:
            assert any(key.startswith(prefix) for key in catalogue), (language, prefix)
