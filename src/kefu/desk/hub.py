"""Who hears what: the desk's events go from the process that stored them to every socket that listens.

`Registry` knows the sockets of this process and what each may hear: a buyer hears the
messages, typing and state of their own conversation, never an internal note or a hand-over
note; staff hear their shop's conversation changes and the messages of the conversations
they watch (an agent watches a conversation from the moment it is assigned to them).

`LocalHub` delivers within one process. `RedisHub` delivers to this process's sockets at once,
as `LocalHub` does, and sends every event through one Redis channel for the other processes:
each delivers what the others published and skips its own (marked with the process's origin)
without decoding it. What one process publishes reaches every other in the order it was
published; events of two processes may interleave differently in each process (as they could
before, when two publishes raced to Redis): clients place messages by `seq`, and catch up with
`sync`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from typing import Any, Protocol

log = logging.getLogger(__name__)

REDIS_CHANNEL = "kefu:desk:events"
# Fields of a `conversation` event that stay with the staff.
STAFF_FIELDS = ("note", "from_agent_id", "to_group", "assigned_agent_id", "skill_group", "buyer_id")

Event = dict[str, Any]


class Listener(Protocol):
    shop_id: str
    is_staff: bool
    agent_id: str | None

    def deliver(self, event: Event) -> None:
        """Queue `event` for the client; must not block."""


def buyer_view(event: Event) -> Event:
    return {key: value for key, value in event.items() if key not in STAFF_FIELDS}


class Registry:
    def __init__(self) -> None:
        self._by_conversation: dict[str, set[Listener]] = defaultdict(set)
        self._staff_by_shop: dict[str, set[Listener]] = defaultdict(set)
        self._watching: dict[Listener, set[str]] = defaultdict(set)

    def add(self, listener: Listener) -> None:
        if listener.is_staff:
            self._staff_by_shop[listener.shop_id].add(listener)

    def watch(self, listener: Listener, conversation_id: str) -> None:
        self._by_conversation[conversation_id].add(listener)
        self._watching[listener].add(conversation_id)

    def remove(self, listener: Listener) -> None:
        for conversation_id in self._watching.pop(listener, ()):
            listeners = self._by_conversation.get(conversation_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._by_conversation[conversation_id]
        staff = self._staff_by_shop.get(listener.shop_id)
        if staff is not None:
            staff.discard(listener)
            if not staff:
                del self._staff_by_shop[listener.shop_id]

    def dispatch(self, event: Event) -> None:
        conversation_id = event.get("conversation_id")
        watchers = tuple(self._by_conversation.get(conversation_id, ())) if conversation_id else ()
        staff_only = event["type"] == "note" or event.get("staff_only", False)
        if event["type"] == "presence":
            for listener in tuple(self._staff_by_shop.get(event["shop_id"], ())):
                listener.deliver(event)
            return
        if event["type"] == "conversation":
            for listener in tuple(self._staff_by_shop.get(event["shop_id"], ())):
                if listener.agent_id and event.get("assigned_agent_id") == listener.agent_id:
                    self.watch(listener, conversation_id)
                listener.deliver(event)
            if not staff_only:
                shown = buyer_view(event)
                for listener in watchers:
                    if not listener.is_staff:
                        listener.deliver(shown)
            return
        for listener in watchers:
            if listener.shop_id == event["shop_id"] and (listener.is_staff or not staff_only):
                listener.deliver(event)


class LocalHub:
    """Events stay in this process (one server process, or tests)."""

    def __init__(self) -> None:
        self.registry = Registry()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            self.registry.dispatch(event)


class RedisHub(LocalHub):
    """Events go to this process's sockets at once and through Redis pub/sub to the other processes'."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._redis: Any = None
        self._reader: asyncio.Task[None] | None = None
        # What this process publishes starts with its origin, so its reader can skip it.
        self._origin = uuid.uuid4().hex.encode() + b" "

    async def start(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self.url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(REDIS_CHANNEL)
        self._reader = asyncio.create_task(self._read(pubsub), name="kefu-redis-events")

    async def _read(self, pubsub: Any) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    data = message["data"]
                    if data.startswith(self._origin):
                        continue  # delivered here when it was published
                    for event in json.loads(data.partition(b" ")[2]):
                        self.registry.dispatch(event)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception:
                # A dropped Redis connection: clients catch up with `sync` once it is back.
                log.exception("reading desk events from Redis failed; retrying")
                await asyncio.sleep(0.5)
                try:
                    await pubsub.subscribe(REDIS_CHANNEL)
                except Exception:
                    log.warning("Redis not reachable yet")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, events: list[Event]) -> None:
        """Deliver `events` to this process's sockets at once, then send them to the other processes.

        Returns once Redis has them: the message writer acknowledges a batch only after that, so
        an acknowledged message reaches the other processes even if this one dies right after.
        """
        for event in events:
            self.registry.dispatch(event)
        await self._redis.publish(
            REDIS_CHANNEL, self._origin + json.dumps(events, ensure_ascii=False).encode()
        )


def make_hub(redis_url: str | None) -> LocalHub:
    return RedisHub(redis_url) if redis_url else LocalHub()
