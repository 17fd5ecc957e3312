"""The two live pages: the agents' workbench (`/desk`) and the buyers' chat (`/chat/{shop_id}`).

Both pages are shells: what moves (messages, queues, timers) comes over the WebSocket and the
desk's JSON actions (docs/desk.md, "The live desk"). The routes give the scripts what they
need at start as a JSON data block: ids, thresholds, colleagues and the words they show.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound, access_shop
from kefu.desk import notices
from kefu.desk.buyer_tokens import BadToken, make_token, read_token
from kefu.desk.chat_access import buyer_secret
from kefu.desk.conversations import queue_load, staff_nickname
from kefu.desk.routing import PRESENCES
from kefu.store.models import Conversation, Product, Shop, Staff
from kefu.vocabularies import RATING_SCORES, SKILL_GROUPS
from kefu.web.dependencies import SUPERVISING_ROLES, CurrentStaff, Page, PageDep, SessionDep
from kefu.web.i18n import LANGUAGE_NAMES, MESSAGES, choose_language, supported

router = APIRouter(include_in_schema=False)

# The buyer sidebar's own styles come with its partial (routers/desk_sidebar); linked when present.
SIDEBAR_CSS = Path(__file__).resolve().parents[1] / "static" / "sidebar.css"

ANONYMOUS_TOKEN_DAYS = 30
# What the scripts show, sent to them by prefix; the rest of the catalogue stays on the server.
DESK_WORD_PREFIXES = ("desk.js.", "desk.presence.", "desk.group.", "desk.change.", "chat.kind.")
CHAT_WORD_PREFIXES = ("chat.js.", "chat.score.", "chat.kind.")
# An embedding origin goes into a header: scheme://host[:port] (a * subdomain allowed) or 'self'.
_ORIGIN = re.compile(r"'self'|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?")


def _words(language: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    return {key: text for key, text in MESSAGES[language].items() if key.startswith(prefixes)}


# --- the workbench ------------------------------------------------------------------------


@router.get("/desk")
def workbench(page: PageDep, session: SessionDep, staff: CurrentStaff) -> Response:
    """The agent's workbench: queues, the conversation, the buyer's sidebar and the composer."""
    shop = access_shop(session, staff)
    thresholds = notices.wait_thresholds(shop.policies or {})
    colleagues = session.scalars(
        select(Staff)
        .where(Staff.shop_id == shop.id, Staff.id != staff.id, Staff.password_hash.is_not(None))
        .order_by(Staff.nickname)
    ).all()
    supervising = staff.role in SUPERVISING_ROLES
    data: dict[str, Any] = {
        "agent_id": staff.agent_id,
        "nickname": staff.nickname,
        "role": staff.role,
        "shop_id": shop.id,
        "supervising": supervising,
        "presence": staff.presence,
        "thresholds": {"amber_s": thresholds.amber_s, "red_s": thresholds.red_s},
        "colleagues": {c.agent_id: c.nickname for c in colleagues},
        "words": _words(page.language, DESK_WORD_PREFIXES),
        "lang": page.language,
    }
    return page.render(
        "desk/workbench.html",
        shop=shop,
        data=data,
        colleagues=colleagues,
        skill_groups=SKILL_GROUPS,
        presences=PRESENCES,
        supervising=supervising,
        sidebar_css=SIDEBAR_CSS.is_file(),
    )


# --- the buyer's chat ---------------------------------------------------------------------


def _frame_ancestors(policies: dict[str, Any]) -> str:
    """Who may embed the chat page: the shop's `embed_origins`, else only kefu's own pages."""
    wanted = policies.get("embed_origins")
    if not isinstance(wanted, list):
        return "'self'"
    origins = [o for o in wanted if isinstance(o, str) and _ORIGIN.fullmatch(o)]
    return " ".join(origins) or "'self'"


def chat_content_policy(policies: dict[str, Any]) -> str:
    """The app's strict policy, except that the shop's own site may frame the chat."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src 'self'; frame-ancestors {_frame_ancestors(policies)}; base-uri 'self'; "
        "form-action 'self'"
    )


