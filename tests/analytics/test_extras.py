"""kefu's additions to the contract, on the worked example of docs/metrics.md."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from worked_example import write_worked_example

from kefu.analytics.period import Period
from kefu.analytics.reporting import Report
from kefu.analytics.runs import Extras, run_report
from kefu.analytics.scorecard import Target, grade

PERIOD = Period(date(2026, 11, 2), date(2026, 11, 3))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_worked_example(tmp_path_factory.mktemp("worked") / "data")


def report(folder, **kwargs) -> dict:
    return run_report(PERIOD, folder=folder, **kwargs).to_json()


def agents(doc: dict) -> dict[str, dict]:
    return {r["agent_id"]: r for r in doc["agents"]}


def test_contract_figures_of_the_example(folder):
    doc = report(folder)
    a1, a2 = agents(doc)["a1"], agents(doc)["a2"]
    assert (a1["turns"], a1["avg_response_s"], a1["first_response_s"]) == (2, 85.0, 20.0)
    assert (a2["turns"], a2["avg_response_s"], a2["reply_within_30s_rate"]) == (1, 240.0, 0.0)
    assert (a1["served_buyers"], a1["ordered_buyers"], a1["paid_buyers"], a1["sales"]) == (1, 1, 1, 199.0)
    shop = doc["shops"][0]
    assert (shop["unanswered_turns"], shop["buyer_last_word_conversations"]) == (2, 2)
    assert (shop["orders"], shop["inquiry_orders"]) == (1, 1)


def test_three_minute_rate_slow_replies_and_reply_question_ratio(folder):
    doc = report(folder)
    a1, a2, shop = agents(doc)["a1"], agents(doc)["a2"], doc["shops"][0]
    assert (a1["reply_within_3min_rate"], a1["slow_replies"], a1["reply_question_ratio"]) == (1.0, 1, 0.5)
    assert (a2["reply_within_3min_rate"], a2["slow_replies"], a2["reply_question_ratio"]) == (0.0, 1, 1.0)
    assert shop["reply_within_3min_rate"] == pytest.approx(2 / 3)
    assert (shop["slow_replies"], shop["agent_messages"]) == (2, 4)
    assert shop["reply_question_ratio"] == pytest.approx(4 / 7)


def test_bot_resolution_and_hand_over(folder):
    shop = report(folder)["shops"][0]
    assert (shop["bot_conversations"], shop["bot_handover_rate"], shop["bot_resolution_rate"]) == (
        2,
        0.5,
        0.5,
    )


def test_rating_invitations(folder):
    doc = report(folder)
    a1, a2, shop = agents(doc)["a1"], agents(doc)["a2"], doc["shops"][0]
    keys = ("invited_conversations", "rating_invitation_rate", "invitation_response_rate")
    assert tuple(a1[k] for k in keys) == (1, 1.0, 1.0)  # c1 invited, and r1 came after the invitation
    assert tuple(a2[k] for k in keys) == (0, 0.0, None)  # r2 was not invited; a2 sent no invitation
    assert tuple(shop[k] for k in keys) == (1, 0.5, 0.5)  # c1 of c1, c2; c3's invitation unanswered


def test_rating_invitations_follow_the_filters_and_stay_unknown_where_none_are_recorded(folder, tmp_path):
    presale = report(folder, segment="presale")  # c1 and c3; c2 is after-sale
    assert presale["shops"][0]["rating_invitation_rate"] == 1.0
    assert agents(report(folder, segment="aftersale"))["a2"]["invited_conversations"] == 0
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "rating_invitations.jsonl").unlink()
    doc = report(bare)
    assert doc["shops"][0]["rating_invitation_rate"] is None
    assert agents(doc)["a1"]["invited_conversations"] is None


def test_pre_sale_and_after_sale_split_the_conversations(folder):
    presale, aftersale = report(folder, segment="presale"), report(folder, segment="aftersale")
    assert set(agents(presale)) == {"a1"} and set(agents(aftersale)) == {"a2"}
    assert presale["shops"][0]["turns"] + aftersale["shops"][0]["turns"] == 3
    assert presale["shops"][0]["unanswered_turns"] == 2  # c1's last turn and c3 (the bot is no agent)


def test_human_and_bot_channels(folder):
    human, bot = report(folder, channel="human"), report(folder, channel="bot")
    assert human["shops"][0]["turns"] == 3 and human["shops"][0]["bot_conversations"] == 1
    assert bot["shops"][0]["turns"] == 0 and bot["shops"][0]["unanswered_turns"] == 1


def test_load_counts_each_agent_by_the_shops_hour(folder):
    doc = report(folder, extras=Extras(load=True))
    by_agent = {(r["agent_id"], r["hour"]): r for r in doc["load"]}
    assert by_agent[("a1", 10)]["messages"] == 2 and by_agent[("a1", 10)]["conversations"] == 1
    assert by_agent[("a2", 11)]["buyers"] == 1
    assert len(doc["load"]) == 2


def test_comparison_with_the_previous_day(folder):
    doc = report(folder, extras=Extras(compare=True))
    assert doc["previous_period"]["from"] == "2026-11-01T00:00:00+08:00"
    s1 = doc["comparison"][0]
    assert s1["turns"]["value"] == 3 and s1["turns"]["previous"] == 0 and s1["turns"]["change"] is None
    assert s1["turns"]["peers"] == 0  # a shop alone has no peers


def test_scorecard_grades_and_ranks():
    rows = [
        {"shop_id": "s1", "agent_id": "fast", "first_response_s": 10.0, "inquiry_conversion_rate": 0.5},
        {"shop_id": "s1", "agent_id": "slow", "first_response_s": 30.0, "inquiry_conversion_rate": 0.25},
        {"shop_id": "s1", "agent_id": "idle", "first_response_s": None, "inquiry_conversion_rate": None},
    ]
    targets = {
        "presale": (
            Target("first_response_s", at_most=15, weight=1),
            Target("inquiry_conversion_rate", at_least=0.5, weight=3),
        ),
        "aftersale": (),
    }
    grades = {g.agent_id: g for g in grade(Report({}, agents=rows), {}, targets)}
    assert (grades["fast"].score, grades["fast"].rank) == (100.0, 1)
    assert grades["slow"].score == pytest.approx(100 * (1 * 15 / 30 + 3 * 0.5) / 4, abs=0.05)
    assert (grades["slow"].rank, grades["idle"].score, grades["idle"].rank) == (2, None, None)
