"""Webhooks: signed, queued with the change that caused them, posted to a real receiver, retried."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from kefu.desk import webhooks
from kefu.desk.webhooks import (
    BadSignature,
    WebhookDeliverer,
    WebhookEvent,
    enqueue,
    enqueue_messages,
    retry_delay,
    sign,
    verify,
)
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.live_messages import NewMessage, StoredMessage, write_batch
from kefu.store.models import Conversation, Shop, Webhook, WebhookDelivery

T0 = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
SECRET = "whsec_test-secret-0123456789"


# --- signing --------------------------------------------------------------------------------


def test_a_signature_verifies_against_the_same_body_and_time():
    body = b'{"event":"message.created","data":{"text":"\xe4\xbd\xa0\xe5\xa5\xbd"}}'
    header = sign(SECRET, 1_779_000_000, body)

    assert header.startswith("t=1779000000,v1=")
    verify(SECRET, header, body, now=1_779_000_000 + 299)  # no exception: genuine


@pytest.mark.parametrize(
    ("secret", "body", "now", "reason"),
    [
        (SECRET, b'{"event":"message.created","data":{}}', 1_779_000_000, "does not match"),  # body changed
        ("whsec_another", b'{"event":"message.created"}', 1_779_000_000, "does not match"),
        (SECRET, b'{"event":"message.created"}', 1_779_000_000 + 301, "more than 300 s"),  # replayed later
        (SECRET, b'{"event":"message.created"}', 1_779_000_000 - 301, "more than 300 s"),
    ],
)
def test_a_changed_body_another_secret_or_a_stale_time_is_refused(secret, body, now, reason):
    header = sign(SECRET, 1_779_000_000, b'{"event":"message.created"}')

    with pytest.raises(BadSignature, match=reason):
        verify(secret, header, body, now=now)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=abc", "t=1779000000", "sha256=abc"])
def test_a_missing_or_malformed_header_is_refused(header):
    with pytest.raises(BadSignature, match="X-Kefu-Signature"):
        verify(SECRET, header, b"{}", now=1_779_000_000)


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated():
    body = b"{}"
    old = sign("whsec_old", 1_779_000_000, body).split(",")[1]
    new = sign(SECRET, 1_779_000_000, body).split(",")[1]

    verify(SECRET, f"t=1779000000,{old},{new}", body, now=1_779_000_000)
    with pytest.raises(BadSignature):
        verify(SECRET, f"t=1779000000,{old}", body, now=1_779_000_000)


def test_retries_double_from_thirty_seconds_up_to_an_hour():
    delays = [retry_delay(n).total_seconds() for n in range(1, 11)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


# --- the outbox -----------------------------------------------------------------------------


@pytest.fixture
def shops(engine: Engine) -> Engine:
    with session_scope(make_sessionmaker(engine)) as session:
        session.add_all([Shop(id="yiyi", name="悦衣坊旗舰店"), Shop(id="shuma", name="数码港专营店")])
        session.flush()
        session.add(
            Conversation(id="c1", shop_id="yiyi", buyer_id="tb_buyer_1", status="open", channel="taobao")
        )
    return engine


def add_webhook(engine: Engine, shop_id: str, url: str, events: list[str], *, active: bool = True) -> int:
    with session_scope(make_sessionmaker(engine)) as session:
        webhook = Webhook(
            shop_id=shop_id, url=url, secret=SECRET, events=events, active=active, created_at=T0
        )
        session.add(webhook)
        session.flush()
        return webhook.id


def queued(engine: Engine) -> list[WebhookDelivery]:
    with session_scope(make_sessionmaker(engine)) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


class Statements:
    """The SQL statements an engine runs (and how many parameter sets each had)."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, bool]] = []
        event.listen(engine, "before_cursor_execute", self._record)
        self.engine = engine

    def _record(self, _conn, _cursor, statement, _parameters, _context, executemany) -> None:
        self.seen.append((statement.split()[0].upper(), executemany))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_events_go_to_the_shops_subscribed_active_webhooks_only(shops):
    everything = add_webhook(shops, "yiyi", "http://relay.test/all", [])
    messages_only = add_webhook(shops, "yiyi", "http://relay.test/messages", ["message.created"])
    add_webhook(shops, "yiyi", "http://relay.test/off", [], active=False)
    other_shop = add_webhook(shops, "shuma", "http://relay.test/shuma", [])

    with shops.begin() as conn:
        count = enqueue(
            conn,
            [
                WebhookEvent("yiyi", "conversation.closed", {"conversation_id": "c1"}),
                WebhookEvent("yiyi", "message.created", {"conversation_id": "c1", "seq": 1}),
            ],
            T0,
        )

    rows = queued(shops)
    assert count == 3
    assert sorted((row.webhook_id, row.event) for row in rows) == sorted(
        [
            (everything, "conversation.closed"),
            (everything, "message.created"),
            (messages_only, "message.created"),
        ]
    )
    assert other_shop not in {row.webhook_id for row in rows}
    (closed,) = [row for row in rows if row.event == "conversation.closed"]
    assert closed.payload == {
        "event": "conversation.closed",
        "shop_id": "yiyi",
        "created_at": T0.isoformat(),
        "data": {"conversation_id": "c1"},
    }
    assert (closed.attempts, closed.next_attempt_at, closed.delivered_at) == (0, T0, None)


