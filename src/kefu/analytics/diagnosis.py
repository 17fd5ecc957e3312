"""服务诊断: what the supervisor's dashboard shows of one shop for one period.

The shop's report row beside the previous period and its peers (comparison.py), its agents and
products, the daily trend, and which ratings the new satisfaction rule left out and why. It all
comes from the snapshot's whole-instance reports and from the report's own definitions (turns,
attribution, satisfaction, `within`), narrowed to the shop and, for the trend, to each day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from kefu.analytics import satisfaction, segments, turns
from kefu.analytics.comparison import Compared, compare_shops
from kefu.analytics.expressions import count_where, within
from kefu.analytics.period import Period, bounds_table
from kefu.analytics.rows import ratio
from kefu.analytics.sales_metrics import credited_in, sales_summary
from kefu.analytics.service_metrics import response_summary, response_values
from kefu.analytics.snapshots import Snapshot

# Peers' figures are shown only when this many shops give them: with fewer, the mean would let a
# lead read another shop's own figure.
MIN_PEERS = 3
LONGEST_PERIOD_DAYS = 366
TREND_RESPONSE_KEYS = (
    "turns",
    "avg_response_s",
    "reply_within_30s_rate",
)  # the trend has a point per day; a longer period is refused

TREND_KEYS = (
    "served_buyers",
    "turns",
    "avg_response_s",
    "reply_within_30s_rate",
    "paid_buyers",
    "sales",
    "inquiry_conversion_rate",
    "ratings",
    "satisfaction_old",
)


@dataclass
class Exclusions:
    """The period's ratings of the shop, and how many each step of the new rule removed."""

    ratings: int = 0
    flagged: int = 0  # step 1: buyers with a risk flag
    robot: int = 0  # step 2: ratings marked robot
    repeated: int = 0  # steps 3 and 4: within 10 minutes of the buyer's previous, or after their third
    counted: int = 0


@dataclass
class Diagnosis:
    shop_id: str
    period: Period
    previous: Period
    segment: str
    channel: str
    shop: dict | None  # the shop's report row; None when the shop appears nowhere in the data
    before: dict | None  # the same row for the previous period
    compared: dict[str, Compared] = field(default_factory=dict)
    agents: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    trend: list[dict] = field(default_factory=list)
    exclusions: Exclusions = field(default_factory=Exclusions)
    previous_ready: bool = True  # False: the previous period is not computed yet (no 环比 shown)

    def peers_shown(self, key: str) -> bool:
        found = self.compared.get(key)
        return found is not None and found.peers >= MIN_PEERS


def default_period(snapshot: Snapshot, shop_id: str, today: date | None = None, days: int = 7) -> Period:
    """The last `days` days up to today on the shop's calendar, or up to the shop's last day with data."""
    end = today or datetime.now(ZoneInfo(snapshot.zone_of(shop_id))).date()
    last = snapshot.last_day_with_data(shop_id)
    if last is not None and last < end:
        end = last
    return Period(end - timedelta(days=days - 1), end + timedelta(days=1))


def diagnose(
    snapshot: Snapshot,
    shop_id: str,
    period: Period,
    segment: str = "all",
    channel: str = "all",
    *,
    previous: bool = True,
) -> Diagnosis:
    """Everything the diagnosis page shows of `shop_id`, from what the snapshot keeps.

    With `previous=False` the previous period's report is used only if the snapshot has it
    already (`previous_ready` says whether it did): a page can then answer after one report
    and fetch the previous-period change (环比) in a second request.
    """
    if period.days > LONGEST_PERIOD_DAYS:
        raise ValueError(f"a period of at most {LONGEST_PERIOD_DAYS} days")
    with snapshot.lock:
        current = snapshot.report(period, segment, channel)
        earlier = period.previous()
        if previous:
            before_report = snapshot.report(earlier, segment, channel)
        else:
            before_report = snapshot.kept_report(earlier, segment, channel)
        row = next((r for r in current.shops if r["shop_id"] == shop_id), None)
        diagnosis = Diagnosis(shop_id, period, earlier, segment, channel, row, None)
        diagnosis.previous_ready = before_report is not None
        if row is None:
            return diagnosis
        if before_report is not None:
            diagnosis.before = next((r for r in before_report.shops if r["shop_id"] == shop_id), None)
        diagnosis.compared = compare_shops(current, before_report, snapshot.shops).get(shop_id, {})
        diagnosis.agents = [r for r in current.agents if r["shop_id"] == shop_id]
        diagnosis.products = [r for r in current.products if r["shop_id"] == shop_id]
        diagnosis.trend, diagnosis.exclusions = snapshot.remembered(
            ("days", shop_id, period, segment, channel),
            lambda: _days_and_exclusions(snapshot, shop_id, period, segment, channel),
        )
        return diagnosis


def _days_and_exclusions(
    snapshot: Snapshot, shop_id: str, period: Period, segment: str, channel: str
) -> tuple[list[dict], Exclusions]:
    tables = snapshot.narrowed(segment, channel)
    trend = daily_trend(snapshot, tables, shop_id, period)
    if tables.get("ratings") is None:
        return trend, Exclusions()
    return trend, rating_exclusions(snapshot, tables, shop_id, period)


def shop_bounds(snapshot: Snapshot, shop_id: str, period: Period, name: str = "shop_bounds") -> ir.Table:
    zone = snapshot.zone_of(shop_id)
    return snapshot.engine.load(name, bounds_table(period, [shop_id], {shop_id: zone}, zone))


