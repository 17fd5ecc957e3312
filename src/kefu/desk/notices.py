"""What the buyer's chat page tells them before anyone answers: the welcome, off hours, a long queue.

Pure functions over a shop's settings and the time: the page route and the socket's `welcome`
frame call them with what they read from the store.

- Business hours (`Shop.business_hours`) are daily ranges in the shop's time zone, such as
  ``"09:00-23:00"`` or ``"09:00-12:00, 13:30-22:00"``; a range may cross midnight
  (``"20:00-02:00"``) and ``24:00`` ends a day. No hours at all means always open.
- The peak notice shows when the buyers waiting for a person outnumber what the online
  agents can take at once (`peak_queue_per_agent` waiting buyers each; default 3).
- The welcome is the shop's own text with ``{shop}``, ``{agent}`` and ``{emoji}`` filled in,
  or a default in our own words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu.desk.routing import WaitThresholds

MINUTES_PER_DAY = 24 * 60
DEFAULT_PEAK_QUEUE_PER_AGENT = 3.0
DEFAULT_EMOJI = "😊"


class BusinessHoursError(ValueError):
    """Business hours that do not read as ranges like 09:00-23:00.

    `code` (``not_a_range``, ``not_a_time``, ``same_time``) and `piece` (the range or time at
    fault) let a form say what is wrong in its own language.
    """

    def __init__(self, message: str, *, code: str, piece: str) -> None:
        super().__init__(message)
        self.code = code
        self.piece = piece


@dataclass(frozen=True)
class HourRange:
    """Open from `start` until `end`, in minutes after local midnight; `end <= start` crosses midnight."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


_TIME = r"(\d{1,2}):(\d{2})"
_RANGE = re.compile(rf"{_TIME}\s*[-~–—至]\s*{_TIME}")


def _minutes(hours: str, minutes: str, *, allow_end_of_day: bool, text: str) -> int:
    h, m = int(hours), int(minutes)
    value = h * 60 + m
    if m > 59 or value > MINUTES_PER_DAY or (value == MINUTES_PER_DAY and not allow_end_of_day):
        raise BusinessHoursError(
            f"business hours {text!r}: {hours}:{minutes} is not a time of day",
            code="not_a_time",
            piece=f"{hours}:{minutes}",
        )
    return value


def parse_business_hours(text: str | None) -> tuple[HourRange, ...]:
    """The ranges of ``"09:00-12:00, 13:30-22:00"``; empty (always open) for no text."""
    if text is None or not text.strip():
        return ()
    ranges = []
    for piece in re.split(r"[,，;；]", text):
        piece = piece.strip()
        if not piece:
            continue
        match = _RANGE.fullmatch(piece)
        if match is None:
            raise BusinessHoursError(
                f"business hours {text!r}: {piece!r} is not a range like 09:00-23:00",
                code="not_a_range",
                piece=piece,
            )
        start = _minutes(match[1], match[2], allow_end_of_day=False, text=text)
        end = _minutes(match[3], match[4], allow_end_of_day=True, text=text)
        if start == end % MINUTES_PER_DAY and end != MINUTES_PER_DAY:
            raise BusinessHoursError(
                f"business hours {text!r}: {piece!r} opens and closes at the same time",
                code="same_time",
                piece=piece,
            )
        ranges.append(HourRange(start, end))
    return tuple(ranges)


def _local(now: datetime, timezone: str) -> datetime:
    if now.tzinfo is None:
        raise ValueError("a naive datetime: pass an aware one (datetime.now(UTC))")
    return now.astimezone(ZoneInfo(timezone))


def is_open(hours: tuple[HourRange, ...], now: datetime, timezone: str) -> bool:
    """Whether the shop answers at `now` (always, when it has no hours)."""
    if not hours:
        return True
    local = _local(now, timezone)
    minute = local.hour * 60 + local.minute
    return any(r.contains(minute) for r in hours)