def test_enqueue_is_one_select_and_one_executemany_insert(shops):
    for number in range(3):
        add_webhook(shops, "yiyi", f"http://relay.test/{number}", [])
    events = [WebhookEvent("yiyi", "message.created", {"seq": seq}) for seq in range(5)]
    statements = Statements(shops)

    with shops.begin() as conn:
        statements.seen.clear()  # the BEGIN of SQLite's engine hook is not ours
        enqueue(conn, events, T0)
    statements.close()

    ours = [(verb, many) for verb, many in statements.seen if verb in ("SELECT", "INSERT")]
    assert ours == [("SELECT", False), ("INSERT", True)]
    assert len(queued(shops)) == 15


def test_nothing_is_inserted_when_no_webhook_listens(shops):
    add_webhook(shops, "shuma", "http://relay.test/shuma", [])
    statements = Statements(shops)

    with shops.begin() as conn:
        statements.seen.clear()
        count = enqueue(conn, [WebhookEvent("yiyi", "message.created", {})], T0)
    statements.close()

    assert count == 0
    assert [verb for verb, _ in statements.seen if verb in ("SELECT", "INSERT")] == ["SELECT"]


def test_an_unknown_event_name_is_refused_naming_it(shops):
    with shops.begin() as conn, pytest.raises(ValueError, match=r"'message\.deleted' is not one of"):
        enqueue(conn, [WebhookEvent("yiyi", "message.deleted", {})], T0)


def test_a_rolled_back_change_leaves_no_delivery(shops):
    add_webhook(shops, "yiyi", "http://relay.test/all", [])

    with pytest.raises(RuntimeError), shops.begin() as conn:
        enqueue(conn, [WebhookEvent("yiyi", "conversation.closed", {"conversation_id": "c1"})], T0)
        raise RuntimeError("the change itself failed")

    assert queued(shops) == []


def test_message_events_carry_the_buyer_and_channel_for_the_connector(shops):
    add_webhook(shops, "yiyi", "http://relay.test/all", ["message.created"])
    stored = StoredMessage(
        conversation_id="c1",
        shop_id="yiyi",
        seq=7,
        sender="agent",
        agent_id="yiyi_a01",
        kind="text",
        text="有的，XL码还有货。",
        payload=None,
        sent_at=T0,
        client_msg_id="m-1",
        nickname="小美",
    )

    with shops.begin() as conn:
        assert enqueue_messages(conn, [stored], T0) == 1

    (row,) = queued(shops)
    assert row.event == "message.created"
    assert row.payload["data"] == {
        "shop_id": "yiyi",
        "conversation_id": "c1",
        "buyer_id": "tb_buyer_1",
        "channel": "taobao",
        "seq": 7,
        "sender": "agent",
        "agent_id": "yiyi_a01",
        "nickname": "小美",
        "kind": "text",
        "text": "有的，XL码还有货。",
        "payload": None,
        "sent_at": T0.isoformat(),
        "client_msg_id": "m-1",
    }


