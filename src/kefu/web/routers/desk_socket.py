"""The desk's WebSockets: `/ws/chat/{shop_id}` for buyers, `/ws/desk` for staff (protocol: docs/desk.md).

Each socket has a reader (frames handled one at a time, so a client's messages keep their
order) and a writer draining the socket's queue of events. A bad frame gets an error frame
and the connection goes on; a client too slow to read its events is disconnected and catches
up with `sync` when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.accounts.access import NotFound, access_staff_by_id
from kefu.desk import conversations as desk
from kefu.desk.access import can_write, conversation_for_buyer, conversation_for_staff
from kefu.desk.attachments import check_attachment
from kefu.desk.buyer_tokens import BadToken, read_token
from kefu.desk.messages import BadMessage, NewMessage, checked_client_msg_id, checked_content
from kefu.desk.runtime import DeskRuntime
from kefu.store.engine import session_scope
from kefu.store.live_messages import ConversationMissing, StoredMessage, messages_after
from kefu.store.models import Conversation, Shop, Staff
from kefu.web.sessions import logged_in_staff

router = APIRouter()
log = logging.getLogger(__name__)

# Events a socket may have waiting before it counts as too slow to keep.
MAX_PENDING_EVENTS = 2000
# Messages a socket may have queued and not yet acknowledged: it reads on while they are written
# (an agent answering many buyers sends faster than one commit after another), up to this many.
MAX_IN_FLIGHT = 64
# Close codes (4000-4999 are the application's): the client should not retry on these.
CLOSE_UNAUTHORISED = 4401
CLOSE_TOO_SLOW = 4408
# One encoder for every frame (json.dumps with options builds a new one per call).
_encode_frame = json.JSONEncoder(ensure_ascii=False, default=str).encode


class Socket:
    """One client connection as the hub sees it (a `Listener`)."""

    def __init__(self, websocket: WebSocket, shop_id: str, *, staff: Staff | None, buyer_id: str | None):
        self.websocket = websocket
        self.runtime: DeskRuntime = websocket.app.state.desk
        self.shop_id = shop_id
        self.staff = staff
        self.is_staff = staff is not None
        self.agent_id = staff.agent_id if staff else None
        self.buyer_id = buyer_id
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.too_slow = False
        # Buyer: the conversation their messages go to, while it is open.
        self.conversation_id: str | None = None
        self.conversation_open = False
        # Staff: conversations they may write to, as far as this socket has seen.
        self.writable: set[str] = set()
        # Messages this socket sent and has not seen come back: their ack tells the client all
        # the echo would, so the echo is not sent (one frame fewer per message).
        self.sending: set[str] = set()
        self.in_flight: set[asyncio.Task[None]] = set()  # acknowledgements still to come

    def deliver(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message" and event.get("client_msg_id") in self.sending:
            if event.get("sender") == ("agent" if self.is_staff else "buyer"):
                self.sending.discard(event["client_msg_id"])
                return
        if kind == "conversation":
            self._note_state(event)
        if self.queue.qsize() >= MAX_PENDING_EVENTS:
            if not self.too_slow:
                self.too_slow = True
                self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    def _note_state(self, event: dict[str, Any]) -> None:
        conversation_id = event["conversation_id"]
        if self.is_staff:
            mine = event.get("assigned_agent_id") == self.agent_id or self._supervising
            if mine and event.get("status") == "open":
                self.writable.add(conversation_id)
            else:
                self.writable.discard(conversation_id)
        elif conversation_id == self.conversation_id:
            self.conversation_open = event.get("status") == "open"

    @property
    def _supervising(self) -> bool:
        return self.staff is not None and self.staff.role in desk.SUPERVISING_ROLES

    async def send(self, frame: dict[str, Any]) -> None:
        self.queue.put_nowait(frame)

    async def pump(self) -> None:
        """Write queued frames to the client until told to stop."""
        while True:
            frame = await self.queue.get()
            if frame is None:
                if self.too_slow:
                    await self.websocket.close(CLOSE_TOO_SLOW)
                return
            await self.websocket.send_text(_encode_frame(frame))


def _db(websocket: WebSocket) -> Any:
    return session_scope(websocket.app.state.sessionmaker)


def _db_writing(websocket: WebSocket) -> Any:
    """A session for a transaction that reads, then writes (SQLite: BEGIN IMMEDIATE, see `writing`)."""
    return session_scope(websocket.app.state.write_sessionmaker)


def _error(code: str, detail: str, frame: dict[str, Any] | None = None) -> dict[str, Any]:
    error = {"type": "error", "code": code, "detail": detail}
    if frame is not None and isinstance(frame.get("client_msg_id"), str):
        error["client_msg_id"] = frame["client_msg_id"]
    return error


def _same_origin(websocket: WebSocket) -> bool:
    """Staff sockets ride on the login cookie: refuse other sites' pages (cross-site WebSocket hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: it could not have borrowed a browser's cookie
    return urlsplit(origin).netloc == websocket.headers.get("host")


