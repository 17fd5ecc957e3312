"""API keys: how a shop's connector (a marketplace relay, an ERP) proves it speaks for the shop.

A key is shown once, when it is made; kefu keeps only its SHA-256, so a leaked database does
not leak working keys. Keys are long random strings, so a plain hash (no salt, no slow
function) is enough and lets a request's key be found with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.store.models import ApiKey, Shop

KEY_PREFIX = "kefu_"
MAX_NAME_LENGTH = 100
# last_used_at is a hint for the shop ("is this key still in use?"), not an audit trail:
# writing it at most once a minute keeps a busy connector from turning every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, shop_id: str, name: str, now: datetime) -> tuple[ApiKey, str]:
    """A new key for `shop_id`: the row and the key itself, which is not stored and not shown again."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ValueError(f"API key name must have 1-{MAX_NAME_LENGTH} characters; got {len(name)}")
    if session.get(Shop, shop_id) is None:
        raise NotFound("shop")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(shop_id=shop_id, name=name, key_sha256=_digest(key), created_at=now)
    session.add(row)
    session.flush()
    return row, key


def access_api_key(session: Session, key: str) -> ApiKey | None:
    """The key row a bearer key names, else None (a read only; see note_api_key_use)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return session.scalars(select(ApiKey).where(ApiKey.key_sha256 == _digest(key))).one_or_none()


def use_is_news(row: ApiKey, now: datetime) -> bool:
    """Whether last_used_at is old enough to be written again."""
    return row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION


def note_api_key_use(session: Session, key_id: int, now: datetime) -> None:
    """Record that a key was used. One UPDATE, meant as its transaction's first statement:
    a transaction that read first could not write on SQLite once another had committed."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
    )


def list_api_keys(session: Session, shop_id: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.shop_id == shop_id).order_by(ApiKey.id)))


def revoke_api_key(session: Session, shop_id: str, key_id: int) -> None:
    """Delete a shop's key: the next request with it is refused. Another shop's id is NotFound."""
    row = session.get(ApiKey, key_id)
    if row is None or row.shop_id != shop_id:
        raise NotFound("api key")
    session.delete(row)
    session.flush()
