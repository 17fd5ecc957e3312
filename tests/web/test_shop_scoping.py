"""Staff see their own shop only; another shop's id looks exactly like a missing one."""

from __future__ import annotations

from .conftest import AGENT, OTHER_SHOP_AGENT, SHUMA, YIYI

HTML = {"Accept": "text/html"}


def test_me_names_the_staff_member_and_their_shop(client, log_in):
    log_in(AGENT.username)

    me = client.get("/api/me").json()

    assert me["staff"]["username"] == AGENT.username
    assert me["staff"]["nickname"] == AGENT.nickname
    assert me["staff"]["role"] == "agent"
    assert "password_hash" not in me["staff"]
    assert me["shop"] == {"id": YIYI[0], "name": YIYI[1], "category": YIYI[2], "timezone": "Asia/Shanghai"}


def test_an_agent_reads_their_own_shop(client, log_in):
    log_in(AGENT.username)

    answer = client.get(f"/api/shops/{YIYI[0]}")

    assert answer.status_code == 200
    assert answer.json()["name"] == "悦衣坊旗舰店"


def test_another_shop_is_the_same_404_as_a_missing_one(client, log_in):
    log_in(AGENT.username)

    other = client.get(f"/api/shops/{SHUMA[0]}")
    missing = client.get("/api/shops/no-such-shop")

    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == {"detail": "Not found"}
    assert SHUMA[1] not in other.text


def test_the_home_page_shows_only_the_agents_shop(client, log_in):
    log_in(OTHER_SHOP_AGENT.username)

    home = client.get("/home", headers=HTML)

    assert OTHER_SHOP_AGENT.shop_name in home.text
    assert YIYI[1] not in home.text
    assert client.get(f"/api/shops/{YIYI[0]}").status_code == 404


def test_the_api_needs_a_login(client):
    assert client.get("/api/me").status_code == 401
    assert client.get(f"/api/shops/{YIYI[0]}").json() == {"detail": "Not logged in"}
