"""Writing and reading live messages in batches: the SQL behind the desk's message writer.

One call stores a batch in the caller's transaction with a fixed number of statements, however
many conversations it touches: repeated idempotency keys are answered from what was stored
first (one SELECT), the batch's conversations are read and locked at once (one
`SELECT … FOR UPDATE` on PostgreSQL, so two processes never hand out the same seq), their seqs
and live state move on in one executemany UPDATE, and the messages go in with one executemany
INSERT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from kefu.store.models import Conversation, Message

messages = Message.__table__
conversations = Conversation.__table__

# Senders whose message the buyer sees as an answer or a question (system notices are neither).
_SPEAKERS = ("buyer", "agent", "bot")
_MESSAGE_COLUMNS = (
    messages.c.message_id,
    messages.c.conversation_id,
    messages.c.seq,
    messages.c.sender,
    messages.c.agent_id,
    messages.c.kind,
    messages.c.text,
    messages.c.payload,
    messages.c.sent_at,
)


@dataclass(frozen=True)
class NewMessage:
    conversation_id: str
    shop_id: str
    sender: str  # buyer, agent, bot, system
    agent_id: str | None
    text: str
    kind: str = "text"
    payload: dict[str, Any] | None = None
    client_msg_id: str | None = None
    # Carried to the published event, not stored: the name the buyer sees for an agent.
    nickname: str | None = None

    @property
    def idempotency_key(self) -> str | None:
        # Scoped by conversation, so two clients' keys never meet.
        return f"{self.conversation_id}:{self.client_msg_id}" if self.client_msg_id else None


@dataclass(frozen=True)
class StoredMessage:
    conversation_id: str
    shop_id: str
    seq: int
    sender: str
    agent_id: str | None
    kind: str
    text: str
    payload: dict[str, Any] | None
    sent_at: datetime
    client_msg_id: str | None = None
    duplicate: bool = False
    nickname: str | None = None

    def as_event(self) -> dict[str, Any]:
        return {
            "type": "message",
            "shop_id": self.shop_id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sender": self.sender,
            "agent_id": self.agent_id,
            "nickname": self.nickname,
            "kind": self.kind,
            "text": self.text,
            "payload": self.payload,
            "sent_at": self.sent_at.isoformat(),
            "client_msg_id": self.client_msg_id,
        }

    def ack(self) -> dict[str, Any]:
        return {
            "type": "ack",
            "client_msg_id": self.client_msg_id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sent_at": self.sent_at.isoformat(),
            "duplicate": self.duplicate,
        }


class ConversationMissing(LookupError):
    """A message names a conversation the store does not hold."""


def _stored(row: Any, shop_id: str, *, duplicate: bool = False) -> StoredMessage:
    client_msg_id = row.message_id.split(":", 1)[1] if row.message_id and ":" in row.message_id else None
    return StoredMessage(
        conversation_id=row.conversation_id,
        shop_id=shop_id,
        seq=row.seq,
        sender=row.sender,
        agent_id=row.agent_id,
        kind=row.kind,
        text=row.text,
        payload=row.payload,
        sent_at=row.sent_at,
        client_msg_id=client_msg_id,
        duplicate=duplicate,
    )


def _conversation_state(
    batch: Sequence[NewMessage], now: datetime, last_sender: str | None, waiting_since: datetime | None
) -> tuple[str | None, datetime | None]:
    """How a batch of one conversation's messages changes its live state: (last word, waiting since)."""
    speakers = [item.sender for item in batch if item.sender in _SPEAKERS]
    if speakers:
        last_sender = speakers[-1]
    last_agent = max((i for i, item in enumerate(batch) if item.sender == "agent"), default=None)
    after = batch if last_agent is None else batch[last_agent + 1 :]
    buyer_after = any(item.sender == "buyer" for item in after)
    if last_agent is not None:
        # A person answered: the timer stops, or restarts now if the buyer wrote again after.
        waiting_since = now if buyer_after else None
    elif buyer_after:
        waiting_since = waiting_since or now
    return last_sender, waiting_since


