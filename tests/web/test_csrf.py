"""Every unsafe request must carry the session's CSRF token, in the form or in a header."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import AGENT, PASSWORD, csrf_from

HTML = {"Accept": "text/html"}


def test_a_form_post_without_the_token_is_refused(client, log_in):
    log_in(AGENT.username)

    answer = client.post("/logout", data={}, headers=HTML, follow_redirects=False)

    assert answer.status_code == 403
    assert "这个页面已过期" in answer.text
    assert client.get("/api/me").status_code == 200  # still logged in: the logout did not happen


def test_a_form_post_with_the_token_is_accepted(client, log_in, page_token):
    log_in(AGENT.username)

    answer = client.post("/logout", data={"csrf_token": page_token()}, follow_redirects=False)

    assert answer.status_code == 303


def test_a_wrong_token_is_refused_as_json_for_api_clients(client, log_in, page_token):
    log_in(AGENT.username)
    token = page_token()

    answer = client.post("/logout", data={"csrf_token": token[:-1] + "x"}, follow_redirects=False)

    assert answer.status_code == 403
    assert answer.json() == {"detail": "CSRF token missing or wrong"}


def test_logging_in_needs_the_token_too(client):
    # Without it another site could log a victim into the attacker's account.
    form = {"username": AGENT.username, "password": PASSWORD}

    answer = client.post("/login", data=form, follow_redirects=False)

    assert answer.status_code == 403
    assert client.get("/api/me").status_code == 401


def test_htmx_requests_send_the_token_as_a_header(client, log_in):
    log_in(AGENT.username)
    home = client.get("/home", headers=HTML)
    token = csrf_from(home.text)
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in home.text

    answer = client.post("/logout", headers={"X-CSRF-Token": token, "HX-Request": "true"})

    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"] == "/login"


def test_a_token_from_another_session_is_refused(app, client, log_in):
    log_in(AGENT.username)
    with TestClient(app) as attacker:
        foreign_token = csrf_from(attacker.get("/login", headers=HTML).text)

    answer = client.post("/logout", data={"csrf_token": foreign_token}, follow_redirects=False)

    assert answer.status_code == 403


def test_logging_in_replaces_the_token_seen_before(client, log_in):
    before = csrf_from(client.get("/login", headers=HTML).text)
    log_in(AGENT.username)

    answer = client.post("/logout", data={"csrf_token": before}, follow_redirects=False)

    assert answer.status_code == 403