def _buyer_language(request: Request) -> str:
    # A page in another site's iframe gets no first-party cookie, so ?lang= switches it too.
    return supported(request.query_params.get("lang")) or choose_language(
        request.cookies.get("kefu_lang"),
        request.headers.get("accept-language"),
        request.app.state.settings.default_language,
    )


def _serving_agent(session: Session, shop_id: str, buyer_id: str) -> str | None:
    """The nickname of the agent on the buyer's open conversation, if there is one."""
    agent_id = session.scalar(
        select(Conversation.assigned_agent_id)
        .where(
            Conversation.shop_id == shop_id,
            Conversation.buyer_id == buyer_id,
            Conversation.status == "open",
        )
        .order_by(Conversation.started_at.desc())
        .limit(1)
    )
    return staff_nickname(session, shop_id, agent_id)


def _chat_headers(response: Response, shop: Shop) -> Response:
    response.headers["Content-Security-Policy"] = chat_content_policy(shop.policies or {})
    # The address may carry the buyer's token: never pass it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _language_links(request: Request) -> dict[str, str]:
    """This page in each language, keeping the query (the buyer's token, the product asked about)."""
    links = {}
    for code in LANGUAGE_NAMES:
        url = request.url.include_query_params(lang=code)
        links[code] = f"{url.path}?{url.query}"
    return links


def _chat_error(page: Page, shop: Shop, status_code: int, message_key: str) -> Response:
    response = page.render(
        "chat/error.html",
        status_code=status_code,
        shop=shop,
        message_key=message_key,
        lang_links=_language_links(page.request),
    )
    return _chat_headers(response, shop)


@router.get("/chat/{shop_id}")
def buyer_chat(
    request: Request,
    session: SessionDep,
    shop_id: str,
    token: str | None = None,
    product: str | None = None,
) -> Response:
    """The buyer's chat with a shop, on a phone or in the shop's own page (an iframe)."""
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise NotFound("shop")
    language = _buyer_language(request)
    page = Page(request, language, staff=None)
    policies = shop.policies or {}
    now = datetime.now(UTC)
    anonymous = False
    if token:
        try:
            identity = read_token(token, shop.buyer_token_secret or "", shop.id, now)
        except BadToken as refused:
            key = "chat.error.expired" if refused.reason == "expired" else "chat.error.bad_token"
            return _chat_error(page, shop, 403, key)
        buyer_id = identity.buyer_id
    elif policies.get("anonymous_chat") is True:
        anonymous = True
        buyer_id = f"anon-{secrets.token_urlsafe(12)}"
        expires = now + timedelta(days=ANONYMOUS_TOKEN_DAYS)
        token = make_token(buyer_secret(session, shop.id), shop.id, buyer_id, expires)
    else:
        return _chat_error(page, shop, 403, "chat.error.no_token")

    agent = None if anonymous else _serving_agent(session, shop.id, buyer_id)
    closed = notices.off_hours(shop.business_hours, shop.timezone, now)
    waiting, online = queue_load(session, shop.id)
    asked_about = session.get(Product, product) if product else None
    if asked_about is not None and asked_about.shop_id != shop.id:
        asked_about = None
    data: dict[str, Any] = {
        "shop_id": shop.id,
        "token": token,
        # A new anonymous buyer's token; the page keeps the one it stored before, if still valid.
        "anonymous": anonymous,
        "buyer_id": buyer_id,
        "scores": list(RATING_SCORES),
        "words": _words(language, CHAT_WORD_PREFIXES),
        "lang": language,
        "product": {"product_id": asked_about.id, "title": asked_about.title} if asked_about else None,
    }
    response = page.render(
        "chat/page.html",
        shop=shop,
        data=data,
        welcome=notices.welcome_text(shop.welcome, shop.name, agent, language),
        off_hours=closed,
        peak=notices.is_peak(waiting, online, policies),
        product=asked_about,
        scores=RATING_SCORES,
        lang_links=_language_links(request),
    )
    return _chat_headers(response, shop)
