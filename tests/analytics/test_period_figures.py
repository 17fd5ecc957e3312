"""A period's served and response figures from numpy (timelines.py) equal their Ibis definitions.

On DuckDB over Arrow facts, a report's served buyers, reply/question ratio and response figures
come from timelines.served_figures and timelines.response_figures; the store and Spark run
service_metrics' definitions. Here both run on the same messy messages, shaped the ways the
facts reach them (plain strings or dictionaries, in file or in time order, odd values), for
bounds in several time zones, in one, and for one shop only.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from edge_dataset import write_edge_dataset

from kefu.analytics import service_metrics, timelines, turns
from kefu.analytics.engines import DuckDBEngine
from kefu.analytics.expressions import within
from kefu.analytics.folders import read_folder
from kefu.analytics.period import Period, bounds_table

ZONE = "Asia/Shanghai"


@pytest.fixture(scope="module", params=[1, 2])
def edge(request, tmp_path_factory) -> tuple[pa.Table, dict[str, str], Period]:
    folder = tmp_path_factory.mktemp(f"edge{request.param}") / "data"
    date_from, date_to = write_edge_dataset(folder, request.param)
    facts = read_folder(folder, None, ZONE)
    zones = {shop: info.zone for shop, info in facts.shops.items()}
    return facts.tables["messages"], zones, Period(date_from, date_to)


def as_dictionaries(messages: pa.Table) -> pa.Table:
    """Shops, senders and agents dictionary-encoded, as Parquet facts arrive."""
    for name in ("shop_id", "sender", "agent_id"):
        index = messages.schema.get_field_index(name)
        messages = messages.set_column(index, name, pc.dictionary_encode(messages.column(name)))
    return messages


def in_time_order(messages: pa.Table) -> pa.Table:
    """The messages as an export lists them: by time (the edge files are not)."""
    return messages.take(np.argsort(messages.column("at").to_numpy(), kind="stable"))


def messier(messages: pa.Table) -> pa.Table:
    """Values the checks of a dataset let through rarely or never: an agent on a buyer's message,
    an agent message without its agent, conversations without a buyer."""
    generator = np.random.default_rng(5)
    sender = messages.column("sender").to_numpy(zero_copy_only=False)
    agent = np.array(messages.column("agent_id").to_pylist(), dtype=object)
    buyers = (sender == "buyer") & (generator.random(len(sender)) < 0.1)
    agent[buyers] = "a1"
    agent[(sender == "agent") & (generator.random(len(sender)) < 0.05)] = None
    conversation = messages.column("conversation_id").to_numpy()
    no_buyer = np.isin(conversation, generator.choice(np.unique(conversation), 10, replace=False))
    buyer = pa.array(messages.column("buyer_id").to_numpy(), mask=no_buyer)
    messages = messages.set_column(messages.schema.get_field_index("agent_id"), "agent_id", pa.array(agent))
    return messages.set_column(messages.schema.get_field_index("buyer_id"), "buyer_id", buyer)


SHAPES = {
    "as read": lambda m: m,
    "dictionaries": as_dictionaries,
    "in time order": lambda m: as_dictionaries(in_time_order(m)),
    "messier": lambda m: in_time_order(messier(m)),
}
BOUNDS = {
    "each shop's zone": lambda zones: (sorted(zones), zones),
    "one zone": lambda zones: (sorted(zones), {}),
    "one shop": lambda zones: (["shop_b"], zones),
}


def bounds_of(how: str, zones: dict[str, str], period: Period) -> pa.Table:
    shops, their_zones = BOUNDS[how](zones)
    return bounds_table(period, shops, their_zones, ZONE)


def assert_same_figures(actual: dict[str, pa.Table], expected: dict[str, pa.Table]) -> None:
    assert set(actual) == set(expected)
    for name, table in expected.items():
        assert actual[name].schema == table.schema, name
        order = [(column, "ascending") for column in table.column_names]
        assert actual[name].sort_by(order).to_pylist() == table.sort_by(order).to_pylist(), name


@pytest.mark.parametrize("bounds", BOUNDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_served_figures_from_numpy_equal_the_definition(edge, shape, bounds):
    messages, zones, period = edge
    messages, bounds = SHAPES[shape](messages), bounds_of(bounds, zones, period)
    engine = DuckDBEngine(timelines=False)
    counts = service_metrics.talk_counts(engine.load("m", messages), engine.load("b", bounds))
    expected = {name: engine.fetch(e) for name, e in service_metrics.served_figures(counts).items()}
    assert expected["sent_agents"].num_rows and expected["asked_shops"].num_rows
    assert_same_figures(timelines.served_figures(messages, bounds), expected)


@pytest.mark.parametrize("bounds", BOUNDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_response_figures_from_numpy_equal_the_definition(edge, shape, bounds):
    messages, zones, period = edge
    messages, bounds = SHAPES[shape](messages), bounds_of(bounds, zones, period)
    engine = DuckDBEngine(timelines=False)
    every_turn = turns.turn_table(engine.load("m", messages))
    started = within(every_turn, "turn_at", engine.load("b", bounds))
    figures = service_metrics.response_figures(every_turn, started)
    expected = {name: engine.fetch(e) for name, e in figures.items()}
    assert expected["answered_agents"].num_rows and expected["last_word"].num_rows
    assert_same_figures(timelines.response_figures(timelines.turn_table(messages), bounds), expected)


def test_no_shop_in_the_bounds_gives_no_figures(edge):
    messages, _, period = edge
    bounds = bounds_table(period, ["no such shop"], {}, ZONE)
    for figures in (
        timelines.served_figures(messages, bounds),
        timelines.response_figures(timelines.turn_table(messages), bounds),
    ):
        assert all(table.num_rows == 0 for table in figures.values())


def test_period_span_finds_the_rows_of_the_period_in_time_ordered_facts():
    at = np.array([5, 10, 10, 20, 30, 40])
    one_zone = pa.table({"shop_id": ["s1", "s2"], "p_from": [10, 10], "p_to": [30, 30]})
    assert timelines.period_span(at, one_zone) == (1, 4, True)
    two_zones = pa.table({"shop_id": ["s1", "s2"], "p_from": [10, 20], "p_to": [30, 40]})
    assert timelines.period_span(at, two_zones) == (1, 5, False)
    assert timelines.period_span(at[::-1], one_zone) == (0, 6, False)
    shops = pa.array(["s2", "s3", "s1"])
    codes = np.array([0, 0, 1, 2, 0, -1])  # s3 is not in the bounds, -1 has no shop
    flags = timelines.period_flags(codes, shops, at, two_zones)
    assert flags.tolist() == [False, False, False, True, True, False]