def day_bounds(snapshot: Snapshot, shop_id: str, period: Period) -> ir.Table:
    """One bounds row per day of the period, numbered by `day`: `within` then places rows on days."""
    zone = snapshot.zone_of(shop_id)
    days = [
        bounds_table(Period(d, d + timedelta(days=1)), [shop_id], {shop_id: zone}, zone)
        for d in _days(period)
    ]
    table = pa.concat_tables(days)
    table = table.append_column("day", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    return snapshot.engine.load("trend_days", table)


def _days(period: Period) -> list[date]:
    return [period.date_from + timedelta(days=i) for i in range(period.days)]


def daily_trend(snapshot: Snapshot, tables: dict[str, ir.Table], shop_id: str, period: Period) -> list[dict]:
    """Per day of the period: the shop's service, sales and ratings figures of that day alone."""
    engine = snapshot.engine
    days = day_bounds(snapshot, shop_id, period)
    points: list[dict] = [{"day": d.isoformat()} for d in _days(period)]

    def put(expr: ir.Table) -> None:
        for r in engine.fetch(expr).to_pylist():
            points[r.pop("day")].update(r)

    messages = tables["messages"]
    every_turn = snapshot.turn_table(messages)
    answered = within(turns.answers(every_turn.filter(every_turn.shop_id == shop_id)), "turn_at", days)
    for r in engine.fetch(response_summary(answered, ["day"])).to_pylist():
        values = response_values(r)
        points[r["day"]].update({key: values[key] for key in TREND_RESPONSE_KEYS})
    sent = messages.filter((messages.sender == "agent") & (messages.shop_id == shop_id))
    sent = within(sent, "at", days)
    put(sent.group_by("day").aggregate(served_buyers=sent.buyer_id.nunique()))
    orders = tables.get("orders")
    if orders is not None:
        credited = snapshot.credited(messages, orders)
        counted = credited_in(credited.filter(credited.shop_id == shop_id), None, days)
        for r in engine.fetch(sales_summary(counted, ["day"])).to_pylist():
            points[r["day"]].update(paid_buyers=r["paid_buyers"], cents=r["cents"])
    ratings = tables.get("ratings")
    if ratings is not None:
        rated = within(ratings.filter(ratings.shop_id == shop_id), "at", days)
        put(
            rated.group_by("day").aggregate(
                ratings=rated.count(), good=count_where(rated.score.isin(satisfaction.GOOD_SCORES))
            )
        )
    for point in points:
        # A day without an answered turn: no response figures (the order of keys stays the same).
        for key, empty in zip(TREND_RESPONSE_KEYS, (0, None, None), strict=True):
            point[key] = point.pop(key, empty)
        point.setdefault("served_buyers", 0)
        if orders is not None:
            point["paid_buyers"] = point.get("paid_buyers") or 0
            point["sales"] = round((point.pop("cents", None) or 0) / 100, 2)
            point["inquiry_conversion_rate"] = ratio(point["paid_buyers"], point["served_buyers"])
        if ratings is not None:
            point["ratings"] = point.get("ratings") or 0
            point["satisfaction_old"] = ratio(point.pop("good", 0), point["ratings"])
    return points


def rating_exclusions(
    snapshot: Snapshot, tables: dict[str, ir.Table], shop_id: str, period: Period
) -> Exclusions:
    """How many of the shop's ratings in the period each step of the new rule removed.

    Steps 1 and 2 are told apart by asking satisfaction.ratings_in_period twice: once as the
    rule reads the ratings, once as if none were a robot's (then only the flag excludes one).
    """
    engine = snapshot.engine
    bounds = shop_bounds(snapshot, shop_id, period)
    ratings, buyers = tables["ratings"], tables.get("buyers")
    ratings = ratings.filter(ratings.shop_id == shop_id)
    rated = engine.fetch(satisfaction.ratings_in_period(ratings, buyers, bounds))
    eligible = int(np.count_nonzero(rated.column("eligible").to_numpy(zero_copy_only=False)))
    kept = int(np.count_nonzero(satisfaction.counted(rated)))
    as_people = ratings.mutate(robot=ibis.literal(0, "int64"))
    unflagged = engine.fetch(satisfaction.ratings_in_period(as_people, buyers, bounds))
    flagged = unflagged.num_rows - int(
        np.count_nonzero(unflagged.column("eligible").to_numpy(zero_copy_only=False))
    )
    total = rated.num_rows
    return Exclusions(
        ratings=total,
        flagged=flagged,
        robot=total - eligible - flagged,
        repeated=eligible - kept,
        counted=kept,
    )


def warm_defaults(snapshot: Snapshot, today: date | None = None) -> None:
    """Work out ahead what the first clicks need: each shop's last 7 and last 30 days, then what
    each filter keeps (the conversations it chooses, their turns and attributed orders)."""
    for days in (7, 30):
        for shop_id in sorted(snapshot.shops):
            if snapshot.last_day_with_data(shop_id) is not None:
                diagnose(snapshot, shop_id, default_period(snapshot, shop_id, today, days))
    for segment in segments.SEGMENTS:
        for channel in segments.CHANNELS:
            # One filter at a time, so that requests get the engine between them.
            with snapshot.lock:
                tables = snapshot.narrowed(segment, channel)
                snapshot.turn_table(tables["messages"])
                if tables.get("orders") is not None:
                    snapshot.credited(tables["messages"], tables["orders"])
