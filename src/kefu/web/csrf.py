"""CSRF protection: a random token bound to the session, required on every unsafe request.

Pages put it in a hidden `csrf_token` field of each form and in `hx-headers` on <body>,
so htmx requests send it as the X-CSRF-Token header. SameSite=Lax already keeps the
session cookie off most cross-site POSTs; the token covers older browsers and same-site
attackers (another app on a sibling subdomain). Logging in clears the session, so a
token seen before login is worth nothing after it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import HTTPConnection, Request

FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SESSION_KEY = "csrf"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token."""


def csrf_token(session: dict[str, Any]) -> str:
    """The session's token, made on first use (also for visitors not yet logged in)."""
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return token


async def verify_csrf(connection: HTTPConnection) -> None:
    """Refuse an unsafe request whose header or form field does not carry the session's token.

    Used as an app-wide dependency, so no route can forget it. WebSockets are checked by their
    Origin instead (kefu.web.routers.desk_socket), since a browser sends no custom header there.
    """
    if not isinstance(connection, Request) or connection.method in SAFE_METHODS:
        return
    request = connection
    if request.headers.get("authorization", "").startswith("Bearer "):
        # A bearer credential is never sent by the browser on its own, and another site cannot
        # add the header without a CORS preflight kefu refuses; such routes ignore the cookie.
        return
    expected = request.session.get(_SESSION_KEY)
    sent = request.headers.get(HEADER_NAME)
    if sent is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        # Starlette caches the parsed form, so the route reads the same one.
        value = (await request.form()).get(FIELD_NAME)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(sent.encode(), str(expected).encode()):
        raise CsrfRefused()
