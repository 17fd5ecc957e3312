"""Analytics benchmark: `kefu report` against a vectorised pandas implementation of the same metrics.

    .venv/bin/python bench/analytics.py --messages 10000000 [--seed 7] [--skip-pandas] [--cold-sql]
                                        [--from 2026-10-01 --to 2026-10-31]

Generates (cached under bench/out/, not timed) a Parquet dataset of exactly N messages with
orders, items, refunds, ratings, reviews and buyers in proportion (bench/analytics_data.py).
Then times, each as its own subprocess so that wall time and peak memory (ru_maxrss from
wait4) are its alone:
- `kefu report --data DIR --from F --to T --format json --out OUT`, the command users run;
- bench/pandas_metrics.py, the same definitions in vectorised pandas (the baseline).
kefu keeps the SQL Ibis compiles for each query on disk (kefu/analytics/compiled_sql.py, under
$XDG_CACHE_HOME or ~/.cache): a run after the first compiles nothing. --cold-sql gives kefu an
empty cache folder, as on the first run after an install or an upgrade (about 0.4 s more).
Both documents are compared value by value (rows matched by their keys, floats with a
relative tolerance of 1e-9); the first 20 mismatches and a summary are printed. The default
period is the last 30 full days of the data (in Asia/Shanghai). Targets: 10 M messages in at
most 10 s, at least 5 times faster than pandas, under 4 GB. Last line:
messages=N kefu_s=... pandas_s=... speedup=... peak_mb=...   (peak_mb is kefu's)
The exit status is 1 when kefu report fails or disagrees with pandas.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics_data import ZONE, ensure_dataset  # noqa: E402
from pandas_metrics import AGENT_KEYS, PRODUCT_KEYS, SHOP_KEYS  # noqa: E402

KEFU = ROOT / ".venv" / "bin" / "kefu"
PYTHON = ROOT / ".venv" / "bin" / "python"
PERIOD_DAYS = 30
REL_TOL = 1e-9
ABS_TOL = 1e-12
SHOWN = 20
ROW_KEYS = {
    "agents": (("shop_id", "agent_id"), AGENT_KEYS),
    "shops": (("shop_id",), SHOP_KEYS),
    "products": (("shop_id", "product_id"), PRODUCT_KEYS),
}


def default_end(folder: Path) -> date:
    """End of the default period: the local day of the last message, so that [end - 30 days, end)
    is the last 30 full days of the data."""
    meta = json.loads((folder / "generated.json").read_text())
    return datetime.fromisoformat(meta["last_sent_at"]).astimezone(ZoneInfo(ZONE)).date()


def run_timed(command: list[str], log: Path, env: dict | None = None) -> tuple[float, float, int]:
    """Run `command`, output to `log`; wall seconds, peak RSS in MB (child and its children), exit code."""
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
    return seconds, usage.ru_maxrss / 1024, process.returncode


def kefu_has_report() -> bool:
    if not KEFU.exists():
        return False
    probe = subprocess.run([str(KEFU), "report", "--help"], capture_output=True, text=True, cwd=ROOT)
    return probe.returncode == 0


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def time_kefu(span: list[str], work: Path, cold_sql: bool = False) -> tuple[float, float, dict | None]:
    """Seconds, peak MB and the document of `kefu report` (nan, nan, None when missing or failing)."""
    if not kefu_has_report():
        print("[kefu] `kefu report` is missing (no such command yet): timing pandas only", flush=True)
        return math.nan, math.nan, None
    out = work / "kefu.json"
    out.unlink(missing_ok=True)
    command = [str(KEFU), "report", *span, "--format", "json", "--out", str(out)]
    with tempfile.TemporaryDirectory(prefix="kefu-bench-cache-") as empty:
        env = {**os.environ, "XDG_CACHE_HOME": empty} if cold_sql else None
        seconds, peak_mb, code = run_timed(command, work / "kefu.log", env)
    print(f"[kefu] {seconds:.2f} s, peak {peak_mb:.0f} MB, exit {code}", flush=True)
    if code != 0 or not out.exists():
        print(f"[kefu] report failed:\n{tail(work / 'kefu.log')}")
        return seconds, peak_mb, None
    return seconds, peak_mb, json.loads(out.read_text())


def time_pandas(span: list[str], work: Path) -> tuple[float, dict | None]:
    """Seconds and the document of bench/pandas_metrics.py, run as its own process."""
    out = work / "pandas.json"
    out.unlink(missing_ok=True)
    script = ROOT / "bench" / "pandas_metrics.py"
    command = [str(PYTHON), str(script), *span, "--tz", ZONE, "--out", str(out)]
    seconds, peak_mb, code = run_timed(command, work / "pandas.log")
    print(f"[pandas] {seconds:.2f} s, peak {peak_mb:.0f} MB, exit {code} ({tail(work / 'pandas.log', 1)})")
    if code != 0:
        print(f"[pandas] failed:\n{tail(work / 'pandas.log')}")
        return math.nan, None
    document = json.loads(out.read_text())
    print(f"[pandas] rows { {s: len(document[s]) for s in ROW_KEYS} }", flush=True)
    return seconds, document


# --- comparing two report documents -----------------------------------------------------------------


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def compare(kefu: dict, pandas: dict) -> tuple[list[str], dict[str, int]]:
    """Mismatches as readable lines, and how many values were compared per section."""
    problems: list[str] = []
    checked: dict[str, int] = {}
    for end in ("from", "to"):
        k, p = kefu.get("period", {}).get(end), pandas["period"][end]
        try:
            equal = k is not None and datetime.fromisoformat(k) == datetime.fromisoformat(p)
        except ValueError:
            equal = False
        if not equal:
            problems.append(f"period.{end}: kefu {k!r}, pandas {p!r}")
    for section, (key_names, names) in ROW_KEYS.items():
        kefu_rows = {tuple(r.get(k) for k in key_names): r for r in kefu.get(section, [])}
        pandas_rows = {tuple(r[k] for k in key_names): r for r in pandas[section]}
        for key in sorted(kefu_rows.keys() - pandas_rows.keys(), key=str):
            problems.append(f"{section} {'/'.join(map(str, key))}: row only in kefu")
        for key in sorted(pandas_rows.keys() - kefu_rows.keys(), key=str):
            problems.append(f"{section} {'/'.join(map(str, key))}: row only in pandas")
        count = 0
        for key in sorted(kefu_rows.keys() & pandas_rows.keys(), key=str):
            k_row, p_row = kefu_rows[key], pandas_rows[key]
            for name in names:
                if name in key_names:
                    continue
                count += 1
                if name not in k_row:
                    problems.append(f"{section} {'/'.join(key)} {name}: missing in kefu")
                elif not same(k_row[name], p_row[name]):
                    problems.append(
                        f"{section} {'/'.join(key)} {name}: kefu {k_row[name]!r}, pandas {p_row[name]!r}"
                    )
        checked[section] = count
    return problems, checked


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-pandas", action="store_true", help="time kefu report only")
    parser.add_argument("--cold-sql", action="store_true", help="kefu starts with no compiled SQL kept")
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat)
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat)
    args = parser.parse_args()

    folder = ensure_dataset(args.messages, args.seed, log=lambda s: print(s, flush=True))
    date_to = args.date_to or (
        args.date_from + timedelta(days=PERIOD_DAYS) if args.date_from else default_end(folder)
    )
    date_from = args.date_from or date_to - timedelta(days=PERIOD_DAYS)
    print(f"dataset {folder.relative_to(ROOT)}, period [{date_from}, {date_to}) {ZONE}", flush=True)
    span = ["--data", str(folder), "--from", date_from.isoformat(), "--to", date_to.isoformat()]

    work = folder.parent / f"reports-seed-{args.seed}-{date_from}-{date_to}"  # kept for a look afterwards
    work.mkdir(exist_ok=True)
    kefu_s, kefu_mb, kefu_doc = time_kefu(span, work, args.cold_sql)
    pandas_s, pandas_doc = (math.nan, None) if args.skip_pandas else time_pandas(span, work)
    failed = kefu_doc is None or (pandas_doc is None and not args.skip_pandas)
    if kefu_doc is not None and pandas_doc is not None:
        problems, checked = compare(kefu_doc, pandas_doc)
        for line in problems[:SHOWN]:
            print(f"  mismatch: {line}")
        total = sum(checked.values())
        if problems:
            failed = True
            print(f"compare: {len(problems)} mismatches over {total} values {checked} (first {SHOWN} above)")
        else:
            print(f"compare: kefu and pandas agree on all {total} values {checked}")

    speedup = pandas_s / kefu_s if kefu_s > 0 else math.nan
    print(
        f"messages={args.messages} kefu_s={kefu_s:.2f} pandas_s={pandas_s:.2f} "
        f"speedup={speedup:.2f} peak_mb={kefu_mb:.0f}",
        flush=True,
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
