"""服务诊断: a supervisor's dashboard of their own shop, the conversations behind its numbers, transcripts.

Supervisors and admins only, always of the shop they work for. The numbers come from the
store's analytics snapshot (kefu.analytics.snapshots); the routes pick the period and the
filters from the query string and format what kefu.analytics.diagnosis computed.
"""

from __future__ import annotations

import calendar
import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kefu.analytics import segments
from kefu.analytics.access import access_transcript, get_agent_names, get_product_titles
from kefu.analytics.catalogue import BY_KEY, Unit
from kefu.analytics.diagnosis import (
    LONGEST_PERIOD_DAYS,
    MIN_PEERS,
    TREND_KEYS,
    default_period,
    diagnose,
    warm_defaults,
)
from kefu.analytics.drilldown import DRILLS, conversations_behind
from kefu.analytics.period import Period
from kefu.analytics.snapshots import SNAPSHOTS, Snapshot
from kefu.web.dependencies import CurrentShop, PageDep, RequireSupervisor, SessionDep, SettingsDep

router = APIRouter(prefix="/analytics", include_in_schema=False)

RANGES = ("last7", "last30", "day", "week", "month", "custom")
KPI_KEYS = (
    "served_buyers",
    "inquiry_conversion_rate",
    "sales",
    "aov",
    "avg_response_s",
    "first_response_s",
    "reply_within_30s_rate",
    "satisfaction_new",
    "refund_rate",
    "unanswered_turns",
    "buyer_last_word_conversations",
    "positive_review_rate",
)
AGENT_COLUMNS = (
    "turns",
    "avg_response_s",
    "first_response_s",
    "reply_within_30s_rate",
    "served_buyers",
    "ordered_buyers",
    "paid_buyers",
    "inquiry_conversion_rate",
    "sales",
    "aov",
    "refund_rate",
    "ratings",
    "satisfaction_old",
    "satisfaction_new",
    "rating_invitation_rate",
)
DSR_KEYS = ("dsr_description", "dsr_service", "dsr_shipping")
ORDER_SOURCES = ("inquiry_orders", "bot_assisted_orders", "silent_orders")
DRILL_ROWS_SHOWN = 500

Day = Annotated[str | None, Query(max_length=10)]
Word = Annotated[str | None, Query(max_length=20)]


@dataclass(frozen=True)
class Choice:
    """The period and filters a page shows, as read from the query string."""

    range: str
    period: Period
    anchor: date  # the day the day/week/month choices start from
    segment: str
    channel: str
    invalid: bool  # something in the query string was not understood; defaults were used

    def query(self, **more: str | None) -> str:
        """The query string of this choice as the lead made it (last 7 days stays "last 7 days")."""
        if self.range in ("last7", "last30"):
            chosen: dict[str, str | None] = {"range": self.range}
        elif self.range in ("day", "week", "month"):
            chosen = {"range": self.range, "date": self.anchor.isoformat()}
        else:
            chosen = {"from": self.period.date_from.isoformat(), "to": self.period.date_to.isoformat()}
        return self._encode(chosen, more)

    def period_query(self, **more: str | None) -> str:
        """The query string naming the period itself (from, and to: the day after the last)."""
        chosen = {"from": self.period.date_from.isoformat(), "to": self.period.date_to.isoformat()}
        return self._encode(chosen, more)

    def _encode(self, chosen: dict[str, str | None], more: dict[str, str | None]) -> str:
        params = {**chosen, "segment": self.segment, "channel": self.channel, **more}
        return urlencode({k: v for k, v in params.items() if v is not None and v != "all"})

    @property
    def last_day(self) -> date:
        return self.period.date_to - timedelta(days=1)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def choose(
    default: Period,
    range_: str | None,
    anchor: str | None,
    date_from: str | None,
    date_to: str | None,
    until: str | None,
    segment: str | None,
    channel: str | None,
) -> Choice:
    """The period: a range ending where the default ends, a day/week/month around `anchor`, or from/to.

    `to` is the day after the last (as in the report's period); the custom form sends `until`,
    the last day itself, which is what people type.
    """
    invalid = False
    end = default.date_to
    start, stop, last = _day(date_from), _day(date_to), _day(until)
    if range_ is None and start and (stop or last):
        range_ = "custom"
    if range_ not in RANGES:
        invalid = range_ is not None
        range_ = "last7"
    day = _day(anchor)
    if anchor and day is None:
        invalid = True
    day = day or end - timedelta(days=1)
    period: Period | None = None
    if range_ == "last7":
        period = Period(end - timedelta(days=7), end)
    elif range_ == "last30":
        period = Period(end - timedelta(days=30), end)
    elif range_ == "day":
        period = Period(day, day + timedelta(days=1))
    elif range_ == "week":
        monday = day - timedelta(days=day.weekday())
        period = Period(monday, monday + timedelta(days=7))
    elif range_ == "month":
        first = day.replace(day=1)
        period = Period(first, first + timedelta(days=calendar.monthrange(first.year, first.month)[1]))
    else:
        stop = stop or (last + timedelta(days=1) if last else None)
        if start and stop and start < stop and (stop - start).days <= LONGEST_PERIOD_DAYS:
            period = Period(start, stop)
        else:
            invalid = True
    if period is None:
        range_, period = "last7", Period(end - timedelta(days=7), end)
    if segment not in segments.SEGMENTS:
        invalid = invalid or segment is not None
        segment = "all"
    if channel not in segments.CHANNELS:
        invalid = invalid or channel is not None
        channel = "all"
    return Choice(range_, period, day, segment, channel, invalid)


