"""The REST API (/api/v1) and pictures, through HTTP: connectors with API keys, buyers with tokens.

Every test runs on SQLite and on PostgreSQL (the `db_url` fixture). The isolation tests are the
point: a buyer reads only their own conversations, a connector only its own shop's, and what is
not theirs answers exactly like what does not exist.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kefu.desk.api_keys import create_api_key, revoke_api_key
from kefu.desk.buyer_tokens import make_token
from kefu.desk.chat_access import buyer_secret
from kefu.desk.rate_limit import RateLimiter
from kefu.desk.webhooks import verify
from kefu.store.engine import make_sessionmaker, session_scope, writing
from kefu.store.models import ApiKey, Conversation, Message, WebhookDelivery

from .conftest import AGENT, OTHER_SHOP_AGENT, SHUMA, YIYI

SHOP, OTHER_SHOP = YIYI[0], SHUMA[0]
NOT_FOUND = {"detail": "Not found"}


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def keys(seeded: Engine) -> dict[str, str]:
    """An API key for each shop, and each shop's buyer-token secret."""
    made = {}
    # Reads, then writes while the app runs: the write lock is taken up front (SQLite).
    with session_scope(make_sessionmaker(writing(seeded))) as session:
        for shop_id in (SHOP, OTHER_SHOP):
            _, made[shop_id] = create_api_key(session, shop_id, f"{shop_id} relay", datetime.now(UTC))
            made[f"{shop_id}:secret"] = buyer_secret(session, shop_id)
    return made


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def buyer_token(
    keys: dict[str, str], shop_id: str, buyer_id: str, *, expires_in: timedelta | None = None
) -> str:
    expires = datetime.now(UTC) + (expires_in or timedelta(hours=1))
    return make_token(keys[f"{shop_id}:secret"], shop_id, buyer_id, expires)


def relay(
    client: TestClient, key: str, buyer_id: str, client_msg_id: str, text: str = "在吗？", **extra: Any
):
    body = {"buyer_id": buyer_id, "client_msg_id": client_msg_id, "text": text, **extra}
    return client.post("/api/v1/messages", json=body, headers=bearer(key))


# --- credentials ----------------------------------------------------------------------------


def test_the_connector_api_needs_a_known_key(client, keys):
    missing = client.get("/api/v1/conversations")
    unknown = client.get("/api/v1/conversations", headers=bearer("kefu_" + "x" * 43))
    not_a_key = client.get("/api/v1/conversations", headers=bearer("let-me-in"))
    good = client.get("/api/v1/conversations", headers=bearer(keys[SHOP]))

    assert missing.status_code == unknown.status_code == not_a_key.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert unknown.json() == {"detail": "API key unknown or revoked"}
    assert good.status_code == 200


def test_a_revoked_key_stops_working(client, keys, seeded):
    assert client.get("/api/v1/webhooks", headers=bearer(keys[SHOP])).status_code == 200
    with session_scope(make_sessionmaker(writing(seeded))) as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.shop_id == SHOP)).one()
        revoke_api_key(session, SHOP, key_id)

    assert client.get("/api/v1/webhooks", headers=bearer(keys[SHOP])).status_code == 401


def test_only_the_keys_hash_is_stored_and_its_use_is_noted(client, keys, seeded):
    client.get("/api/v1/conversations", headers=bearer(keys[SHOP]))

    with session_scope(make_sessionmaker(seeded)) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.shop_id == SHOP)).one()
        assert keys[SHOP] not in (row.key_sha256, row.name)
        assert row.last_used_at is not None


# --- relaying a buyer's messages in ---------------------------------------------------------


def test_a_relayed_message_opens_the_buyers_conversation_and_is_stored(client, keys, seeded):
    first = relay(client, keys[SHOP], "tb_wang", "tb-1", "请问有XL码吗？", nickname="小王", channel="taobao")
    second = relay(client, keys[SHOP], "tb_wang", "tb-2", "急用")

    assert first.status_code == second.status_code == 201
    assert first.json()["conversation_id"] == second.json()["conversation_id"]
    assert (first.json()["seq"], second.json()["seq"], first.json()["duplicate"]) == (1, 2, False)
    conversation_id = first.json()["conversation_id"]
    read = client.get(f"/api/v1/conversations/{conversation_id}", headers=bearer(keys[SHOP])).json()
    assert (read["buyer_id"], read["status"], read["channel"], read["last_sender"]) == (
        "tb_wang",
        "open",
        "taobao",
        "buyer",
    )
    assert read["waiting_since"] is not None
    messages = client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=bearer(keys[SHOP])
    ).json()
    assert [(m["seq"], m["sender"], m["text"], m["client_msg_id"]) for m in messages["messages"]] == [
        (1, "buyer", "请问有XL码吗？", "tb-1"),
        (2, "buyer", "急用", "tb-2"),
    ]


