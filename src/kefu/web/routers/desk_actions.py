"""The workbench's reads and actions over HTTP, and the buyer's rating (JSON in, JSON out).

Every action commits first and publishes its events after, through the app's DeskRuntime, so
a socket never hears of a change the store could still lose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Header, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.desk import conversations as desk
from kefu.desk.access import SUPERVISING_ROLES, conversation_for_buyer, conversation_for_staff
from kefu.desk.buyer_tokens import BadToken, BuyerIdentity, read_token
from kefu.desk.routing import PRESENCES
from kefu.store.engine import session_scope
from kefu.store.live_messages import messages_after
from kefu.store.models import Buyer, Conversation, ConversationNote, Message, Shop, Staff, Transfer
from kefu.vocabularies import RATING_SCORES, SKILL_GROUPS
from kefu.web.dependencies import CurrentStaff, SessionDep

router = APIRouter(tags=["desk"])


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _refused(refusal: desk.NotAllowed) -> HTTPException:
    return HTTPException(status_code=409, detail=refusal.reason)


def _publish_after_commit(
    request: Request,
    background: BackgroundTasks,
    change: desk.Change,
    *,
    shop_id: str,
    conversation_id: str | None,
) -> None:
    """Publish a change once the request's transaction has committed.

    The request's session commits before the response is sent (SessionDep), and background
    tasks run after it is sent: so no socket hears of a change the store could still lose.
    """
    background.add_task(
        request.app.state.desk.apply, change, shop_id=shop_id, conversation_id=conversation_id
    )


def _refusing(work):
    """Run `work()`, turning a refused action into 409 with its reason."""
    try:
        return work()
    except desk.NotAllowed as refusal:
        raise _refused(refusal) from None


def _own(session: Session, staff: Staff, conversation_id: str) -> tuple[Staff, Conversation]:
    """The staff row in this session (the dependency's is detached) and the conversation, if of their shop."""
    me = session.get(Staff, staff.id)
    assert me is not None
    return me, conversation_for_staff(session, me, conversation_id)


def _summary(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "status": conversation.status,
        "assigned_agent_id": conversation.assigned_agent_id,
        "skill_group": conversation.skill_group,
        "waiting_since": _iso(conversation.waiting_since),
        "last_sender": conversation.last_sender,
        "last_message_at": _iso(conversation.last_message_at),
        "started_at": _iso(conversation.started_at),
        "closed_at": _iso(conversation.closed_at),
        "last_seq": conversation.last_seq,
        "buyer_read_seq": conversation.buyer_read_seq,
        "agent_read_seq": conversation.agent_read_seq,
        "buyer_id": conversation.buyer_id,
    }


# --- reads --------------------------------------------------------------------------------


@router.get("/desk/conversations")
async def list_conversations(
    request: Request,
    staff: CurrentStaff,
    queue: Literal["waiting", "mine", "all", "closed"] = "mine",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    """A workbench queue: waiting (nobody assigned), mine, all open (supervisors), my closed ones."""
    if queue == "all" and staff.role not in SUPERVISING_ROLES:
        raise HTTPException(status_code=403, detail="Only supervisors see every conversation")

    def read() -> list[dict[str, Any]]:
        with session_scope(request.app.state.sessionmaker) as session:
            where = [Conversation.shop_id == staff.shop_id]
            if queue == "waiting":
                where += [Conversation.status == "open", Conversation.assigned_agent_id.is_(None)]
            elif queue == "mine":
                where += [Conversation.status == "open", Conversation.assigned_agent_id == staff.agent_id]
            elif queue == "all":
                where += [Conversation.status == "open"]
            else:
                where += [Conversation.status == "closed", Conversation.assigned_agent_id == staff.agent_id]
            order = Conversation.closed_at.desc() if queue == "closed" else Conversation.started_at
            rows = session.execute(
                select(Conversation, Buyer.nickname)
                .outerjoin(Buyer, Buyer.id == Conversation.buyer_id)
                .where(*where)
                .order_by(order)
                .limit(limit)
            ).all()
            last_texts = _last_texts(session, [conversation.id for conversation, _ in rows])
            return [
                {**_summary(c), "buyer_nickname": nickname, "last_text": last_texts.get(c.id)}
                for c, nickname in rows
            ]

    return {"queue": queue, "conversations": await run_in_threadpool(read)}


def _last_texts(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    last = (
        select(Message.conversation_id, func.max(Message.seq).label("seq"))
        .where(Message.conversation_id.in_(ids))
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.text, Message.kind).join(
            last, and_(Message.conversation_id == last.c.conversation_id, Message.seq == last.c.seq)
        )
    )
    return {row.conversation_id: (row.text[:60] if row.kind == "text" else f"[{row.kind}]") for row in rows}


@router.get("/desk/conversations/{conversation_id}")
async def read_conversation(
    request: Request, staff: CurrentStaff, conversation_id: str, after_seq: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    """A conversation with its messages, internal notes and transfers (staff of its shop only)."""

    def read() -> dict[str, Any]:
        with session_scope(request.app.state.sessionmaker) as session:
            _, conversation = _own(session, staff, conversation_id)
            buyer = session.get(Buyer, conversation.buyer_id)
            messages = messages_after(session.connection(), staff.shop_id, conversation.id, after_seq)
            notes = session.scalars(
                select(ConversationNote).where(ConversationNote.conversation_id == conversation.id)
            ).all()
            transfers = session.scalars(
                select(Transfer).where(Transfer.conversation_id == conversation.id)
            ).all()
            return {
                **_summary(conversation),
                "buyer_nickname": buyer.nickname if buyer else None,
                "messages": [message.as_event() for message in messages],
                "notes": [
                    {"author_agent_id": n.author_agent_id, "at": _iso(n.at), "text": n.text} for n in notes
                ],
                "transfers": [
                    {
                        "at": _iso(t.at),
                        "from_agent_id": t.from_agent_id,
                        "to_agent_id": t.to_agent_id,
                        "to_group": t.to_group,
                        "note": t.note,
                    }
                    for t in transfers
                ],
            }

    return await run_in_threadpool(read)


@router.get("/desk/colleagues")
async def colleagues(request: Request, staff: CurrentStaff) -> dict[str, Any]:
    """The shop's agents with their presence and load, for transfers and the supervisor's view."""

    def read() -> list[dict[str, Any]]:
        with session_scope(request.app.state.sessionmaker) as session:
            loads = {load.agent_id: load for load in desk.agent_loads(session, staff.shop_id)}
            members = session.scalars(
                select(Staff).where(Staff.shop_id == staff.shop_id, Staff.password_hash.is_not(None))
            ).all()
            return [
                {
                    "agent_id": m.agent_id,
                    "nickname": m.nickname,
                    "role": m.role,
                    "skill_group": m.skill_group,
                    "presence": m.presence,
                    "active": loads[m.agent_id].active if m.agent_id in loads else 0,
                    "max_concurrent": m.max_concurrent,
                }
                for m in members
            ]

    return {"colleagues": await run_in_threadpool(read), "groups": list(SKILL_GROUPS)}


# --- actions ------------------------------------------------------------------------------


class TransferBody(BaseModel):
    to_agent_id: str | None = Field(default=None, max_length=64)
    to_group: str | None = Field(default=None, max_length=16)
    note: str = Field(max_length=desk.MAX_NOTE_LENGTH)


class NoteBody(BaseModel):
    text: str = Field(max_length=desk.MAX_NOTE_LENGTH)


class PresenceBody(BaseModel):
    presence: str


def _act(
    name: str,
    request: Request,
    session: Session,
    staff: Staff,
    background: BackgroundTasks,
    conversation_id: str,
    **body: Any,
) -> dict[str, Any]:
    """A conversation action of the workbench, in the request's (writing) transaction."""
    me, conversation = _own(session, staff, conversation_id)
    change = _refusing(lambda: getattr(desk, name)(session, me, conversation, _now(), **body))
    session.flush()
    _publish_after_commit(request, background, change, shop_id=staff.shop_id, conversation_id=conversation_id)
    return _summary(conversation)


def _plain_action(name: str, summary: str):
    """A route for an action that takes nothing but the conversation."""

    def route(
        request: Request,
        session: SessionDep,
        staff: CurrentStaff,
        background: BackgroundTasks,
        conversation_id: str,
    ) -> dict[str, Any]:
        return _act(name, request, session, staff, background, conversation_id)

    route.__name__ = name
    route.__doc__ = summary
    return route


for _path, _name, _doc in (
    ("pickup", "pick_up", "Take a waiting conversation (supervisors: any open one)."),
    ("close", "close", "End the conversation and invite the buyer to rate it."),
    ("reopen", "reopen", "Open a closed conversation again."),
):
    router.post(f"/desk/conversations/{{conversation_id}}/{_path}")(_plain_action(_name, _doc))


@router.post("/desk/conversations/{conversation_id}/transfer")
def transfer(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    background: BackgroundTasks,
    conversation_id: str,
    body: TransferBody,
) -> dict[str, Any]:
    return _act(
        "transfer",
        request,
        session,
        staff,
        background,
        conversation_id,
        note=body.note,
        to_agent_id=body.to_agent_id,
        to_group=body.to_group,
    )


@router.post("/desk/conversations/{conversation_id}/notes")
def add_note(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    background: BackgroundTasks,
    conversation_id: str,
    body: NoteBody,
) -> dict[str, Any]:
    me, conversation = _own(session, staff, conversation_id)
    change = _refusing(lambda: desk.add_note(session, me, conversation, body.text, _now()))
    _publish_after_commit(request, background, change, shop_id=staff.shop_id, conversation_id=conversation_id)
    return {"ok": True}


@router.post("/desk/presence")
def presence(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    background: BackgroundTasks,
    body: PresenceBody,
) -> dict[str, Any]:
    if body.presence not in PRESENCES:
        raise HTTPException(status_code=422, detail=f"presence must be one of {', '.join(PRESENCES)}")
    me = session.get(Staff, staff.id)
    assert me is not None
    change = _refusing(lambda: desk.set_presence(session, me, body.presence, _now()))
    _publish_after_commit(request, background, change, shop_id=staff.shop_id, conversation_id=None)
    return {"presence": body.presence}


# --- the buyer's rating -------------------------------------------------------------------


class RatingBody(BaseModel):
    conversation_id: str = Field(max_length=64)
    score: Literal[RATING_SCORES]  # type: ignore[valid-type]
    tags: list[str] = Field(default_factory=list, max_length=10)


def buyer_identity(session: Session, shop_id: str, authorization: str | None) -> BuyerIdentity:
    """The buyer a `Bearer <buyer token>` header names at `shop_id`, or 401."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.buyer_token_secret or not token:
        raise HTTPException(status_code=401, detail="A buyer token is required")
    try:
        return read_token(token, shop.buyer_token_secret, shop_id, _now())
    except BadToken as refused:
        raise HTTPException(status_code=401, detail=refused.reason) from None


@router.post("/chat/{shop_id}/rating")
def rate(
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    shop_id: str,
    body: RatingBody,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The buyer rates their conversation with one of the five scores (stored in `ratings`)."""
    identity = buyer_identity(session, shop_id, authorization)
    conversation = conversation_for_buyer(session, shop_id, identity.buyer_id, body.conversation_id)
    rating, change = _refusing(lambda: desk.rate(session, conversation, body.score, body.tags, _now()))
    _publish_after_commit(request, background, change, shop_id=shop_id, conversation_id=conversation.id)
    return {"rating_id": rating.id, "score": rating.score}


__all__ = ["buyer_identity", "router"]