def _snapshot(request: Request, settings) -> Snapshot:
    return SNAPSHOTS.get(settings.resolved_database_url(), settings.default_timezone, warm_defaults)


def preload_snapshot(settings) -> None:
    """Start reading the store for the dashboard now (KEFU_ANALYTICS_PRELOAD), not at the first visit.

    `kefu serve` froze the app's objects out of the garbage collector's sight; the snapshot and
    its warmed caches (compiled expressions, kept tables) are frozen too once they are made.
    Left in view, every full collection walked them: a pause in each socket's delivery (desk p99
    42 → 80-200 ms in bench/desk.py).
    """
    SNAPSHOTS.preload(
        settings.resolved_database_url(), settings.default_timezone, warm_defaults, then=gc.freeze
    )


def formatter(language: str) -> Callable[[str, object], str]:
    """Formats a metric's value for a page: counts with separators, rates as percentages, "—" for none."""

    def fmt(key: str, value: object) -> str:
        if value is None:
            return "—"
        metric = BY_KEY.get(key)
        unit = metric.unit if metric else Unit.COUNT
        number = float(value)  # type: ignore[arg-type]
        if unit in (Unit.RATE, Unit.RATIO):
            return f"{number * 100:.1f}%"
        if unit is Unit.SECONDS:
            return f"{number:,.1f}"
        if unit is Unit.MONEY:
            return f"{number:,.2f}"
        if unit is Unit.SCORE:
            return f"{number:.2f}"
        return f"{int(number):,}"

    return fmt


def metric_labeller(language: str) -> Callable[[str], str]:
    def name(key: str) -> str:
        metric = BY_KEY[key]
        return metric.zh if language == "zh-CN" else metric.en

    return name


