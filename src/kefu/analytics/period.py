"""A report's period: [from, to) between local midnights, resolved per shop time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

DSR_WINDOW_DAYS = 180  # DSR is the rolling half year the platforms show, not the report period


@dataclass(frozen=True)
class Period:
    """Days [date_from, date_to) on a shop's calendar."""

    date_from: date
    date_to: date

    def __post_init__(self) -> None:
        if self.date_to <= self.date_from:
            raise ValueError(f"the period must end after it starts ({self.date_from} to {self.date_to})")

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days

    def previous(self) -> Period:
        """The period of equal length just before this one (for 环比)."""
        return Period(self.date_from - timedelta(days=self.days), self.date_from)

    def start_in(self, zone: str) -> datetime:
        return midnight(self.date_from, zone)

    def end_in(self, zone: str) -> datetime:
        return midnight(self.date_to, zone)

    def label(self, zone: str) -> dict[str, str]:
        return {"from": self.start_in(zone).isoformat(), "to": self.end_in(zone).isoformat()}


def midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def micros(instant: datetime) -> int:
    """Whole microseconds since the epoch: the one time unit the metric expressions use."""
    delta = instant.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def bounds_table(period: Period, shops: list[str], zones: dict[str, str], default_zone: str) -> pa.Table:
    """Per shop: the period's start and end and the DSR window's start, in microseconds."""
    rows: dict[str, list] = {"shop_id": [], "p_from": [], "p_to": [], "dsr_from": []}
    for shop in shops:
        zone = zones.get(shop, default_zone)
        rows["shop_id"].append(shop)
        rows["p_from"].append(micros(period.start_in(zone)))
        rows["p_to"].append(micros(period.end_in(zone)))
        rows["dsr_from"].append(micros(midnight(period.date_to - timedelta(days=DSR_WINDOW_DAYS), zone)))
    return pa.table(
        rows,
        schema=pa.schema(
            [("shop_id", pa.string())] + [(n, pa.int64()) for n in ("p_from", "p_to", "dsr_from")]
        ),
    )