def _new(conversation_id: str, shop_id: str, text: str) -> NewMessage:
    return NewMessage(conversation_id, shop_id, "buyer", None, text, client_msg_id=f"m-{text}")


def test_the_writer_hands_the_outbox_only_messages_of_shops_with_an_active_webhook(shops):
    with session_scope(make_sessionmaker(shops)) as session:
        session.add(Conversation(id="c2", shop_id="shuma", buyer_id="tb_buyer_2", status="open"))
    add_webhook(shops, "yiyi", "http://relay.test/all", ["message.created"])
    add_webhook(shops, "shuma", "http://relay.test/off", [], active=False)
    handed: list[list[StoredMessage]] = []

    def outbox(conn, stored):
        handed.append(stored)
        enqueue_messages(conn, stored, T0)

    batch = [_new("c1", "yiyi", "在吗"), _new("c2", "shuma", "耳机有货吗"), _new("c1", "yiyi", "XL码")]
    with shops.connect() as conn:
        results = write_batch(conn, batch, T0, 0, outbox)

    assert [r.text for r in results] == ["在吗", "耳机有货吗", "XL码"]
    assert [[m.text for m in stored] for stored in handed] == [["在吗", "XL码"]]
    assert sorted(row.payload["data"]["text"] for row in queued(shops)) == ["XL码", "在吗"]


def test_a_batch_no_webhook_listens_to_never_reaches_the_outbox(shops):
    add_webhook(shops, "shuma", "http://relay.test/shuma", [])  # another shop's
    handed: list[list[StoredMessage]] = []

    with shops.connect() as conn:
        results = write_batch(conn, [_new("c1", "yiyi", "在吗")], T0, 0, lambda _c, s: handed.append(s))
        # Once the shop has a webhook, the next batch sees it: the answer is read in the batch.
        add_webhook(shops, "yiyi", "http://relay.test/yiyi", [])
        write_batch(conn, [_new("c1", "yiyi", "还在吗")], T0, 1, lambda _c, s: handed.append(s))

    assert results[0].seq == 1 and not results[0].duplicate
    assert [[m.text for m in stored] for stored in handed] == [["还在吗"]]


# --- delivery to a real receiver ------------------------------------------------------------


class Server(ThreadingHTTPServer):
    # Room for every connection two deliverers open at once (the default backlog is 5).
    request_queue_size = 64


