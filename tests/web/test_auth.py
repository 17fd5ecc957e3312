"""Logging in and out through the login form, and the session cookie it sets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kefu.accounts.actions import do_set_password
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import Staff
from kefu.web.app import create_app
from kefu.web.sessions import COOKIE_NAME, SessionCodec

from .conftest import ADMIN, AGENT, NO_PASSWORD, PASSWORD, SUPERVISOR, csrf_from

HTML = {"Accept": "text/html"}


def test_the_login_page_speaks_chinese_by_default(client):
    page = client.get("/login", headers=HTML)

    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "登录客服工作台" in page.text
    assert 'name="csrf_token"' in page.text


@pytest.mark.parametrize("login", [AGENT, SUPERVISOR, ADMIN], ids=lambda x: x.role)
def test_staff_log_in_and_land_on_their_shop(client, log_in, login):
    answer = log_in(login.username)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/home"
    home = client.get("/home", headers=HTML)
    assert home.status_code == 200
    assert login.shop_name in home.text
    assert login.nickname in home.text
    assert {"agent": "客服", "supervisor": "主管", "admin": "管理员"}[login.role] in home.text


def test_a_wrong_password_gets_the_same_answer_as_an_unknown_user(client, log_in):
    wrong_password = log_in(AGENT.username, "not-the-password")
    unknown_user = log_in("nobody-here", "not-the-password")
    never_given_one = log_in(NO_PASSWORD, "not-the-password")

    answers = [wrong_password, unknown_user, never_given_one]
    assert {a.status_code for a in answers} == {400}
    assert all("用户名或密码不对" in a.text for a in answers)
    # The pages differ only by the username echoed back into the form (and the CSRF token).
    bodies = {
        a.text.replace(name, "NAME").replace(csrf_from(a.text), "TOKEN")
        for a, name in zip(answers, [AGENT.username, "nobody-here", NO_PASSWORD], strict=True)
    }
    assert len(bodies) == 1
    assert client.get("/api/me").status_code == 401


def test_the_username_is_escaped_when_echoed_back(log_in):
    answer = log_in('<script>alert("x")</script>', "whatever")

    assert "<script>alert" not in answer.text
    assert "&lt;script&gt;" in answer.text


def test_the_session_cookie_is_httponly_and_samesite_lax(log_in, settings):
    answer = log_in(AGENT.username)

    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    flags = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags
    assert "Path=/" in flags
    assert f"Max-Age={settings.session_max_age_s}" in flags
    assert "Secure" not in flags


def test_the_session_cookie_is_secure_when_served_over_https(settings, seeded):
    app = create_app(settings.model_copy(update={"cookie_secure": True}))
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/login", headers=HTML)

    assert "Secure" in [part.strip() for part in page.headers["set-cookie"].split(";")]


def test_the_cookie_holds_no_password_material(log_in):
    cookie = log_in(AGENT.username).headers["set-cookie"]

    assert "argon2" not in cookie
    assert PASSWORD not in cookie


def test_logging_in_returns_to_the_page_that_asked_for_it(client, log_in):
    asked = client.get("/home?tab=queue", headers=HTML, follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Fhome%3Ftab%3Dqueue"

    answer = log_in(AGENT.username, next="/home?tab=queue")

    assert answer.headers["location"] == "/home?tab=queue"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "home"])
def test_logging_in_never_redirects_off_site(log_in, target):
    answer = log_in(AGENT.username, next=target)

    assert answer.headers["location"] == "/home"


def test_logging_out_ends_the_session(client, log_in, page_token):
    log_in(AGENT.username)

    answer = client.post("/logout", data={"csrf_token": page_token()}, follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert "Max-Age=0" in answer.headers["set-cookie"]
    assert client.get("/api/me").status_code == 401
    assert client.get("/home", headers=HTML, follow_redirects=False).headers["location"].startswith("/login")


def test_a_stolen_cookie_stops_working_when_the_password_changes(client, log_in, seeded):
    log_in(AGENT.username)
    assert client.get("/api/me").status_code == 200

    with session_scope(make_sessionmaker(seeded)) as session:
        staff = session.query(Staff).filter_by(username=AGENT.username).one()
        do_set_password(session, staff, "a-brand-new-password", actor=ADMIN.username)

    assert client.get("/api/me").status_code == 401


def test_a_tampered_cookie_is_ignored(client, log_in):
    log_in(AGENT.username)
    value = client.cookies[COOKIE_NAME]
    client.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))

    assert client.get("/api/me").status_code == 401


def test_a_cookie_signed_with_another_secret_is_ignored(client, log_in):
    log_in(AGENT.username)
    payload = SessionCodec(secret_key="x", max_age_s=3600).loads(client.cookies[COOKIE_NAME])
    assert payload == {}  # not readable under another key...
    forged = SessionCodec(secret_key="someone-else", max_age_s=3600).dumps({"staff_id": 1, "pw": "x"})
    client.cookies.set(COOKIE_NAME, forged)

    assert client.get("/api/me").status_code == 401  # ...nor accepted when made with one


def test_an_expired_session_is_empty():
    value = SessionCodec("k", max_age_s=3600).dumps({"staff_id": 1})

    assert SessionCodec("k", max_age_s=-1).loads(value) == {}
    assert SessionCodec("k", max_age_s=3600).loads(value) == {"staff_id": 1}


def test_the_root_sends_visitors_to_login_and_staff_home(client, log_in):
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    log_in(AGENT.username)
    assert client.get("/", follow_redirects=False).headers["location"] == "/home"
    assert client.get("/login", follow_redirects=False).headers["location"] == "/home"


def test_an_unknown_settings_secret_never_appears_in_pages(client, log_in, settings):
    log_in(AGENT.username)

    for path in ("/login", "/home", "/api/me", "/health", "/openapi.json"):
        assert settings.secret_key not in client.get(path, headers=HTML).text

