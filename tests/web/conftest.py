"""Fixtures for the web tests: two shops with staff in a real store, and the app over it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kefu.accounts.passwords import hash_password
from kefu.settings import Settings
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import Shop, Staff
from kefu.web.app import create_app

# Non-ASCII on purpose: the form must carry it intact to Argon2.
PASSWORD = "春风-Spring-2024"
SECRET = "test-secret-not-for-production"


@dataclass(frozen=True)
class Login:
    username: str
    nickname: str
    role: str
    shop_id: str
    shop_name: str


YIYI = ("yiyi", "悦衣坊旗舰店", "clothing")
SHUMA = ("shuma", "数码港专营店", "electronics")

AGENT = Login("xiaomei", "小美", "agent", *YIYI[:2])
SUPERVISOR = Login("azhe", "阿哲", "supervisor", *YIYI[:2])
ADMIN = Login("laoban", "老板娘", "admin", *YIYI[:2])
OTHER_SHOP_AGENT = Login("dashan", "大山", "agent", *SHUMA[:2])
# Imported from chat logs: exists, but has no password yet.
NO_PASSWORD = "yiyi_a07"


@pytest.fixture(scope="session")
def password_hash() -> str:
    # One Argon2 run for the whole session: hashing per test would dominate the suite's time.
    return hash_password(PASSWORD)


@pytest.fixture
def seeded(engine: Engine, password_hash: str) -> Engine:
    """The store with two shops, staff of every role in the first, one agent in the second."""
    with session_scope(make_sessionmaker(engine)) as session:
        for shop_id, name, category in (YIYI, SHUMA):
            session.add(Shop(id=shop_id, name=name, category=category))
        session.flush()
        for number, login in enumerate((AGENT, SUPERVISOR, ADMIN, OTHER_SHOP_AGENT), start=1):
            session.add(Staff(
                shop_id=login.shop_id, agent_id=f"{login.shop_id}_a{number:02}", username=login.username,
                nickname=login.nickname, role=login.role, password_hash=password_hash,
            ))
        session.add(Staff(shop_id=YIYI[0], agent_id=NO_PASSWORD, username=NO_PASSWORD, nickname="小七"))
    return engine


@pytest.fixture
def settings(db_url: str, tmp_path) -> Settings:
    # The API tests' webhook receiver listens on loopback.
    return Settings(
        database_url=db_url,
        secret_key=SECRET,
        data_dir=tmp_path,
        default_language="zh-CN",
        webhook_private_networks=True,
    )


@pytest.fixture
def app(settings: Settings, seeded: Engine) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # The context manager runs the app's start-up (migrations) like a real server would.
    with TestClient(app) as client:
        yield client


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


LogIn = Callable[..., httpx.Response]


@pytest.fixture
def log_in(client: TestClient) -> LogIn:
    """Log in through the login form as a browser would: fetch the page, post it with its token."""

    def log_in(username: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
        page = client.get("/login", headers={"Accept": "text/html"})
        form = {"username": username, "password": password, "csrf_token": csrf_from(page.text), **extra}
        return client.post("/login", data=form, headers={"Accept": "text/html"}, follow_redirects=False)

    return log_in


@pytest.fixture
def page_token(client: TestClient) -> Callable[[str], str]:
    """The CSRF token on a page the client opens now (for posting the page's forms)."""

    def token(path: str = "/home") -> str:
        return csrf_from(client.get(path, headers={"Accept": "text/html"}).text)

    return token