class Receiver:
    """A local HTTP server that records what it is sent and answers with the statuses it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []  # answers to give, in order; 200 once they run out
        self.got_one = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b"try later" if status >= 500 else b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                receiver.got_one.set()

            def log_message(self, *_args: Any) -> None:  # keep test output quiet
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kefu?token=connector-own-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def queue_one(engine: Engine, url: str, payload: dict[str, Any] | None = None) -> int:
    webhook_id = add_webhook(engine, "yiyi", url, [])
    with engine.begin() as conn:
        data = payload or {"conversation_id": "c1", "agent_id": "yiyi_a01"}
        enqueue(conn, [WebhookEvent("yiyi", "conversation.closed", data)], T0)
    return webhook_id


def test_a_delivery_is_posted_signed_and_marked_delivered(shops, receiver):
    queue_one(shops, receiver.url)
    clock = Clock()
    deliverer = WebhookDeliverer(shops, private_networks=True, clock=clock)

    tried = asyncio.run(deliverer.run_once())

    assert tried == 1
    ((headers, body),) = receiver.received
    verify(SECRET, headers["x-kefu-signature"], body, now=T0.timestamp())
    sent = json.loads(body)
    (row,) = queued(shops)
    assert sent == {
        "id": row.id,
        "event": "conversation.closed",
        "shop_id": "yiyi",
        "created_at": T0.isoformat(),
        "data": {"conversation_id": "c1", "agent_id": "yiyi_a01"},
    }
    assert headers["content-type"] == "application/json"
    assert headers["x-kefu-event"] == "conversation.closed"
    assert headers["x-kefu-delivery"] == str(row.id)
    assert (row.attempts, row.delivered_at, row.last_error) == (1, T0, None)
    assert asyncio.run(deliverer.run_once()) == 0  # delivered: never sent again


def test_a_500_is_retried_after_the_backoff_with_the_same_id(shops, receiver):
    queue_one(shops, receiver.url)
    receiver.statuses = [500]
    clock = Clock()
    deliverer = WebhookDeliverer(shops, private_networks=True, clock=clock)

    asyncio.run(deliverer.run_once())
    (failed,) = queued(shops)
    again_too_soon = asyncio.run(deliverer.run_once())
    clock.now = T0 + timedelta(seconds=30)
    asyncio.run(deliverer.run_once())

    assert failed.attempts == 1
    assert failed.delivered_at is None
    assert failed.last_error == "HTTP 500: try later"
    assert failed.next_attempt_at == T0 + timedelta(seconds=30)
    assert again_too_soon == 0
    (delivered,) = queued(shops)
    assert (delivered.attempts, delivered.delivered_at) == (2, T0 + timedelta(seconds=30))
    first, second = (json.loads(body) for _, body in receiver.received)
    assert first == second  # the receiver can drop the repeat by its id
    assert deliverer.failed == 1 and deliverer.delivered == 1


def test_delivery_is_given_up_after_the_last_attempt(shops, receiver, caplog):
    queue_one(shops, receiver.url)
    receiver.statuses = [503] * 10
    clock = Clock()
    deliverer = WebhookDeliverer(shops, private_networks=True, clock=clock, max_attempts=3)

    with caplog.at_level(logging.INFO, logger="kefu.desk.webhooks"):
        for _ in range(4):
            asyncio.run(deliverer.run_once())
            clock.now += timedelta(hours=2)

    (row,) = queued(shops)
    assert len(receiver.received) == 3
    assert (row.attempts, row.delivered_at) == (3, None)
    assert row.last_error.startswith("HTTP 503")
    assert "given up after 3 attempts" in caplog.text
    # Logs name the receiver's host, never the secret or the URL's own token.
    assert SECRET not in caplog.text
    assert "connector-own-token" not in caplog.text


def test_finished_deliveries_are_deleted_after_a_week_and_pending_ones_kept(shops, receiver):
    queue_one(shops, receiver.url)
    with shops.begin() as conn:
        closed = [WebhookEvent("yiyi", "conversation.closed", {"conversation_id": f"c{n}"}) for n in range(3)]
        enqueue(conn, closed, T0)
    receiver.statuses = [200, 503, 503, 503]  # one delivered, three failing
    deliverer = WebhookDeliverer(shops, private_networks=True, clock=Clock(), max_attempts=1)
    asyncio.run(deliverer.run_once())  # one delivered, three given up (one attempt allowed)
    with session_scope(make_sessionmaker(shops)) as session:
        waiting = select(WebhookDelivery).where(WebhookDelivery.delivered_at.is_(None))
        session.scalars(waiting).first().attempts = 0  # this one is still to be tried: never deleted

    assert deliverer.purge(T0 + timedelta(days=6)) == 0
    assert deliverer.purge(T0 + timedelta(days=8)) == 3

    (left,) = queued(shops)
    assert (left.attempts, left.delivered_at) == (0, None)


def test_an_unreachable_receiver_is_recorded_as_the_error(shops, receiver):
    url = receiver.url
    receiver.close()  # nothing listens on that port any more
    queue_one(shops, url)

    asyncio.run(WebhookDeliverer(shops, private_networks=True, clock=Clock()).run_once())

    (row,) = queued(shops)
    assert row.attempts == 1
    assert row.delivered_at is None
    assert row.last_error.startswith("ConnectError")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://api.localhost./hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "http://100.64.0.1/hook",  # carrier-grade NAT, not public either
        "http://[::ffff:172.16.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_a_webhook_to_a_private_address_is_refused_when_registered(url):
    with pytest.raises(webhooks.BadWebhook, match="loopback, private or link-local"):
        webhooks.check_webhook(url, [])
    assert webhooks.check_webhook(url, [], private_networks=True)[0] == url


@pytest.mark.parametrize("url", ["https://relay.example.com/hook", "http://8.8.8.8/hook"])
def test_a_webhook_to_a_public_host_is_taken(url):
    assert webhooks.check_webhook(url, []) == (url, [])


def test_a_delivery_to_a_private_address_is_refused_and_nothing_is_posted(shops, receiver):
    queue_one(shops, receiver.url)  # on loopback: stored before the rule, or by hand

    asyncio.run(WebhookDeliverer(shops, clock=Clock()).run_once())

    (row,) = queued(shops)
    assert receiver.received == []
    assert (row.attempts, row.delivered_at) == (1, None)
    assert row.last_error.startswith("refused: 127.0.0.1") and "not a public address" in row.last_error


def test_a_host_name_is_resolved_before_each_delivery(shops, receiver):
    host = socket.gethostname()
    try:
        address = socket.getaddrinfo(host, None)[0][4][0]
    except OSError:
        pytest.skip(f"{host} does not resolve here")
    if not webhooks.not_public(address):
        pytest.skip(f"{host} resolves to a public address here")
    queue_one(shops, receiver.url.replace("127.0.0.1", host))

    asyncio.run(WebhookDeliverer(shops, clock=Clock()).run_once())

    (row,) = queued(shops)
    assert receiver.received == []
    assert row.last_error.startswith(f"refused: {host}") and address in row.last_error


def test_a_webhook_switched_off_after_the_event_gets_nothing(shops, receiver):
    webhook_id = queue_one(shops, receiver.url)
    with session_scope(make_sessionmaker(shops)) as session:
        session.get(Webhook, webhook_id).active = False

    asyncio.run(WebhookDeliverer(shops, private_networks=True, clock=Clock()).run_once())

    assert receiver.received == []


def test_two_deliverers_never_post_the_same_delivery_twice(shops, receiver):
    add_webhook(shops, "yiyi", receiver.url, [])
    with shops.begin() as conn:
        events = [WebhookEvent("yiyi", "message.created", {"seq": seq}) for seq in range(20)]
        enqueue(conn, events, T0)
    clock = Clock()
    first = WebhookDeliverer(shops, private_networks=True, clock=clock, batch_size=3)
    second = WebhookDeliverer(shops, private_networks=True, clock=clock, batch_size=3)

    async def both_until_done() -> int:
        tried = 0
        while rounds := sum(await asyncio.gather(first.run_once(), second.run_once())):
            tried += rounds
        return tried

    tried = asyncio.run(both_until_done())

    posted = [json.loads(body)["id"] for _, body in receiver.received]
    assert tried == len(posted) == 20
    assert len(set(posted)) == 20
    assert all(row.delivered_at is not None for row in queued(shops))


def test_the_background_task_delivers_without_being_asked(shops, receiver):
    queue_one(shops, receiver.url)

    async def run() -> bool:
        deliverer = WebhookDeliverer(shops, private_networks=True, poll_interval=0.05)
        deliverer.start()
        try:
            return await asyncio.to_thread(receiver.got_one.wait, 10)
        finally:
            await deliverer.stop()

    assert asyncio.run(run()) is True
    ((headers, _body),) = receiver.received
    assert headers["x-kefu-event"] == "conversation.closed"


def test_deliveries_of_a_deleted_webhook_go_with_it(shops, receiver):
    webhook_id = queue_one(shops, receiver.url)
    with session_scope(make_sessionmaker(shops)) as session:
        webhooks.delete_webhook(session, "yiyi", webhook_id)

    asyncio.run(WebhookDeliverer(shops, private_networks=True, clock=Clock()).run_once())

    assert queued(shops) == []
    assert receiver.received == []
