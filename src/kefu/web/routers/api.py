"""The REST API under /api/v1 (docs/api.md): for a shop's connectors and for buyers' own apps.

- **Connectors** (`Authorization: Bearer kefu_…`, an API key of one shop) read the shop's
  conversations, relay a marketplace buyer's messages in (the reply comes back out through the
  `message.created` webhook) and manage the shop's webhooks.
- **Buyers** (`Authorization: Bearer <buyer token>`) read their own conversations at a shop.

Staff read the desk with the login cookie under /desk; nothing here reads the cookie. Another
shop's or another buyer's conversation answers 404, the same as one that does not exist.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.accounts.access import NotFound
from kefu.desk import conversations as desk
from kefu.desk import webhooks
from kefu.desk.access import conversation_for_buyer
from kefu.desk.attachments import check_attachment
from kefu.desk.messages import (
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_TEXT_LENGTH,
    BadMessage,
    NewMessage,
    checked_content,
)
from kefu.store.engine import session_scope
from kefu.store.live_messages import ConversationMissing, StoredMessage, messages_after
from kefu.store.models import Conversation, Shop
from kefu.vocabularies import MESSAGE_KINDS, WEBHOOK_EVENTS
from kefu.web.bearer import BuyerDep, ConnectorDep

router = APIRouter(prefix="/api/v1")

NOT_FOUND = {404: {"description": "Missing, or not the caller's (the same answer for both)"}}
UNAUTHORISED = {401: {"description": "No credential, or one that is unknown, revoked or expired"}}
MAX_PAGE = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _db(request: Request) -> Any:
    return session_scope(request.app.state.sessionmaker)


def _db_writing(request: Request) -> Any:
    """A transaction that reads, then writes: on SQLite it takes the write lock up front."""
    return session_scope(request.app.state.write_sessionmaker)


# --- shapes ---------------------------------------------------------------------------------


class ConversationOut(BaseModel):
    """A conversation as the shop's connector sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    buyer_id: str
    status: Literal["open", "closed"]
    channel: str = Field(description="`web` (kefu's chat page) or the connector's channel name")
    assigned_agent_id: str | None
    skill_group: str | None
    started_at: datetime | None
    last_message_at: datetime | None
    closed_at: datetime | None
    waiting_since: datetime | None = Field(
        description="Since when the buyer waits for a person; null: nobody"
    )
    last_sender: str | None
    last_seq: int | None = Field(description="The highest message seq (null for imported history)")


class ConversationPage(BaseModel):
    conversations: list[ConversationOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null: no more")


class BuyerConversationOut(BaseModel):
    """A conversation as its buyer sees it (no assignment details)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: Literal["open", "closed"]
    started_at: datetime | None
    last_message_at: datetime | None
    closed_at: datetime | None
    last_seq: int | None


class BuyerConversations(BaseModel):
    conversations: list[BuyerConversationOut]


class MessageOut(BaseModel):
    seq: int
    sender: str = Field(description="buyer, agent, bot or system")
    agent_id: str | None
    kind: str = Field(description=f"One of {', '.join(MESSAGE_KINDS)}")
    text: str
    payload: dict[str, Any] | None = Field(description="{upload_id}, {product_id} or {order_id} by kind")
    sent_at: datetime
    client_msg_id: str | None


class MessagesOut(BaseModel):
    conversation_id: str
    messages: list[MessageOut] = Field(description="In seq order")


class BuyerMessageIn(BaseModel):
    """A buyer's message relayed from a marketplace chat."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "buyer_id": "tb_8812731",
                    "client_msg_id": "taobao-msg-5550013",
                    "text": "请问这件有XL码吗？",
                    "nickname": "小王",
                    "channel": "taobao",
                }
            ]
        }
    )

    buyer_id: str = Field(min_length=1, max_length=64, description="The buyer's id at the marketplace")
    client_msg_id: str = Field(
        min_length=1,
        max_length=MAX_CLIENT_MSG_ID_LENGTH,
        description="Idempotency key (the marketplace's message id): a repeat stores nothing new",
    )
    text: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    kind: Literal[MESSAGE_KINDS] = "text"  # type: ignore[valid-type]
    payload: dict[str, str] | None = Field(
        default=None, description="`image`: {upload_id}; `product`: {product_id}; `order`: {order_id}"
    )
    nickname: str | None = Field(default=None, max_length=100, description="Shown to agents for a new buyer")
    channel: str = Field(
        default="api",
        min_length=1,
        max_length=32,
        pattern=r"^[a-z0-9_.-]+$",
        description="Where the buyer writes from, kept on a new conversation (e.g. `taobao`)",
    )