def _change(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def _tone(better: bool | None) -> str:
    return "neutral" if better is None else ("better" if better else "worse")


def _kpi(diagnosis, key: str, fmt) -> dict:
    compared = diagnosis.compared.get(key)
    metric = BY_KEY[key]
    value = diagnosis.shop.get(key) if diagnosis.shop else None
    card = {
        "key": key,
        "value": fmt(key, value),
        "previous": "—",
        "change": "—",
        "tone": "neutral",
        "arrow": "",
        "peers_shown": False,
        "peer_mean": "—",
        "peer_excellent": "—",
        "drill": key in DRILLS,
    }
    if compared is None:
        return card
    card["previous"] = fmt(key, compared.previous)
    card["change"] = _change(compared.change)
    if compared.change:
        card["arrow"] = "▲" if compared.change > 0 else "▼"
        card["tone"] = _tone(compared.better_than_before(metric.higher_is_better))
    if diagnosis.peers_shown(key):
        card["peers_shown"] = True
        card["peer_mean"] = fmt(key, compared.peer_mean)
        card["peer_excellent"] = fmt(key, compared.peer_excellent)
    return card


def _sorted_agents(agents: list[dict], key: str, descending: bool, names: dict[str, str]) -> list[dict]:
    if key == "agent":
        return sorted(
            agents, key=lambda r: (names.get(r["agent_id"], r["agent_id"]), r["agent_id"]), reverse=descending
        )
    present = [r for r in agents if r.get(key) is not None]
    missing = [r for r in agents if r.get(key) is None]  # no value sorts last either way
    return sorted(present, key=lambda r: r[key], reverse=descending) + missing


def _trend_data(diagnosis, fmt_name: Callable[[str], str]) -> dict:
    keys = [k for k in TREND_KEYS if diagnosis.trend and k in diagnosis.trend[0]]
    return {
        "days": [p["day"] for p in diagnosis.trend],
        "series": [
            {
                "key": k,
                "name": fmt_name(k),
                "unit": BY_KEY[k].unit.value,
                "values": [p.get(k) for p in diagnosis.trend],
            }
            for k in keys
        ],
    }


@dataclass(frozen=True)
class Asked:
    """The period and filters as the query string gives them (read by `choose`)."""

    range_: str | None
    anchor: str | None
    date_from: str | None
    date_to: str | None
    until: str | None
    segment: str | None
    channel: str | None


def asked(
    range_: Annotated[str | None, Query(alias="range", max_length=20)] = None,
    anchor: Annotated[str | None, Query(alias="date", max_length=10)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    until: Day = None,
    segment: Word = None,
    channel: Word = None,
) -> Asked:
    return Asked(range_, anchor, date_from, date_to, until, segment, channel)


AskedDep = Annotated[Asked, Depends(asked)]


def _chosen(snapshot: Snapshot, shop_id: str, wish: Asked) -> Choice:
    return choose(
        default_period(snapshot, shop_id),
        wish.range_,
        wish.anchor,
        wish.date_from,
        wish.date_to,
        wish.until,
        wish.segment,
        wish.channel,
    )


@router.get("")
def diagnosis_page(
    request: Request,
    page: PageDep,
    staff: RequireSupervisor,
    shop: CurrentShop,
    session: SessionDep,
    settings: SettingsDep,
    wish: AskedDep,
    sort: Annotated[str, Query(max_length=40)] = "served_buyers",
    order: Annotated[str, Query(max_length=4)] = "desc",
    previous: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    snapshot = _snapshot(request, settings)
    choice = _chosen(snapshot, shop.id, wish)
    # With htmx the page answers after one report and fetches 环比 from /analytics/changes.
    wait = previous == "1" or request.app.state.htmx_src is None
    diagnosis = diagnose(snapshot, shop.id, choice.period, choice.segment, choice.channel, previous=wait)
    fmt, name = formatter(page.language), metric_labeller(page.language)
    names = get_agent_names(session, shop.id)
    if sort not in (*AGENT_COLUMNS, "agent"):
        sort = "served_buyers"
    descending = order != "asc"
    reasons = (diagnosis.shop or {}).get("refund_reasons") or {}
    titles = get_product_titles(session, shop.id) if diagnosis.products else {}
    products = sorted(
        diagnosis.products,
        key=lambda r: (-(r.get("refunds") or 0), -(r.get("refund_rate") or 0), r["product_id"]),
    )
    return page.render(
        "analytics/diagnosis.html",
        shop=shop,
        shop_zone=ZoneInfo(snapshot.zone_of(shop.id)),
        choice=choice,
        previous_last=diagnosis.previous.date_to - timedelta(days=1),
        ranges=RANGES,
        segments_=segments.SEGMENTS,
        channels=segments.CHANNELS,
        diagnosis=diagnosis,
        snapshot=snapshot,
        has_data=snapshot.last_day_with_data(shop.id) is not None and diagnosis.shop is not None,
        quiet=_quiet(diagnosis.shop),
        kpis=[_kpi(diagnosis, k, fmt) for k in KPI_KEYS],
        dsr=[_kpi(diagnosis, k, fmt) | {"raw": (diagnosis.shop or {}).get(k)} for k in DSR_KEYS],
        order_sources=ORDER_SOURCES,
        agents=_sorted_agents(diagnosis.agents, sort, descending, names),
        agent_columns=AGENT_COLUMNS,
        drills=DRILLS,
        sort=sort,
        descending=descending,
        names=names,
        reasons=reasons,
        reasons_total=sum(reasons.values()),
        products=products,
        titles=titles,
        trend=_trend_data(diagnosis, name),
        fmt=fmt,
        metric_name=name,
        min_peers=MIN_PEERS,
        echarts_src=getattr(request.app.state, "echarts_src", None),
    )


@router.get("/changes")
def changes_fragment(
    request: Request,
    page: PageDep,
    staff: RequireSupervisor,
    shop: CurrentShop,
    settings: SettingsDep,
    wish: AskedDep,
) -> Response:
    """The KPI cards' change against the previous period, as htmx out-of-band swaps."""
    snapshot = _snapshot(request, settings)
    choice = _chosen(snapshot, shop.id, wish)
    diagnosis = diagnose(snapshot, shop.id, choice.period, choice.segment, choice.channel)
    fmt = formatter(page.language)
    kpis = [_kpi(diagnosis, k, fmt) for k in KPI_KEYS] if diagnosis.shop else []
    return page.render("analytics/changes.html", kpis=kpis, diagnosis=diagnosis)


def _quiet(row: dict | None) -> bool:
    """Nothing happened in the period: no turn, no buyer served, no order, no rating."""
    if row is None:
        return True
    return not any(row.get(k) for k in ("turns", "served_buyers", "orders", "ratings", "unanswered_turns"))


@router.get("/drill")
def drill_page(
    request: Request,
    page: PageDep,
    staff: RequireSupervisor,
    shop: CurrentShop,
    session: SessionDep,
    settings: SettingsDep,
    metric: Annotated[str, Query(max_length=40)],
    date_from: Annotated[str, Query(alias="from", max_length=10)],
    date_to: Annotated[str, Query(alias="to", max_length=10)],
    agent: Annotated[str | None, Query(max_length=64)] = None,
    segment: Word = None,
    channel: Word = None,
) -> Response:
    snapshot = _snapshot(request, settings)
    choice = choose(
        default_period(snapshot, shop.id), "custom", None, date_from, date_to, None, segment, channel
    )
    if metric not in DRILLS or choice.invalid:
        return page.render("error.html", status_code=400, message_key="analytics.bad_request")
    rows = conversations_behind(
        snapshot,
        shop.id,
        choice.period,
        metric,
        agent or None,
        segment=choice.segment,
        channel=choice.channel,
    )
    report = snapshot.shop_report(shop.id, choice.period, choice.segment, choice.channel)
    if agent:
        row = next((r for r in report.agents if r["agent_id"] == agent), None)
    else:
        row = report.shops[0] if report.shops else None
    fmt = formatter(page.language)
    return page.render(
        "analytics/drill.html",
        shop=shop,
        choice=choice,
        metric=metric,
        metric_label=metric_labeller(page.language)(metric),
        agent=agent,
        names=get_agent_names(session, shop.id),
        value=fmt(metric, row.get(metric)) if row else "—",
        rows=rows[:DRILL_ROWS_SHOWN],
        total=len(rows),
        shown=DRILL_ROWS_SHOWN,
        kind=DRILLS[metric],
        fmt=fmt,
        back=f"/analytics?{choice.period_query()}",
    )


@router.get("/conversations/{conversation_id}")
def transcript_page(
    page: PageDep,
    staff: RequireSupervisor,
    shop: CurrentShop,
    session: SessionDep,
    settings: SettingsDep,
    conversation_id: str,
    back: Annotated[str | None, Query(max_length=600)] = None,
) -> Response:
    transcript = access_transcript(session, staff, conversation_id)
    zone = ZoneInfo(shop.timezone or settings.default_timezone)
    # Only a path of these pages may be the way back: never another site.
    back = back if back and back.startswith("/analytics") and "//" not in back else "/analytics"
    return page.render(
        "analytics/transcript.html",
        shop=shop,
        transcript=transcript,
        names=get_agent_names(session, shop.id),
        zone=zone,
        back=back,
    )
