"""The fast paths of a DuckDB report give what the portable definitions give.

On DuckDB, turns and attributed orders are computed on sorted arrays (timelines.py), a period's
served and response figures on numpy (test_period_figures.py), and Parquet id columns are read
as dictionaries; the store and Spark run the Ibis definitions. Here both
ways run on the same messy datasets: the precomputed tables equal the definitions' row for row,
whole reports (with every filter) agree, and a Parquet copy of a dataset reports what the
reference reads from the original.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from comparing import differences
from edge_dataset import write_edge_dataset
from reference import reference_report

from kefu.analytics import attribution, service_metrics, timelines, turns
from kefu.analytics.engines import DuckDBEngine, written_out
from kefu.analytics.folders import read_folder
from kefu.analytics.period import Period
from kefu.analytics.runs import Extras, report_on, run_report
from kefu.analytics.timelines import stable_order
from kefu.cli import write_demo_dataset
from kefu.interchange.files import find_tables, read_table
from kefu.interchange.schema import TABLES
from kefu.interchange.validation import Context, load_dataset

ZONE = "Asia/Shanghai"


@pytest.fixture(scope="module", params=[1, 2])
def edge(request, tmp_path_factory) -> tuple[Path, Period]:
    folder = tmp_path_factory.mktemp(f"edge{request.param}") / "data"
    date_from, date_to = write_edge_dataset(folder, request.param)
    return folder, Period(date_from, date_to)


def sorted_rows(table: pa.Table, keys: list[str]) -> list[dict]:
    return table.sort_by([(k, "ascending") for k in keys]).to_pylist()


def test_turns_from_sorted_arrays_equal_the_definition(edge):
    facts = read_folder(edge[0], None, ZONE)
    engine = DuckDBEngine(timelines=False)
    messages = engine.load("m", facts.tables["messages"])
    expected = engine.fetch(turns.turn_table(messages))
    actual = written_out(timelines.turn_table(facts.tables["messages"]))  # shops and agents as read
    assert actual.num_rows > 0 and actual.schema == expected.schema
    keys = ["conversation_id", "turn_key"]
    assert sorted_rows(actual, keys) == sorted_rows(expected, keys)


def test_attribution_from_sorted_arrays_equals_the_definition(edge):
    facts = read_folder(edge[0], None, ZONE)
    engine = DuckDBEngine(timelines=False)
    messages = engine.load("m", facts.tables["messages"])
    orders = engine.load("o", facts.tables["orders"])
    expected = engine.fetch(attribution.attributed_orders(messages, orders))
    actual = timelines.attributed_orders(facts.tables["messages"], facts.tables["orders"])
    channels = set(actual.column("channel").to_pylist())
    assert channels == {attribution.INQUIRY, attribution.BOT_ASSISTED, attribution.SILENT}
    assert actual.schema == expected.schema
    assert sorted_rows(actual, ["order_id"]) == sorted_rows(expected, ["order_id"])


def test_the_bots_conversations_from_arrays_equal_the_definition(edge):
    facts = read_folder(edge[0], None, ZONE)
    engine = DuckDBEngine(timelines=False)
    expected = engine.fetch(service_metrics.bot_conversations(engine.load("m", facts.tables["messages"])))
    actual = timelines.bot_conversations(facts.tables["messages"])
    assert actual.num_rows > 0 and actual.schema == expected.schema
    assert sorted_rows(actual, ["conversation_id"]) == sorted_rows(expected, ["conversation_id"])


@pytest.mark.parametrize(
    "filters",
    [{}, {"segment": "presale"}, {"segment": "aftersale", "channel": "human"}, {"channel": "bot"}],
)
def test_reports_with_and_without_the_fast_paths_agree(edge, filters):
    folder, period = edge
    facts = read_folder(folder, None, ZONE)
    chosen = {"segment": filters.get("segment", "all"), "channel": filters.get("channel", "all")}
    fast = report_on(DuckDBEngine(), facts, period, ZONE, extras=Extras(filters=chosen))
    portable = report_on(DuckDBEngine(timelines=False), facts, period, ZONE, extras=Extras(filters=chosen))
    assert fast.shops and differences(portable.to_json(), fast.to_json()) == []


def test_one_shop_with_and_without_the_fast_paths(tmp_path):
    folder = tmp_path / "demo"
    write_demo_dataset(folder, seed=3, conversations=300)
    facts = read_folder(folder, None, ZONE)
    period = Period(date(2026, 10, 26), date(2026, 11, 9))
    for shop, when in (("s1", period), ("s3", period), ("s3", period.previous())):
        fast = report_on(DuckDBEngine(), facts, when, ZONE, shop_id=shop).to_json()
        portable = report_on(DuckDBEngine(timelines=False), facts, when, ZONE, shop_id=shop).to_json()
        assert fast["shops"] and differences(portable, fast) == []


@pytest.mark.parametrize(("filters", "from_numpy"), [({}, True), ({"segment": "presale"}, False)])
def test_the_periods_figures_come_from_numpy_unless_a_filter_chose_conversations(
    edge, filters, from_numpy, monkeypatch
):
    # A segment or channel filter is a semi-join on the engine: those reports take the definitions.
    calls = []
    for name in ("served_figures", "response_figures"):
        computed = getattr(timelines, name)
        monkeypatch.setattr(timelines, name, lambda *args, f=computed: calls.append(f) or f(*args))
    folder, period = edge
    facts = read_folder(folder, None, ZONE)
    extras = Extras(compare=True, filters={"segment": filters.get("segment", "all"), "channel": "all"})
    report_on(DuckDBEngine(), facts, period, ZONE, shop_id="shop_b", extras=extras)
    # The report, the whole instance's (for the peers) and the previous period, two figures each.
    assert len(calls) == (6 if from_numpy else 0)


def as_parquet(folder: Path, target: Path) -> None:
    """The dataset with every part written as Parquet (strings as read, small row groups)."""
    for name, parts in find_tables(folder, TABLES).items():
        for part in parts:
            table = read_table(next(s for s in TABLES if s.name == name), [part]).data
            path = target / Path(part.label).with_suffix(".parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            # Each row group gets its own dictionary: the reader must put them on one.
            pq.write_table(table, path, row_group_size=max(table.num_rows // 3, 1))


def test_a_parquet_copy_reports_what_the_reference_reads(edge, tmp_path):
    folder, period = edge
    copy = tmp_path / "parquet"
    as_parquet(folder, copy)
    read = load_dataset(copy, Context(), dictionaries=True).tables["messages"]
    assert pa.types.is_dictionary(read.schema.field("conversation_id").type)
    facts = read_folder(copy, None, ZONE)
    report = report_on(DuckDBEngine(), facts, period, ZONE).to_json()
    expected = reference_report(folder, period.date_from, period.date_to)
    assert differences(expected, report, keys_of_expected=True) == []


@pytest.mark.slow
def test_spark_reads_a_parquet_copy_like_the_reference(tmp_path, monkeypatch):
    # Spark takes plain columns: the dictionaries read from Parquet are written out for it.
    monkeypatch.setenv("KEFU_SPARK_PARTITIONS", "2")
    folder = tmp_path / "data"
    date_from, date_to = write_edge_dataset(folder, 3)
    as_parquet(folder, tmp_path / "parquet")
    on_spark = run_report(Period(date_from, date_to), folder=tmp_path / "parquet", engine_name="spark")
    expected = reference_report(folder, date_from, date_to)
    assert differences(expected, on_spark.to_json(), keys_of_expected=True) == []


def test_parquet_values_with_blanks_and_spaces_read_as_their_trimmed_values(tmp_path):
    # One row group per part, and enum values that only trimming makes equal: " agent" and
    # "agent" must become one value (one code), and a blank agent id no value.
    rows = {
        "conversation_id": ["c1", "c1", "c1", "c2", "c2"],
        "shop_id": ["s1"] * 5,
        "buyer_id": ["b1", "b1", "b1", "b2", "b2"],
        "sender": ["buyer", " agent", "agent ", "buyer", "bot"],
        "agent_id": ["", "a1", "a1", "", ""],
        "sent_at": [f"2026-11-02T10:0{i}:00+08:00" for i in range(5)],
    }
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.table(rows), folder / "messages.parquet")
    messages = load_dataset(folder, Context(), dictionaries=True).tables["messages"]
    assert messages["sender"].to_pylist() == ["buyer", "agent", "agent", "buyer", "bot"]
    assert len(messages["sender"].chunk(0).dictionary) == 3
    assert messages["agent_id"].to_pylist() == [None, "a1", "a1", None, None]
    facts = read_folder(folder, None, ZONE)
    turn = timelines.turn_table(facts.tables["messages"]).to_pylist()
    assert [(t["turn_key"], t["agent_id"], t["response_us"]) for t in turn] == [
        (0, "a1", 60_000_000),
        (0, None, None),
    ]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_stable_order_is_numpys_stable_argsort(dtype):
    generator = np.random.default_rng(4)
    cases = [(0, 3, 1000), (-1, 5, 1000), (0, 1 << 20, 100_000), (-(1 << 40), 1 << 40, 100), (0, 1, 0)]
    for low, high, count in cases:
        keys = generator.integers(low, high, count, endpoint=True).astype(dtype)
        assert np.array_equal(stable_order(keys), np.argsort(keys, kind="stable"))
