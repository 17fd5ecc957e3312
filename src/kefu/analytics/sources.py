"""Where a report's data comes from: the store, or a dataset folder (folders.py), bound to an engine."""

from __future__ import annotations

from collections.abc import Callable

import ibis.expr.types as ir
import pyarrow as pa

from kefu.analytics import timelines
from kefu.analytics.engines import Engine, StoreEngine
from kefu.analytics.facts import FactTables, encode_ids
from kefu.analytics.folders import agent_groups, shop_infos

Progress = Callable[[str], None]


def bind_tables(engine: Engine, facts: FactTables) -> dict[str, ir.Table]:
    """The fact tables on `engine`, with those timelines.py derives when the engine takes them."""
    tables = {name: engine.load(f"fact_{name}", table) for name, table in facts.tables.items()}
    if engine.timelines:
        for name, table in timelines.derived_tables(facts.tables).items():
            tables[name] = engine.load(f"derived_{name}", table)
    return tables


def read_store(
    url: str,
    progress: Progress | None = None,
    zone: str | None = None,
    default_zone: str = "Asia/Shanghai",
) -> FactTables:
    """The store's rows as Arrow fact tables (for a DuckDB report or the dashboard's snapshot).

    `zone` (the report's --tz) is every shop's zone when given.
    """
    store = StoreEngine(url)
    try:
        tables = {}
        for name, expr in store_tables(store).items():
            if progress:
                progress(f"reading {name}")
            tables[name] = expr.to_pyarrow()
        shops = shop_infos(tables.pop("shops"), zone, default_zone)
        groups = agent_groups(tables.pop("agents"))
        facts = {n: _normalised(n, t) for n, t in tables.items() if t.num_rows or n == "messages"}
        coded, dictionaries = encode_ids(facts)
        return FactTables(coded, shops, groups, dictionaries)
    finally:
        store.close()


def store_tables(store: StoreEngine) -> dict[str, ir.Table]:
    from kefu.store.facts import fact_queries

    return store.facts(fact_queries(store.store_dialect))


def _normalised(name: str, table: pa.Table) -> pa.Table:
    from kefu.analytics.facts import FACT_COLUMNS

    schema = FACT_COLUMNS[name]
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)
