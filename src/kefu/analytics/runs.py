"""Running a report end to end: pick the source and the engine, compute, release the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kefu.analytics.engines import Engine, StoreEngine, make_engine
from kefu.analytics.facts import FactTables
from kefu.analytics.period import Period
from kefu.analytics.reporting import Report, build_report
from kefu.analytics.sources import bind_tables, read_folder, read_store, store_tables

Progress = Callable[[str], None]


def run_report(
    period: Period,
    *,
    folder: Path | None = None,
    store_url: str | None = None,
    engine_name: str = "duckdb",
    zone: str | None = None,
    default_zone: str = "Asia/Shanghai",
    shop_id: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """The contract's report over a dataset folder or the store, on the chosen engine."""
    if (folder is None) == (store_url is None):
        raise ValueError("give either a dataset folder or a store URL")
    engine = make_engine(engine_name, store_url)
    try:
        if isinstance(engine, StoreEngine):
            facts = FactTables({}, {})
            tables = store_tables(engine)
            shops = engine.fetch(tables.pop("shops")).to_pylist()
            facts.shops = {row["shop_id"]: _shop_info(row, zone or default_zone, zone) for row in shops}
            return build_report(engine, tables, facts.shops, period, zone or default_zone, shop_id, progress)
        facts = (
            read_folder(folder, zone, default_zone, progress)
            if folder is not None
            else _store_facts(store_url, zone, progress)
        )
        return report_on(engine, facts, period, zone or default_zone, shop_id, progress)
    finally:
        engine.close()


def report_on(
    engine: Engine,
    facts: FactTables,
    period: Period,
    default_zone: str,
    shop_id: str | None = None,
    progress: Progress | None = None,
) -> Report:
    return build_report(
        engine, bind_tables(engine, facts), facts.shops, period, default_zone, shop_id, progress
    )


def _store_facts(url: str, zone: str | None, progress: Progress | None) -> FactTables:
    facts = read_store(url, progress)
    if zone:
        for info in facts.shops.values():
            info.zone = zone
    return facts


def _shop_info(row: dict, default_zone: str, zone: str | None):
    from kefu.analytics.facts import ShopInfo

    return ShopInfo(zone or row["timezone"] or default_zone, row["category"], row["name"])
