"""The message writer: every live message is stored here, in group commits, before anyone hears of it.

Sockets and the REST API `await submit(message)`. Whatever arrives while a batch is being
written becomes the next batch: one transaction, one thread, so SQLite's single writer is never
contended and PostgreSQL gets few round trips. `submit` returns only after the commit, so an
acknowledgement always names a stored message; events are published after the commit and
before the acknowledgements are released.

The thread keeps one connection for its batches rather than taking one from the pool each time
(a checkout pings the server first: one more round trip per batch); a batch that fails drops it,
so the next one, or its messages retried one by one, start on a fresh connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine

from kefu.store.live_messages import ConversationMissing, NewMessage, StoredMessage, find_by_key, write_batch

log = logging.getLogger(__name__)

# Ordinals are time-based (µs × 1000 + position in the batch), so a batch stays under 1000.
MAX_BATCH = 500

# The webhooks' outbox: runs in the batch's transaction with the messages it stores (not the
# resends) that a shop's active webhook listens to, before they are written; what it writes
# commits with them or not at all (live_messages.write_batch).
Outbox = Callable[[Connection, list[StoredMessage], datetime], None]
Publish = Callable[[list[dict]], Awaitable[None]]
Outcome = StoredMessage | Exception
T = TypeVar("T")


def _event(stored: StoredMessage) -> dict:
    """What the sockets hear of a stored message.

    A resend (`duplicate`) was stored before, perhaps by a process killed before it published it,
    in which case nobody heard of it and its sender, resending, is the only one who knows. It goes
    out again as a one-message `history`, the frame of a `sync`: clients merge it by seq and drop
    what they hold, so it is never shown twice (docs/desk.md, protocol).
    """
    event = stored.as_event()
    if not stored.duplicate:
        return event
    return {
        "type": "history",
        "shop_id": stored.shop_id,
        "conversation_id": stored.conversation_id,
        "messages": [event],
    }


class MessageWriter:
    def __init__(self, engine: Engine, *, outbox: Outbox | None = None, publish: Publish | None = None):
        self.engine = engine
        self.outbox = outbox
        self.publish = publish
        self._queue: asyncio.Queue[tuple[NewMessage, asyncio.Future[StoredMessage]]] = asyncio.Queue()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kefu-writer")
        self._task: asyncio.Task[None] | None = None
        self._conn: Connection | None = None  # used only on the writer's thread
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kefu-message-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            while not self._queue.empty() and not self._task.done():
                await asyncio.sleep(0.01)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(RuntimeError):  # stopped before
            self._thread.submit(self._drop_connection)
        self._thread.shutdown(wait=True)

    async def submit(self, message: NewMessage) -> StoredMessage:
        """Store `message`; returns it with its seq once committed (raises ConversationMissing)."""
        return await self.enqueue(message)

    def enqueue(self, message: NewMessage) -> asyncio.Future[StoredMessage]:
        """Queue `message` now, in call order; the future holds it once committed.

        A socket queues its messages in the order they came and goes on reading while they are
        written: the batches are committed in queue order, so a conversation's order holds.
        """
        if self._task is None or self._task.done():
            raise RuntimeError("the message writer is not running")
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((message, future))
        return future

    async def call(self, work: Callable[[], T]) -> T:
        """Run another write (a conversation opened, a read mark) on the writer's thread, between batches.

        On SQLite two writers in two threads make one fail at once ("database is locked": a
        transaction that read before another's commit cannot then write); one thread for every
        write of the desk never meets that.
        """
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            messages = [message for message, _ in batch]
            try:
                outcomes = await loop.run_in_executor(self._thread, self._write, messages)
            except Exception as error:  # the executor itself failed: nothing was stored
                log.exception("message batch failed")
                outcomes = [error] * len(batch)
            events = [_event(outcome) for outcome in outcomes if isinstance(outcome, StoredMessage)]
            if events and self.publish is not None:
                # Before the acknowledgements: once a client holds one, the event has gone to the
                # other processes (through Redis), even if this one dies the next moment.
                try:
                    await self.publish(events)
                except Exception:
                    # Stored: clients that missed the event catch up with `sync`.
                    log.exception("publishing %d message events failed", len(events))
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the submitter gave up (its socket closed)
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _write(self, messages: Sequence[NewMessage]) -> list[Outcome]:
        self.batches += 1
        try:
            return self._write_batch(messages)
        except Exception:
            if len(messages) == 1:
                return [self._write_alone(messages[0])]
            # One bad message must not sink its batch-mates: each is retried on its own.
            return [self._write_alone(message) for message in messages]

    def _write_batch(self, messages: Sequence[NewMessage]) -> list[Outcome]:
        now = datetime.now(UTC)
        ordinal_base = int(now.timestamp() * 1_000_000) * 1000
        if self._conn is None:
            self._conn = self.engine.connect()
        outbox = self.outbox

        def queue_deliveries(conn: Connection, stored: list[StoredMessage]) -> None:
            if outbox is not None:
                outbox(conn, stored, now)

        try:
            results = write_batch(self._conn, messages, now, ordinal_base, queue_deliveries)
        except Exception:
            self._drop_connection()
            raise
        self.written += sum(1 for r in results if isinstance(r, StoredMessage) and not r.duplicate)
        return list(results)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()  # whatever state it is in, it goes back to no pool
                conn.close()
            except Exception:
                log.warning("closing the writer's connection failed", exc_info=True)

    def _write_alone(self, message: NewMessage) -> Outcome:
        try:
            return self._write_batch([message])[0]
        except Exception as error:
            # Another process may have stored the same key first (a resend racing its original).
            try:
                with self.engine.begin() as conn:
                    found = find_by_key(conn, message)
            except Exception:
                found = None
            if found is not None:
                return found
            log.warning("message for conversation %s not stored: %s", message.conversation_id, error)
            return error


__all__ = ["ConversationMissing", "MessageWriter"]
