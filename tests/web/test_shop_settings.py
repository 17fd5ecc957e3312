"""店铺设置 over HTTP: who may open it, a save the desk then follows, a refusal that keeps everything."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kefu.desk.reception import current_promotions
from kefu.desk.shop_settings import NUMBERS_BY_KEY, PROBLEM_CODES, SHOP_SETTINGS_SAVED
from kefu.store.engine import make_sessionmaker, session_scope, writing
from kefu.store.models import AuditEntry, Shop, Staff
from kefu.web.i18n import MESSAGES
from kefu.web.routers import shop_settings

from .conftest import ADMIN, AGENT, SHUMA, SUPERVISOR, YIYI

HTML = {"Accept": "text/html"}
WEB = Path(shop_settings.__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
# What a supervisor fills in: every section of the form.
GOOD = {
    "welcome": "欢迎光临{shop}！我是{agent}，尺码不确定随时问我 {emoji}",
    "business_hours": "09:00-12:00, 13:30-22:00",
    "wait_amber_s": "45",
    "wait_red_s": "300",
    "peak_queue_per_agent": "4",
    "follow_up_after_h": "12",
    "payment_reminder_after_min": "0",
    "promotion_title": ["满300减40", "新客包邮"],
    "promotion_text": ["全店通用，可与店铺券叠加", ""],
    "promotion_starts": ["2026-01-01", ""],
    "promotion_ends": ["2099-12-31", ""],
    "anonymous_chat": "on",
    "embed_origins": "https://shop.example.com\r\nhttps://m.example.com/\r\n",
}
# One mistake per section: each must come back beside its own field.
BAD = {
    **GOOD,
    "wait_amber_s": "300",
    "wait_red_s": "120",
    "peak_queue_per_agent": "三个",
    "business_hours": "09:00-12:00, 13:3O-22:00",
    "promotion_title": ["满300减40", ""],
    "promotion_text": ["全店通用", "没有标题的活动"],
    "embed_origins": "https://shop.example.com/chat",
}


def shop_row(engine: Engine, shop_id: str = YIYI[0]) -> Shop:
    with session_scope(make_sessionmaker(engine)) as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        session.expunge(shop)
        return shop


def change_shop(engine: Engine, shop_id: str = YIYI[0], **values: Any) -> None:
    # A writing transaction from the start: the app's own start-up may be writing meanwhile.
    with session_scope(make_sessionmaker(writing(engine))) as session:
        shop = session.get(Shop, shop_id)
        for name, value in values.items():
            setattr(shop, name, value)


def audit_actions(engine: Engine) -> list[str]:
    with session_scope(make_sessionmaker(engine)) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def page_data(text: str, block: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', text, re.S)
    assert match, f"no {block} block"
    return json.loads(match.group(1))


def errors_on(text: str) -> dict[str, list[str]]:
    """The problems the page shows, by the field they stand beside."""
    found = {}
    for field, items in re.findall(
        r'<ul class="field-errors" id="[^"]+" data-field="([^"]+)">(.*?)</ul>', text, re.S
    ):
        found[field] = [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", items, re.S)]
    return found


def post_settings(client, page_token, form: dict[str, Any], **headers: str):
    data = {**form, "csrf_token": page_token("/settings/shop")}
    return client.post("/settings/shop", data=data, headers={**HTML, **headers}, follow_redirects=False)


# --- who may use it -----------------------------------------------------------------------


def test_the_page_asks_for_a_login(client):
    response = client.get("/settings/shop", headers=HTML, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsettings%2Fshop"


def test_an_agent_gets_403_and_no_link_to_the_page(client, log_in, page_token, seeded):
    log_in(AGENT.username)
    token = page_token("/home")

    home = client.get("/home", headers=HTML)
    shown = client.get("/settings/shop", headers=HTML)
    saved = client.post("/settings/shop", data={**GOOD, "csrf_token": token}, headers=HTML)
    preview = client.get("/settings/shop/welcome-preview", params={"text": "hi"})

    assert 'href="/settings/shop"' not in home.text
    assert shown.status_code == saved.status_code == preview.status_code == 403
    assert "你的角色无权查看这个页面" in shown.text
    assert shop_row(seeded).policies == {} and audit_actions(seeded) == []


@pytest.mark.parametrize("login", [SUPERVISOR, ADMIN])
def test_supervisors_and_admins_find_the_page_in_the_nav(client, log_in, login):
    log_in(login.username)

    home = client.get("/home", headers=HTML)
    page = client.get("/settings/shop", headers=HTML)

    assert '<a href="/settings/shop">店铺设置</a>' in home.text
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "<h1>店铺设置</h1>" in page.text and YIYI[1] in page.text
    for section in ("接待", "排队与计时", "跟进任务", "活动", "嵌入"):
        assert f">{section}</h2>" in page.text


def test_a_post_without_the_forms_token_is_refused(client, log_in, seeded):
    log_in(SUPERVISOR.username)

    response = client.post("/settings/shop", data=GOOD, headers=HTML)

    assert response.status_code == 403
    assert shop_row(seeded).welcome is None


def test_a_supervisor_of_another_shop_changes_only_their_own(
    client, log_in, page_token, seeded, password_hash
):
    with session_scope(make_sessionmaker(writing(seeded))) as session:
        session.add(
            Staff(
                shop_id=SHUMA[0],
                agent_id="shuma_a09",
                username="shuma_boss",
                nickname="数码主管",
                role="supervisor",
                password_hash=password_hash,
            )
        )
    change_shop(seeded, policies={"wait_amber_s": 20})
    log_in("shuma_boss")

    # A shop id in the form is not a way in: the page always works on one's own shop.
    response = post_settings(client, page_token, {**GOOD, "shop_id": YIYI[0]})

    assert response.status_code == 303
    assert shop_row(seeded).policies == {"wait_amber_s": 20} and shop_row(seeded).welcome is None
    assert shop_row(seeded, SHUMA[0]).policies["wait_amber_s"] == 45


# --- saving -------------------------------------------------------------------------------


def test_saved_settings_take_effect_on_the_workbench_the_chat_and_the_sidebar(
    client, log_in, page_token, seeded
):
    log_in(SUPERVISOR.username)

    response = post_settings(client, page_token, GOOD)
    again = client.get(response.headers["location"], headers=HTML)

    assert response.status_code == 303 and response.headers["location"] == "/settings/shop?saved=1"
    assert '<p class="notice notice-info" role="status" id="settings-saved">已保存</p>' in again.text
    assert 'value="45"' in again.text and 'value="满300减40"' in again.text
    # The workbench's timers.
    log_in(AGENT.username)
    workbench = client.get("/desk", headers=HTML)
    assert page_data(workbench.text, "desk-data")["thresholds"] == {"amber_s": 45, "red_s": 300}
    # The buyer's chat: anonymous visitors let in, the new welcome, the shop's own site may frame it.
    chat = client.get(f"/chat/{YIYI[0]}", headers=HTML)
    assert chat.status_code == 200
    assert f"欢迎光临{YIYI[1]}！我是店铺客服，尺码不确定随时问我 😊" in html.unescape(chat.text)
    assert (
        "frame-ancestors https://shop.example.com https://m.example.com;"
        in chat.headers["content-security-policy"]
    )
    # The sidebar's promotions: the one running now.
    shop = shop_row(seeded)
    assert [p.title for p in current_promotions(shop, datetime.now(UTC))] == ["满300减40", "新客包邮"]
    assert shop.business_hours == GOOD["business_hours"]
    assert shop.policies["payment_reminder_after_min"] == 0
    assert audit_actions(seeded) == [SHOP_SETTINGS_SAVED]


def test_policy_keys_the_page_does_not_manage_survive_a_save(client, log_in, page_token, seeded):
    kept = {"return_days": 7, "free_shipping_over": 99, "couriers": ["顺丰", "中通"]}
    change_shop(seeded, policies={**kept, "wait_amber_s": 10})
    log_in(ADMIN.username)

    post_settings(client, page_token, GOOD)

    policies = shop_row(seeded).policies
    assert {key: policies[key] for key in kept} == kept
    assert policies["wait_amber_s"] == 45


def test_emptying_a_field_goes_back_to_the_default(client, log_in, page_token, seeded):
    change_shop(
        seeded, policies={"wait_amber_s": 10, "wait_red_s": 20, "anonymous_chat": True}, welcome="旧欢迎语"
    )
    log_in(SUPERVISOR.username)

    post_settings(client, page_token, {"csrf_token": "", "wait_amber_s": "", "welcome": ""})
    log_in(AGENT.username)

    shop = shop_row(seeded)
    assert shop.welcome is None and shop.policies == {"anonymous_chat": False}
    assert page_data(client.get("/desk", headers=HTML).text, "desk-data")["thresholds"] == {
        "amber_s": 30,
        "red_s": 600,
    }


# --- refusing -----------------------------------------------------------------------------


def test_bad_values_come_back_beside_their_fields_and_nothing_is_stored(client, log_in, page_token, seeded):
    change_shop(seeded, policies={"wait_amber_s": 20}, welcome="原来的欢迎语")
    log_in(SUPERVISOR.username)

    response = post_settings(client, page_token, BAD)

    assert response.status_code == 422
    assert "有 5 处需要修改，这次的改动还没有保存。" in response.text
    assert errors_on(response.text) == {
        "business_hours": ["“13:3O-22:00” 不是时间段，请写成 09:00-18:00 这样，多段之间用逗号隔开。"],
        "wait_red_s": ["变红要比变黄晚：现在变黄是 300 秒，变红是 120 秒。"],
        "peak_queue_per_agent": ["“三个” 不是数字。"],
        "promotions.2.title": ["这条活动还没有标题。"],
        "embed_origins": [
            "“https://shop.example.com/chat” 带了路径。这里只写到域名为止，例如 https://shop.example.com。"
        ],
    }
    # What was typed is still there, to be corrected rather than typed again.
    for typed in ('value="三个"', 'value="09:00-12:00, 13:3O-22:00"', 'value="没有标题的活动"'):
        assert typed in response.text
    assert ">https://shop.example.com/chat</textarea>" in response.text
    assert 'aria-invalid="true"' in response.text
    shop = shop_row(seeded)
    assert (shop.policies, shop.welcome, shop.business_hours) == ({"wait_amber_s": 20}, "原来的欢迎语", None)
    assert audit_actions(seeded) == []


def test_the_problems_are_in_english_when_the_ui_is(client, log_in, page_token):
    log_in(SUPERVISOR.username)
    client.cookies.set("kefu_lang", "en")

    response = post_settings(client, page_token, BAD)

    assert "<h1>Shop settings</h1>" in response.text
    errors = errors_on(response.text)
    assert errors["wait_red_s"] == ["Red must come later than amber: amber is 300 s and red 120 s now."]
    assert errors["peak_queue_per_agent"] == ["“三个” is not a number."]
    assert errors["promotions.2.title"] == ["This promotion has no title yet."]


# --- what is shown ------------------------------------------------------------------------


def test_a_script_in_the_welcome_shows_as_text(client, log_in, page_token, seeded):
    log_in(SUPERVISOR.username)

    post_settings(client, page_token, {**GOOD, "welcome": f"{SCRIPT}欢迎来到{{shop}}"})
    page = client.get("/settings/shop", headers=HTML)
    preview = client.get("/settings/shop/welcome-preview", params={"text": SCRIPT})
    chat = client.get(f"/chat/{YIYI[0]}", headers=HTML)

    assert shop_row(seeded).welcome == f"{SCRIPT}欢迎来到{{shop}}"
    for text in (page.text, chat.text):
        assert SCRIPT not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert preview.json()["text"].startswith(SCRIPT)  # JSON: the page's script sets it as textContent


def test_the_preview_fills_the_shops_name_and_the_viewers_nickname(client, log_in):
    log_in(SUPERVISOR.username)

    own = client.get("/settings/shop/welcome-preview", params={"text": "欢迎来到{shop}，我是{agent}"})
    default = client.get("/settings/shop/welcome-preview", params={"text": ""})

    assert own.json() == {"text": f"欢迎来到{YIYI[1]}，我是{SUPERVISOR.nickname} 😊"}
    assert default.json()["text"].startswith(f"您好，欢迎来到{YIYI[1]}！我是客服{SUPERVISOR.nickname}")


def test_stored_settings_fill_the_form(client, log_in, seeded):
    change_shop(
        seeded,
        business_hours="10:00-22:00",
        policies={
            "follow_up_after_h": 0,
            "promotions": [
                {"title": "双11预售", "text": "定金翻倍", "starts": "2026-10-20", "ends": "2026-11-11"}
            ],
            "embed_origins": ["https://a.example.com", "https://b.example.com"],
        },
    )
    log_in(SUPERVISOR.username)

    page = client.get("/settings/shop", headers=HTML).text

    assert 'value="10:00-22:00"' in page
    assert 'name="follow_up_after_h" value="0"' in page
    assert re.search(r'data-off-for="f-follow_up_after_h"\s*>已关闭', page)  # 0: the rule is off, said so
    assert 'data-off-for="f-payment_reminder_after_min" hidden' in page
    for value in ("双11预售", "定金翻倍", "2026-10-20", "2026-11-11"):
        assert f'value="{value}"' in page
    assert ">https://a.example.com\nhttps://b.example.com</textarea>" in page
    checkbox = re.search(r'<input type="checkbox" id="f-anonymous_chat"[^>]*>', page, re.S)
    assert checkbox and "checked" not in checkbox.group(0)
    assert 'placeholder="默认 30"' in page


# --- words --------------------------------------------------------------------------------

WORD = re.compile(r"""\bt\(\s*["']([\w.\-]+)["']""")


def test_every_word_the_page_uses_exists_in_both_languages():
    template = (WEB / "templates" / "settings" / "shop.html").read_text(encoding="utf-8")
    used = {key for key in WORD.findall(template) if not key.endswith(".")}
    used |= {"nav.shop_settings"}
    used |= {f"settings.{key}" for key in NUMBERS_BY_KEY}  # built as "settings." ~ key
    used |= {f"settings.{key}_hint" for key in NUMBERS_BY_KEY}
    used |= {f"settings.promotion.{part}" for part in ("title", "text", "starts", "ends")}

    assert used <= set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])


def test_every_problem_the_form_can_have_has_words():
    for code in PROBLEM_CODES:
        assert f"settings.problem.{code}" in MESSAGES["zh-CN"], code
        assert f"settings.problem.{code}" in MESSAGES["en"], code
