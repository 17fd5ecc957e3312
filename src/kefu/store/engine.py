"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// as psycopg 3 URLs; leave the rest alone."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def _configure_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers go on while the one writer writes; NORMAL sync is safe under WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Sorts (index builds after a bulk load, ORDER BY) run in memory rather than temp files.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
    # Python's sqlite3 begins a transaction only before INSERT/UPDATE/DELETE, so DDL sent
    # first (an index dropped for a bulk load, a migration) would escape the rollback.
    # kefu takes over: every SQLAlchemy transaction is one real SQLite transaction.
    dbapi_connection.isolation_level = None


def _begin_sqlite(conn) -> None:
    # A transaction that will write takes the write lock at once (and waits for it, up to
    # busy_timeout): a deferred one that read first fails at its first write if another
    # connection committed in between, instead of waiting its turn.
    writes = conn.get_execution_options().get(_WRITES, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


_WRITES = "kefu_writes"


def writing(engine: Engine) -> Engine:
    """The engine for transactions that write: on SQLite they begin IMMEDIATE (see _begin_sqlite)."""
    return engine.execution_options(**{_WRITES: True})


def make_engine(url: str) -> Engine:
    """An engine for the store at `url`, configured for its dialect."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on error."""
    with factory() as session, session.begin():
        yield session
