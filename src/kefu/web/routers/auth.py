"""Logging in and out, and choosing the UI language."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kefu.accounts.access import access_staff_by_login
from kefu.web.dependencies import OptionalStaff, PageDep, SessionCodecDep, SessionDep, SettingsDep
from kefu.web.i18n import LANGUAGE_COOKIE, supported
from kefu.web.sessions import log_in, log_out

router = APIRouter(include_in_schema=False)

HOME = "/home"
LANGUAGE_COOKIE_AGE_S = 365 * 24 * 3600


def local_path(target: str | None, default: str = HOME) -> str:
    """`target` if it is a path on this site, else `default`: redirects never leave kefu."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


def _redirect(request: Request, target: str) -> Response:
    # htmx follows HX-Redirect with a full page load; a plain 303 would be swapped in place.
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/login")
def login_page(request: Request, page: PageDep, staff: OptionalStaff, next: str = HOME) -> Response:
    if staff is not None:
        return _redirect(request, local_path(next))
    return page.render("login.html", next=local_path(next))


@router.post("/login")
def login(
    request: Request,
    page: PageDep,
    session: SessionDep,
    codec: SessionCodecDep,
    username: Annotated[str, Form(max_length=130)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    staff = access_staff_by_login(session, username, password)
    if staff is None:
        return page.render(
            "login.html", status_code=400, failed=True, username=username, next=local_path(next)
        )
    log_in(request.session, staff.id, codec.password_fingerprint(staff.id, staff.password_hash or ""))
    return _redirect(request, local_path(next))


@router.post("/logout")
def logout(request: Request) -> Response:
    log_out(request.session)
    return _redirect(request, "/login")


@router.get("/lang")
def choose_language(settings: SettingsDep, to: str, next: str = HOME) -> Response:
    """Remember the language picked in the switcher, then go back to the page it was picked on."""
    response = RedirectResponse(local_path(next), status_code=303)
    language = supported(to)
    if language is not None:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_AGE_S,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
        )
    return response