def test_a_repeated_client_msg_id_stores_nothing_new(client, keys, seeded):
    first = relay(client, keys[SHOP], "tb_wang", "tb-1", "在吗？")
    again = relay(client, keys[SHOP], "tb_wang", "tb-1", "在吗？")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    with session_scope(make_sessionmaker(seeded)) as session:
        assert len(session.scalars(select(Message)).all()) == 1


def test_catching_up_after_a_seq(client, keys):
    for number in range(1, 5):
        ack = relay(client, keys[SHOP], "tb_wang", f"tb-{number}", f"第{number}条")
    conversation_id = ack.json()["conversation_id"]

    later = client.get(
        f"/api/v1/conversations/{conversation_id}/messages?after_seq=2", headers=bearer(keys[SHOP])
    ).json()

    assert [m["seq"] for m in later["messages"]] == [3, 4]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "长" * 2001}, "text"),
        ({"kind": "image", "text": ""}, "payload"),
        ({"kind": "video"}, "kind"),
        ({"buyer_id": ""}, "buyer_id"),
        ({"client_msg_id": "x" * 65}, "client_msg_id"),
        ({"channel": "Tao Bao"}, "channel"),
    ],
)
def test_a_message_that_breaks_a_rule_is_refused_naming_the_field(client, keys, body, field):
    answer = client.post(
        "/api/v1/messages",
        json={"buyer_id": "tb_wang", "client_msg_id": "tb-1", "text": "在吗", **body},
        headers=bearer(keys[SHOP]),
    )

    assert answer.status_code == 422
    assert field in json.dumps(answer.json())


def test_a_card_may_name_only_the_shops_own_things(client, keys):
    answer = relay(
        client, keys[SHOP], "tb_wang", "tb-1", "", kind="product", payload={"product_id": "not-ours"}
    )

    assert answer.status_code == 404


def test_a_buyer_sending_too_fast_is_told_to_wait(client, keys, app):
    app.state.desk.buyer_limits = RateLimiter(rate=0.01, burst=2)

    answers = [relay(client, keys[SHOP], "tb_wang", f"tb-{n}").status_code for n in range(3)]
    refused = relay(client, keys[SHOP], "tb_wang", "tb-9")
    someone_else = relay(client, keys[SHOP], "tb_li", "tb-1")

    assert answers == [201, 201, 429]
    assert int(refused.headers["Retry-After"]) >= 1
    assert someone_else.status_code == 201


def test_bearer_requests_need_no_csrf_token_but_cookie_posts_still_do(client, keys, log_in):
    log_in(AGENT.username)  # a login cookie is present, as in a browser that also runs a connector

    with_key = relay(client, keys[SHOP], "tb_wang", "tb-1")
    cookie_only = client.post(
        "/api/v1/messages", json={"buyer_id": "tb_wang", "client_msg_id": "x", "text": "hi"}
    )

    assert with_key.status_code == 201
    assert cookie_only.status_code == 403  # the API never takes the cookie as a credential


# --- isolation: shops and buyers ------------------------------------------------------------


def test_a_connector_cannot_read_another_shops_conversation(client, keys):
    theirs = relay(client, keys[OTHER_SHOP], "jd_zhao", "jd-1", "屏幕有坏点").json()["conversation_id"]
    mine = relay(client, keys[SHOP], "tb_wang", "tb-1").json()["conversation_id"]
    key = bearer(keys[SHOP])

    other = client.get(f"/api/v1/conversations/{theirs}", headers=key)
    other_messages = client.get(f"/api/v1/conversations/{theirs}/messages", headers=key)
    missing = client.get("/api/v1/conversations/c-no-such-thing", headers=key)
    listed = client.get("/api/v1/conversations", headers=key).json()

    assert other.status_code == other_messages.status_code == missing.status_code == 404
    assert other.json() == other_messages.json() == missing.json() == NOT_FOUND
    assert "屏幕" not in other_messages.text
    assert [c["id"] for c in listed["conversations"]] == [mine]
    assert client.get(f"/api/v1/conversations/{theirs}", headers=bearer(keys[OTHER_SHOP])).status_code == 200


