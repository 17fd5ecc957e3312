"""The workbench and the buyer's chat page over HTTP: who gets in, what the scripts are given,
the headers that let a shop frame the chat, and the errors a buyer's link can run into."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from kefu.desk.buyer_tokens import make_token, new_secret, read_token
from kefu.desk.routing import PRESENCES
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import Conversation, Product, Shop
from kefu.vocabularies import RATING_SCORES, SKILL_GROUPS
from kefu.web.i18n import MESSAGES
from kefu.web.routers import desk_pages

from .conftest import ADMIN, AGENT, NO_PASSWORD, OTHER_SHOP_AGENT, SUPERVISOR, YIYI

HTML = {"Accept": "text/html"}
WEB = Path(desk_pages.__file__).resolve().parents[1]
SECRET = new_secret()
LATER = datetime.now(UTC) + timedelta(days=1)


def change_shop(engine: Engine, shop_id: str = YIYI[0], **values: Any) -> None:
    with session_scope(make_sessionmaker(engine)) as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        for name, value in values.items():
            setattr(shop, name, value)


def page_data(html: str, block: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', html, re.S)
    assert match, f"no {block} block"
    return json.loads(match.group(1))


def token_for(
    buyer: str = "buyer-1", *, shop: str = YIYI[0], until: datetime = LATER, secret: str = SECRET
) -> str:
    return make_token(secret, shop, buyer, until)


# --- the workbench ------------------------------------------------------------------------


def test_the_workbench_asks_for_a_login(client):
    response = client.get("/desk", headers=HTML, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdesk"


def test_an_agent_gets_the_shops_thresholds_and_colleagues(client, log_in, seeded):
    change_shop(seeded, policies={"wait_amber_s": 5, "wait_red_s": 60})
    log_in(AGENT.username)

    response = client.get("/desk", headers=HTML)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    data = page_data(response.text, "desk-data")
    assert data["thresholds"] == {"amber_s": 5, "red_s": 60}
    assert (data["agent_id"], data["role"], data["supervising"]) == ("yiyi_a01", "agent", False)
    # Colleagues who can log in, of this shop only, never oneself.
    assert data["colleagues"] == {"yiyi_a02": SUPERVISOR.nickname, "yiyi_a03": ADMIN.nickname}
    assert NO_PASSWORD not in response.text and OTHER_SHOP_AGENT.nickname not in response.text
    assert data["words"]["desk.js.online"] == "已连接"
    assert all(key.startswith(desk_pages.DESK_WORD_PREFIXES) for key in data["words"])
    assert 'id="tab-all"' not in response.text
    assert '<script type="module" src="/static/desk.js' in response.text


def test_a_supervisor_sees_every_queue_and_defaults_fill_bad_thresholds(client, log_in, seeded):
    change_shop(seeded, policies={"wait_amber_s": 900, "wait_red_s": 60})
    log_in(SUPERVISOR.username)

    response = client.get("/desk", headers=HTML)

    data = page_data(response.text, "desk-data")
    assert data["supervising"] is True
    assert data["thresholds"] == {"amber_s": 30, "red_s": 600}
    assert 'id="tab-all"' in response.text


def test_the_workbench_in_english(client, log_in):
    log_in(AGENT.username)
    client.cookies.set("kefu_lang", "en")

    response = client.get("/desk", headers=HTML)

    assert '<html lang="en">' in response.text
    assert page_data(response.text, "desk-data")["words"]["desk.js.online"] == "Connected"
    assert "No conversation selected" in response.text


# --- the buyer's chat page ----------------------------------------------------------------


def test_an_unknown_shop_is_a_404_page(client):
    response = client.get("/chat/no-such-shop", headers=HTML)

    assert response.status_code == 404
    assert "没有找到这个页面" in response.text


def test_a_buyer_with_a_good_token_gets_the_chat(client, seeded):
    change_shop(seeded, buyer_token_secret=SECRET, welcome=None)
    token = token_for("buyer-7")

    response = client.get("/chat/yiyi", params={"token": token}, headers=HTML)

    assert response.status_code == 200
    data = page_data(response.text, "chat-data")
    assert (data["buyer_id"], data["token"], data["anonymous"]) == ("buyer-7", token, False)
    assert data["scores"] == list(RATING_SCORES)
    assert "您好，欢迎来到悦衣坊旗舰店！" in response.text
    assert 'content="width=device-width, initial-scale=1, viewport-fit=cover"' in response.text
    for score in ("非常满意", "满意", "一般", "不满意", "非常不满意"):
        assert f">{score}</button>" in response.text


def test_the_chat_may_be_framed_by_the_shops_own_origins_only(client, seeded):
    change_shop(
        seeded,
        buyer_token_secret=SECRET,
        policies={
            "embed_origins": ["https://shop.example.com", "javascript:alert(1)", "https://x.cn; script-src *"]
        },
    )

    response = client.get("/chat/yiyi", params={"token": token_for()}, headers=HTML)

    policy = response.headers["content-security-policy"]
    assert "frame-ancestors https://shop.example.com;" in policy
    assert "javascript" not in policy and "x.cn" not in policy
    assert "script-src 'self';" in policy
    assert "x-frame-options" not in response.headers
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


def test_without_embed_origins_only_kefu_may_frame_the_chat(client, seeded):
    change_shop(seeded, buyer_token_secret=SECRET)

    response = client.get("/chat/yiyi", params={"token": token_for()}, headers=HTML)

    assert "frame-ancestors 'self';" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (token_for(until=datetime.now(UTC) - timedelta(minutes=1)), "这个聊天链接已经过期了。"),
        (token_for(secret=new_secret()), "这个聊天链接无效。"),
        (token_for(shop="shuma"), "这个聊天链接无效。"),
        ("not-a-token", "这个聊天链接无效。"),
    ],
    ids=["expired", "forged", "other-shop", "garbage"],
)
def test_a_bad_link_is_a_clear_page_with_the_shops_headers(client, seeded, token, message):
    change_shop(seeded, buyer_token_secret=SECRET)

    response = client.get("/chat/yiyi", params={"token": token}, headers=HTML)

    assert response.status_code == 403
    assert message in response.text
    assert "请回到店铺页面" in response.text
    assert "chat-data" not in response.text
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]


def test_the_error_page_speaks_the_buyers_language(client, seeded):
    change_shop(seeded, buyer_token_secret=SECRET)
    expired = token_for(until=datetime.now(UTC) - timedelta(minutes=1))

    by_header = client.get("/chat/yiyi", params={"token": expired}, headers={**HTML, "Accept-Language": "en"})
    by_link = client.get("/chat/yiyi", params={"token": expired, "lang": "en"}, headers=HTML)

    for response in (by_header, by_link):
        assert response.status_code == 403
        assert "This chat link has expired." in response.text


def test_without_a_token_a_shop_that_allows_no_anonymous_chat_says_so(client):
    response = client.get("/chat/yiyi", headers=HTML)

    assert response.status_code == 403
    assert "这个店铺的聊天需要从店铺页面进入。" in response.text


def test_an_anonymous_visitor_gets_a_token_signed_with_a_secret_made_once(client, seeded):
    change_shop(seeded, policies={"anonymous_chat": True})

    first = page_data(client.get("/chat/yiyi", headers=HTML).text, "chat-data")
    second = page_data(client.get("/chat/yiyi", headers=HTML).text, "chat-data")

    with session_scope(make_sessionmaker(seeded)) as session:
        secret = session.get(Shop, "yiyi").buyer_token_secret
    assert secret
    now = datetime.now(UTC)
    for data in (first, second):
        assert data["anonymous"] is True
        identity = read_token(data["token"], secret, "yiyi", now)
        assert identity.buyer_id == data["buyer_id"] and identity.buyer_id.startswith("anon-")
        assert identity.expires_at > now + timedelta(days=29)
    # Each page load mints a new visitor; the page keeps the first one it stored.
    assert first["buyer_id"] != second["buyer_id"]


def test_off_hours_tell_the_buyer_when_a_reply_comes(client, seeded):
    shop_now = datetime.now(ZoneInfo("Asia/Shanghai"))
    opens, closes = shop_now + timedelta(hours=2), shop_now + timedelta(hours=3)
    change_shop(seeded, buyer_token_secret=SECRET, business_hours=f"{opens:%H:%M}-{closes:%H:%M}")

    response = client.get("/chat/yiyi", params={"token": token_for()}, headers=HTML)

    day = "今天" if opens.date() == shop_now.date() else "明天"
    assert f"客服{day} {opens:%H:%M} 起回复您" in response.text


def test_a_long_queue_shows_the_peak_notice(client, seeded):
    change_shop(seeded, buyer_token_secret=SECRET, policies={"peak_queue_per_agent": 2})
    quiet = client.get("/chat/yiyi", params={"token": token_for()}, headers=HTML)
    with session_scope(make_sessionmaker(seeded)) as session:
        for n in range(3):
            session.add(Conversation(id=f"q{n}", shop_id="yiyi", buyer_id=f"b{n}", status="open"))

    busy = client.get("/chat/yiyi", params={"token": token_for()}, headers=HTML)

    assert "现在咨询的人比较多" not in quiet.text
    assert "现在咨询的人比较多" in busy.text


def test_the_product_asked_about_is_offered_as_a_card_if_the_shop_sells_it(client, seeded):
    change_shop(seeded, buyer_token_secret=SECRET)
    with session_scope(make_sessionmaker(seeded)) as session:
        session.add(Product(id="p-shirt", shop_id="yiyi", title="纯棉衬衫", price=129))
        session.add(Product(id="p-phone", shop_id="shuma", title="手机壳", price=19))

    ours = client.get("/chat/yiyi", params={"token": token_for(), "product": "p-shirt"}, headers=HTML)
    theirs = client.get("/chat/yiyi", params={"token": token_for(), "product": "p-phone"}, headers=HTML)

    assert page_data(ours.text, "chat-data")["product"] == {"product_id": "p-shirt", "title": "纯棉衬衫"}
    assert "¥129.00" in ours.text
    assert page_data(theirs.text, "chat-data")["product"] is None
    assert "手机壳" not in theirs.text


def test_the_language_switch_keeps_the_buyers_token_and_product(client, seeded):
    change_shop(seeded, buyer_token_secret=SECRET)
    token = token_for()

    response = client.get("/chat/yiyi", params={"token": token, "product": "p1"}, headers=HTML)

    link = re.search(r'<a href="([^"]+)" lang="en"', response.text)
    assert link and html.unescape(link.group(1)) == f"/chat/yiyi?token={token}&product=p1&lang=en"
    english = client.get(html.unescape(link.group(1)), headers=HTML)
    assert '<html lang="en">' in english.text and "Send" in english.text


# --- words --------------------------------------------------------------------------------


WORD = re.compile(r"""\bt\(\s*["'`]([\w.\-]+)["'`]""")
OUR_FILES = (
    "templates/desk/workbench.html", "templates/chat/base.html", "templates/chat/page.html",
    "templates/chat/error.html", "static/desk.js", "static/chat.js", "static/desk_queue.js",
    "static/desk_composer.js", "static/transcript.js",
)


def test_every_word_the_desk_templates_and_scripts_use_exists():
    used = set()
    for name in OUR_FILES:
        # A key built from a prefix ("desk.presence." ~ value) is checked by its values below.
        keys = WORD.findall((WEB / name).read_text(encoding="utf-8"))
        used |= {key for key in keys if not key.endswith(".")}
    assert {"desk.title", "chat.rating.title", "desk.js.waited", "chat.js.agent_joined"} <= used
    assert used <= set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])
    # The error codes of the protocol each have words on both pages.
    for code in ("bad_frame", "not_found", "rate_limited", "too_long", "closed", "forbidden", "internal"):
        assert f"desk.js.error.{code}" in MESSAGES["en"] and f"chat.js.error.{code}" in MESSAGES["en"]
    for score in RATING_SCORES:
        assert f"chat.score.{score}" in MESSAGES["en"]
    for presence in PRESENCES:
        assert f"desk.presence.{presence}" in MESSAGES["en"]
    for group in SKILL_GROUPS:
        assert f"desk.group.{group}" in MESSAGES["en"]
