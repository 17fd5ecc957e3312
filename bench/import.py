"""Import benchmark: a generated dataset of about N messages (other tables in proportion) into a store.

    .venv/bin/python bench/import.py --messages 1000000 [--db sqlite|postgres|both]
                                    [--format parquet|jsonl|csv] [--runs N]

Generation is not timed (it is cached under bench/out/). The timed part is exactly `kefu import`:
read, check every row, store in one transaction, into a new store each run. PostgreSQL is a
throw-away cluster with the default durability settings, started on loopback by
scripts/test-services (port KEFU_BENCH_PG_PORT, default 54391). Last line:
messages=N seconds=... rows_per_s=...  (with --runs N: the best run, and worst_s=... after it)
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kefu.cli import write_demo_dataset  # noqa: E402
from kefu.interchange.importing import do_import  # noqa: E402
from kefu.store.engine import make_engine  # noqa: E402
from kefu.store.migrate import upgrade  # noqa: E402
from kefu.store.models import Base  # noqa: E402

# The demo's conversations hold 9.56 messages on average: 9.5 makes --messages N give at least N.
MESSAGES_PER_CONVERSATION = 9.5


def dataset(messages: int, fmt: str, seed: int) -> Path:
    folder = ROOT / "bench" / "out" / f"import-{messages}-{fmt}-{seed}-v2"
    if not (folder / f"messages.{fmt}").exists():
        started = time.perf_counter()
        write_demo_dataset(folder, seed, max(1, math.ceil(messages / MESSAGES_PER_CONVERSATION)), fmt)
        print(
            f"generated {folder.name} in {time.perf_counter() - started:.1f} s (not timed)", file=sys.stderr
        )
    return folder


def run(url: str, folder: Path, label: str, runs: int = 1) -> str:
    times = []
    for number in range(runs):
        engine = make_engine(url)
        upgrade(engine)
        summary = do_import(engine, folder, actor="bench")
        engine.dispose()
        rows = sum(summary.rows.values())
        timings = " ".join(f"{k}={v:.2f}" for k, v in summary.timings.items())
        if number == 0:
            print(f"[{label}] tables: {summary.rows}")
        print(f"[{label}] {timings} seconds={summary.seconds:.2f}")
        times.append(summary.seconds)
        if number + 1 < runs:
            _empty_store(url)
    line = (
        f"messages={summary.rows['messages']} seconds={min(times):.2f} "
        f"rows_per_s={rows / min(times):,.0f}".replace(",", "")
    )
    return line + (f" worst_s={max(times):.2f}" if runs > 1 else "")


def _empty_store(url: str) -> None:
    """Back to an empty store at `url` for the next run (the migrations run again)."""
    database = make_url(url).database
    if url.startswith("sqlite") and database:
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)
        return
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    versions = MetaData()
    versions.reflect(engine, only=["alembic_version"])
    versions.drop_all(engine)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--format", choices=["parquet", "jsonl", "csv"], default="parquet")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", type=int, default=1, help="import N times, each into a new store")
    args = parser.parse_args()
    folder = dataset(args.messages, args.format, args.seed)
    lines = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            lines.append(("sqlite", run(f"sqlite:///{tmp}/bench.db", folder, "sqlite", args.runs)))
    if args.db in ("postgres", "both"):
        with tempfile.TemporaryDirectory(prefix="kefu-bench-pg") as tmp:
            port = os.environ.get("KEFU_BENCH_PG_PORT", "54391")
            env = {**os.environ, "KEFU_PG_DURABLE": "1", "KEFU_TEST_PG_PORT": port}
            out = subprocess.run(
                [str(ROOT / "scripts/test-services"), "start", tmp],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            url = next(line for line in out.splitlines() if "POSTGRES_URL=" in line).split("=", 1)[1]
            try:
                lines.append(("postgres", run(url, folder, "postgres", args.runs)))
            finally:
                subprocess.run([str(ROOT / "scripts/test-services"), "stop", tmp], env=env, check=False)
    for label, line in lines:
        print(f"{label}: {line}" if len(lines) > 1 and label != lines[-1][0] else line)


if __name__ == "__main__":
    main()