def test_a_connector_cannot_post_into_another_shop_by_naming_its_buyer(client, keys):
    theirs = relay(client, keys[OTHER_SHOP], "jd_zhao", "jd-1").json()["conversation_id"]

    mine = relay(client, keys[SHOP], "jd_zhao", "tb-1", "same buyer id, other shop").json()

    assert mine["conversation_id"] != theirs
    messages = client.get(f"/api/v1/conversations/{theirs}/messages", headers=bearer(keys[OTHER_SHOP])).json()
    assert len(messages["messages"]) == 1


def test_a_buyer_reads_their_own_conversations_only(client, keys):
    wang = relay(client, keys[SHOP], "wang", "m-1", "王的消息").json()["conversation_id"]
    li = relay(client, keys[SHOP], "li", "m-1", "李的私事").json()["conversation_id"]
    as_wang = bearer(buyer_token(keys, SHOP, "wang"))

    listed = client.get(f"/api/v1/chat/{SHOP}/conversations", headers=as_wang)
    own = client.get(f"/api/v1/chat/{SHOP}/conversations/{wang}/messages", headers=as_wang)
    other = client.get(f"/api/v1/chat/{SHOP}/conversations/{li}/messages", headers=as_wang)
    missing = client.get(f"/api/v1/chat/{SHOP}/conversations/c-no-such-thing/messages", headers=as_wang)

    assert [c["id"] for c in listed.json()["conversations"]] == [wang]
    assert "assigned_agent_id" not in listed.json()["conversations"][0]
    assert [m["text"] for m in own.json()["messages"]] == ["王的消息"]
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == NOT_FOUND
    assert "李的私事" not in other.text


def test_a_buyer_token_opens_nothing_at_another_shop(client, keys):
    theirs = relay(client, keys[OTHER_SHOP], "wang", "m-1", "数码港的对话").json()["conversation_id"]
    token = buyer_token(keys, SHOP, "wang")  # the same buyer id, but vouched for by the first shop

    listed = client.get(f"/api/v1/chat/{OTHER_SHOP}/conversations", headers=bearer(token))
    messages = client.get(f"/api/v1/chat/{OTHER_SHOP}/conversations/{theirs}/messages", headers=bearer(token))
    via_own_shop = client.get(f"/api/v1/chat/{SHOP}/conversations/{theirs}/messages", headers=bearer(token))

    assert listed.status_code == messages.status_code == 401
    assert via_own_shop.status_code == 404


def test_expired_forged_and_missing_buyer_tokens_are_refused(client, keys):
    path = f"/api/v1/chat/{SHOP}/conversations"
    expired = buyer_token(keys, SHOP, "wang", expires_in=timedelta(seconds=-1))
    body, _, signature = buyer_token(keys, SHOP, "wang").partition(".")
    li_body = buyer_token(keys, SHOP, "li").partition(".")[0]

    assert client.get(path).status_code == 401
    assert client.get(path, headers=bearer(expired)).json() == {"detail": "buyer token refused: expired"}
    assert client.get(path, headers=bearer(f"{li_body}.{signature}")).json() == {
        "detail": "buyer token refused: bad signature"
    }
    assert client.get(path, headers=bearer(keys[SHOP])).status_code == 401  # an API key is not a buyer
    assert client.get(path, headers=bearer(f"{body}.{signature}")).status_code == 200


def test_a_buyer_token_is_no_api_key(client, keys):
    answer = client.get("/api/v1/conversations", headers=bearer(buyer_token(keys, SHOP, "wang")))

    assert answer.status_code == 401


# --- webhooks -------------------------------------------------------------------------------