def _now() -> datetime:
    return datetime.now(UTC)


# --- connecting ---------------------------------------------------------------------------


def _buyer_welcome(websocket: WebSocket, shop_id: str, token: str) -> tuple[dict[str, Any], str, str | None]:
    with _db(websocket) as session:
        shop = session.get(Shop, shop_id)
        if shop is None or not shop.buyer_token_secret:
            raise BadToken("unknown shop")
        identity = read_token(token, shop.buyer_token_secret, shop_id, _now())
        conversation = session.scalars(
            select(Conversation)
            .where(
                Conversation.shop_id == shop_id,
                Conversation.buyer_id == identity.buyer_id,
                Conversation.status == "open",
            )
            .order_by(Conversation.started_at.desc())
            .limit(1)
        ).first()
        welcome = {
            "type": "welcome",
            "role": "buyer",
            "buyer_id": identity.buyer_id,
            "nickname": identity.nickname,
            "shop": {"id": shop.id, "name": shop.name},
            "conversation": _conversation_summary(session, conversation),
        }
        return welcome, identity.buyer_id, conversation.id if conversation else None


def _conversation_summary(session: Session, conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {
        "id": conversation.id,
        "status": conversation.status,
        "agent_nickname": desk.staff_nickname(session, conversation.shop_id, conversation.assigned_agent_id),
        "last_seq": conversation.last_seq,
    }


def _staff_of(websocket: WebSocket) -> tuple[Staff, list[str]] | None:
    login = logged_in_staff(websocket.scope.get("session", {}))
    if login is None:
        return None
    staff_id, fingerprint = login
    codec = websocket.app.state.session_codec
    with _db(websocket) as session:
        staff = access_staff_by_id(session, staff_id)
        if staff is None or not hmac.compare_digest(
            codec.password_fingerprint(staff.id, staff.password_hash or ""), fingerprint
        ):
            return None
        query = select(Conversation.id).where(
            Conversation.shop_id == staff.shop_id, Conversation.status == "open"
        )
        if staff.role not in desk.SUPERVISING_ROLES:
            query = query.where(Conversation.assigned_agent_id == staff.agent_id)
        return staff, list(session.scalars(query))


@router.websocket("/ws/chat/{shop_id}")
async def buyer_socket(websocket: WebSocket, shop_id: str, token: str = "") -> None:
    await websocket.accept()
    try:
        welcome, buyer_id, conversation_id = await run_in_threadpool(
            _buyer_welcome, websocket, shop_id, token
        )
    except BadToken as refused:
        await websocket.send_json(_error("forbidden", refused.reason))
        await websocket.close(CLOSE_UNAUTHORISED)
        return
    socket = Socket(websocket, shop_id, staff=None, buyer_id=buyer_id)
    if conversation_id is not None:
        socket.conversation_id, socket.conversation_open = conversation_id, True
    await _serve(socket, welcome, [conversation_id] if conversation_id else [])


@router.websocket("/ws/desk")
async def staff_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    found = await run_in_threadpool(_staff_of, websocket) if _same_origin(websocket) else None
    if found is None:
        await websocket.send_json(_error("forbidden", "log in first"))
        await websocket.close(CLOSE_UNAUTHORISED)
        return
    staff, open_ids = found
    socket = Socket(websocket, staff.shop_id, staff=staff, buyer_id=None)
    socket.writable.update(open_ids)
    welcome = {
        "type": "welcome",
        "role": staff.role,
        "agent_id": staff.agent_id,
        "nickname": staff.nickname,
        "shop_id": staff.shop_id,
        "presence": staff.presence,
        "conversations": open_ids,
    }
    await _serve(socket, welcome, open_ids)


async def _serve(socket: Socket, welcome: dict[str, Any], watched: list[str]) -> None:
    registry = socket.runtime.hub.registry
    registry.add(socket)
    for conversation_id in watched:
        registry.watch(socket, conversation_id)
    await socket.send(welcome)
    pump = asyncio.create_task(socket.pump())
    try:
        while not pump.done():
            raw = await socket.websocket.receive_text()
            await _handle(socket, raw)
    except WebSocketDisconnect:
        pass
    except RuntimeError:
        pass  # the pump closed the socket (too slow) while we waited for a frame
    finally:
        registry.remove(socket)
        socket.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await pump


# --- frames -------------------------------------------------------------------------------


async def _handle(socket: Socket, raw: str) -> None:
    try:
        frame = json.loads(raw)
    except ValueError:
        await socket.send(_error("bad_frame", "not JSON"))
        return
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        await socket.send(_error("bad_frame", "a frame is a JSON object with a type"))
        return
    handler = HANDLERS.get(frame["type"])
    if handler is None or (frame["type"] == "watch" and not socket.is_staff):
        await socket.send(_error("bad_frame", f"unknown type {frame['type']!r}", frame))
        return
    try:
        await handler(socket, frame)
    except Exception as error:
        await socket.send(_refusal(error, frame))


def _refusal(error: Exception, frame: dict[str, Any]) -> dict[str, Any]:
    """The error frame for a frame that failed (call it inside the `except`: it logs the unexpected)."""
    if isinstance(error, BadMessage):
        return _error(error.code, f"{error.field} {error.detail}", frame)
    if isinstance(error, NotFound | ConversationMissing):
        return _error("not_found", "no such conversation", frame)
    if isinstance(error, desk.NotAllowed):
        return _error("forbidden", error.reason, frame)
    log.exception("frame %r failed", frame.get("type"))
    return _error("internal", "the server could not handle this frame", frame)


def _conversation_id(frame: dict[str, Any], required: bool = True) -> str | None:
    value = frame.get("conversation_id")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise BadMessage("bad_frame", "conversation_id", "must be a conversation id")
    return value


async def _send(socket: Socket, frame: dict[str, Any]) -> None:
    client_msg_id = checked_client_msg_id(frame.get("client_msg_id"))
    kind, text, payload = checked_content(frame.get("kind"), frame.get("text"), frame.get("payload"))
    runtime = socket.runtime
    if socket.staff is None:
        if not runtime.buyer_limits.allow(f"{socket.shop_id}:{socket.buyer_id}"):
            await socket.send(_error("rate_limited", "too many messages; wait a moment", frame))
            return
        conversation_id = await _buyer_conversation(socket, _conversation_id(frame, required=False))
        sender, agent_id, nickname = "buyer", None, None
    else:
        conversation_id = _conversation_id(frame)
        if conversation_id not in socket.writable:
            await run_in_threadpool(_check_staff_writes, socket, conversation_id)
        sender, agent_id, nickname = "agent", socket.staff.agent_id, socket.staff.nickname
    if kind != "text":
        await run_in_threadpool(_check_card, socket, conversation_id, kind, payload)
    socket.sending.add(client_msg_id)
    written = runtime.writer.enqueue(
        NewMessage(
            conversation_id,
            socket.shop_id,
            sender,
            agent_id,
            text,
            kind=kind,
            payload=payload,
            client_msg_id=client_msg_id,
            nickname=nickname,
        )
    )
    # Queued in the order the frames came; the ack follows the commit while the socket reads on.
    task = asyncio.create_task(_acknowledge(socket, client_msg_id, written, frame))
    socket.in_flight.add(task)
    task.add_done_callback(socket.in_flight.discard)
    if len(socket.in_flight) >= MAX_IN_FLIGHT:
        await asyncio.wait(socket.in_flight, return_when=asyncio.FIRST_COMPLETED)


async def _acknowledge(
    socket: Socket, client_msg_id: str, written: asyncio.Future[StoredMessage], frame: dict[str, Any]
) -> None:
    try:
        stored = await written
    except Exception as error:
        socket.sending.discard(client_msg_id)
        await socket.send(_refusal(error, frame))
        return
    if stored.duplicate:
        socket.sending.discard(client_msg_id)  # nothing is published again for a resend
    await socket.send(stored.ack())


async def _buyer_conversation(socket: Socket, asked: str | None) -> str:
    """Where a buyer's message goes: their open conversation, or a new one if they have none."""
    if asked is not None and asked != socket.conversation_id:
        raise NotFound("conversation")
    if socket.conversation_id is not None and socket.conversation_open:
        return socket.conversation_id
    runtime = socket.runtime

    def open_one() -> tuple[str, desk.Change]:
        with _db_writing(socket.websocket) as session:
            shop = session.get(Shop, socket.shop_id)
            if shop is None:
                raise NotFound("shop")
            conversation, change = desk.open_for_buyer(session, shop, socket.buyer_id, _now())
            return conversation.id, change

    conversation_id, change = await runtime.writer.call(open_one)
    socket.conversation_id, socket.conversation_open = conversation_id, True
    runtime.hub.registry.watch(socket, conversation_id)
    await socket.send(
        {
            "type": "conversation",
            "change": "opened",
            "conversation_id": conversation_id,
            "shop_id": socket.shop_id,
            "status": "open",
        }
    )
    await runtime.apply(change, shop_id=socket.shop_id, conversation_id=conversation_id)
    return conversation_id


def _check_staff_writes(socket: Socket, conversation_id: str) -> None:
    assert socket.staff is not None
    with _db(socket.websocket) as session:
        conversation = conversation_for_staff(session, socket.staff, conversation_id)
        if conversation.status != "open":
            raise desk.NotAllowed("closed")
        if not can_write(socket.staff, conversation):
            raise desk.NotAllowed("not yours: pick it up first")
    socket.writable.add(conversation_id)


def _check_card(socket: Socket, conversation_id: str, kind: str, payload: dict[str, Any] | None) -> None:
    """A card or an image must name something this sender may show in this conversation."""
    with _db(socket.websocket) as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("conversation")
        try:
            check_attachment(
                session,
                shop_id=socket.shop_id,
                buyer_id=conversation.buyer_id,
                kind=kind,
                payload=payload,
                sent_by_buyer=not socket.is_staff,
            )
        except NotFound:
            field = next(iter(payload or {"payload": None}))
            raise BadMessage("not_found", f"payload.{field}", "names nothing you may send") from None


async def _sync(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id = _conversation_id(frame)
    after_seq = frame.get("after_seq", 0)
    if not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0:
        raise BadMessage("bad_frame", "after_seq", "must be a whole number ≥ 0")

    def read() -> list[dict[str, Any]]:
        with _db(socket.websocket) as session:
            _conversation_for(session, socket, conversation_id)
            stored = messages_after(session.connection(), socket.shop_id, conversation_id, after_seq)
            return [message.as_event() for message in stored]

    messages = await run_in_threadpool(read)
    socket.runtime.hub.registry.watch(socket, conversation_id)
    await socket.send({"type": "history", "conversation_id": conversation_id, "messages": messages})


def _conversation_for(session: Session, socket: Socket, conversation_id: str) -> Conversation:
    if socket.staff is not None:
        return conversation_for_staff(session, socket.staff, conversation_id)
    assert socket.buyer_id is not None
    return conversation_for_buyer(session, socket.shop_id, socket.buyer_id, conversation_id)


async def _may_touch(socket: Socket, conversation_id: str) -> None:
    """Typing and read receipts: only for a conversation the socket already follows or may open."""
    if socket.staff is None and conversation_id == socket.conversation_id:
        return
    if socket.staff is not None and conversation_id in socket.writable:
        return

    def check() -> None:
        with _db(socket.websocket) as session:
            _conversation_for(session, socket, conversation_id)

    await run_in_threadpool(check)


async def _typing(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id = _conversation_id(frame)
    await _may_touch(socket, conversation_id)
    side = "agent" if socket.is_staff else "buyer"
    event = {"type": "typing", "shop_id": socket.shop_id, "conversation_id": conversation_id, "side": side}
    await socket.runtime.hub.publish([event])


async def _read(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id = _conversation_id(frame)
    seq = frame.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadMessage("bad_frame", "seq", "must be a whole number ≥ 0")
    side = "agent" if socket.is_staff else "buyer"

    def mark() -> None:
        with _db_writing(socket.websocket) as session:
            conversation = _conversation_for(session, socket, conversation_id)
            column = "agent_read_seq" if socket.is_staff else "buyer_read_seq"
            if seq > getattr(conversation, column):
                setattr(conversation, column, min(seq, conversation.last_seq or seq))

    await socket.runtime.writer.call(mark)
    event = {
        "type": "read",
        "shop_id": socket.shop_id,
        "conversation_id": conversation_id,
        "side": side,
        "seq": seq,
    }
    await socket.runtime.hub.publish([event])


async def _watch(socket: Socket, frame: dict[str, Any]) -> None:
    conversation_id = _conversation_id(frame)

    def check() -> None:
        with _db(socket.websocket) as session:
            _conversation_for(session, socket, conversation_id)

    await run_in_threadpool(check)
    socket.runtime.hub.registry.watch(socket, conversation_id)


async def _ping(socket: Socket, _frame: dict[str, Any]) -> None:
    await socket.send({"type": "pong"})


HANDLERS = {"send": _send, "sync": _sync, "typing": _typing, "read": _read, "watch": _watch, "ping": _ping}
