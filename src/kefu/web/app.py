"""The FastAPI app: `create_app(settings)` is what `kefu serve` and the tests run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu import __version__
from kefu.accounts.access import NotFound
from kefu.accounts.passwords import decoy_hash
from kefu.desk.runtime import DeskRuntime
from kefu.settings import DEV_SECRET, Settings, get_settings
from kefu.store.engine import BackgroundCheckpoints, make_engine, make_sessionmaker, writing
from kefu.store.migrate import upgrade
from kefu.web import log_redaction
from kefu.web.csrf import CsrfRefused, verify_csrf
from kefu.web.dependencies import NotLoggedIn, Page, RoleRequired, language_of
from kefu.web.routers import (
    accounts,
    analytics,
    api,
    auth,
    desk_actions,
    desk_pages,
    desk_sidebar,
    desk_socket,
    health,
    home,
    shop_settings,
    shops,
    uploads,
)
from kefu.web.sessions import SessionCodec, SessionMiddleware

HERE = Path(__file__).parent
log = logging.getLogger(__name__)

# Where htmx and ECharts (the dashboard's charts) sit inside the npm packages folder.
HTMX_FILE = "htmx.org/dist/htmx.min.js"
ECHARTS_FILE = "echarts/dist/echarts.min.js"

# Our pages load nothing from elsewhere and run no inline script; FastAPI's /docs pages
# fetch Swagger UI from a CDN with inline script, so they go without this policy.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_PATHS_WITHOUT_CSP = ("/docs", "/redoc")
# The buyer's chat page lives in shops' iframes; its route sets frame-ancestors from the shop's policy.
_EMBEDDABLE_PATHS = ("/chat/",)


def assets_dir(settings: Settings) -> Path:
    """The npm packages folder served at /static/vendor.

    The `assets_dir` setting (KEFU_ASSETS_DIR) if set, else node_modules at the root of a
    source checkout (`npm ci` fills it).
    """
    if settings.assets_dir:
        return settings.assets_dir
    return HERE.parents[2] / "node_modules"


class SecurityHeadersMiddleware:
    """Headers every response gets: no sniffing, no framing, a strict content policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if not scope["path"].startswith(_EMBEDDABLE_PATHS):
                    headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not scope["path"].startswith(_PATHS_WITHOUT_CSP):
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app over the store `settings` name; its schema is brought up to date at start-up."""
    settings = settings or get_settings()
    log_redaction.install()
    engine = make_engine(settings.resolved_database_url())
    checkpoints = BackgroundCheckpoints(engine)  # SQLite: the WAL is copied back outside the commits

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Alembic blocks; running it off the event loop keeps start-up signals responsive.
        await run_in_threadpool(upgrade, engine)
        # Made now rather than at the first failed login, which would otherwise take twice as long.
        await run_in_threadpool(decoy_hash)
        if settings.secret_key == DEV_SECRET:
            log.warning("kefu uses the development secret key: set KEFU_SECRET_KEY before going live")
        checkpoints.start()
        await _app.state.desk.start()
        if settings.analytics_preload:
            from kefu.web.routers.analytics import preload_snapshot

            preload_snapshot(settings)
        yield
        await _app.state.desk.stop()
        checkpoints.stop()
        engine.dispose()

    app = FastAPI(
        title="kefu",
        version=__version__,
        summary="Customer service for online shops",
        lifespan=lifespan,
        dependencies=[Depends(verify_csrf)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.desk = DeskRuntime(settings, engine)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.write_sessionmaker = make_sessionmaker(writing(engine))
    app.state.session_codec = SessionCodec(settings.secret_key, settings.session_max_age_s)
    app.state.templates = Jinja2Templates(directory=HERE / "templates")

    vendor = assets_dir(settings)
    # Without the npm packages the pages still work: forms post without htmx.
    app.state.htmx_src = f"/static/vendor/{HTMX_FILE}" if (vendor / HTMX_FILE).is_file() else None
    if app.state.htmx_src is None:
        log.warning("htmx not found under %s: run `npm ci` at the repository root", vendor)
    # Without ECharts the dashboard shows its daily figures as a table only.
    app.state.echarts_src = f"/static/vendor/{ECHARTS_FILE}" if (vendor / ECHARTS_FILE).is_file() else None
    if vendor.is_dir():
        # The vendor mount comes first: /static would otherwise claim /static/vendor/... and 404.
        app.mount("/static/vendor", StaticFiles(directory=vendor), name="vendor")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    routers = (
        health.router,
        auth.router,
        home.router,
        accounts.router,
        shops.router,
        analytics.router,
        desk_pages.router,
        desk_socket.router,
        desk_actions.router,
        desk_sidebar.router,
        shop_settings.router,
        uploads.router,
        api.router,
    )
    for router in routers:
        app.include_router(router)
    _add_error_handlers(app)

    # Added last, so it runs first: the session is loaded before the CSRF check reads it.
    app.add_middleware(SessionMiddleware, codec=app.state.session_codec, secure=settings.cookie_secure)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error(request: Request, status_code: int, message_key: str, detail: str) -> Response:
    """An error as a page in the visitor's language for browsers, as JSON for API clients."""
    if _wants_html(request) and not request.headers.get("HX-Request"):
        page = Page(request, language_of(request), staff=None)
        return page.render("error.html", status_code=status_code, message_key=message_key)
    return JSONResponse({"detail": detail}, status_code=status_code)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, _exc: NotLoggedIn) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        if _wants_html(request):
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
        return JSONResponse({"detail": "Not logged in"}, status_code=401)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return _error(request, 403, "error.csrf", "CSRF token missing or wrong")

    @app.exception_handler(RoleRequired)
    async def role_required(request: Request, _exc: RoleRequired) -> Response:
        return _error(request, 403, "error.forbidden", "Your role does not allow this")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, _exc: NotFound) -> Response:
        return _error(request, 404, "error.not_found", "Not found")