def test_webhooks_are_created_listed_and_deleted_per_shop(client, keys):
    key, other_key = bearer(keys[SHOP]), bearer(keys[OTHER_SHOP])
    created = client.post(
        "/api/v1/webhooks",
        json={"url": "https://relay.example.com/kefu", "events": ["conversation.closed", "message.created"]},
        headers=key,
    )

    assert created.status_code == 201
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_")
    assert webhook["events"] == ["message.created", "conversation.closed"]  # the vocabulary's order
    listed = client.get("/api/v1/webhooks", headers=key).json()
    assert [w["id"] for w in listed] == [webhook["id"]]
    assert "secret" not in listed[0]
    assert client.get("/api/v1/webhooks", headers=other_key).json() == []
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=other_key).status_code == 404
    assert client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=other_key).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=key).status_code == 204
    assert client.get("/api/v1/webhooks", headers=key).json() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "ftp://relay.example.com/x"}, "not an http(s) URL"),
        ({"url": "relay.example.com"}, "not an http(s) URL"),
        ({"url": "https://relay.example.com", "events": ["message.deleted"]}, "'message.deleted' unknown"),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_reason(client, keys, body, reason):
    answer = client.post("/api/v1/webhooks", json=body, headers=bearer(keys[SHOP]))

    assert answer.status_code == 422
    assert reason in answer.json()["detail"]


def test_a_webhook_into_the_servers_own_network_is_refused(client, keys, monkeypatch):
    monkeypatch.setattr(client.app.state.settings, "webhook_private_networks", False)  # the default
    answer = client.post(
        "/api/v1/webhooks", json={"url": "http://169.254.169.254/latest"}, headers=bearer(keys[SHOP])
    )

    assert answer.status_code == 422
    assert "169.254.169.254 is a loopback, private or link-local address" in answer.json()["detail"]


