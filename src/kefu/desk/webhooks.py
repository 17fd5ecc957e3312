"""Webhooks: kefu tells a shop's connector what happened, signed, at least once, in the background.

Three parts:

- **Signing.** Each request carries ``X-Kefu-Signature: t=<unix seconds>,v1=<hex>`` where the hex
  is HMAC-SHA256 of ``f"{t}.{body}"`` under the webhook's secret. The time is signed with the
  body, so a captured request cannot be replayed after the tolerance (5 minutes by default).
- **Outbox.** `enqueue` writes one `webhook_deliveries` row per (event, subscribed webhook) in
  the caller's transaction: an event is queued exactly when the change it reports is committed,
  and never for a change that was rolled back.
- **Delivery.** `WebhookDeliverer` polls the due rows, posts them, marks 2xx answers delivered
  and retries anything else with exponential backoff (30 s doubling, at most 1 h apart) up to
  10 attempts, after which the row keeps its `last_error` and is left alone; finished rows
  (delivered or given up) are deleted after a week.

A receiver may see an event twice (a crash between the POST and the mark); the body's `id`
(also the `X-Kefu-Delivery` header) is the same on every attempt, so it can drop repeats.

Webhooks go to public addresses only (unless KEFU_WEBHOOK_PRIVATE_NETWORKS is on): a shop's
URL must not make kefu call its own database, metadata service or LAN. A literal address or
`localhost` is refused when the webhook is registered; a host name is resolved before every
delivery and the attempt fails if any of its addresses is not public.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.store.live_messages import StoredMessage
from kefu.store.models import Conversation, Webhook, WebhookDelivery
from kefu.vocabularies import WEBHOOK_EVENTS

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Kefu-Signature"
EVENT_HEADER = "X-Kefu-Event"
DELIVERY_HEADER = "X-Kefu-Delivery"
DEFAULT_TOLERANCE_S = 300
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
REQUEST_TIMEOUT_S = 5.0
# A claimed delivery is not due again for this long: another process (or this one after a
# crash) retries it only if the first never recorded an outcome.
CLAIM_LEASE = timedelta(seconds=60)
# What of a failed answer's body is kept in last_error, enough to see what the receiver said.
ERROR_BODY_CHARS = 200
# Delivered and given-up deliveries are kept this long for a connector to look at, then deleted:
# every message makes a row per subscribed webhook, so the table would otherwise grow for ever.
KEEP_FINISHED = timedelta(days=7)
PURGE_EVERY = timedelta(hours=1)

webhooks = Webhook.__table__
deliveries = WebhookDelivery.__table__
conversations = Conversation.__table__


# ---------------------------------------------------------------- signing


class BadSignature(ValueError):
    """A webhook request whose signature header is missing, malformed, stale or wrong."""


def new_secret() -> str:
    """A fresh webhook secret (256 random bits), shown to the shop once when the webhook is made."""
    return "whsec_" + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """The X-Kefu-Signature value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={int(timestamp)},v1={_mac(secret, int(timestamp), _as_bytes(body))}"


def verify(
    secret: str, header: str | None, body: bytes | str, now: float, tolerance: float = DEFAULT_TOLERANCE_S
) -> None:
    """Check a received request's signature; raise BadSignature saying what is wrong.

    `body` must be the raw bytes received (re-serialised JSON would not match). Several `v1`
    values are accepted, so a sender can sign with an old and a new secret while rotating.
    """
    if not header:
        raise BadSignature(f"{SIGNATURE_HEADER} header missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature(f"{SIGNATURE_HEADER} malformed: needs t=<unix seconds>,v1=<hex>")
    if abs(now - timestamp) > tolerance:
        raise BadSignature(
            f"{SIGNATURE_HEADER} timestamp {timestamp} is more than {tolerance:.0f} s from now"
        )
    expected = _mac(secret, timestamp, _as_bytes(body))
    # Every candidate is compared in constant time; a match anywhere is enough.
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise BadSignature(f"{SIGNATURE_HEADER} does not match the body")


# ---------------------------------------------------------------- outbox


@dataclass(frozen=True)
class WebhookEvent:
    """Something a shop's webhooks may want to hear: `event` is one of vocabularies.WEBHOOK_EVENTS."""

    shop_id: str
    event: str
    payload: dict[str, Any]


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"webhook payload: {type(value).__name__} is not JSON")


