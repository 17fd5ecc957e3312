"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


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
        if database_file(parsed):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def database_file(url: URL) -> str | None:
    """A SQLite URL's database file; None for an in-memory database."""
    return url.database if url.database and url.database != ":memory:" else None


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on error."""
    with factory() as session, session.begin():
        yield session


class BackgroundCheckpoints:
    """A SQLite store's WAL checkpointed from a thread of its own instead of inside commits.

    SQLite copies the WAL back into the database (and syncs it) in the commit that takes the
    WAL past 1,000 pages. In a server that commit is usually the desk's message writer's, and
    every message of its batch, and of the batches queued behind it, waits out the copy: with
    2,000 messages a second it was the desk's slowest 1 % (p99 46-228 ms, 19-26 ms without;
    docs/benchmarks.md). Here the engine's connections never checkpoint; a thread does, with its
    own connection, in PASSIVE mode, which waits for no reader and no writer. A passive
    checkpoint cannot start the WAL over while writes keep coming, so past `restart_pages` one
    RESTART checkpoint (it briefly holds writers back) lets the next writer reuse the file.
    Nothing to do for PostgreSQL or an in-memory SQLite.
    """

    def __init__(self, engine: Engine, every_s: float = 0.5, restart_pages: int = 20_000):
        self.path = database_file(engine.url) if is_sqlite(engine) else None
        self.engine = engine
        self.every_s = every_s
        self.restart_pages = restart_pages
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # passes that ran, for tests and the curious

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.path is None or self._thread is not None:
            return
        event.listen(self.engine, "connect", _no_automatic_checkpoint)
        self.engine.dispose()  # connections made before (migrations) would still checkpoint
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kefu-wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last full checkpoint, and let connections checkpoint again."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        event.remove(self.engine, "connect", _no_automatic_checkpoint)
        self.engine.dispose()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        try:
            while not self._stop.wait(self.every_s):
                self._checkpoint(connection)
            self._checkpoint(connection, "TRUNCATE")
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection, mode: str = "PASSIVE") -> None:
        try:
            _, pages, _ = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            if mode == "PASSIVE" and pages >= self.restart_pages:
                connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # busy or locked: the next pass tries again
            log.warning("WAL checkpoint of %s did not run: %s", self.path, exc)


def _no_automatic_checkpoint(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