class Receiver:
    """A marketplace connector's endpoint: a real local HTTP server recording what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()
                receiver.arrived.set()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kefu-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_relayed_message_comes_back_signed_through_the_webhook(client, keys, receiver, seeded):
    created = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["message.created"]},
        headers=bearer(keys[SHOP]),
    ).json()

    ack = relay(client, keys[SHOP], "tb_wang", "tb-1", "请问有XL码吗？", channel="taobao").json()

    with session_scope(make_sessionmaker(seeded)) as session:
        (queued,) = session.scalars(select(WebhookDelivery)).all()
        assert queued.payload["data"]["client_msg_id"] == "tb-1"
    # The app's own background deliverer posts it (it polls every second).
    assert receiver.arrived.wait(10), "the webhook was not delivered"
    ((headers, body),) = receiver.received
    verify(created["secret"], headers["x-kefu-signature"], body, now=datetime.now(UTC).timestamp())
    event = json.loads(body)
    assert event["event"] == "message.created"
    assert event["data"]["buyer_id"] == "tb_wang"
    assert event["data"]["channel"] == "taobao"
    assert (event["data"]["conversation_id"], event["data"]["seq"]) == (ack["conversation_id"], ack["seq"])
    assert event["data"]["text"] == "请问有XL码吗？"


# --- pictures -------------------------------------------------------------------------------


def upload_as_buyer(client: TestClient, keys, buyer_id: str, data: bytes, **params: str):
    token = buyer_token(keys, SHOP, buyer_id)
    return client.post(
        f"/chat/{SHOP}/uploads",
        content=data,
        params=params,
        headers={**bearer(token), "Content-Type": "image/png"},
    )


def test_a_buyers_picture_is_served_to_them_and_the_shops_staff_only(client, keys, log_in):
    conversation_id = relay(client, keys[SHOP], "wang", "m-1").json()["conversation_id"]
    answer = upload_as_buyer(client, keys, "wang", png(), conversation_id=conversation_id)
    assert answer.status_code == 201
    url = answer.json()["url"]

    own = client.get(url, params={"token": buyer_token(keys, SHOP, "wang")})
    other_buyer = client.get(url, params={"token": buyer_token(keys, SHOP, "li")})
    nobody = client.get(url)
    connector = client.get(url, headers=bearer(keys[SHOP]))
    other_connector = client.get(url, headers=bearer(keys[OTHER_SHOP]))
    log_in(OTHER_SHOP_AGENT.username)
    other_staff = client.get(url)
    log_in(AGENT.username)
    staff = client.get(url)

    assert own.status_code == connector.status_code == staff.status_code == 200
    assert own.content == png()
    assert own.headers["content-type"] == "image/png"
    assert own.headers["x-content-type-options"] == "nosniff"
    assert own.headers["content-disposition"] == "inline"
    assert "sandbox" in own.headers["content-security-policy"]
    for refused in (other_buyer, nobody, other_connector, other_staff):
        assert refused.status_code == 404
        assert refused.json() == NOT_FOUND


def test_a_picture_is_typed_by_its_bytes_not_by_what_the_client_says(client, keys):
    html = upload_as_buyer(client, keys, "wang", b"<html><script>alert(1)</script></html>")
    mislabelled = client.post(
        f"/chat/{SHOP}/uploads",
        files={"file": ("cat.png", b"<svg onload=alert(1)/>", "image/png")},
        headers=bearer(buyer_token(keys, SHOP, "wang")),
    )
    multipart = client.post(
        f"/chat/{SHOP}/uploads",
        files={"file": ("photo.bin", png(), "application/octet-stream")},
        headers=bearer(buyer_token(keys, SHOP, "wang")),
    )

    assert html.status_code == mislabelled.status_code == 415
    assert html.json()["detail"]["code"] == "unsupported_type"
    assert multipart.status_code == 201
    assert multipart.json()["content_type"] == "image/png"


def test_a_picture_over_five_megabytes_is_refused(client, keys):
    big = png() + b"\x00" * (5 * 1024 * 1024)

    answer = upload_as_buyer(client, keys, "wang", big)

    assert answer.status_code == 413
    assert "at most 5,242,880" in answer.json()["detail"]["message"]


def test_a_buyer_cannot_attach_a_picture_to_anothers_conversation(client, keys):
    li = relay(client, keys[SHOP], "li", "m-1").json()["conversation_id"]

    answer = upload_as_buyer(client, keys, "wang", png(), conversation_id=li)

    assert answer.status_code == 404


def test_a_connector_relays_a_picture_as_an_image_message(client, keys):
    stored = client.post(
        "/api/v1/uploads", content=png(), headers={**bearer(keys[SHOP]), "Content-Type": "image/png"}
    ).json()

    ack = relay(
        client, keys[SHOP], "tb_wang", "tb-1", "", kind="image", payload={"upload_id": stored["upload_id"]}
    )
    foreign = client.post(
        "/api/v1/uploads", content=png(), headers={**bearer(keys[OTHER_SHOP]), "Content-Type": "image/png"}
    ).json()
    refused = relay(
        client, keys[SHOP], "tb_wang", "tb-2", "", kind="image", payload={"upload_id": foreign["upload_id"]}
    )

    assert ack.status_code == 201
    assert refused.status_code == 404
    messages = client.get(
        f"/api/v1/conversations/{ack.json()['conversation_id']}/messages", headers=bearer(keys[SHOP])
    ).json()["messages"]
    assert [(m["kind"], m["payload"]) for m in messages] == [("image", {"upload_id": stored["upload_id"]})]


# --- documentation --------------------------------------------------------------------------


def test_the_api_is_described_in_openapi_with_both_kinds_of_credential(client):
    spec = client.get("/openapi.json").json()

    schemes = spec["components"]["securitySchemes"]
    assert {"ApiKey", "BuyerToken"} <= set(schemes)
    post = spec["paths"]["/api/v1/messages"]["post"]
    assert post["security"] == [{"ApiKey": []}]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("BuyerMessageIn")
    assert {"201", "200", "401", "422", "429"} <= set(post["responses"])
    assert spec["paths"]["/api/v1/chat/{shop_id}/conversations"]["get"]["security"] == [{"BuyerToken": []}]
    for path in (
        "/api/v1/conversations",
        "/api/v1/webhooks",
        "/api/v1/uploads",
        "/chat/{shop_id}/uploads",
    ):
        assert path in spec["paths"]


def test_conversations_of_the_store_carry_what_the_connector_needs(client, keys, seeded):
    with session_scope(make_sessionmaker(seeded)) as session:
        session.add(Conversation(id="imported-1", shop_id=SHOP, buyer_id="old_buyer", status="closed"))

    answer = client.get("/api/v1/conversations?status=closed", headers=bearer(keys[SHOP])).json()

    assert [(c["id"], c["last_seq"], c["channel"]) for c in answer["conversations"]] == [
        ("imported-1", None, "web")
    ]
    assert answer["next_offset"] is None
