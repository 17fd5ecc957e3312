"""Automatic assignment and the waiting timer's colours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kefu.desk.routing import AgentLoad, WaitThresholds, choose_agent, wait_level

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def agent(agent_id, group="presale", presence="online", active=0, limit=5, last=None):
    return AgentLoad(agent_id, group, presence, active, limit, last)


def test_the_least_loaded_online_agent_of_the_group_takes_it():
    agents = [agent("a", active=3), agent("b", active=1), agent("c", group="aftersale", active=0)]
    assert choose_agent(agents, "presale") == "b"
    assert choose_agent(agents, "aftersale") == "c"


def test_busy_away_and_full_agents_take_nothing_new():
    agents = [agent("a", presence="busy"), agent("b", presence="away"), agent("c", active=5, limit=5)]
    assert choose_agent(agents, "presale") is None


def test_load_counts_against_each_agents_own_limit():
    assert choose_agent(
        [agent("full-timer", active=4, limit=10), agent("part-timer", active=2, limit=3)], None
    ) == ("full-timer")


def test_between_equals_the_one_waiting_longest_since_an_assignment():
    agents = [agent("a", last=T0), agent("b", last=T0 - timedelta(minutes=5)), agent("c", last=T0)]
    assert choose_agent(agents, "presale") == "b"
    assert choose_agent([agent("a", last=T0), agent("z", last=None)], "presale") == "z"


def test_an_agent_without_a_group_serves_every_group():
    assert choose_agent([agent("any", group=None)], "aftersale") == "any"


@pytest.mark.parametrize(
    ("waited_s", "level"), [(0, "ok"), (29, "ok"), (30, "amber"), (599, "amber"), (600, "red"), (3600, "red")]
)
def test_timer_colours(waited_s, level):
    assert wait_level(T0, T0 + timedelta(seconds=waited_s)) == level


def test_nobody_waiting_and_shop_thresholds():
    assert wait_level(None, T0) == "ok"
    assert wait_level(T0, T0 + timedelta(seconds=20), WaitThresholds(amber_s=15, red_s=120)) == "amber"
    with pytest.raises(ValueError, match="amber"):
        WaitThresholds(amber_s=700, red_s=600)
