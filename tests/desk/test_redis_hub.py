"""Server processes share the live desk through Redis: what one process stores, another's sockets hear."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from websockets.sync.client import connect

from kefu.desk.buyer_tokens import make_token
from kefu.desk.hub import RedisHub
from kefu.store.engine import make_engine, make_sessionmaker, session_scope
from kefu.store.models import Shop, Staff
from kefu.web.sessions import COOKIE_NAME, SessionCodec, log_in
from tests.conftest import IN_CI, POSTGRES_URL

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL")
SECRET_KEY = "test-secret-for-two-processes"
TOKEN_SECRET = "shop-secret-for-tests"
PASSWORD_HASH = "not-a-real-hash: this agent's cookie is made by the test"


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        if IN_CI:
            pytest.fail("CI=true but KEFU_TEST_REDIS_URL is not set: run the tests through `make test`")
        pytest.skip("Redis test server not running (make test starts it; CI never skips)")
    return REDIS_URL


class Listening:
    """A registry listener that records what it is given."""

    def __init__(self, shop_id: str, *, is_staff: bool) -> None:
        self.shop_id, self.is_staff, self.agent_id = shop_id, is_staff, None
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    def deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.arrived.set()


def test_two_redis_hubs_deliver_each_others_events(redis_url: str):
    async def scenario() -> None:
        first, second = RedisHub(redis_url), RedisHub(redis_url)
        await first.start()
        await second.start()
        try:
            buyer, agent = Listening("yiyi", is_staff=False), Listening("yiyi", is_staff=True)
            first.registry.watch(buyer, "c1")
            second.registry.add(agent)
            second.registry.watch(agent, "c1")
            message = {
                "type": "message",
                "shop_id": "yiyi",
                "conversation_id": "c1",
                "seq": 1,
                "text": "在吗",
            }
            note = {"type": "note", "shop_id": "yiyi", "conversation_id": "c1", "text": "VIP"}
            await first.publish([message])
            await asyncio.wait_for(agent.arrived.wait(), 5)
            await asyncio.wait_for(buyer.arrived.wait(), 5)  # the publisher's own sockets hear it too
            await second.publish([note])
            while len(agent.events) < 2:
                agent.arrived.clear()
                await asyncio.wait_for(agent.arrived.wait(), 5)
            await first.publish([{**message, "seq": 2}])
            while len(buyer.events) < 2:
                buyer.arrived.clear()
                await asyncio.wait_for(buyer.arrived.wait(), 5)
            assert [e["type"] for e in agent.events[:2]] == ["message", "note"]
            # The note went through the channel too, but never to the buyer's socket.
            assert [(e["type"], e["seq"]) for e in buyer.events] == [("message", 1), ("message", 2)]
        finally:
            await first.stop()
            await second.stop()

    asyncio.run(scenario())


# --- two server processes -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def shared_store(postgres_template: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database (a copy of the migrated template) that both processes use."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL test server not running (make test starts it; CI never skips)")
    name = f"kefu_redis_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {postgres_template}"))
    yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _agent_cookie(db_url: str) -> str:
    """A shop whose buyers may chat, one agent online in it, and that agent's login cookie."""
    engine = make_engine(db_url)
    with session_scope(make_sessionmaker(engine)) as session:
        session.add(
            Shop(id="yiyi", name="悦衣坊旗舰店", category="clothing", buyer_token_secret=TOKEN_SECRET)
        )
        session.flush()
        agent = Staff(
            shop_id="yiyi",
            agent_id="yiyi_a01",
            username="xiaomei",
            nickname="小美",
            role="agent",
            password_hash=PASSWORD_HASH,
            presence="online",
        )
        session.add(agent)
        session.flush()
        staff_id = agent.id
    engine.dispose()
    codec = SessionCodec(SECRET_KEY, 3600)
    login: dict[str, Any] = {}
    log_in(login, staff_id, codec.password_fingerprint(staff_id, PASSWORD_HASH))
    return codec.dumps(login)


@pytest.fixture
def two_servers(shared_store: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[list[int], str]]:
    cookie = _agent_cookie(shared_store)
    ports = [_free_port(), _free_port()]
    env = {
        **os.environ,
        "KEFU_SECRET_KEY": SECRET_KEY,
        "KEFU_DATA_DIR": str(tmp_path),
        "KEFU_REDIS_URL": redis_url,
        "KEFU_DATABASE_URL": shared_store,
    }
    servers = [
        subprocess.Popen(
            [sys.executable, "-c", "from kefu.cli import main; main()", "serve", "--port", str(port)],
            env=env,
            stdout=(tmp_path / f"server-{port}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        for port, server in zip(ports, servers, strict=True):
            _wait_until_serving(port, server)
        yield ports, cookie
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(15)


def _wait_until_serving(port: int, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server on port {port} exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a starting process, not waiting for an outcome
    raise AssertionError(f"the server on port {port} did not start in {seconds} s")


def _until(ws, wanted, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        frame = json.loads(ws.recv(timeout=10))
        if wanted(frame):
            return frame
    raise AssertionError("the expected frame never came")


@pytest.mark.postgres
def test_a_buyer_on_one_process_reaches_an_agent_on_another(two_servers):
    (port_a, port_b), cookie = two_servers
    token = make_token(TOKEN_SECRET, "yiyi", "b1", datetime.now(UTC) + timedelta(hours=1), nickname="b1")
    with (
        connect(
            f"ws://127.0.0.1:{port_b}/ws/desk", additional_headers={"Cookie": f"{COOKIE_NAME}={cookie}"}
        ) as agent,
        connect(f"ws://127.0.0.1:{port_a}/ws/chat/yiyi?token={token}") as buyer,
    ):
        assert json.loads(agent.recv(timeout=10))["agent_id"] == "yiyi_a01"
        assert json.loads(buyer.recv(timeout=10))["type"] == "welcome"
        buyer.send(json.dumps({"type": "send", "client_msg_id": "m1", "text": "还有货吗"}))
        ack = _until(buyer, lambda f: f["type"] == "ack")
        assigned = _until(agent, lambda f: f["type"] == "conversation")
        assert assigned["assigned_agent_id"] == "yiyi_a01"
        heard = _until(agent, lambda f: f["type"] == "message")
        assert (heard["conversation_id"], heard["seq"], heard["text"]) == (
            ack["conversation_id"],
            1,
            "还有货吗",
        )

        agent.send(
            json.dumps(
                {
                    "type": "send",
                    "client_msg_id": "a1",
                    "conversation_id": ack["conversation_id"],
                    "text": "有的",
                }
            )
        )
        assert _until(agent, lambda f: f["type"] == "ack")["seq"] == 2
        reply = _until(buyer, lambda f: f["type"] == "message" and f["sender"] == "agent")
        assert (reply["text"], reply["nickname"]) == ("有的", "小美")
