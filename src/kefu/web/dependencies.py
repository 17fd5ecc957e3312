"""What routes ask for, as named types: `SessionDep`, `CurrentStaff`, `RequireSupervisor`, `PageDep`..."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from kefu import __version__
from kefu.accounts.access import access_shop, access_staff_by_id
from kefu.settings import Settings
from kefu.store.engine import session_scope
from kefu.store.models import Shop, Staff
from kefu.web.csrf import SAFE_METHODS, csrf_token
from kefu.web.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES, choose_language, labeller, translator
from kefu.web.sessions import SessionCodec, log_out, logged_in_staff

SUPERVISING_ROLES = frozenset({"admin", "supervisor"})


class NotLoggedIn(Exception):
    """The request needs a logged-in staff member and has none."""


class RoleRequired(Exception):
    """The staff member's role does not reach this route."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session_codec(request: Request) -> SessionCodec:
    return request.app.state.session_codec


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionCodecDep = Annotated[SessionCodec, Depends(get_session_codec)]


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises.

    Requests that may write (every unsafe method) take the store's write lock from the start.
    """
    state = request.app.state
    factory = state.sessionmaker if request.method in SAFE_METHODS else state.write_sessionmaker
    with session_scope(factory) as session:
        yield session


# scope="function" commits before the response leaves, so a client that follows a
# redirect after a write always reads that write.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def get_optional_staff(request: Request, session: SessionDep, codec: SessionCodecDep) -> Staff | None:
    """The logged-in staff member, or None; a session from before a password change is ended."""
    login = logged_in_staff(request.session)
    if login is None:
        return None
    staff_id, fingerprint = login
    staff = access_staff_by_id(session, staff_id)
    if staff is None or not hmac.compare_digest(
        codec.password_fingerprint(staff.id, staff.password_hash or ""), fingerprint
    ):
        log_out(request.session)
        return None
    return staff


OptionalStaff = Annotated[Staff | None, Depends(get_optional_staff)]


def get_current_staff(staff: OptionalStaff) -> Staff:
    if staff is None:
        raise NotLoggedIn()
    return staff


CurrentStaff = Annotated[Staff, Depends(get_current_staff)]


def require_supervisor(staff: CurrentStaff) -> Staff:
    if staff.role not in SUPERVISING_ROLES:
        raise RoleRequired()
    return staff


def require_admin(staff: CurrentStaff) -> Staff:
    if staff.role != "admin":
        raise RoleRequired()
    return staff


RequireSupervisor = Annotated[Staff, Depends(require_supervisor)]
RequireAdmin = Annotated[Staff, Depends(require_admin)]


def get_current_shop(session: SessionDep, staff: CurrentStaff) -> Shop:
    return access_shop(session, staff)


CurrentShop = Annotated[Shop, Depends(get_current_shop)]


def language_of(request: Request) -> str:
    """The UI language for this request (also used by error handlers, outside dependencies)."""
    return choose_language(
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
        request.app.state.settings.default_language,
    )


Language = Annotated[str, Depends(language_of)]


class Page:
    """Renders a template with what every page needs: words, language, CSRF token, who is in."""

    def __init__(self, request: Request, language: str, staff: Staff | None) -> None:
        self.request = request
        self.language = language
        self.staff = staff

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        templates: Jinja2Templates = self.request.app.state.templates
        url = self.request.url
        # The language switcher returns here with a GET, which only makes sense after a GET.
        here = (url.path + (f"?{url.query}" if url.query else "")) if self.request.method == "GET" else "/"
        context = {
            "t": translator(self.language),
            "label": labeller(self.language),
            "lang": self.language,
            "languages": LANGUAGE_NAMES,
            "here": here,
            "csrf_token": csrf_token(self.request.session),
            "staff": self.staff,
            "htmx_src": self.request.app.state.htmx_src,
            "version": __version__,
            **context,
        }
        # Pages carry the CSRF token and personal data: keep them out of every cache.
        headers = {"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"}
        return templates.TemplateResponse(
            self.request, template, context, status_code=status_code, headers=headers
        )


def get_page(request: Request, language: Language, staff: OptionalStaff) -> Page:
    return Page(request, language, staff)


PageDep = Annotated[Page, Depends(get_page)]
