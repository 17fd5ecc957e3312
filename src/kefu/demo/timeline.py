"""The demo period: which days and hours are busy, the promotion day, and turning seconds into datetimes."""

from __future__ import annotations

import datetime as dt
import random
from itertools import pairwise
from zoneinfo import ZoneInfo

from kefu.demo.draw import cumulative, pick

TZ = ZoneInfo("Asia/Shanghai")
DAY = 86_400
HOUR = 3_600

# Relative chat volume per hour of day: quiet at night, busy late morning, afternoon and evening.
HOURLY = (
    0.5,
    0.25,
    0.12,
    0.08,
    0.06,
    0.08,
    0.2,
    0.5,
    1.1,
    2.1,
    3.2,
    3.4,
    2.5,
    2.2,
    2.9,
    3.1,
    3.0,
    2.5,
    2.1,
    2.5,
    3.3,
    3.5,
    3.2,
    1.6,
)
# On the promotion day people wait up for midnight, when the discounts start.
PEAK_HOURLY = (
    4.0,
    2.6,
    0.8,
    0.3,
    0.15,
    0.15,
    0.3,
    0.7,
    1.4,
    2.5,
    3.5,
    3.6,
    2.8,
    2.5,
    3.0,
    3.2,
    3.1,
    2.7,
    2.4,
    2.9,
    3.8,
    4.2,
    4.0,
    3.0,
)
PEAK_VOLUME = 4.0  # the promotion day has this many times an ordinary day's chats
WEEKEND_VOLUME = 1.15


class Timeline:
    """The demo period as whole seconds since its first midnight (Asia/Shanghai)."""

    def __init__(self, start: dt.date, days: int) -> None:
        self.start = start
        self.days = days
        self.end = days * DAY
        self.base = dt.datetime(start.year, start.month, start.day, tzinfo=TZ)
        dates = [start + dt.timedelta(days=i) for i in range(days)]
        peaks = [i for i, d in enumerate(dates) if (d.month, d.day) == (11, 11)]
        # Without a Double 11 in range, stage the promotion two thirds of the way through.
        self.peaks = frozenset(peaks or [days * 2 // 3])
        weights = []
        for i, d in enumerate(dates):
            w = WEEKEND_VOLUME if d.weekday() >= 5 else 1.0
            if i in self.peaks:
                w = PEAK_VOLUME
            elif i + 1 in self.peaks:
                w *= 1.8  # the evening before: carts filled, questions asked
            elif i - 1 in self.peaks:
                w *= 1.6  # the day after: "where is my parcel"
            weights.append(w)
        self.day_cum = cumulative(weights)
        self.hour_cum = cumulative(HOURLY)
        self.peak_hour_cum = cumulative(PEAK_HOURLY)

    def at(self, t: int) -> dt.datetime:
        """The aware datetime t seconds into the period."""
        return self.base + dt.timedelta(seconds=t)

    def is_peak(self, t: int) -> bool:
        """Whether t falls on the promotion day."""
        return t // DAY in self.peaks

    def after_peak(self, t: int) -> bool:
        """Whether t falls on the day after the promotion."""
        return t // DAY - 1 in self.peaks

    def plan(self, rng: random.Random, n: int) -> list[int]:
        """Spread n events over the days by the daily weights (each day's share jittered by up to 15%)."""
        weights = [w * (0.85 + 0.3 * rng.random()) for w in _spans(self.day_cum)]
        total = sum(weights)
        exact = [n * w / total for w in weights]
        counts = [int(x) for x in exact]
        # Hand the remainder to the days that lost the most to rounding down.
        order = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
        for i in order[: n - sum(counts)]:
            counts[i] += 1
        return [self.moment(rng, day) for day, c in enumerate(counts) for _ in range(c)]

    def sample(self, rng: random.Random, last_day: int | None = None) -> int:
        """A moment drawn with the period's daily and hourly rhythm (optionally no later than last_day)."""
        day = pick(rng, self.day_cum)
        if last_day is not None and day > last_day:
            day = rng.randint(0, max(0, last_day))
        return self.moment(rng, day)

    def moment(self, rng: random.Random, day: int) -> int:
        """A time on the given day drawn with the hourly rhythm."""
        hour = pick(rng, self.peak_hour_cum if day in self.peaks else self.hour_cum)
        return day * DAY + hour * HOUR + int(rng.random() * HOUR)

    def is_open(self, hours: tuple[int, int], t: int) -> bool:
        """Whether a shop with these business hours is staffed at t (round the clock on the promotion day)."""
        if t // DAY in self.peaks:
            return True
        h = t % DAY // HOUR
        return hours[0] <= h < hours[1]

    def next_open(self, hours: tuple[int, int], t: int) -> int:
        """The next opening time at or after t."""
        day, sec = divmod(t, DAY)
        opening = hours[0] * HOUR
        return day * DAY + opening if sec < opening else (day + 1) * DAY + opening


def _spans(cum: list[float]) -> list[float]:
    """The weights back from their running totals."""
    return [b - a for a, b in pairwise([0.0, *cum])]
