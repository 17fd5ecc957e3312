"""Shared fixtures: a real store on SQLite and, where the test services run, on PostgreSQL."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from kefu.store.engine import make_engine
from kefu.store.migrate import upgrade

POSTGRES_URL = os.environ.get("KEFU_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_counter = itertools.count()


def pytest_collection_modifyitems(config, items):
    # In CI the PostgreSQL and browser suites must run: a missing server is a failure, not a skip.
    if IN_CI and not POSTGRES_URL:
        raise pytest.UsageError(
            "CI=true but KEFU_TEST_POSTGRES_URL is not set: run the tests through `make test`"
        )


def _postgres_template() -> str:
    """A migrated template database, made once per run; each test copies it (fast, isolated)."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"kefu_tpl_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine = make_engine(_with_database(name))
    upgrade(engine)
    engine.dispose()
    admin.dispose()
    return name


def _with_database(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    if not POSTGRES_URL:
        yield None
        return
    yield _postgres_template()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, postgres_template) -> Iterator[str]:
    """A migrated, empty store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kefu.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL test server not running (make test starts it; CI never skips)")
    name = f"kefu_t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {postgres_template}"))
    yield _with_database(name)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
