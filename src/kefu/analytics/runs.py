"""Running a report end to end: pick the source and the engine, compute, add the lead's sections."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import ibis.expr.types as ir

from kefu.analytics import comparison, load, refund_watch, reporting, scorecard
from kefu.analytics.engines import Engine, StoreEngine, make_engine
from kefu.analytics.facts import FactTables, ShopInfo
from kefu.analytics.folders import agent_groups, read_folder, shop_infos
from kefu.analytics.period import Period
from kefu.analytics.reporting import Report, build_report
from kefu.analytics.sources import bind_tables, read_store, store_tables

Progress = Callable[[str], None]


@dataclass
class Extras:
    """Sections beyond the contract's document: 环比 and peers, and the scorecard."""

    compare: bool = False
    peer_rows: list[dict] | None = None  # from a peer file; default: same-category shops in the data
    targets: dict[str, tuple[scorecard.Target, ...]] | None = None  # None: no scorecard
    load: bool = False  # conversations and buyers per agent and hour of the day
    refund_watch: bool = False  # refund rates per product and reason against the shop's history
    filters: dict[str, str] = field(default_factory=dict)  # segment, channel


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
    segment: str = "all",
    channel: str = "all",
    extras: Extras | None = None,
    reading: Future[FactTables] | None = None,
    engine: Engine | None = None,
) -> Report:
    """The report over a dataset folder or the store, on the chosen engine.

    `reading` is `folder` being read already (folders.read_folder; the command line starts it
    before this module loads). `engine` is one the caller made, and closes (otherwise the
    engine called `engine_name` is made and closed here).
    """
    if (folder is None) == (store_url is None):
        raise ValueError("give either a dataset folder or a store URL")
    extras = extras or Extras()
    extras.filters = {"segment": segment, "channel": channel}
    with ThreadPoolExecutor(1) as pool:
        # The files are read while the engine starts: its modules take a while to import (Spark a
        # while to start), and reading is mostly Arrow and numpy, which let go of the GIL.
        if reading is None and folder:
            reading = pool.submit(read_folder, folder, zone, default_zone, progress)
        owned = engine is None
        if owned:
            engine = make_engine(engine_name, store_url)
        try:
            if isinstance(engine, StoreEngine):
                tables = store_tables(engine)
                shops = shop_infos(engine.fetch(tables.pop("shops")), zone, default_zone)
                groups = agent_groups(engine.fetch(tables.pop("agents")))
            else:
                facts = reading.result() if reading else read_store(store_url, progress, zone, default_zone)
                tables, shops, groups = bind_tables(engine, facts), facts.shops, facts.agent_groups
            return complete_report(
                engine, tables, shops, groups, period, zone or default_zone, shop_id, progress, extras
            )
        finally:
            if owned:
                engine.close()


def report_on(
    engine: Engine,
    facts: FactTables,
    period: Period,
    default_zone: str,
    shop_id: str | None = None,
    progress: Progress | None = None,
    extras: Extras | None = None,
) -> Report:
    """The report over fact tables already read (the dashboard keeps them between requests)."""
    tables = bind_tables(engine, facts)
    return complete_report(
        engine,
        tables,
        facts.shops,
        facts.agent_groups,
        period,
        default_zone,
        shop_id,
        progress,
        extras or Extras(),
    )


def complete_report(
    engine: Engine,
    tables: dict[str, ir.Table],
    shops: dict[str, ShopInfo],
    groups: dict[tuple[str, str], str],
    period: Period,
    default_zone: str,
    shop_id: str | None,
    progress: Progress | None,
    extras: Extras,
) -> Report:
    report = build_report(engine, tables, shops, period, default_zone, shop_id, progress, **extras.filters)
    if extras.compare:
        if progress:
            progress("previous period")
        # Peers come from the whole instance even when the report is for one shop.
        whole = (
            report
            if shop_id is None
            else build_report(engine, tables, shops, period, default_zone, None, None, **extras.filters)
        )
        before = build_report(
            engine, tables, shops, period.previous(), default_zone, shop_id, None, **extras.filters
        )
        peers = extras.peer_rows
        if peers is None and shop_id is not None:
            peers = [dict(r, category=shops.get(r["shop_id"], ShopInfo("")).category) for r in whole.shops]
        compared = comparison.compare_shops(report, before, shops, peers)
        report.sections["previous_period"] = before.period
        report.sections["comparison"] = comparison.comparison_json(compared)
    if extras.load or extras.refund_watch:
        scoped = reporting.scope(
            engine,
            tables,
            shops,
            period,
            default_zone,
            shop_id,
            shop_ids=[r["shop_id"] for r in report.shops],
            **extras.filters,
        )
        chosen = scoped.facts
        if extras.load:
            report.sections["load"] = load.load_by_hour(
                engine, chosen["messages"], scoped.bounds, period, scoped.zones
            )
        if extras.refund_watch and chosen.get("orders") is not None and chosen.get("refunds") is not None:
            report.sections["refund_watch"] = refund_watch.refund_watch(
                engine, chosen["orders"], chosen.get("order_items"), chosen["refunds"], scoped.bounds, period
            )
    if extras.targets is not None:
        report.sections["scorecard"] = scorecard.scorecard_json(
            scorecard.grade(report, groups, extras.targets)
        )
    return report
