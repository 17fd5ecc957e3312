"""Work load (接待量) per agent and hour of the day, on the shop's clock."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import ibis.expr.types as ir
import pyarrow as pa

from kefu.analytics.engines import Engine
from kefu.analytics.expressions import within
from kefu.analytics.period import Period
from kefu.analytics.rows import fetch_rows

HOUR_US = 3600 * 1_000_000


def hour_table(period: Period, zones: dict[str, str]) -> pa.Table:
    """Per shop, each hour since the period's start with its hour on the shop's clock (DST included)."""
    shops, indexes, hours = [], [], []
    for shop, zone in zones.items():
        start = period.start_in(zone).astimezone(UTC)
        end = period.end_in(zone).astimezone(UTC)
        for index in range(int((end - start).total_seconds() // 3600)):
            shops.append(shop)
            indexes.append(index)
            hours.append((start + timedelta(hours=index)).astimezone(ZoneInfo(zone)).hour)
    return pa.table(
        {"shop_id": pa.array(shops, pa.string()), "hour_index": indexes, "hour": pa.array(hours, pa.int64())},
        schema=pa.schema([("shop_id", pa.string()), ("hour_index", pa.int64()), ("hour", pa.int64())]),
    )


def load_by_hour(
    engine: Engine, messages: ir.Table, bounds: ir.Table, period: Period, zones: dict[str, str]
) -> list[dict]:
    """Per (shop, agent, hour of day): conversations and buyers the agent wrote to, and messages sent."""
    hours = engine.load("hours", hour_table(period, zones))
    sent = within(messages.filter(messages.sender == "agent"), "at", bounds)
    sent = sent.mutate(hour_index=(sent.at - sent.p_from) // HOUR_US)
    placed = sent.inner_join(hours, ["shop_id", "hour_index"])
    agg = placed.group_by(["shop_id", "agent_id", "hour"]).aggregate(
        conversations=placed.conversation_id.nunique(),
        buyers=placed.buyer_id.nunique(),
        messages=placed.count(),
    )
    rows = sorted(fetch_rows(engine, agg), key=lambda r: (r["shop_id"], r["agent_id"], r["hour"]))
    for row in rows:
        row["conversations_per_day"] = row["conversations"] / period.days
    return rows
