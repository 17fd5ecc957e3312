"""The UI in Simplified Chinese and English: the catalogues, and how a language is chosen."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from kefu.vocabularies import SHOP_CATEGORIES, STAFF_ROLES
from kefu.web import i18n
from kefu.web.i18n import LANGUAGE_COOKIE, MESSAGES, choose_language, from_accept_language

from .conftest import AGENT

HTML = {"Accept": "text/html"}
TEMPLATES = Path(i18n.__file__).parent / "templates"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys():
    assert set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])


def test_both_languages_fill_in_the_same_values():
    for key, chinese in MESSAGES["zh-CN"].items():
        assert _placeholders(chinese) == _placeholders(MESSAGES["en"][key]), key


def test_no_message_is_empty():
    assert all(text.strip() for catalogue in MESSAGES.values() for text in catalogue.values())


def test_every_key_a_template_uses_exists():
    used = {
        key
        for template in TEMPLATES.glob("*.html")
        for key in re.findall(r"""\bt\(\s*["']([\w.\-]+)["']""", template.read_text(encoding="utf-8"))
    }
    assert used, "no t(...) calls found: has the template syntax changed?"
    assert used <= set(MESSAGES["zh-CN"])


@pytest.mark.parametrize(("kind", "values"), [("role", STAFF_ROLES), ("category", SHOP_CATEGORIES)])
def test_every_stored_value_has_a_label(kind, values):
    for value in values:
        assert f"{kind}.{value}" in MESSAGES["zh-CN"], value


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("fr-FR,en;q=0.5,zh;q=0.7", "zh-CN"),
        ("de, en;q=0.1", "en"),
        ("en;q=0, zh", "zh-CN"),
        ("fr, de", None),
        ("", None),
        ("en;q=abc", None),
    ],
)
def test_accept_language_picks_the_best_supported_language(header, expected):
    assert from_accept_language(header) == expected


def test_the_choice_order_is_cookie_then_browser_then_default():
    assert choose_language("en", "zh-CN", "zh-CN") == "en"
    assert choose_language(None, "en-GB", "zh-CN") == "en"
    assert choose_language("klingon", None, "en") == "en"
    assert choose_language(None, None, "nonsense") == "zh-CN"


def test_the_switcher_remembers_english_and_returns_to_the_page(client, settings):
    answer = client.get("/lang", params={"to": "en", "next": "/login"}, follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    flags = [part.strip() for part in answer.headers["set-cookie"].split(";")]
    assert flags[0] == f"{LANGUAGE_COOKIE}=en"
    assert "HttpOnly" in flags
    assert "samesite=lax" in [flag.lower() for flag in flags]

    page = client.get("/login", headers=HTML)
    assert '<html lang="en">' in page.text
    assert "Sign in to the service desk" in page.text
    assert "登录客服工作台" not in page.text


def test_english_pages_after_login(client, log_in):
    client.get("/lang", params={"to": "en"})
    log_in(AGENT.username)

    home = client.get("/home", headers=HTML)

    assert "Hello, 小美" in home.text
    assert "Agent" in home.text
    assert "Sign out" in home.text
    assert "悦衣坊旗舰店" in home.text  # shop names are data, shown as stored


def test_the_browser_language_is_used_until_the_switcher_is(client):
    english = client.get("/login", headers={**HTML, "Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text

    client.get("/lang", params={"to": "zh-CN"})
    chinese = client.get("/login", headers={**HTML, "Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text


def test_an_unknown_language_changes_nothing(client):
    answer = client.get("/lang", params={"to": "xx", "next": "/login"}, follow_redirects=False)

    assert answer.status_code == 303
    assert "set-cookie" not in answer.headers


def test_the_switcher_never_redirects_off_site(client):
    answer = client.get("/lang", params={"to": "en", "next": "https://evil.example/"}, follow_redirects=False)

    assert answer.headers["location"] == "/home"


def test_the_default_language_setting_applies_without_other_hints(settings, seeded):
    from fastapi.testclient import TestClient

    from kefu.web.app import create_app

    with TestClient(create_app(settings.model_copy(update={"default_language": "en"}))) as client:
        page = client.get("/login", headers=HTML)

    assert '<html lang="en">' in page.text