class MessageAck(BaseModel):
    conversation_id: str
    seq: int
    sent_at: datetime
    client_msg_id: str | None
    duplicate: bool = Field(description="True when this client_msg_id was stored before (nothing new stored)")


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"url": "https://relay.example.com/kefu", "events": ["message.created"]}]
        }
    )

    url: str = Field(max_length=webhooks.MAX_URL_LENGTH, description="http(s) URL kefu posts events to")
    events: list[str] = Field(
        default_factory=list, description=f"Any of {', '.join(WEBHOOK_EVENTS)}; empty: all of them"
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery (X-Kefu-Signature); shown only now")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


def _messages(stored: list[StoredMessage]) -> list[MessageOut]:
    return [
        MessageOut(
            seq=m.seq,
            sender=m.sender,
            agent_id=m.agent_id,
            kind=m.kind,
            text=m.text,
            payload=m.payload,
            sent_at=m.sent_at,
            client_msg_id=m.client_msg_id,
        )
        for m in stored
    ]


def _conversation_of_shop(session: Session, shop_id: str, conversation_id: str) -> Conversation:
    """A conversation of the connector's shop; another shop's is the same NotFound as a missing one."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != shop_id:
        raise NotFound("conversation")
    return conversation


# --- connectors: conversations and messages -------------------------------------------------


@router.get(
    "/conversations", response_model=ConversationPage, tags=["api: conversations"], responses=UNAUTHORISED
)
async def list_conversations(
    request: Request,
    connector: ConnectorDep,
    status: Literal["open", "closed"] | None = None,
    buyer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConversationPage:
    """The shop's conversations, newest first; filter by `status` and `buyer_id` (a buyer's open
    conversation: `?buyer_id=…&status=open`)."""

    def read() -> ConversationPage:
        with _db(request) as session:
            query = select(Conversation).where(Conversation.shop_id == connector.shop_id)
            if status is not None:
                query = query.where(Conversation.status == status)
            if buyer_id is not None:
                query = query.where(Conversation.buyer_id == buyer_id)
            rows = session.scalars(
                query.order_by(Conversation.started_at.desc().nulls_last(), Conversation.id)
                .offset(offset)
                .limit(limit + 1)
            ).all()
            page = [ConversationOut.model_validate(row) for row in rows[:limit]]
            return ConversationPage(
                conversations=page, next_offset=offset + limit if len(rows) > limit else None
            )

    return await run_in_threadpool(read)


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    tags=["api: conversations"],
    responses={**UNAUTHORISED, **NOT_FOUND},
)
async def read_conversation(
    request: Request, connector: ConnectorDep, conversation_id: str
) -> ConversationOut:
    """One of the shop's conversations."""

    def read() -> ConversationOut:
        with _db(request) as session:
            return ConversationOut.model_validate(
                _conversation_of_shop(session, connector.shop_id, conversation_id)
            )

    return await run_in_threadpool(read)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessagesOut,
    tags=["api: conversations"],
    responses={**UNAUTHORISED, **NOT_FOUND},
)
async def read_messages(
    request: Request,
    connector: ConnectorDep,
    conversation_id: str,
    after_seq: Annotated[int, Query(ge=0, description="Only messages after this seq (catching up)")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> MessagesOut:
    """A conversation's messages in seq order; page with `after_seq` = the last seq received."""

    def read() -> MessagesOut:
        with _db(request) as session:
            conversation = _conversation_of_shop(session, connector.shop_id, conversation_id)
            stored = messages_after(
                session.connection(), connector.shop_id, conversation.id, after_seq, limit
            )
            return MessagesOut(conversation_id=conversation.id, messages=_messages(stored))

    return await run_in_threadpool(read)


def _bad_message(error: BadMessage) -> HTTPException:
    return HTTPException(
        status_code=422, detail={"code": error.code, "field": error.field, "message": error.detail}
    )


@router.post(
    "/messages",
    response_model=MessageAck,
    status_code=201,
    tags=["api: conversations"],
    responses={
        **UNAUTHORISED,
        200: {"description": "A repeated client_msg_id: the message stored first", "model": MessageAck},
        404: {"description": "The payload names an upload, product or order not of this shop (or buyer)"},
        422: {"description": "Empty or too long text, a payload that does not fit the kind"},
        429: {"description": "This buyer sends too fast (Retry-After says when to try again)"},
    },
)
async def post_buyer_message(
    request: Request, response: Response, connector: ConnectorDep, body: BuyerMessageIn
) -> MessageAck:
    """Relay a buyer's message into kefu: the buyer's open conversation takes it, or a new one is
    opened (and queued or assigned like any other). Agents' answers come back through the
    `message.created` webhook."""
    runtime = request.app.state.desk
    limit_key = f"{connector.shop_id}:{body.buyer_id}"
    if not runtime.buyer_limits.allow(limit_key):
        wait = math.ceil(runtime.buyer_limits.retry_after(limit_key))
        raise HTTPException(
            status_code=429, detail="This buyer sends too fast", headers={"Retry-After": str(max(1, wait))}
        )
    try:
        kind, text, payload = checked_content(body.kind, body.text, body.payload)
    except BadMessage as error:
        raise _bad_message(error) from None

    def open_conversation() -> tuple[str, desk.Change]:
        with _db_writing(request) as session:
            shop = session.get(Shop, connector.shop_id)
            if shop is None:  # the key outlived its shop
                raise NotFound("shop")
            # A connector speaks for the shop: any of the shop's pictures, the buyer's orders.
            check_attachment(
                session,
                shop_id=shop.id,
                buyer_id=body.buyer_id,
                kind=kind,
                payload=payload,
                sent_by_buyer=False,
            )
            conversation, change = desk.open_for_buyer(
                session, shop, body.buyer_id, _now(), nickname=body.nickname, channel=body.channel
            )
            return conversation.id, change

    # Committed before the message is written: the writer stores it in its own transaction.
    conversation_id, change = await run_in_threadpool(open_conversation)
    await runtime.apply(change, shop_id=connector.shop_id, conversation_id=conversation_id)
    message = NewMessage(
        conversation_id,
        connector.shop_id,
        "buyer",
        None,
        text,
        kind=kind,
        payload=payload,
        client_msg_id=body.client_msg_id,
        nickname=body.nickname,
    )
    try:
        stored = await runtime.writer.submit(message)
    except ConversationMissing:
        raise NotFound("conversation") from None
    if stored.duplicate:
        response.status_code = 200
    return MessageAck(
        conversation_id=stored.conversation_id,
        seq=stored.seq,
        sent_at=stored.sent_at,
        client_msg_id=stored.client_msg_id,
        duplicate=stored.duplicate,
    )


# --- connectors: webhooks -------------------------------------------------------------------


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=201,
    tags=["api: webhooks"],
    responses={
        **UNAUTHORISED,
        422: {"description": "Not an http(s) URL, a private address, an unknown event, too many webhooks"},
    },
)
async def create_webhook(request: Request, connector: ConnectorDep, body: WebhookIn) -> WebhookCreated:
    """Subscribe a URL to the shop's events. The answer carries the signing secret, once."""

    def create() -> WebhookCreated:
        with _db_writing(request) as session:
            webhook, secret = webhooks.create_webhook(
                session,
                connector.shop_id,
                body.url,
                body.events,
                _now(),
                private_networks=request.app.state.settings.webhook_private_networks,
            )
            return WebhookCreated(**WebhookOut.model_validate(webhook).model_dump(), secret=secret)

    try:
        return await run_in_threadpool(create)
    except webhooks.BadWebhook as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


@router.get("/webhooks", response_model=list[WebhookOut], tags=["api: webhooks"], responses=UNAUTHORISED)
async def list_webhooks(request: Request, connector: ConnectorDep) -> list[WebhookOut]:
    """The shop's webhooks (without their secrets)."""

    def read() -> list[WebhookOut]:
        with _db(request) as session:
            return [WebhookOut.model_validate(w) for w in webhooks.list_webhooks(session, connector.shop_id)]

    return await run_in_threadpool(read)


@router.delete(
    "/webhooks/{webhook_id}", status_code=204, tags=["api: webhooks"], responses={**UNAUTHORISED, **NOT_FOUND}
)
async def delete_webhook(request: Request, connector: ConnectorDep, webhook_id: int) -> Response:
    """Remove a webhook; deliveries still queued for it are dropped."""

    def delete() -> None:
        with _db_writing(request) as session:
            webhooks.delete_webhook(session, connector.shop_id, webhook_id)

    await run_in_threadpool(delete)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    tags=["api: webhooks"],
    responses={**UNAUTHORISED, **NOT_FOUND},
)
async def list_deliveries(
    request: Request,
    connector: ConnectorDep,
    webhook_id: int,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryOut]:
    """A webhook's latest deliveries, newest first: attempts, and what the receiver last answered."""

    def read() -> list[DeliveryOut]:
        with _db(request) as session:
            rows = webhooks.list_deliveries(session, connector.shop_id, webhook_id, limit)
            return [DeliveryOut.model_validate(row) for row in rows]

    return await run_in_threadpool(read)


