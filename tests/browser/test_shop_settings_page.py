"""In a real Chromium: a supervisor changes the shop's settings, adds a promotion row, saves and reloads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from desk_world import PASSWORD, SHOP_NAME, SUPERVISOR, DeskWorld, start_desk_world
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[DeskWorld]:
    yield from start_desk_world(tmp_path_factory.mktemp("settings-world"))


def test_a_supervisor_changes_the_timer_adds_a_promotion_and_sees_them_saved(
    browser: Browser, world, screenshots
):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{world.url}/login?next=/settings/shop")
    page.get_by_label("用户名", exact=True).fill(SUPERVISOR.username)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{world.url}/settings/shop")
    expect(page.get_by_role("heading", name="店铺设置")).to_be_visible()
    amber = page.locator("#f-wait_amber_s")
    expect(amber).to_have_value("2")  # the world's shop turns amber after 2 s

    # The preview follows the welcome as it is typed, with the shop's name and one's nickname.
    page.locator("#f-welcome").fill("欢迎来到{shop}，我是{agent}")
    preview = page.locator("#welcome-preview")
    expect(preview).to_have_text(f"欢迎来到{SHOP_NAME}，我是{SUPERVISOR.nickname} 😊")

    amber.fill("20")
    rows = page.locator("#promotion-list .promotion-row")
    expect(rows).to_have_count(0)
    page.get_by_role("button", name="添加活动").click()
    page.get_by_role("button", name="添加活动").click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("button", name="删除这条").click()
    expect(rows).to_have_count(1)
    row = rows.first
    row.get_by_label("标题").fill("周末包邮")
    row.get_by_label("说明").fill("周六周日全店包邮")
    row.get_by_label("开始").fill("2026-01-01")
    row.get_by_label("结束").fill("2099-12-31")
    # 0 turns the payment reminder off, and the page says so before saving.
    page.locator("#f-payment_reminder_after_min").fill("0")
    expect(page.locator('[data-off-for="f-payment_reminder_after_min"]')).to_be_visible()

    page.get_by_role("button", name="保存设置").click()

    expect(page).to_have_url(f"{world.url}/settings/shop?saved=1")
    expect(page.get_by_role("status")).to_have_text("已保存")
    page.goto(f"{world.url}/settings/shop")
    expect(page.locator("#settings-saved")).to_have_count(0)
    expect(page.locator("#f-wait_amber_s")).to_have_value("20")
    expect(page.locator("#f-welcome")).to_have_value("欢迎来到{shop}，我是{agent}")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_label("标题")).to_have_value("周末包邮")
    expect(rows.first.get_by_label("结束")).to_have_value("2099-12-31")
    expect(page.locator('[data-off-for="f-payment_reminder_after_min"]')).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 2000})  # the sticky save bar at the page's foot
    page.screenshot(path=screenshots / "shop-settings.png", full_page=True)
    assert errors == []
    context.close()
