"""In a real Chromium: open the login page, log in as an agent, see the shop, switch languages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _log_in(page: Page, live_server, username_label: str, password_label: str, submit: str) -> None:
    page.get_by_label(username_label, exact=True).fill(live_server.demo.username)
    page.get_by_label(password_label, exact=True).fill(live_server.demo.password)
    page.get_by_role("button", name=submit, exact=True).click()


def test_an_agent_logs_in_and_sees_the_shop_name_in_chinese(page, live_server, screenshots):
    page.goto(f"{live_server.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录客服工作台")).to_be_visible()
    page.screenshot(path=screenshots / "login.png")

    _log_in(page, live_server, "用户名", "密码", "登录")

    expect(page).to_have_url(f"{live_server.url}/home")
    expect(page.get_by_role("heading", name=live_server.demo.shop_name)).to_be_visible()
    expect(page.get_by_text(f"{live_server.demo.nickname}，你好")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("客服")
    page.screenshot(path=screenshots / "home.png", full_page=True)


def test_a_wrong_password_shows_an_error_and_stays_on_the_login_page(page, live_server):
    page.goto(f"{live_server.url}/login")
    page.get_by_label("用户名", exact=True).fill(live_server.demo.username)
    page.get_by_label("密码", exact=True).fill("not-the-password")
    page.get_by_role("button", name="登录", exact=True).click()

    expect(page.get_by_role("alert")).to_have_text("用户名或密码不对，请再试一次。")
    expect(page.get_by_label("用户名", exact=True)).to_have_value(live_server.demo.username)


def test_the_switcher_shows_english_labels(page, live_server):
    page.goto(f"{live_server.url}/login")

    page.get_by_role("link", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Sign in to the service desk")).to_be_visible()
    _log_in(page, live_server, "Username", "Password", "Sign in")
    expect(page.get_by_role("heading", name=live_server.demo.shop_name)).to_be_visible()
    expect(page.get_by_text(f"Hello, {live_server.demo.nickname}")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("link", name="中文").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="退出")).to_be_visible()


def test_signing_out_returns_to_the_login_page(page, live_server):
    page.goto(f"{live_server.url}/login")
    _log_in(page, live_server, "用户名", "密码", "登录")
    expect(page).to_have_url(f"{live_server.url}/home")

    page.get_by_role("button", name="退出").click()

    expect(page).to_have_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/home")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2Fhome")


def test_htmx_loads_and_the_pages_raise_no_console_errors(page, live_server):
    # A console error here is usually the content policy refusing something a page does.
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/login")
    _log_in(page, live_server, "用户名", "密码", "登录")
    expect(page).to_have_url(f"{live_server.url}/home")

    if page.evaluate("typeof window.htmx") == "undefined":
        pytest.skip("htmx is not installed (npm ci at the repository root); the pages work without it")
    assert page.evaluate("window.htmx.version").startswith("2.")
    assert errors == []
