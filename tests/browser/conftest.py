"""The real app served by uvicorn on a loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from kefu.accounts.passwords import hash_password
from kefu.settings import Settings
from kefu.store.engine import make_engine, make_sessionmaker, session_scope
from kefu.store.migrate import upgrade
from kefu.store.models import Shop, Staff
from kefu.web.app import create_app

CHROMIUM = Path(os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass(frozen=True)
class DemoShop:
    shop_name: str = "悦衣坊旗舰店"
    username: str = "xiaomei"
    nickname: str = "小美"
    password: str = "春风-Spring-2024"


def _seed(url: str, demo: DemoShop) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        session.add(Shop(id="yiyi", name=demo.shop_name, category="clothing"))
        session.flush()
        session.add(Staff(
            shop_id="yiyi", agent_id="yiyi_a01", username=demo.username, nickname=demo.nickname,
            role="agent", password_hash=hash_password(demo.password),
        ))
    engine.dispose()


@dataclass(frozen=True)
class LiveServer:
    url: str
    demo: DemoShop


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """kefu over a seeded SQLite store, served by uvicorn in a thread on a free loopback port."""
    folder = tmp_path_factory.mktemp("browser-store")
    url = f"sqlite:///{folder / 'kefu.db'}"
    demo = DemoShop()
    _seed(url, demo)
    app = create_app(Settings(database_url=url, data_dir=folder, secret_key="browser-test-secret"))
    # The socket listens before the server starts, so the browser's first request waits in
    # the backlog until uvicorn is ready: no polling, no sleeping.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{port}", demo)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


# Per module, not per session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and later suites that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: apt-get install -y chromium fonts-noto-cjk"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser profile (no cookies) whose user reads Chinese, as most kefu users do."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
