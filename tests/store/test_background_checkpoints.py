"""A SQLite store's WAL is checkpointed by a thread of its own, never inside a commit."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from sqlalchemy import text

from kefu.store.engine import BackgroundCheckpoints, make_engine


def autocheckpoint(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()


def wal_bytes(path) -> int:
    wal = f"{path}-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


def write_rows(engine, transactions: int, rows: int = 20) -> None:
    for t in range(transactions):
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO notes (t, body) VALUES (:t, :body)"),
                [{"t": t, "body": os.urandom(1500).hex()} for _ in range(rows)],
            )


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_connections_leave_checkpoints_to_the_thread_while_it_runs(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    assert autocheckpoint(engine) == 1000  # SQLite's default: the committing connection copies
    checkpoints = BackgroundCheckpoints(engine, every_s=0.05)
    checkpoints.start()
    try:
        assert autocheckpoint(engine) == 0
        assert checkpoints.running
        thread = next(t for t in threading.enumerate() if t.name == "kefu-wal-checkpoints" and t.is_alive())
        assert thread.daemon
    finally:
        checkpoints.stop()
    assert autocheckpoint(engine) == 1000
    assert not checkpoints.running


def test_the_wal_is_copied_back_and_started_over_while_writes_go_on(tmp_path):
    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (t INTEGER, body TEXT)"))
    checkpoints = BackgroundCheckpoints(engine, every_s=0.02, restart_pages=200)
    checkpoints.start()
    try:
        # ~6 MB of rows: without the thread's RESTART, passive checkpoints under steady writes
        # would let the WAL grow to hold all of them.
        for _ in range(20):
            write_rows(engine, 10)
            time.sleep(0.01)
        assert wait_for(lambda: checkpoints.checkpoints >= 5)
        largest = wal_bytes(path)
        assert largest < 5_000_000, f"the WAL grew to {largest} bytes"
    finally:
        checkpoints.stop()
    assert wal_bytes(path) == 0  # a last TRUNCATE checkpoint on the way out
    # The database file itself holds every committed row, without the WAL's help.
    assert _rows_in_database_file(path) == 20 * 10 * 20


def test_nothing_to_do_for_an_in_memory_store():
    checkpoints = BackgroundCheckpoints(make_engine("sqlite://"))
    checkpoints.start()
    assert checkpoints.path is None
    assert not checkpoints.running
    checkpoints.stop()


def _rows_in_database_file(path) -> int:
    """Rows in the main database file alone: a copy of it without its WAL, read as a rollback journal file."""
    copy = path.parent / "copy.db"
    copy.write_bytes(path.read_bytes())
    data = bytearray(copy.read_bytes())
    data[18] = data[19] = 1  # file format: legacy (no WAL), so the copy ignores any -wal file
    copy.write_bytes(bytes(data))
    connection = sqlite3.connect(copy)
    try:
        return connection.execute("SELECT count(*) FROM notes").fetchone()[0]
    finally:
        connection.close()
        copy.unlink()
