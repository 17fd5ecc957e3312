"""Callers who prove who they are with `Authorization: Bearer …` rather than the login cookie.

Two kinds: a shop's connector with an API key (`kefu_…`, speaks for the whole shop) and a
buyer with a buyer token (speaks for one buyer at one shop). Both are checked in a short
transaction of their own and handed to routes as plain values, so a route's own transaction
never starts with a stale read (on SQLite, a read transaction that later writes fails if
someone else committed in between).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from kefu.desk.api_keys import KEY_PREFIX, access_api_key, note_api_key_use, use_is_news
from kefu.desk.buyer_tokens import BadToken, BuyerIdentity, read_token
from kefu.store.engine import session_scope
from kefu.store.models import Shop

# Named in OpenAPI, so /docs offers an "Authorize" button for each kind of caller.
api_key_scheme = HTTPBearer(
    scheme_name="ApiKey",
    description="A shop's API key (`kefu api-key create SHOP NAME`), sent as `Authorization: Bearer kefu_…`.",
    auto_error=False,
)
buyer_token_scheme = HTTPBearer(
    scheme_name="BuyerToken",
    description="A buyer token signed with the shop's secret (docs/desk.md, `kefu shop-secret SHOP`).",
    auto_error=False,
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kefu"'}


@dataclass(frozen=True)
class Connector:
    """The shop an API key speaks for."""

    key_id: int
    shop_id: str
    name: str


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=_CHALLENGE)


def connector_for_key(request: Request, key: str) -> Connector | None:
    """The connector an API key names (None if it names none), read in a transaction of its own."""
    now = datetime.now(UTC)
    with session_scope(request.app.state.sessionmaker) as session:
        row = access_api_key(session, key)
        if row is None:
            return None
        connector, touch = Connector(row.id, row.shop_id, row.name), use_is_news(row, now)
    if touch:
        with session_scope(request.app.state.write_sessionmaker) as session:
            note_api_key_use(session, connector.key_id, now)
    return connector


async def get_connector(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)]
) -> Connector:
    if credentials is None:
        raise unauthorised("An API key is required: Authorization: Bearer kefu_…")
    connector = await run_in_threadpool(connector_for_key, request, credentials.credentials)
    if connector is None:
        raise unauthorised("API key unknown or revoked")
    return connector


ConnectorDep = Annotated[Connector, Depends(get_connector)]


def buyer_for_token(request: Request, shop_id: str, token: str) -> BuyerIdentity:
    """The buyer a token names at `shop_id`, or 401 saying why (expired, bad signature…)."""
    with session_scope(request.app.state.sessionmaker) as session:
        shop = session.get(Shop, shop_id)
        secret = shop.buyer_token_secret if shop else None
    if not secret:
        # A missing shop and a shop without buyer tokens look the same to the caller.
        raise unauthorised("buyer token refused: this shop takes no buyer tokens")
    try:
        return read_token(token, secret, shop_id, datetime.now(UTC))
    except BadToken as refused:
        raise unauthorised(str(refused)) from None


async def get_buyer(
    request: Request,
    shop_id: str,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(buyer_token_scheme)],
) -> BuyerIdentity:
    """The buyer of a `/…/{shop_id}/…` route's shop, from `Authorization: Bearer <buyer token>`."""
    if credentials is None:
        raise unauthorised("A buyer token is required: Authorization: Bearer <token>")
    return await run_in_threadpool(buyer_for_token, request, shop_id, credentials.credentials)


BuyerDep = Annotated[BuyerIdentity, Depends(get_buyer)]


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)
