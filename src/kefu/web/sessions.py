"""The session cookie: a signed (not encrypted) JSON dict, HttpOnly and SameSite=Lax.

The cookie holds only ids and the CSRF token, never anything secret; itsdangerous signs it
with a key derived from the app's secret, and its timestamp bounds the login's lifetime.
Stateless on purpose: logging out deletes the cookie, and a password change ends every
session of that person because the session carries a fingerprint of the password hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "kefu_session"
SALT = "kefu.session.v1"


class SessionCodec:
    """Turns a session dict into a cookie value and back; refuses tampered or expired ones."""

    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        self._secret = secret_key.encode()
        self.max_age_s = max_age_s

    def dumps(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def loads(self, value: str | None) -> dict[str, Any]:
        if not value:
            return {}
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadSignature:  # also covers SignatureExpired
            return {}
        return data if isinstance(data, dict) else {}

    def password_fingerprint(self, staff_id: int, password_hash: str) -> str:
        """A short keyed digest of the password hash: it changes when the password does."""
        message = f"{staff_id}:{password_hash}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:24]


class SessionMiddleware:
    """Loads the cookie into `scope["session"]` (`request.session`); writes it back when changed."""

    def __init__(self, app: ASGIApp, *, codec: SessionCodec, secure: bool) -> None:
        self.app = app
        self.codec = codec
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(COOKIE_NAME)
        session = self.codec.loads(raw)
        scope["session"] = session
        before = json.dumps(session, sort_keys=True)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                after = json.dumps(scope["session"], sort_keys=True)
                if after != before or (raw and not scope["session"]):
                    MutableHeaders(scope=message).append("set-cookie", self._cookie(scope["session"]))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, session: dict[str, Any]) -> str:
        if session:
            value, age = self.codec.dumps(session), self.codec.max_age_s
        else:
            # An empty session (logged out, or a tampered or expired cookie) deletes the cookie.
            value, age = "", 0
        parts = [f"{COOKIE_NAME}={value}", "Path=/", f"Max-Age={age}", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


_STAFF_KEY = "staff_id"
_FINGERPRINT_KEY = "pw"


def log_in(session: dict[str, Any], staff_id: int, fingerprint: str) -> None:
    """Record a login; anything the visitor's session held before is dropped (no fixation)."""
    session.clear()
    session[_STAFF_KEY] = staff_id
    session[_FINGERPRINT_KEY] = fingerprint


def log_out(session: dict[str, Any]) -> None:
    """Forget the login; an empty session deletes the cookie."""
    session.clear()


def logged_in_staff(session: dict[str, Any]) -> tuple[int, str] | None:
    """The (staff id, password fingerprint) the session names, if any."""
    staff_id, fingerprint = session.get(_STAFF_KEY), session.get(_FINGERPRINT_KEY)
    if isinstance(staff_id, int) and isinstance(fingerprint, str):
        return staff_id, fingerprint
    return None
