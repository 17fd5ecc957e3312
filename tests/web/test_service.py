"""What operators and API clients see: health, OpenAPI, headers, static files."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kefu.settings import Settings
from kefu.web.app import create_app

HTML = {"Accept": "text/html"}


def test_health_reports_the_app_and_its_database(client):
    answer = client.get("/health")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok", "version": answer.json()["version"]}


def test_health_says_so_when_the_database_is_unreachable(tmp_path):
    # Nothing listens on port 1; without the context manager start-up (and its migration) is skipped.
    unreachable = "postgresql+psycopg://kefu:a-password@127.0.0.1:1/kefu"
    client = TestClient(create_app(Settings(database_url=unreachable, data_dir=tmp_path)))

    answer = client.get("/health")

    assert answer.status_code == 503
    assert answer.json()["database"] == "unreachable"
    assert "a-password" not in answer.text


def test_openapi_describes_the_json_api(client):
    schema = client.get("/openapi.json").json()

    assert schema["info"]["title"] == "kefu"
    assert {"/health", "/api/me", "/api/shops/{shop_id}"} <= set(schema["paths"])
    assert "/login" not in schema["paths"]  # pages are not part of the API


def test_pages_carry_protective_headers(client):
    page = client.get("/login", headers=HTML)

    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_the_stylesheet_is_served(client):
    answer = client.get("/static/kefu.css")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")


def test_htmx_comes_from_the_npm_packages_folder(client):
    if client.app.state.htmx_src is None:
        pytest.skip("node_modules is missing: run `npm ci` at the repository root")
    page = client.get("/login", headers=HTML)
    assert f'<script src="{client.app.state.htmx_src}" defer></script>' in page.text

    script = client.get(client.app.state.htmx_src)

    assert script.status_code == 200
    assert "htmx" in script.text[:2000]


def test_pages_work_without_the_npm_packages(settings, seeded, tmp_path):
    bare = settings.model_copy(update={"assets_dir": tmp_path / "no-node-modules"})

    with TestClient(create_app(bare)) as client:
        page = client.get("/login", headers=HTML)
        missing = client.get("/static/vendor/htmx.org/dist/htmx.min.js")

    assert page.status_code == 200
    assert "<script" not in page.text
    assert missing.status_code == 404
