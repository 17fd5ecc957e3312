"""The dashboard's copy of the store: its facts read once into DuckDB and reused between requests.

One snapshot per store URL, process-wide. A request asks `get_snapshot(url)`; at most every
`check_interval_s` seconds that costs a version check (counts and greatest ids of the tables the
metrics read: about 15 ms on a million messages). When the version moved, a new snapshot is read
in a background thread while requests go on being answered from the old one; only the first load
of a store makes a request wait.

Two things make a report on a snapshot fast after the first:
- the engine remembers the SQL each expression compiled to (DuckDBEngine, compiled_sql.py): Ibis
  takes longer to compile the report's queries than DuckDB takes to run them, and a report for
  another period compiles to the same SQL (the period is data, the `bounds` table, not a literal);
- it remembers the tables `keep()` made from the facts alone (the turn table, attributed orders,
  conversation kinds), which do not depend on the period: another period only runs the
  per-period aggregates.
Whole-instance reports are then kept per (period, filters), the most recently used first.

The catch: a new period still costs a whole report (about 0.5 s on a million messages, two
cores), and a reload reads the whole store again (6 s there). An incremental refresh would
append new rows instead; it needs the store to say which rows changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy import Engine as StoreEngine
from sqlalchemy import func, select

from kefu.analytics import segments, turns
from kefu.analytics.attribution import attributed_orders
from kefu.analytics.engines import DuckDBEngine, Engine
from kefu.analytics.facts import FactTables, ShopInfo
from kefu.analytics.period import Period
from kefu.analytics.reporting import Report, build_report
from kefu.analytics.sources import bind_tables, read_store

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 5.0  # how stale a snapshot may be before a request checks the store's version
KEPT_REPORTS = 24  # whole-instance reports kept per snapshot
KEPT_RESULTS = 64  # other results (a shop's daily figures, a drill-down) kept per snapshot


class SnapshotEngine(DuckDBEngine):
    """DuckDB that remembers compiled SQL, and the kept tables that depend on the facts alone."""

    def __init__(self) -> None:
        super().__init__()
        self._kept: dict[ops.Node, ir.Table] = {}
        self._lasting: set[str] = set()  # tables whose rows never change: the facts, kept results
        self._scratch: list[str] = []  # kept tables of one request (they read per-request data)
        self._created = ""
        self._settled = False

    def load(self, name: str, data: pa.Table) -> ir.Table:
        if not self._settled:
            self._lasting.add(name)
        return super().load(name, data)

    def settle(self) -> None:
        """From now on loaded tables (a period's bounds) change between requests: never keep from them."""
        self._settled = True

    def _create(self, name: str, sql: str) -> None:
        super()._create(name, sql)
        self._created = name

    def keep(self, expr: ir.Table, hint: str = "kept") -> ir.Table:
        node = expr.op()
        if node in self._kept:
            return self._kept[node]
        kept = super().keep(expr, hint)
        if {t.name for t in node.find(ops.PhysicalTable)} <= self._lasting:
            self._kept[node] = kept
            self._lasting.add(self._created)
        else:
            self._scratch.append(self._created)
        return kept

    def drop_scratch(self) -> None:
        for name in self._scratch:
            self.raw.execute(f'DROP TABLE IF EXISTS "{name}"')
        self._scratch.clear()


@dataclass
class Snapshot:
    """Fact tables bound to one engine, with what has been computed from them.

    Every use of the engine goes through `lock`: a DuckDB connection runs one query at a time.
    """

    engine: Engine
    facts: FactTables
    tables: dict[str, ir.Table]
    default_zone: str
    url: str | None = None
    version: tuple = ()
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _results: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _data_days: dict[str, date] | None = field(default=None, repr=False)
    _depth: int = field(default=0, repr=False)  # nested computations under way (a diagnosis runs reports)

    @classmethod
    def over(cls, engine: Engine, facts: FactTables, default_zone: str, **more) -> Snapshot:
        """A snapshot of `facts` on `engine` (a SnapshotEngine for the dashboard, any engine in tests)."""
        tables = bind_tables(engine, facts)
        if isinstance(engine, SnapshotEngine):
            engine.settle()
        return cls(engine, facts, tables, default_zone, **more)

    @property
    def shops(self) -> dict[str, ShopInfo]:
        return self.facts.shops

    def zone_of(self, shop_id: str) -> str:
        info = self.shops.get(shop_id)
        return (info.zone if info else None) or self.default_zone

    def remembered(self, key: Hashable, compute: Callable[[], object], keep: int = KEPT_RESULTS):
        """`compute()` once per key (under the lock); the least recently used results are dropped."""
        with self.lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
            self._depth += 1
            try:
                value = compute()
            finally:
                self._depth -= 1
                if self._depth == 0 and isinstance(self.engine, SnapshotEngine):
                    self.engine.drop_scratch()
            self._results[key] = value
            kinds = [k for k in self._results if k[0] == key[0]]
            for old in kinds[: max(0, len(kinds) - keep)]:
                del self._results[old]
            return value

    def report(self, period: Period, segment: str = "all", channel: str = "all") -> Report:
        """The report of every shop of the instance (peers need the other shops' rows)."""
        return self.remembered(
            ("report", period, segment, channel),
            lambda: build_report(
                self.engine,
                self.tables,
                self.shops,
                period,
                self.default_zone,
                segment=segment,
                channel=channel,
            ),
            keep=KEPT_REPORTS,
        )

    def kept_report(self, period: Period, segment: str = "all", channel: str = "all") -> Report | None:
        """The whole-instance report if it was computed already, else None (nothing is computed)."""
        with self.lock:
            return self._results.get(("report", period, segment, channel))

    def shop_report(self, shop_id: str, period: Period, segment: str = "all", channel: str = "all") -> Report:
        """The rows of one shop: the same as a report run with `shop_id`."""
        return only_shop_rows(self.report(period, segment, channel), shop_id)

    # The three expressions below are written as the report writes them, so that the engine
    # finds what the report kept and drill-downs and trends reuse it instead of recomputing it.

    def narrowed(self, segment: str = "all", channel: str = "all") -> dict[str, ir.Table]:
        """The facts with messages and ratings of the conversations the filters choose (segments.py)."""
        return segments.narrow(self.engine, dict(self.tables), segment, channel)

    def turn_table(self, messages: ir.Table) -> ir.Table:
        """Every turn with who answered it and when (turns.turn_table), computed once."""
        return self.engine.keep(turns.turn_table(messages), "turns")

    def credited(self, messages: ir.Table, orders: ir.Table) -> ir.Table:
        """Orders with the agent and conversation they are credited to (attribution.py), computed once."""
        return self.engine.keep(attributed_orders(messages, orders), "credited")

    def last_day_with_data(self, shop_id: str) -> date | None:
        """The last day, on the shop's calendar, with a message or an order of the shop."""
        with self.lock:
            if self._data_days is None:
                self._data_days = self._find_data_days()
        return self._data_days.get(shop_id)

    def _find_data_days(self) -> dict[str, date]:
        latest: dict[str, int] = {}
        for name, column in (("messages", "at"), ("orders", "created")):
            table = self.tables.get(name)
            if table is None:
                continue
            found = self.engine.fetch(table.group_by("shop_id").aggregate(last=table[column].max()))
            for row in found.to_pylist():
                if row["last"] is not None:
                    latest[row["shop_id"]] = max(latest.get(row["shop_id"], row["last"]), row["last"])
        return {
            shop: datetime.fromtimestamp(us / 1e6, UTC).astimezone(ZoneInfo(self.zone_of(shop))).date()
            for shop, us in latest.items()
        }

    def close(self) -> None:
        with self.lock:
            self._results.clear()
            self.engine.close()


def only_shop_rows(report: Report, shop_id: str) -> Report:
    return replace(
        report,
        agents=[r for r in report.agents if r["shop_id"] == shop_id],
        shops=[r for r in report.shops if r["shop_id"] == shop_id],
        products=[r for r in report.products if r["shop_id"] == shop_id],
        sections={},
    )


def store_version(engine: StoreEngine) -> tuple:
    """What changes when rows the metrics read are added, removed, paid or refunded: cheap to ask."""
    from kefu.store.models import Message, Order, Rating, RatingInvitation, Refund, Review, Shop

    def count(model, *where):
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    def greatest(column):
        return select(func.max(column)).scalar_subquery()

    query = select(
        count(Message),
        greatest(Message.id),
        count(Order),
        greatest(Order.id),
        count(Order, Order.paid_at.is_not(None)),
        count(Rating),
        greatest(Rating.id),
        count(Refund),
        greatest(Refund.id),
        count(Refund, Refund.status == "completed"),
        count(Review),
        greatest(Review.id),
        count(RatingInvitation),
        greatest(RatingInvitation.id),
        count(Shop),
    )
    with engine.connect() as conn:
        return tuple(conn.execute(query).one())


def load_snapshot(url: str, default_zone: str, version: tuple = ()) -> Snapshot:
    started = time.perf_counter()
    facts = read_store(url)
    snapshot = Snapshot.over(SnapshotEngine(), facts, default_zone, url=url, version=version)
    rows = facts.tables["messages"].num_rows
    log.info(
        "analytics snapshot of %s: %d messages in %.1f s", _redacted(url), rows, time.perf_counter() - started
    )
    return snapshot


def _redacted(url: str) -> str:
    from kefu.store.engine import redact

    return redact(url)


Warm = Callable[[Snapshot], None]


class _Store:
    """One store's current snapshot, and the reload under way."""

    def __init__(self, url: str) -> None:
        from kefu.store.engine import make_engine

        self.url = url
        self.engine = make_engine(url)
        self.lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.checked = 0.0
        self.reloading: threading.Thread | None = None
        self.warm: Warm | None = None


class Snapshots:
    """The snapshots of every store this process reports on (the web app uses `SNAPSHOTS`)."""

    def __init__(
        self, check_interval_s: float = CHECK_INTERVAL_S, background: bool = True, warm: Warm | None = None
    ) -> None:
        self.check_interval_s = check_interval_s
        self.background = background
        self.warm = warm  # run on a new snapshot before it replaces the old one (fills the caches)
        self._stores: dict[str, _Store] = {}
        self._lock = threading.Lock()

    def get(self, url: str, default_zone: str = "Asia/Shanghai", warm: Warm | None = None) -> Snapshot:
        """The store's snapshot: loaded now if there is none, else current to a few seconds.

        `warm` (the first given for a store) runs on each new snapshot before it is used: after
        the first load in the background, on a reload before the new snapshot replaces the old.
        """
        with self._lock:
            store = self._stores.get(url)
            if store is None:
                store = self._stores[url] = _Store(url)
            store.warm = store.warm or warm or self.warm
        with store.lock:
            if store.snapshot is None:
                version = store_version(store.engine)
                store.snapshot = load_snapshot(url, default_zone, version)
                store.checked = time.monotonic()
                if store.warm is not None:
                    first = store.snapshot
                    self._start(store, lambda: store.warm(first))
                return store.snapshot
            if time.monotonic() - store.checked >= self.check_interval_s and store.reloading is None:
                store.checked = time.monotonic()
                version = store_version(store.engine)
                if version != store.snapshot.version:
                    if self.background:
                        self._start(store, lambda: self._reload(store, default_zone, version))
                    else:
                        self._reload(store, default_zone, version)
            return store.snapshot

    def wait(self, url: str) -> None:
        """Wait for a reload or warm-up of the store under way (for tests and benchmarks)."""
        store = self._stores.get(url)
        thread = store.reloading if store else None
        if thread is not None:
            thread.join()

    def _start(self, store: _Store, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            except Exception:  # a failed refresh keeps the old snapshot; the next check retries
                log.exception("analytics snapshot of %s: refresh failed", _redacted(store.url))
            finally:
                store.reloading = None

        store.reloading = threading.Thread(target=run, name="kefu-snapshot", daemon=True)
        store.reloading.start()

    def _reload(self, store: _Store, default_zone: str, version: tuple) -> None:
        fresh = load_snapshot(store.url, default_zone, version)
        if store.warm is not None:
            store.warm(fresh)
        # The old snapshot is not closed: a request may still be reading it. It goes when the
        # last reference does.
        store.snapshot = fresh

    def preload(
        self,
        url: str,
        default_zone: str = "Asia/Shanghai",
        warm: Warm | None = None,
        then: Callable[[], None] | None = None,
    ) -> threading.Thread:
        """Load the store's snapshot in a background thread (at server start: the first visit then
        finds it ready); a request arriving meanwhile waits for this load, it does not start another.
        `then` runs once the snapshot and its warm-up are done."""

        def load() -> None:
            try:
                self.get(url, default_zone, warm)
                self.wait(url)
                if then is not None:
                    then()
            except Exception:  # the first request tries again, and shows the error
                log.exception("analytics snapshot of %s: preload failed", _redacted(url))

        thread = threading.Thread(target=load, name="kefu-snapshot-preload", daemon=True)
        thread.start()
        return thread

    def loaded(self, url: str) -> bool:
        store = self._stores.get(url)
        return store is not None and store.snapshot is not None

    def forget(self, url: str) -> None:
        """Drop a store's snapshot (its memory goes with it)."""
        self.wait(url)
        with self._lock:
            store = self._stores.pop(url, None)
        if store is not None:
            if store.snapshot is not None:
                store.snapshot.close()
            store.engine.dispose()


SNAPSHOTS = Snapshots()


def get_snapshot(url: str, default_zone: str = "Asia/Shanghai", warm: Warm | None = None) -> Snapshot:
    return SNAPSHOTS.get(url, default_zone, warm)


def get_shop_report(
    url: str,
    shop_id: str,
    period: Period,
    *,
    segment: str = "all",
    channel: str = "all",
    default_zone: str = "Asia/Shanghai",
) -> Report:
    """One shop's report for `period` from the store's snapshot (equal to `report_on(..., shop_id)`)."""
    return get_snapshot(url, default_zone).shop_report(shop_id, period, segment, channel)
