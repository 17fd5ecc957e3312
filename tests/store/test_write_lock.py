"""On SQLite a transaction that writes waits for the write lock instead of failing on a race."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from kefu.store.engine import make_engine, writing


def test_a_writing_transaction_that_reads_first_waits_for_a_concurrent_writer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/lock.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE seats (n INTEGER)"))
    writes = writing(engine)
    holding = threading.Event()

    def hold_the_lock() -> None:
        with writes.begin() as conn:
            conn.execute(text("INSERT INTO seats VALUES (1)"))
            holding.set()
            time.sleep(0.3)

    other = threading.Thread(target=hold_the_lock)
    other.start()
    holding.wait()
    # Read, then write: as a deferred transaction this fails at once ("database is locked")
    # when the other commits in between; taken IMMEDIATE it waits its turn and sees that commit.
    with writes.begin() as conn:
        seen = conn.execute(text("SELECT count(*) FROM seats")).scalar_one()
        conn.execute(text("INSERT INTO seats VALUES (2)"))
    other.join()
    assert seen == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM seats")).scalar_one() == 2
