"""What the buyer's page says before anyone answers: off hours, a long queue, the welcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.desk.notices import (
    BusinessHoursError,
    HourRange,
    is_open,
    is_peak,
    next_opening,
    off_hours,
    parse_business_hours,
    wait_thresholds,
    welcome_text,
)
from kefu.desk.routing import WaitThresholds

SHANGHAI = "Asia/Shanghai"


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment given in shop time, passed on as UTC like the server's clock."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(SHANGHAI)).astimezone(UTC)


def test_ranges_parse_with_commas_and_the_end_of_day():
    assert parse_business_hours("09:00-12:00, 13:30-24:00") == (HourRange(540, 720), HourRange(810, 1440))
    assert parse_business_hours("9:00~18:00，20:00-02:00") == (HourRange(540, 1080), HourRange(1200, 120))
    assert parse_business_hours(None) == parse_business_hours("  ") == ()


@pytest.mark.parametrize(
    "text", ["9-18", "09:00-25:00", "09:60-10:00", "24:00-08:00", "10:00-10:00", "09:00"]
)
def test_what_is_not_a_range_is_refused_with_the_text(text):
    with pytest.raises(BusinessHoursError, match="business hours"):
        parse_business_hours(text)


def test_open_within_a_range_and_closed_at_its_end():
    hours = parse_business_hours("09:00-23:00")
    assert not is_open(hours, shanghai(24, 8, 59), SHANGHAI)
    assert is_open(hours, shanghai(24, 9, 0), SHANGHAI)
    assert is_open(hours, shanghai(24, 22, 59), SHANGHAI)
    assert not is_open(hours, shanghai(24, 23, 0), SHANGHAI)


def test_hours_are_the_shops_own_time_zone():
    # 02:00 UTC is 10:00 in Shanghai: open there, though the server's clock reads the night.
    hours = parse_business_hours("09:00-23:00")
    assert is_open(hours, datetime(2026, 11, 24, 2, 0, tzinfo=UTC), SHANGHAI)
    assert not is_open(hours, datetime(2026, 11, 24, 2, 0, tzinfo=UTC), "Europe/Berlin")


def test_a_range_across_midnight():
    hours = parse_business_hours("20:00-02:00")
    assert is_open(hours, shanghai(24, 23, 30), SHANGHAI)
    assert is_open(hours, shanghai(25, 1, 59), SHANGHAI)
    assert not is_open(hours, shanghai(25, 2, 0), SHANGHAI)
    evening = datetime(2026, 11, 25, 20, 0, tzinfo=ZoneInfo(SHANGHAI))
    assert next_opening(hours, shanghai(25, 2, 0), SHANGHAI) == evening


def test_no_hours_means_always_open():
    assert is_open((), shanghai(24, 3), SHANGHAI)
    assert off_hours(None, SHANGHAI, shanghai(24, 3)) is None


def test_the_next_opening_is_later_today_or_tomorrow():
    hours = "09:00-12:00, 13:30-22:00"
    lunch = off_hours(hours, SHANGHAI, shanghai(24, 12, 10))
    assert lunch is not None and (lunch.clock, lunch.days_ahead) == ("13:30", 0)
    night = off_hours(hours, SHANGHAI, shanghai(24, 22, 30))
    assert night is not None and (night.clock, night.days_ahead) == ("09:00", 1)
    assert night.opens_at == datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo(SHANGHAI))
    early = off_hours(hours, SHANGHAI, shanghai(24, 6))
    assert early is not None and (early.clock, early.days_ahead) == ("09:00", 0)
    assert off_hours(hours, SHANGHAI, shanghai(24, 10)) is None


def test_hours_that_do_not_parse_never_close_the_chat():
    assert off_hours("every day", SHANGHAI, shanghai(24, 3)) is None


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="naive"):
        is_open(parse_business_hours("09:00-18:00"), datetime(2026, 11, 24, 10), SHANGHAI)  # noqa: DTZ001


@given(
    st.lists(st.tuples(st.integers(0, 1439), st.integers(1, 1440)), min_size=1, max_size=3),
    st.integers(0, 7 * 24 * 60),
)
def test_when_closed_the_next_opening_is_open_and_nothing_before_it_is(ranges, offset):
    text = ", ".join(f"{s // 60:02}:{s % 60:02}-{e // 60:02}:{e % 60:02}" for s, e in ranges if s != e % 1440)
    if not text:
        return
    hours = parse_business_hours(text)
    now = datetime(2026, 11, 24, tzinfo=UTC) + timedelta(minutes=offset)
    opening = next_opening(hours, now, SHANGHAI)
    if opening is None:
        assert is_open(hours, now, SHANGHAI)
        return
    assert is_open(hours, opening, SHANGHAI)
    assert now < opening <= now + timedelta(days=1)
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < opening:
        assert not is_open(hours, minute, SHANGHAI), minute
        minute += timedelta(minutes=7)


def test_peak_when_the_waiting_outnumber_the_online_agents_share():
    assert not is_peak(6, 2, {})
    assert is_peak(7, 2, {})
    assert is_peak(3, 2, {"peak_queue_per_agent": 1})
    # A lone waiting buyer with nobody online is not a peak; the off-hours notice covers that case.
    assert not is_peak(1, 0, {})
    assert is_peak(4, 0, {})
    assert not is_peak(6, 2, {"peak_queue_per_agent": "many"})


def test_timer_thresholds_come_from_the_policies_or_the_defaults():
    assert wait_thresholds({}) == WaitThresholds()
    assert wait_thresholds({"wait_amber_s": 2, "wait_red_s": 5}) == WaitThresholds(2, 5)
    assert wait_thresholds({"wait_amber_s": 2}) == WaitThresholds(2, 600)
    # Amber after red makes no sense: the defaults rather than a timer that never turns amber.
    assert wait_thresholds({"wait_amber_s": 900, "wait_red_s": 60}) == WaitThresholds()
    assert wait_thresholds({"wait_amber_s": True}) == WaitThresholds()


def test_the_shops_own_welcome_keeps_its_words_and_fills_the_names():
    text = welcome_text("欢迎光临{shop}，我是{agent} {emoji} 价格{不变}", "悦衣坊", "小美")
    assert text == "欢迎光临悦衣坊，我是小美 😊 价格{不变}"


def test_before_anyone_takes_the_conversation_the_agent_is_the_shops_team():
    assert welcome_text("欢迎光临{shop}，我是{agent}", "悦衣坊", None) == "欢迎光临悦衣坊，我是店铺客服 😊"


def test_an_agent_and_an_emoji_are_added_when_the_shops_text_has_none():
    assert welcome_text("悦衣坊欢迎您！", "悦衣坊", "小美") == "悦衣坊欢迎您！ 客服小美为您服务 😊"
    assert welcome_text("悦衣坊欢迎您🌸", "悦衣坊", None) == "悦衣坊欢迎您🌸"


def test_the_default_welcome_in_either_language():
    assert welcome_text(None, "悦衣坊", "小美") == "您好，欢迎来到悦衣坊！我是客服小美，想了解什么尽管问我 😊"
    assert "{agent}" not in welcome_text("", "悦衣坊", None)
    assert "小美" not in welcome_text("", "悦衣坊", None)
    assert welcome_text(None, "Yiyi", "Mei", "en").startswith("Hello and welcome to Yiyi! I'm Mei")
