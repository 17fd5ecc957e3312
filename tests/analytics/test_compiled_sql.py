"""The compiled-SQL cache: a warm cache gives the same report without compiling, and keys never collide."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import ibis
import pytest

from kefu.analytics.compiled_sql import CompiledSQL, versions
from kefu.analytics.engines import DuckDBEngine
from kefu.analytics.folders import read_folder
from kefu.analytics.period import Period
from kefu.analytics.runs import report_on
from kefu.cli import write_demo_dataset

PERIOD = Period(date(2026, 10, 26), date(2026, 11, 9))
ZONE = "Asia/Shanghai"


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "data"
    write_demo_dataset(folder, seed=3, conversations=80)
    return read_folder(folder, None, ZONE)


def report(facts, folder: Path | None) -> tuple[dict, int]:
    """The report's document and how many statements its engine compiled."""
    engine = DuckDBEngine(compiled=CompiledSQL("duckdb", folder))
    try:
        document = report_on(engine, facts, PERIOD, ZONE).to_json()
    finally:
        engine.close()
    return document, engine.compiled.compiled


def test_a_warm_cache_gives_the_same_report_without_compiling(facts, tmp_path):
    uncached, _ = report(facts, None)
    cold, compiled_cold = report(facts, tmp_path)
    warm, compiled_warm = report(facts, tmp_path)
    assert compiled_cold > 10 and compiled_warm == 0
    assert cold == uncached and warm == uncached
    assert list((tmp_path / versions()).glob("*.sql"))


def test_a_damaged_statement_is_compiled_again(facts, tmp_path):
    expected, compiled = report(facts, tmp_path)
    for path in (tmp_path / versions()).glob("*.sql"):
        path.write_text(path.read_text()[:-3])  # cut short: the checksum no longer matches
    again, compiled_again = report(facts, tmp_path)
    assert again == expected and compiled_again == compiled


def key_of(expr: ibis.Expr) -> str:
    return CompiledSQL("duckdb").key(expr.op())


def test_expressions_that_differ_in_anything_get_other_keys():
    t = ibis.table({"a": "int64", "b": "string"}, name="t")
    narrower = ibis.table({"a": "int32", "b": "string"}, name="t")
    renamed = ibis.table({"a": "int64", "b": "string"}, name="u")
    variants = [
        t.filter(t.a > 1),
        t.filter(t.a > 1.0),
        t.filter(t.a > 2),
        t.filter(t.a >= 1),
        t.filter(t.b == "1"),
        t.filter(t.b == "1 "),
        t.filter((t.a > 1) & (t.b == "x")),
        t.filter(t.b == "x").filter(t.a > 1),
        narrower.filter(narrower.a > 1),
        renamed.filter(renamed.a > 1),
        t.group_by("b").aggregate(n=t.a.sum()),
        t.group_by("b").aggregate(n=t.a.max()),
        t.group_by("b").aggregate(m=t.a.sum()),
    ]
    keys = [key_of(v) for v in variants]
    assert len(set(keys)) == len(keys)
    assert key_of(t.filter(t.a > 1)) == keys[0]  # built again: the same key


def test_the_key_is_the_same_in_every_process():
    program = (
        "import ibis\n"
        "from kefu.analytics.compiled_sql import CompiledSQL\n"
        "t = ibis.table({'a': 'int64', 'b': 'string'}, name='t')\n"
        "e = t.filter(t.b.isin(('x', 'y'))).group_by('b').aggregate(n=t.a.sum())\n"
        "print(CompiledSQL('duckdb').key(e.op()))\n"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(keys) == 1


def test_in_memory_tables_are_run_as_ibis_runs_them(tmp_path):
    engine = DuckDBEngine(compiled=CompiledSQL("duckdb", tmp_path))
    try:
        table = ibis.memtable({"a": [1, 2, 3]})
        assert engine.fetch(table.filter(table.a > 1)).column("a").to_pylist() == [2, 3]
    finally:
        engine.close()
    assert not list(tmp_path.rglob("*.sql"))
