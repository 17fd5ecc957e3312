"""In a real Chromium: a supervisor opens 服务诊断, changes the period and a filter, sorts the agents,
opens the conversations behind a number and one transcript."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from kefu.accounts.actions import do_set_demo_passwords
from kefu.analytics.snapshots import SNAPSHOTS
from kefu.demo.generator import generate
from kefu.interchange.importing import do_import
from kefu.interchange.writing import table_from_rows, write_table
from kefu.settings import Settings
from kefu.store.engine import make_engine
from kefu.store.migrate import upgrade
from kefu.web.app import create_app
from kefu.web.routers.analytics import AGENT_COLUMNS

pytestmark = pytest.mark.browser

SUPERVISOR, PASSWORD = "s1-a02", "kefu-demo"  # the demo shop s1's supervisor


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[str]:
    """kefu over a small demo store (four shops, Oct-Nov 2026), served by uvicorn on a loopback port."""
    folder = tmp_path_factory.mktemp("dashboard-store")
    for name, rows in generate(3, 1500).items():
        write_table(table_from_rows(name, rows), folder, name, "jsonl")
    url = f"sqlite:///{folder / 'kefu.db'}"
    engine = make_engine(url)
    upgrade(engine)
    do_import(engine, folder, actor="test")
    do_set_demo_passwords(engine, PASSWORD)
    engine.dispose()
    app = create_app(Settings(database_url=url, data_dir=folder, secret_key="browser-test-secret"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    SNAPSHOTS.forget(url)


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    # A console error here is usually the content policy refusing something the page does.
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名", exact=True).fill(SUPERVISOR)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{base}/home")


# The agent's name comes first (a th), then the numbers in AGENT_COLUMNS order.
TURNS = f"td:nth-child({AGENT_COLUMNS.index('turns') + 2})"


def turns_column(page: Page) -> list[int]:
    cells = page.locator(f"table.agents-table tbody tr {TURNS}").all_inner_texts()
    return [int(text.replace(",", "")) for text in cells]


def test_a_supervisor_diagnoses_the_shop(page, demo_server, screenshots, console_errors):
    log_in(page, demo_server)
    page.get_by_role("link", name="服务诊断").click()

    expect(page.get_by_role("heading", name="服务诊断", level=1)).to_be_visible()
    expect(page.locator("#period-shown")).to_contain_text("（7 天）")
    expect(page.locator(".kpi")).to_have_count(12)
    if page.evaluate("typeof window.echarts") != "undefined":
        expect(page.locator("#trend-chart")).to_have_attribute("data-drawn", "served_buyers")
        page.locator("#trend-metric").select_option("avg_response_s")
        expect(page.locator("#trend-chart")).to_have_attribute("data-drawn", "avg_response_s")
        page.locator("#trend-metric").select_option("served_buyers")
    page.screenshot(path=screenshots / "diagnosis.png", full_page=True)

    # The picker shows the date fields a choice needs.
    expect(page.get_by_label("开始日期")).to_be_hidden()
    page.get_by_label("时段").select_option("custom")
    expect(page.get_by_label("开始日期")).to_be_visible()
    page.get_by_label("时段").select_option("last30")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(r"range=last30"))
    expect(page.locator("#period-shown")).to_contain_text("（30 天）")

    page.get_by_label("售前/售后").select_option("presale")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(r"segment=presale"))
    expect(page.get_by_label("售前/售后")).to_have_value("presale")
    expect(page.locator("#period-shown")).to_contain_text("（30 天）")
    # A period and filter nobody asked for before: the change against the previous period follows.
    expect(page.locator("#change-served_buyers")).to_contain_text("上期")

    header = page.locator("table.agents-table thead th", has=page.locator("a[data-sort=turns]"))
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert turns_column(page) == sorted(turns_column(page), reverse=True)
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert turns_column(page) == sorted(turns_column(page))
    expect(page.get_by_label("售前/售后")).to_have_value("presale")

    # The agent with the fewest turns (but some): a short list.
    position = next(i for i, n in enumerate(turns_column(page)) if n > 0)
    row = page.locator("table.agents-table tbody tr").nth(position)
    agent, turns = row.get_attribute("data-agent"), turns_column(page)[position]
    row.locator(f"{TURNS} a").click()

    expect(page).to_have_url(re.compile(rf"/analytics/drill\?.*metric=turns.*agent={agent}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"接待轮次 {turns:,}")
    rows = page.locator("table.drill-table tbody tr")
    assert sum(int(t) for t in rows.locator("td:nth-child(5)").all_inner_texts()) == turns

    conversation = rows.first.locator("td a").inner_text()
    rows.first.locator("td a").click()

    expect(page).to_have_url(re.compile(rf"/analytics/conversations/{conversation}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(conversation)
    expect(page.locator(".transcript .line").first).to_be_visible()
    page.get_by_role("link", name="返回").click()
    expect(page).to_have_url(re.compile(r"/analytics/drill\?"))
    assert console_errors == []


def test_english_labels(page, demo_server, console_errors):
    log_in(page, demo_server)
    page.get_by_role("link", name="English").click()

    page.goto(f"{demo_server}/analytics")

    expect(page.get_by_role("heading", name="Service diagnosis", level=1)).to_be_visible()
    expect(page.get_by_label("Period")).to_have_value("last7")
    assert console_errors == []