# --- buyers -----------------------------------------------------------------------------------


@router.get(
    "/chat/{shop_id}/conversations",
    response_model=BuyerConversations,
    tags=["api: buyers"],
    responses=UNAUTHORISED,
)
async def buyer_conversations(request: Request, shop_id: str, buyer: BuyerDep) -> BuyerConversations:
    """The buyer's own conversations at the shop, newest first (at most 100)."""

    def read() -> BuyerConversations:
        with _db(request) as session:
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.shop_id == shop_id, Conversation.buyer_id == buyer.buyer_id)
                .order_by(Conversation.started_at.desc().nulls_last(), Conversation.id)
                .limit(100)
            )
            return BuyerConversations(
                conversations=[BuyerConversationOut.model_validate(row) for row in rows]
            )

    return await run_in_threadpool(read)


@router.get(
    "/chat/{shop_id}/conversations/{conversation_id}/messages",
    response_model=MessagesOut,
    tags=["api: buyers"],
    responses={**UNAUTHORISED, **NOT_FOUND},
)
async def buyer_messages(
    request: Request,
    shop_id: str,
    conversation_id: str,
    buyer: BuyerDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> MessagesOut:
    """Messages of one of the buyer's own conversations; anyone else's answers 404."""

    def read() -> MessagesOut:
        with _db(request) as session:
            conversation = conversation_for_buyer(session, shop_id, buyer.buyer_id, conversation_id)
            stored = messages_after(session.connection(), shop_id, conversation.id, after_seq, limit)
            return MessagesOut(conversation_id=conversation.id, messages=_messages(stored))

    return await run_in_threadpool(read)
