"""Where a report's data comes from: a dataset folder (checked like an import) or the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa

from kefu.analytics import timelines
from kefu.analytics.engines import Engine, StoreEngine
from kefu.analytics.facts import NEEDED_FIELDS, FactTables, ShopInfo, encode_ids, facts_from_dataset
from kefu.interchange.validation import Context, load_dataset

Progress = Callable[[str], None]


def read_folder(
    folder: Path, zone: str | None, default_zone: str, progress: Progress | None = None
) -> FactTables:
    """Read and check a dataset folder (bad input raises DatasetError, as an import would).

    `zone` (the report's --tz) is every shop's zone when given; otherwise a shop's zone comes
    from the dataset's `shops` table, else `default_zone`.
    """
    context = Context(default_zone=zone or default_zone, only_zone=zone)
    dataset = load_dataset(folder, context, progress, fields=NEEDED_FIELDS, dictionaries=True)
    listed = dataset.get("shops")
    shops = shop_infos(listed, zone, default_zone) if listed is not None else {}
    for shop, shop_zone in dataset.zones.items():
        shops.setdefault(shop, ShopInfo(zone or shop_zone))
    tables, dictionaries = encode_ids(facts_from_dataset(dataset.tables))
    return FactTables(tables, shops, agent_groups(dataset.get("agents")), dictionaries)


def shop_infos(shops: pa.Table, zone: str | None, default_zone: str) -> dict[str, ShopInfo]:
    """Each listed shop's zone (`zone`, the report's --tz, wins over its own), category and name."""
    return {
        row["shop_id"]: ShopInfo(zone or row["timezone"] or default_zone, row["category"], row["name"])
        for row in shops.to_pylist()
    }


def agent_groups(agents: pa.Table | None) -> dict[tuple[str, str], str]:
    if agents is None:
        return {}
    return {(r["shop_id"], r["agent_id"]): r["skill_group"] for r in agents.to_pylist() if r["skill_group"]}


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