# The batch's conversations, locked (PostgreSQL: FOR UPDATE, in id order so that two processes
# never wait on each other; SQLite has one writer) and read once: their last seq (max(seq) for an
# imported one) and the state the batch changes. Built once: a statement per conversation and
# per batch cost more than the SQL itself.
_LOCK_CONVERSATIONS = (
    select(
        conversations.c.id,
        func.coalesce(
            conversations.c.last_seq,
            select(func.max(messages.c.seq))
            .where(messages.c.conversation_id == conversations.c.id)
            .scalar_subquery(),
            0,
        ).label("last_seq"),
        conversations.c.last_sender,
        conversations.c.waiting_since,
    )
    .where(conversations.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(conversations.c.id)
    .with_for_update(of=conversations)
)
_ADVANCE_CONVERSATION = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"))
    .values(
        last_seq=bindparam("b_last_seq"),
        last_message_at=bindparam("b_now"),
        last_sender=bindparam("b_last_sender"),
        waiting_since=bindparam("b_waiting_since"),
    )
)
_KNOWN_KEYS = select(*_MESSAGE_COLUMNS).where(messages.c.message_id.in_(bindparam("keys", expanding=True)))


def write_batch(
    conn: Connection, batch: Sequence[NewMessage], now: datetime, ordinal_base: int
) -> list[StoredMessage | ConversationMissing]:
    """Store `batch` (in order) and return, for each item, what the client is told."""
    results: list[StoredMessage | ConversationMissing | None] = [None] * len(batch)
    keys = {item.idempotency_key for item in batch if item.idempotency_key}
    known: dict[str, Any] = {}
    if keys:
        for row in conn.execute(_KNOWN_KEYS, {"keys": sorted(keys)}):
            known[row.message_id] = row

    first_of_key: dict[str, int] = {}
    fresh: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(batch):
        key = item.idempotency_key
        if key in known:
            results[index] = _stored(known[key], item.shop_id, duplicate=True)
        elif key is not None and key in first_of_key:
            continue  # answered below from the first copy in this batch
        else:
            if key is not None:
                first_of_key[key] = index
            fresh[item.conversation_id].append(index)

    rows: list[dict[str, Any]] = []
    advanced: list[dict[str, Any]] = []
    locked = {}
    if fresh:
        locked = {row.id: row for row in conn.execute(_LOCK_CONVERSATIONS, {"ids": sorted(fresh)})}
    for conversation_id, indices in fresh.items():
        items = [batch[i] for i in indices]
        state = locked.get(conversation_id)
        if state is None:
            for i in indices:
                results[i] = ConversationMissing(conversation_id)
            continue
        last = state.last_seq + len(items)
        last_sender, waiting_since = _conversation_state(items, now, state.last_sender, state.waiting_since)
        advanced.append(
            {
                "b_id": conversation_id,
                "b_last_seq": last,
                "b_now": now,
                "b_last_sender": last_sender,
                "b_waiting_since": waiting_since,
            }
        )
        for seq, (i, item) in enumerate(zip(indices, items, strict=True), start=last - len(items) + 1):
            rows.append(
                {
                    "message_id": item.idempotency_key,
                    "conversation_id": conversation_id,
                    "seq": seq,
                    "ordinal": ordinal_base + i,
                    "sender": item.sender,
                    "agent_id": item.agent_id,
                    "sent_at": now,
                    "text": item.text,
                    "kind": item.kind,
                    "payload": item.payload,
                }
            )
            results[i] = StoredMessage(
                conversation_id=conversation_id,
                shop_id=item.shop_id,
                seq=seq,
                sender=item.sender,
                agent_id=item.agent_id,
                kind=item.kind,
                text=item.text,
                payload=item.payload,
                sent_at=now,
                client_msg_id=item.client_msg_id,
                nickname=item.nickname,
            )
    if advanced:
        conn.execute(_ADVANCE_CONVERSATION, advanced)
    if rows:
        conn.execute(insert(messages), rows)

    for index, item in enumerate(batch):
        if results[index] is None:
            first = results[first_of_key[item.idempotency_key]]  # type: ignore[index]
            results[index] = replace(first, duplicate=True) if isinstance(first, StoredMessage) else first
    return results  # type: ignore[return-value]


def find_by_key(conn: Connection, item: NewMessage) -> StoredMessage | None:
    """The message stored under `item`'s idempotency key, if any (after a lost race with another process)."""
    if item.idempotency_key is None:
        return None
    row = conn.execute(select(*_MESSAGE_COLUMNS).where(messages.c.message_id == item.idempotency_key)).first()
    return _stored(row, item.shop_id, duplicate=True) if row else None


def messages_after(
    conn: Connection, shop_id: str, conversation_id: str, after_seq: int, limit: int = 500
) -> list[StoredMessage]:
    """A conversation's messages after `after_seq`, in seq order (a client catching up)."""
    rows = conn.execute(
        select(*_MESSAGE_COLUMNS)
        .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
        .order_by(messages.c.seq)
        .limit(limit)
    )
    return [_stored(row, shop_id) for row in rows]
