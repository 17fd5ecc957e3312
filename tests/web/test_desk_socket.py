"""The desk's WebSockets over a real store: stored before acknowledged, never doubled, each side its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from kefu.analytics.period import Period
from kefu.analytics.runs import run_report
from kefu.desk.buyer_tokens import make_token
from kefu.store.engine import make_sessionmaker, session_scope, writing
from kefu.store.live_messages import NewMessage, write_batch
from kefu.store.models import (
    Conversation,
    FollowUp,
    Message,
    Rating,
    RatingInvitation,
    Shop,
    Staff,
    Transfer,
)

from .conftest import AGENT, OTHER_SHOP_AGENT, SUPERVISOR, YIYI

SHOP_SECRET = "shop-secret-for-tests"


@pytest.fixture
def desk_ready(seeded: Engine) -> Engine:
    """The first shop can take buyers: a token secret, and its agent online in no skill group."""
    with session_scope(make_sessionmaker(seeded)) as session:
        session.execute(update(Shop).values(buyer_token_secret=SHOP_SECRET))
        session.execute(update(Staff).where(Staff.username == AGENT.username).values(presence="online"))
    return seeded


def token_for(buyer_id: str, shop_id: str = YIYI[0]) -> str:
    return make_token(
        SHOP_SECRET, shop_id, buyer_id, datetime.now(UTC) + timedelta(hours=1), nickname=buyer_id
    )


def receive_until(ws, wanted: Callable[[dict[str, Any]], bool], limit: int = 20) -> dict[str, Any]:
    """Frames until one matches (others, like conversation events, may come first)."""
    for _ in range(limit):
        frame = ws.receive_json()
        if wanted(frame):
            return frame
    raise AssertionError("the expected frame never came")


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame["type"] == kind


def count_messages(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Message)).scalar_one()


def test_a_buyer_message_is_stored_acknowledged_and_reaches_the_assigned_agent(
    client: TestClient, log_in, desk_ready
):
    log_in(AGENT.username)
    with (
        client.websocket_connect("/ws/desk") as agent,
        client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b1')}") as buyer,
    ):
        assert agent.receive_json()["type"] == "welcome"
        welcome = buyer.receive_json()
        assert welcome["type"] == "welcome" and welcome["conversation"] is None
        buyer.send_json({"type": "send", "client_msg_id": "m1", "text": "<script>alert(1)</script>还有货吗"})
        ack = receive_until(buyer, of_type("ack"))
        assert ack["seq"] == 1 and ack["duplicate"] is False
        assert count_messages(desk_ready) == 1  # stored before the ack came back
        buyer.send_json({"type": "ping"})
        before_pong = []
        while (frame := buyer.receive_json())["type"] != "pong":
            before_pong.append(frame["type"])
        assert "message" not in before_pong  # the ack is the sender's answer: no echo of its own message
        assigned = receive_until(agent, of_type("conversation"))
        assert assigned["assigned_agent_id"] == "yiyi_a01"
        message = receive_until(agent, of_type("message"))
        # Stored and relayed as the very text the buyer typed: pages show it with textContent.
        assert message["text"] == "<script>alert(1)</script>还有货吗" and message["sender"] == "buyer"

        agent.send_json(
            {"type": "send", "client_msg_id": "a1", "conversation_id": ack["conversation_id"], "text": "有的"}
        )
        assert receive_until(agent, of_type("ack"))["seq"] == 2
        reply = receive_until(buyer, of_type("message"))
        assert reply["text"] == "有的" and reply["nickname"] == AGENT.nickname


def test_a_resent_message_is_acknowledged_again_and_stored_once(client: TestClient, desk_ready):
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b2')}") as buyer:
        buyer.receive_json()
        buyer.send_json({"type": "send", "client_msg_id": "same", "text": "在吗"})
        first = receive_until(buyer, of_type("ack"))
    # The client reconnects, as after a dropped network, and resends what it holds.
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b2')}") as buyer:
        assert buyer.receive_json()["conversation"]["id"] == first["conversation_id"]
        buyer.send_json({"type": "send", "client_msg_id": "same", "text": "在吗"})
        again = receive_until(buyer, of_type("ack"))
        buyer.send_json({"type": "sync", "conversation_id": first["conversation_id"], "after_seq": 0})
        history = receive_until(buyer, of_type("history"))
    assert again["duplicate"] is True and again["seq"] == first["seq"]
    assert [m["text"] for m in history["messages"]] == ["在吗"]
    assert count_messages(desk_ready) == 1


def test_a_resend_of_a_message_nobody_heard_of_reaches_the_agent_as_history(
    client: TestClient, log_in, desk_ready
):
    log_in(AGENT.username)
    with (
        client.websocket_connect("/ws/desk") as agent,
        client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b4')}") as buyer,
    ):
        agent.receive_json()
        buyer.receive_json()
        buyer.send_json({"type": "send", "client_msg_id": "hello", "text": "你好"})
        conversation_id = receive_until(buyer, of_type("ack"))["conversation_id"]
        assert receive_until(agent, of_type("message"))["text"] == "你好"
        # Stored by a process killed before it published it: in the store, nobody told.
        now = datetime.now(UTC)
        lost = NewMessage(conversation_id, YIYI[0], "buyer", None, "能便宜点吗", client_msg_id="lost")
        with writing(desk_ready).connect() as conn:
            write_batch(conn, [lost], now, int(now.timestamp() * 1_000_000) * 1000)
        # The buyer never got its ack, so it sends it again after reconnecting.
        buyer.send_json({"type": "send", "client_msg_id": "lost", "text": "能便宜点吗"})
        again = receive_until(buyer, of_type("ack"))
        # Events reach the sockets before the ack is released: all of it is ahead of the pong.
        agent.send_json({"type": "ping"})
        heard = []
        while (frame := agent.receive_json())["type"] != "pong":
            heard.append(frame)
    assert again["duplicate"] is True and again["seq"] == 2
    (history,) = [frame for frame in heard if frame["type"] == "history"]
    assert history["conversation_id"] == conversation_id
    assert [(m["seq"], m["text"]) for m in history["messages"]] == [(2, "能便宜点吗")]
    assert count_messages(desk_ready) == 2


def test_messages_sent_back_to_back_are_each_acknowledged_once_and_stored_in_order(
    client: TestClient, desk_ready
):
    # The socket reads on while earlier messages are written (more than one is in flight).
    texts = [f"第{n}条" for n in range(15)]  # within the buyer's burst allowance (20)
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b3')}") as buyer:
        buyer.receive_json()
        buyer.send_json({"type": "send", "client_msg_id": "first", "text": "你好"})
        conversation_id = receive_until(buyer, of_type("ack"))["conversation_id"]
        for n, text in enumerate(texts):
            buyer.send_json({"type": "send", "client_msg_id": f"m{n}", "text": text})
        acks = {}
        while len(acks) < len(texts):
            frame = receive_until(buyer, of_type("ack"))
            assert frame["client_msg_id"] not in acks
            acks[frame["client_msg_id"]] = frame["seq"]
        buyer.send_json({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
        history = receive_until(buyer, of_type("history"))
    assert [acks[f"m{n}"] for n in range(len(texts))] == sorted(acks.values())
    assert [m["text"] for m in history["messages"]][1:] == texts


def test_bad_frames_get_error_frames_and_the_connection_goes_on(client: TestClient, desk_ready):
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b3')}") as buyer:
        buyer.receive_json()
        buyer.send_text("not json")
        assert buyer.receive_json()["code"] == "bad_frame"
        buyer.send_json({"type": "send", "client_msg_id": "x", "text": "长" * 2001})
        too_long = buyer.receive_json()
        assert too_long["code"] == "too_long" and too_long["client_msg_id"] == "x"
        buyer.send_json({"type": "send", "text": "no id"})
        assert buyer.receive_json()["code"] == "bad_frame"
        buyer.send_json({"type": "watch", "conversation_id": "c1"})  # staff only
        assert buyer.receive_json()["code"] == "bad_frame"
        buyer.send_json({"type": "send", "client_msg_id": "ok", "text": "好"})
        assert receive_until(buyer, of_type("ack"))["seq"] == 1


def test_a_forged_or_foreign_token_is_refused(client: TestClient, desk_ready):
    forged = make_token("guessed", YIYI[0], "b4", datetime.now(UTC) + timedelta(hours=1))
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={forged}") as buyer:
        assert buyer.receive_json() == {"type": "error", "code": "forbidden", "detail": "bad signature"}
    other_shop = token_for("b4", shop_id="shuma")
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={other_shop}") as buyer:
        assert buyer.receive_json()["detail"] == "for another shop"


def test_a_buyer_cannot_read_or_write_another_buyers_conversation(client: TestClient, desk_ready):
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('alice')}") as alice:
        alice.receive_json()
        alice.send_json({"type": "send", "client_msg_id": "1", "text": "我的地址是……"})
        theirs = receive_until(alice, of_type("ack"))["conversation_id"]
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('mallory')}") as mallory:
        mallory.receive_json()
        mallory.send_json({"type": "sync", "conversation_id": theirs, "after_seq": 0})
        assert mallory.receive_json()["code"] == "not_found"
        mallory.send_json({"type": "send", "client_msg_id": "2", "conversation_id": theirs, "text": "hi"})
        assert mallory.receive_json()["code"] == "not_found"
        mallory.send_json({"type": "typing", "conversation_id": theirs})
        assert mallory.receive_json()["code"] == "not_found"
    assert count_messages(desk_ready) == 1


def test_an_agent_cannot_read_another_shops_conversation(client: TestClient, log_in, desk_ready):
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b5')}") as buyer:
        buyer.receive_json()
        buyer.send_json({"type": "send", "client_msg_id": "1", "text": "在吗"})
        theirs = receive_until(buyer, of_type("ack"))["conversation_id"]
    log_in(OTHER_SHOP_AGENT.username)
    with client.websocket_connect("/ws/desk") as outsider:
        assert outsider.receive_json()["shop_id"] == "shuma"
        for frame in (
            {"type": "sync", "conversation_id": theirs, "after_seq": 0},
            {"type": "watch", "conversation_id": theirs},
            {"type": "send", "client_msg_id": "z", "conversation_id": theirs, "text": "hi"},
        ):
            outsider.send_json(frame)
            assert outsider.receive_json()["code"] == "not_found"
    assert client.get(f"/desk/conversations/{theirs}").status_code == 404


def test_staff_sockets_refuse_other_sites_and_visitors(client: TestClient, log_in, desk_ready):
    with client.websocket_connect("/ws/desk") as visitor:
        assert visitor.receive_json()["code"] == "forbidden"
    log_in(AGENT.username)
    with client.websocket_connect("/ws/desk", headers={"Origin": "https://evil.example"}) as hijack:
        assert hijack.receive_json()["code"] == "forbidden"


def test_transfer_close_and_rating(client: TestClient, log_in, desk_ready, page_token):
    log_in(SUPERVISOR.username)
    csrf = {"X-CSRF-Token": page_token()}
    token = token_for("b6")
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token}") as buyer:
        buyer.receive_json()
        buyer.send_json({"type": "send", "client_msg_id": "1", "text": "我要换尺码"})
        conversation_id = receive_until(buyer, of_type("ack"))["conversation_id"]
        moved = client.post(
            f"/desk/conversations/{conversation_id}/transfer",
            json={"to_group": "aftersale", "note": "买家要换L码，订单已付款"},
            headers=csrf,
        )
        assert moved.status_code == 200, moved.text
        frames = [buyer.receive_json()]
        while frames[-1]["type"] != "message":
            frames.append(buyer.receive_json())
        shown = next(f for f in frames if f["type"] == "conversation" and f["change"] == "transferred")
        notice = frames[-1]
        assert notice["sender"] == "system" and "转接" in notice["text"]
        assert "note" not in shown and "assigned_agent_id" not in shown  # hand-over notes stay with staff

        assert client.post(f"/desk/conversations/{conversation_id}/close", headers=csrf).status_code == 200
        closed = receive_until(buyer, lambda f: f["type"] == "conversation" and f.get("change") == "closed")
        assert closed["rating_invited"] is True

    answer = client.post(
        f"/chat/{YIYI[0]}/rating",
        json={"conversation_id": conversation_id, "score": "very_satisfied", "tags": ["回复快"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    stranger = client.post(
        f"/chat/{YIYI[0]}/rating",
        json={"conversation_id": conversation_id, "score": "very_dissatisfied"},
        headers={"Authorization": f"Bearer {token_for('b7')}"},
    )
    assert stranger.status_code == 404
    with session_scope(make_sessionmaker(desk_ready)) as session:
        rating = session.scalars(select(Rating)).one()
        invitation = session.scalars(select(RatingInvitation)).one()
        hand_over = session.scalars(select(Transfer)).one()
        conversation = session.get(Conversation, conversation_id)
        assert (rating.score, rating.tags, invitation.rating_id) == ("very_satisfied", "回复快", rating.id)
        assert hand_over.note == "买家要换L码，订单已付款" and conversation.status == "closed"
        rated_on = rating.rated_at.date()

    # Analytics counts the desk's rating and its invitation: the invitation was answered. Nobody
    # wrote in the conversation but the system, so no agent served it.
    day = Period(rated_on, rated_on + timedelta(days=1))
    url = desk_ready.url.render_as_string(hide_password=False)
    shops = run_report(day, store_url=url, zone="UTC").to_json()["shops"]
    shop = next(r for r in shops if r["shop_id"] == YIYI[0])
    assert (shop["ratings"], shop["invitation_response_rate"], shop["invited_conversations"]) == (1, 1.0, 0)


def test_closing_a_pre_sale_chat_without_an_order_leaves_a_follow_up_for_the_agent(
    client: TestClient, log_in, desk_ready, page_token
):
    log_in(AGENT.username)
    with client.websocket_connect(f"/ws/chat/{YIYI[0]}?token={token_for('b8')}") as buyer:
        buyer.receive_json()
        buyer.send_json({"type": "send", "client_msg_id": "1", "text": "这件外套有黑色吗"})
        conversation_id = receive_until(buyer, of_type("ack"))["conversation_id"]
    closed = client.post(
        f"/desk/conversations/{conversation_id}/close", headers={"X-CSRF-Token": page_token()}
    )
    assert closed.status_code == 200, closed.text
    with session_scope(make_sessionmaker(desk_ready)) as session:
        task = session.scalars(select(FollowUp)).one()
        assert (task.kind, task.agent_id, task.conversation_id) == ("no_order", "yiyi_a01", conversation_id)
