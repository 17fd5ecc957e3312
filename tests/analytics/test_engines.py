"""One definition, many engines: DuckDB over files, DuckDB over the store, SQL inside the store, Spark."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from comparing import differences
from sqlalchemy import create_engine

from kefu.analytics.engines import make_engine
from kefu.analytics.period import Period
from kefu.analytics.runs import run_report
from kefu.batch_process import ENGINE_THREADS
from kefu.cli import write_demo_dataset
from kefu.interchange.importing import do_import

PERIOD = Period(date(2026, 10, 26), date(2026, 11, 9))


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "data"
    write_demo_dataset(folder, seed=5, conversations=400)
    return folder


@pytest.fixture(scope="module")
def from_files(demo_folder) -> dict:
    return run_report(PERIOD, folder=demo_folder).to_json()


def test_the_demo_report_has_rows_and_values(from_files):
    assert len(from_files["shops"]) == 4
    assert from_files["agents"] and from_files["products"]
    shop = from_files["shops"][0]
    assert shop["turns"] > 0 and 0 < shop["reply_within_30s_rate"] <= 1
    assert shop["orders"] == shop["inquiry_orders"] + shop["bot_assisted_orders"] + shop["silent_orders"]
    assert shop["ratings_counted"] <= shop["ratings"]
    assert shop["invited_conversations"] > 0 and 0.5 < shop["rating_invitation_rate"] < 1
    assert 0 < shop["invitation_response_rate"] < 1


@pytest.mark.parametrize("engine_name", ["duckdb", "store"])
def test_the_store_gives_the_values_of_its_files(db_url, demo_folder, from_files, engine_name):
    engine = create_engine(db_url)
    do_import(engine, demo_folder, actor="test", default_zone="Asia/Shanghai")
    engine.dispose()
    from_store = run_report(PERIOD, store_url=db_url, engine_name=engine_name).to_json()
    assert differences(from_files, from_store) == []


def test_one_shop_is_that_shops_rows_of_the_whole(demo_folder, from_files):
    alone = run_report(PERIOD, folder=demo_folder, shop_id="s2").to_json()
    assert [s["shop_id"] for s in alone["shops"]] == ["s2"]
    whole = {
        table: [r for r in rows if r["shop_id"] == "s2"]
        for table, rows in from_files.items()
        if table != "period"
    }
    assert differences({"period": from_files["period"], **whole}, alone) == []


def test_duckdb_on_one_thread_gives_the_same_values(demo_folder, from_files):
    """What the command line asks for inside kefu.batch_process: DuckDB with no worker threads."""
    engine = make_engine("duckdb", duckdb_threads=ENGINE_THREADS)
    try:
        assert engine.raw.execute("SELECT current_setting('threads')").fetchall() == [(1,)]
    finally:
        engine.close()
    engine = make_engine("duckdb", duckdb_threads=ENGINE_THREADS)
    try:
        alone = run_report(PERIOD, folder=demo_folder, engine=engine).to_json()
    finally:
        engine.close()
    assert differences(from_files, alone) == []


def test_a_connection_beside_sees_the_loaded_and_kept_tables_and_runs_at_once():
    engine = make_engine("duckdb", duckdb_threads=1)
    try:
        numbers = engine.load("numbers", pa.table({"n": list(range(100_000))}))
        kept = engine.keep(numbers.filter(numbers.n % 2 == 0), "even")
        beside = engine.beside()
        total = kept.n.sum().name("total").as_table()
        with ThreadPoolExecutor(2) as pool:
            here, there = pool.map(lambda e: e.fetch(total)["total"][0].as_py(), [engine, beside])
        assert here == there == sum(range(0, 100_000, 2))
        beside.close()
        assert engine.fetch(total)["total"][0].as_py() == here  # its own connection is still open
    finally:
        engine.close()


@pytest.mark.slow
def test_spark_gives_the_values_of_duckdb(demo_folder, from_files, monkeypatch):
    monkeypatch.setenv("KEFU_SPARK_PARTITIONS", "2")
    on_spark = run_report(PERIOD, folder=demo_folder, engine_name="spark").to_json()
    # Spark sums floats in another order: the last bits of a mean may differ.
    assert differences(from_files, on_spark, rel=1e-9) == []
    json.dumps(on_spark)  # plain JSON types only
