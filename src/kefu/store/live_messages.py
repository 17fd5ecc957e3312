"""Writing and reading live messages in batches: the SQL behind the desk's message writer.

One call stores a batch in a transaction of its own with a fixed number of statements, however
many conversations it touches: repeated idempotency keys are answered from what was stored
first (one SELECT), the batch's conversations are read and locked at once (one
`SELECT … FOR UPDATE` on PostgreSQL, so two processes never hand out the same seq), their seqs
and live state move on in one UPDATE, and the messages go in with one INSERT.

On PostgreSQL the statements are fixed texts over arrays (`= ANY(%s)`, `unnest`), so psycopg
prepares them once per connection, and they travel in two pipelines: the transaction's BEGIN and
the two SELECTs in one round trip, the UPDATE, the INSERT and the COMMIT in another. Each round
trip costs the most when the machine is busy (the server's backend and then the writer's thread
each wait for a CPU), so there are as few as the reads allow. Elsewhere the statements go through
SQLAlchemy Core and the transaction commits as usual.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, insert, select, true, update

from kefu.store.models import Conversation, Message, Webhook

messages = Message.__table__
conversations = Conversation.__table__
webhooks = Webhook.__table__

Outbox = Callable[[Connection, list["StoredMessage"]], Any]

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
        exists()
        .where(webhooks.c.shop_id == conversations.c.shop_id, webhooks.c.active.is_(true()))
        .label("listened"),
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


class _Portable:
    """The batch's reads and writes through SQLAlchemy Core (SQLite, and any other dialect)."""

    @staticmethod
    def read(conn: Connection, keys: list[str], ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        known = {row.message_id: row for row in conn.execute(_KNOWN_KEYS, {"keys": keys})} if keys else {}
        locked = {row.id: row for row in conn.execute(_LOCK_CONVERSATIONS, {"ids": ids})}
        return known, locked

    @staticmethod
    def write_and_commit(
        conn: Connection, now: datetime, advanced: list[dict[str, Any]], rows: list[dict[str, Any]]
    ) -> None:
        """The batch's writes; the caller's `conn.begin()` block commits."""
        if advanced:
            conn.execute(
                _ADVANCE_CONVERSATION,
                [
                    {
                        "b_id": a["id"],
                        "b_last_seq": a["last_seq"],
                        "b_now": now,
                        "b_last_sender": a["last_sender"],
                        "b_waiting_since": a["waiting_since"],
                    }
                    for a in advanced
                ],
            )
        if rows:
            conn.execute(insert(messages), [{**row, "sent_at": now} for row in rows])


# The same statements for PostgreSQL as fixed texts over arrays (see the module's docstring).
# Planned for the arrays they are given, not once for any: psycopg prepares a statement after a
# few runs, and PostgreSQL may then keep a generic plan made while the tables were still empty
# (a sequential scan of every message to look up ten keys, dearer as the table grows).
_PG_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
_PG_KNOWN_KEYS = (
    "SELECT message_id, conversation_id, seq, sender, agent_id, kind, text, payload, sent_at"
    " FROM messages WHERE message_id = ANY(%s::varchar[])"
)
_PG_LOCK_CONVERSATIONS = (
    "SELECT c.id, COALESCE(c.last_seq,"
    " (SELECT max(m.seq) FROM messages m WHERE m.conversation_id = c.id), 0) AS last_seq,"
    " c.last_sender, c.waiting_since,"
    " EXISTS (SELECT 1 FROM webhooks w WHERE w.shop_id = c.shop_id AND w.active) AS listened"
    " FROM conversations c WHERE c.id = ANY(%s::varchar[]) ORDER BY c.id FOR UPDATE OF c"
)
# The rows travel as one JSON document: one parameter that json.dumps writes in C, where nine
# arrays cost psycopg a Python loop over every value.
_PG_ADVANCE_CONVERSATIONS = (
    "UPDATE conversations c SET last_seq = u.last_seq, last_message_at = %s,"
    " last_sender = u.last_sender, waiting_since = u.waiting_since"
    " FROM json_to_recordset(%s::json)"
    " AS u(id varchar, last_seq int, last_sender varchar, waiting_since timestamptz) WHERE c.id = u.id"
)
_PG_INSERT_MESSAGES = (
    "INSERT INTO messages"
    " (message_id, conversation_id, seq, ordinal, sender, agent_id, sent_at, text, kind, payload)"
    " SELECT u.message_id, u.conversation_id, u.seq, u.ordinal, u.sender, u.agent_id, %s,"
    # A message without a payload holds JSON null, as SQLAlchemy's JSON type stores None.
    " u.text, u.kind, COALESCE(u.payload, 'null'::json)"
    " FROM json_to_recordset(%s::json) AS u(message_id varchar, conversation_id varchar, seq int,"
    " ordinal bigint, sender varchar, agent_id varchar, text text, kind varchar, payload json)"
)


class _Postgres:
    """The batch's reads and writes on the psycopg connection under `conn`, in two round trips."""

    @staticmethod
    def read(conn: Connection, keys: list[str], ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        from psycopg.rows import namedtuple_row

        pg = conn.connection.driver_connection
        known_rows = pg.cursor(row_factory=namedtuple_row)
        locked_rows = pg.cursor(row_factory=namedtuple_row)
        with pg.pipeline():
            known_rows.execute(_PG_CUSTOM_PLANS)
            if keys:
                known_rows.execute(_PG_KNOWN_KEYS, (keys,))
            locked_rows.execute(_PG_LOCK_CONVERSATIONS, (ids,))
        known = {}
        if keys:
            for row in known_rows.fetchall():
                # As SQLAlchemy's UTCDateTime gives it: an instant in UTC.
                known[row.message_id] = row._replace(sent_at=row.sent_at.astimezone(UTC))
        return known, {row.id: row for row in locked_rows.fetchall()}

    @staticmethod
    def write_and_commit(
        conn: Connection, now: datetime, advanced: list[dict[str, Any]], rows: list[dict[str, Any]]
    ) -> None:
        """The batch's writes and the COMMIT, in one round trip.

        A statement that fails makes the server skip the rest (the COMMIT too) and raises here;
        the caller's `conn.begin()` block then rolls back. After the COMMIT, that block's own
        commit finds no transaction open and sends nothing.
        """
        pg = conn.connection.driver_connection
        cursor = pg.cursor()
        with pg.pipeline():
            if advanced:
                cursor.execute(
                    _PG_ADVANCE_CONVERSATIONS,
                    (now, json.dumps(advanced, ensure_ascii=False, default=datetime.isoformat)),
                )
            if rows:
                cursor.execute(_PG_INSERT_MESSAGES, (now, json.dumps(rows, ensure_ascii=False)))
            cursor.execute("COMMIT")


def write_batch(
    conn: Connection,
    batch: Sequence[NewMessage],
    now: datetime,
    ordinal_base: int,
    outbox: Outbox | None = None,
) -> list[StoredMessage | ConversationMissing]:
    """Store `batch` (in order) in one transaction and return, for each item, what the client is told.

    `conn` has no transaction open; the batch gets one, committed here. `outbox(conn, stored)`
    (the webhooks' outbox) runs in it, before the rows are written, with the messages newly
    stored (not the resends) in conversations whose shop has an active webhook: what it writes
    commits or rolls back with them. Whether a shop has one is read with the conversations'
    lock, so a batch nobody listens to costs no statement more, and the answer is the
    transaction's own (a webhook made a moment before is seen, as a separate query would see it).
    """
    with conn.begin():
        return _write_batch(conn, batch, now, ordinal_base, outbox)


def _write_batch(
    conn: Connection,
    batch: Sequence[NewMessage],
    now: datetime,
    ordinal_base: int,
    outbox: Outbox | None,
) -> list[StoredMessage | ConversationMissing]:
    results: list[StoredMessage | ConversationMissing | None] = [None] * len(batch)
    keys = sorted({item.idempotency_key for item in batch if item.idempotency_key})
    # Every conversation of the batch is locked, also one whose messages all turn out to be
    # resends: that costs nothing, and lets both reads go together.
    ids = sorted({item.conversation_id for item in batch})
    statements = _Postgres if conn.dialect.name == "postgresql" else _Portable
    known, locked = statements.read(conn, keys, ids)

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
                "id": conversation_id,
                "last_seq": last,
                "last_sender": last_sender,
                "waiting_since": waiting_since,
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
    if outbox is not None:
        # Resends within the batch are still None here, earlier ones marked duplicate.
        heard = [
            r
            for r in results
            if isinstance(r, StoredMessage) and not r.duplicate and locked[r.conversation_id].listened
        ]
        if heard:
            outbox(conn, heard)
    statements.write_and_commit(conn, now, advanced, rows)

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