def next_opening(hours: tuple[HourRange, ...], now: datetime, timezone: str) -> datetime | None:
    """When the shop next opens, in its time zone; None when it is open now or always."""
    if is_open(hours, now, timezone):
        return None
    local = _local(now, timezone)
    zone = ZoneInfo(timezone)
    candidates = []
    for days in (0, 1):
        day = local.date() + timedelta(days=days)
        for r in hours:
            opening = datetime.combine(day, time(r.start // 60, r.start % 60), tzinfo=zone)
            if opening > local:
                candidates.append(opening)
    return min(candidates)


@dataclass(frozen=True)
class OffHours:
    """The shop is closed now; a person replies from `opens_at` (shop time), `days_ahead` from today."""

    opens_at: datetime
    days_ahead: int  # 0: later today, 1: tomorrow

    @property
    def clock(self) -> str:
        return f"{self.opens_at:%H:%M}"


def off_hours(business_hours: str | None, timezone: str, now: datetime) -> OffHours | None:
    """The off-hours notice for a shop at `now`, or None while it is open.

    Hours that do not parse never close the chat: a typo in the settings must not silence a shop.
    """
    try:
        hours = parse_business_hours(business_hours)
    except BusinessHoursError:
        return None
    opening = next_opening(hours, now, timezone)
    if opening is None:
        return None
    return OffHours(opening, (opening.date() - _local(now, timezone).date()).days)


# --- the queue ----------------------------------------------------------------------------


def _number(policies: Mapping[str, Any], name: str, default: float) -> float:
    value = policies.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return float(value)


def is_peak(waiting: int, online_agents: int, policies: Mapping[str, Any]) -> bool:
    """Whether the queue is long enough to tell buyers a reply may take a while.

    Long means more buyers waiting than `peak_queue_per_agent` for each agent online (counting at
    least one agent, so a lone buyer in an empty desk is not told it is peak time).
    """
    per_agent = _number(policies, "peak_queue_per_agent", DEFAULT_PEAK_QUEUE_PER_AGENT)
    return waiting > per_agent * max(online_agents, 1)


def wait_thresholds(policies: Mapping[str, Any]) -> WaitThresholds:
    """The shop's timer colours (`wait_amber_s`, `wait_red_s`); the defaults for missing or bad values."""
    default = WaitThresholds()
    amber = int(_number(policies, "wait_amber_s", default.amber_s))
    red = int(_number(policies, "wait_red_s", default.red_s))
    try:
        return WaitThresholds(amber, red)
    except ValueError:
        return default


# --- the welcome --------------------------------------------------------------------------

# In our own words; {agent} is left out when nobody has taken the conversation yet.
DEFAULT_WELCOMES = {
    "zh-CN": (
        "您好，欢迎来到{shop}！我是客服{agent}，想了解什么尽管问我 {emoji}",
        "您好，欢迎来到{shop}！请说说您想了解什么，客服马上为您解答 {emoji}",
    ),
    "en": (
        "Hello and welcome to {shop}! I'm {agent}, ask me anything {emoji}",
        "Hello and welcome to {shop}! Tell us what you would like to know and we'll answer shortly {emoji}",
    ),
}
AGENT_INTRO = {"zh-CN": "客服{agent}为您服务", "en": "{agent} is here to help"}
# What {agent} reads as before anyone has taken the conversation.
NO_AGENT_YET = {"zh-CN": "店铺客服", "en": "the shop's team"}
_PLACEHOLDER = re.compile(r"\{(shop|agent|emoji)\}")


def _has_emoji(text: str) -> bool:
    return any(unicodedata.category(c) == "So" and ord(c) > 0x2000 for c in text)


def welcome_text(
    template: str | None, shop_name: str, agent_nickname: str | None, language: str = "zh-CN"
) -> str:
    """The shop's greeting with its name, the agent's nickname and an emoji.

    A shop's own text keeps its words: ``{shop}``, ``{agent}`` and ``{emoji}`` are filled, other
    braces stay as typed. When it names no agent and one has taken the conversation, a short
    introduction follows; when it has no emoji, one ends it.
    """
    language = language if language in DEFAULT_WELCOMES else "zh-CN"
    if template is None or not template.strip():
        with_agent, without_agent = DEFAULT_WELCOMES[language]
        template = with_agent if agent_nickname else without_agent
    elif agent_nickname and "{agent}" not in template:
        template = f"{template.rstrip()} {AGENT_INTRO[language]}"
    values = {"shop": shop_name, "agent": agent_nickname or NO_AGENT_YET[language], "emoji": DEFAULT_EMOJI}
    text = _PLACEHOLDER.sub(lambda m: values[m[1]], template).strip()
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text if _has_emoji(text) else f"{text} {DEFAULT_EMOJI}"
