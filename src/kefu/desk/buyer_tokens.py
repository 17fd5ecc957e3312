"""Buyer tokens: how a shop vouches for a buyer who opens its chat page.

A token is ``base64url(payload) + "." + base64url(HMAC-SHA256(secret, base64url(payload)))``
without padding, where the payload is the JSON object
``{"shop": shop_id, "buyer": buyer_id, "exp": unix_seconds, "name": nickname}`` ("name" is
optional). The shop's server makes it with the secret kefu keeps for the shop
(`shops.buyer_token_secret`), so a buyer can neither forge one nor turn one into another's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_ID_LENGTH = 64


class BadToken(ValueError):
    """The token is malformed, forged, expired or for another shop; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"buyer token refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class BuyerIdentity:
    shop_id: str
    buyer_id: str
    expires_at: datetime
    nickname: str | None = None


def new_secret() -> str:
    """A fresh shop secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode("ascii"), hashlib.sha256).digest())


def make_token(
    secret: str, shop_id: str, buyer_id: str, expires_at: datetime, nickname: str | None = None
) -> str:
    """A token for `buyer_id` at `shop_id`, valid until `expires_at`."""
    payload: dict[str, object] = {"shop": shop_id, "buyer": buyer_id, "exp": int(expires_at.timestamp())}
    if nickname:
        payload["name"] = nickname
    body = _b64(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    return f"{body}.{_signature(secret, body)}"


def read_token(token: str, secret: str, shop_id: str, now: datetime) -> BuyerIdentity:
    """The buyer a token names, if it is genuine, unexpired and for `shop_id`; else BadToken."""
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature:
        raise BadToken("malformed")
    # Compared before the payload is even decoded: nothing of a forged token is trusted.
    if not hmac.compare_digest(signature, _signature(secret, body)):
        raise BadToken("bad signature")
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        raise BadToken("malformed payload") from None
    if not isinstance(payload, dict):
        raise BadToken("malformed payload")
    shop, buyer, exp, name = (
        payload.get("shop"),
        payload.get("buyer"),
        payload.get("exp"),
        payload.get("name"),
    )
    if not isinstance(buyer, str) or not buyer or len(buyer) > MAX_ID_LENGTH:
        raise BadToken("buyer missing or too long")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise BadToken("exp missing")
    if shop != shop_id:
        raise BadToken("for another shop")
    expires_at = datetime.fromtimestamp(exp, UTC)
    if expires_at <= now:
        raise BadToken("expired")
    return BuyerIdentity(shop_id, buyer, expires_at, name if isinstance(name, str) and name else None)