def _subscribers(conn: Connection, events: Sequence[WebhookEvent]) -> dict[str, list[tuple[int, list[str]]]]:
    """The active webhooks of the events' shops: shop id -> [(webhook id, events subscribed)]."""
    shop_ids = {event.shop_id for event in events}
    found: dict[str, list[tuple[int, list[str]]]] = {}
    rows = conn.execute(
        select(webhooks.c.id, webhooks.c.shop_id, webhooks.c.events).where(
            webhooks.c.shop_id.in_(shop_ids), webhooks.c.active.is_(True)
        )
    )
    for row in rows:
        found.setdefault(row.shop_id, []).append((row.id, list(row.events or ())))
    return found


def _check_names(events: Iterable[WebhookEvent]) -> None:
    for event in events:
        if event.event not in WEBHOOK_EVENTS:
            raise ValueError(f"webhook event {event.event!r} is not one of {', '.join(WEBHOOK_EVENTS)}")


def _outbox_rows(
    events: Sequence[WebhookEvent], subscribers: dict[str, list[tuple[int, list[str]]]], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    created_at = now.astimezone(UTC).isoformat()
    for event in events:
        for webhook_id, wanted in subscribers.get(event.shop_id, ()):
            if wanted and event.event not in wanted:
                continue
            envelope = {
                "event": event.event,
                "shop_id": event.shop_id,
                "created_at": created_at,
                "data": event.payload,
            }
            rows.append(
                {
                    "webhook_id": webhook_id,
                    "event": event.event,
                    # Through JSON once here, so a datetime in a payload fails in the caller's
                    # transaction with a clear message rather than in the driver.
                    "payload": json.loads(json.dumps(envelope, default=_json_ready, ensure_ascii=False)),
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
    return rows


def enqueue(conn: Connection, events: list[WebhookEvent], now: datetime) -> int:
    """Queue `events` for every active webhook of their shops that subscribed to them.

    Runs in the caller's transaction: one SELECT of the webhooks, one executemany INSERT of the
    deliveries. Returns how many deliveries were queued.
    """
    if not events:
        return 0
    _check_names(events)
    subscribers = _subscribers(conn, events)
    if not subscribers:
        return 0
    rows = _outbox_rows(events, subscribers, now)
    if rows:
        conn.execute(insert(deliveries), rows)
    return len(rows)


def enqueue_messages(conn: Connection, stored: list[StoredMessage], now: datetime) -> int:
    """`message.created` for messages just written (the message writer's outbox hook).

    The payload is the socket's `message` event plus the conversation's `buyer_id` and
    `channel`, which a connector needs to relay the message to the right marketplace chat.
    The writer calls it only for messages of shops with an active webhook (live_messages.write_batch
    reads that with the conversations' lock): then it costs two SELECTs (the webhooks' events,
    the conversations) and the INSERT.
    """
    if not stored:
        return 0
    events = [WebhookEvent(message.shop_id, "message.created", message.as_event()) for message in stored]
    subscribers = _subscribers(conn, events)
    if not subscribers:
        return 0
    ids = {message.conversation_id for message in stored if message.shop_id in subscribers}
    known = {
        row.id: row
        for row in conn.execute(
            select(conversations.c.id, conversations.c.buyer_id, conversations.c.channel).where(
                conversations.c.id.in_(ids)
            )
        )
    }
    for event in events:
        conversation = known.get(event.payload["conversation_id"])
        event.payload.pop("type", None)
        event.payload["buyer_id"] = conversation.buyer_id if conversation else None
        event.payload["channel"] = conversation.channel if conversation else None
    rows = _outbox_rows(events, subscribers, now)
    if rows:
        conn.execute(insert(deliveries), rows)
    return len(rows)


# ---------------------------------------------------------------- a shop's webhooks


class BadWebhook(ValueError):
    """A webhook a shop may not register; the message names the field and why."""


MAX_URL_LENGTH = 500
MAX_WEBHOOKS_PER_SHOP = 20


def check_webhook(
    url: str, events: Sequence[str], *, private_networks: bool = False
) -> tuple[str, list[str]]:
    """The (url, events) to store, or BadWebhook naming what is wrong."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhook(f"url: {url!r} is not an http(s) URL with a host")
    if len(url) > MAX_URL_LENGTH:
        raise BadWebhook(f"url: {len(url)} characters; at most {MAX_URL_LENGTH}")
    if not private_networks and _names_a_private_host(parts.hostname):
        raise BadWebhook(
            f"url: {parts.hostname} is a loopback, private or link-local address; webhooks go to "
            "public hosts (KEFU_WEBHOOK_PRIVATE_NETWORKS allows others)"
        )
    unknown = [name for name in events if name not in WEBHOOK_EVENTS]
    if unknown:
        raise BadWebhook(
            f"events: {', '.join(map(repr, unknown))} unknown; known: {', '.join(WEBHOOK_EVENTS)}"
        )
    # Kept in the vocabulary's order, once each: the stored list reads the same however it was sent.
    return url, [name for name in WEBHOOK_EVENTS if name in events]


def not_public(address: str) -> bool:
    """Whether an IP address is loopback, private, link-local, shared, reserved or the like."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is no part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _names_a_private_host(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not_public(host)
    except ValueError:  # a name, resolved at each delivery
        return False


async def resolves_to_private(host: str, port: int) -> str | None:
    """The first non-public address `host` resolves to, or None when all are public."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port)
    for *_rest, sockaddr in found:
        if not_public(str(sockaddr[0])):
            return str(sockaddr[0])
    return None


def create_webhook(
    session: Session,
    shop_id: str,
    url: str,
    events: Sequence[str],
    now: datetime,
    *,
    private_networks: bool = False,
) -> tuple[Webhook, str]:
    """Register a webhook for `shop_id`; returns it and its secret (the only time the secret is shown)."""
    url, wanted = check_webhook(url, events, private_networks=private_networks)
    count = len(list_webhooks(session, shop_id))
    if count >= MAX_WEBHOOKS_PER_SHOP:
        raise BadWebhook(f"shop {shop_id} has {count} webhooks; at most {MAX_WEBHOOKS_PER_SHOP}")
    secret = new_secret()
    webhook = Webhook(shop_id=shop_id, url=url, secret=secret, events=wanted, active=True, created_at=now)
    session.add(webhook)
    session.flush()
    return webhook, secret


def list_webhooks(session: Session, shop_id: str) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.shop_id == shop_id).order_by(Webhook.id)))


def delete_webhook(session: Session, shop_id: str, webhook_id: int) -> None:
    """Remove a shop's webhook and its queued deliveries; another shop's id is NotFound like a missing one."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.shop_id != shop_id:
        raise NotFound("webhook")
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    session.delete(webhook)
    session.flush()


def list_deliveries(
    session: Session, shop_id: str, webhook_id: int, limit: int = 50
) -> list[WebhookDelivery]:
    """A webhook's latest deliveries, newest first, to see what a receiver answered."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.shop_id != shop_id:
        raise NotFound("webhook")
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


# ---------------------------------------------------------------- delivery


def retry_delay(attempts: int) -> timedelta:
    """How long after failed attempt number `attempts` (1-based) the next one is due."""
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class _Claimed:
    id: int
    event: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str


def _host(url: str) -> str:
    # Logs name the host only: a URL's path or query may carry a connector's own token.
    return urlsplit(url).netloc or "?"


class WebhookDeliverer:
    """Posts due webhook deliveries in the background of the web app.

    `start()` inside a running event loop, `await stop()` at shutdown; `run_once()` does one
    round (the tests drive it directly with their own clock).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 50,
        timeout: float = REQUEST_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        transport: httpx.AsyncBaseTransport | None = None,
        private_networks: bool = False,
    ) -> None:
        self.engine = engine
        self.private_networks = private_networks
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.clock = clock
        self._transport = transport
        # One polling task per event loop: an app whose lifespan runs in two loops at once (two
        # test clients) starts one in each, and each loop's shutdown stops its own.
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        """Start polling in the running event loop (once per loop)."""
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None or task.done():
            self._tasks[loop] = loop.create_task(self._run(), name="kefu-webhook-deliverer")

    async def stop(self) -> None:
        """Stop polling in this loop; a round in progress is cancelled and its claims expire (CLAIM_LEASE)."""
        task = self._tasks.pop(asyncio.get_running_loop(), None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        purged_at: datetime | None = None
        async with self._client() as client:
            while True:
                try:
                    now = self.clock()
                    if purged_at is None or now - purged_at >= PURGE_EVERY:
                        purged_at = now
                        await asyncio.to_thread(self.purge, now)
                    busy = await self.run_once(client)
                except Exception:
                    # The store may be briefly unreachable; the next round tries again.
                    log.exception("webhook delivery round failed")
                    busy = 0
                if busy < self.batch_size:  # a full batch means more are due: go on at once
                    await asyncio.sleep(self.poll_interval)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout,
            transport=self._transport,
            follow_redirects=False,  # a redirect could send the signed event somewhere unintended
            headers={"User-Agent": "kefu-webhooks"},
        )

    async def run_once(self, client: httpx.AsyncClient | None = None) -> int:
        """Claim the due deliveries, post them all, record each outcome; returns how many were tried."""
        claimed = await asyncio.to_thread(self._claim, self.clock())
        if not claimed:
            return 0
        if client is None:
            async with self._client() as own:
                outcomes = await asyncio.gather(*(self._post(own, item) for item in claimed))
        else:
            outcomes = await asyncio.gather(*(self._post(client, item) for item in claimed))
        await asyncio.to_thread(self._record, list(zip(claimed, outcomes, strict=True)), self.clock())
        return len(claimed)

    def purge(self, now: datetime) -> int:
        """Delete the deliveries finished (delivered or given up) more than KEEP_FINISHED ago."""
        cutoff = now - KEEP_FINISHED
        finished = or_(
            deliveries.c.delivered_at < cutoff,
            and_(
                deliveries.c.delivered_at.is_(None),
                deliveries.c.attempts >= self.max_attempts,
                deliveries.c.next_attempt_at < cutoff,
            ),
        )
        # Like the claim: nothing to delete stays a read, leaving SQLite's one write lock alone.
        with self.engine.connect() as conn:
            if conn.scalar(select(deliveries.c.id).where(finished).limit(1)) is None:
                return 0
        with self.engine.begin() as conn:
            gone = conn.execute(delete(deliveries).where(finished)).rowcount
        if gone:
            log.info("webhook deliveries: %d finished before %s deleted", gone, cutoff.date())
        return gone

    def _claim(self, now: datetime) -> list[_Claimed]:
        due = and_(
            deliveries.c.delivered_at.is_(None),
            deliveries.c.next_attempt_at <= now,
            deliveries.c.attempts < self.max_attempts,
        )
        # Polling an idle outbox stays a read: SQLite's one write lock is left to the message writer.
        with self.engine.connect() as conn:
            if conn.scalar(select(deliveries.c.id).where(due).limit(1)) is None:
                return []
        # The claim is one UPDATE, so its transaction never reads before it writes (on SQLite a
        # transaction that read first cannot write once another has committed). Re-checking `due`
        # keeps two processes apart: a row claimed by the other is no longer due. SKIP LOCKED
        # (PostgreSQL; SQLite has one writer anyway) lets them take different rows without waiting.
        next_due = (
            select(deliveries.c.id)
            .where(due)
            .order_by(deliveries.c.next_attempt_at)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            claimed_ids = list(
                conn.scalars(
                    update(deliveries)
                    .where(deliveries.c.id.in_(next_due.scalar_subquery()), due)
                    .values(next_attempt_at=now + CLAIM_LEASE)
                    .returning(deliveries.c.id)
                )
            )
            if not claimed_ids:
                return []
            rows = conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.event,
                    deliveries.c.payload,
                    deliveries.c.attempts,
                    webhooks.c.url,
                    webhooks.c.secret,
                    webhooks.c.active,
                )
                .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
                .where(deliveries.c.id.in_(claimed_ids))
                .order_by(deliveries.c.id)
            )
            # A webhook switched off after the event was queued gets nothing more.
            return [
                _Claimed(row.id, row.event, row.payload, row.attempts, row.url, row.secret)
                for row in rows
                if row.active
            ]

    async def _post(self, client: httpx.AsyncClient, item: _Claimed) -> str | None:
        """None when the receiver took it (2xx), else what went wrong, for last_error."""
        body = json.dumps({"id": item.id, **item.payload}, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(item.secret, int(self.clock().timestamp()), body),
            EVENT_HEADER: item.event,
            DELIVERY_HEADER: str(item.id),
        }
        try:
            refused = None if self.private_networks else await self._private_address(item.url)
            if refused:
                outcome = f"refused: {_host(item.url)} resolves to {refused}, not a public address"
                log.warning("webhook delivery %s %s", item.id, outcome)
                return outcome
            answer = await client.post(item.url, content=body, headers=headers)
        except OSError as error:  # the name did not resolve
            outcome = f"{type(error).__name__}: {error}"[:ERROR_BODY_CHARS]
        except httpx.HTTPError as error:
            said = str(error)
            outcome = f"{type(error).__name__}: {said}"[:ERROR_BODY_CHARS] if said else type(error).__name__
        else:
            if 200 <= answer.status_code < 300:
                return None
            outcome = f"HTTP {answer.status_code}: {answer.text[:ERROR_BODY_CHARS]}"
        log.info("webhook delivery %s to %s failed: %s", item.id, _host(item.url), outcome)
        return outcome

    @staticmethod
    async def _private_address(url: str) -> str | None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if _names_a_private_host(host):
            return host
        return await resolves_to_private(host, parts.port or (443 if parts.scheme == "https" else 80))

    def _record(self, outcomes: list[tuple[_Claimed, str | None]], now: datetime) -> None:
        delivered = [
            {"b_id": item.id, "b_attempts": item.attempts + 1} for item, error in outcomes if error is None
        ]
        failed = [
            {
                "b_id": item.id,
                "b_attempts": item.attempts + 1,
                "b_error": error,
                "b_next": now + retry_delay(item.attempts + 1),
            }
            for item, error in outcomes
            if error is not None
        ]
        with self.engine.begin() as conn:
            if delivered:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == bindparam("b_id"))
                    .values(attempts=bindparam("b_attempts"), delivered_at=now, last_error=None),
                    delivered,
                )
            if failed:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == bindparam("b_id"))
                    .values(
                        attempts=bindparam("b_attempts"),
                        last_error=bindparam("b_error"),
                        next_attempt_at=bindparam("b_next"),
                    ),
                    failed,
                )
        self.delivered += len(delivered)
        self.failed += len(failed)
        for item, error in outcomes:
            if error is not None and item.attempts + 1 >= self.max_attempts:
                log.warning(
                    "webhook delivery %s (%s) to %s given up after %d attempts: %s",
                    item.id,
                    item.event,
                    _host(item.url),
                    item.attempts + 1,
                    error,
                )
