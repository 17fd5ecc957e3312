"""The reference implementation of the metrics contract on hand-made cases, and the edge datasets.

Every expected value below was computed by hand from the rows in edge_dataset.py; the
comments there say what each row is for.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner
from edge_dataset import shop_zone, write_edge_dataset
from reference import AGENT_KEYS, PRODUCT_KEYS, SHOP_KEYS, parse_instant, read_table, reference_report
from tiny_cases import TINY_CASES, write_tiny_cases

from kefu.cli import main
from kefu.interchange.validation import load_dataset

NO_ORDERS = dict.fromkeys(
    (
        "ordered_buyers",
        "paid_buyers",
        "inquiry_conversion_rate",
        "order_rate",
        "payment_rate",
        "sales",
        "aov",
    ),
)
NO_RATINGS = dict.fromkeys(("ratings", "ratings_counted", "satisfaction_old", "satisfaction_new"))
NO_SHOP_ORDERS = dict.fromkeys(
    ("orders", "paid_orders", "inquiry_orders", "bot_assisted_orders", "silent_orders")
)
NO_REVIEWS = dict.fromkeys(("dsr_description", "dsr_service", "dsr_shipping", "positive_review_rate"))


def run(tmp_path: Path, case: str, **options) -> dict:
    folder = tmp_path / case
    folder.mkdir(parents=True)
    date_from, date_to = TINY_CASES[case](folder)
    return reference_report(folder, date_from, date_to, **options)


def row(doc: dict, table: str, *key: str) -> dict:
    names = {"agents": ("shop_id", "agent_id"), "shops": ("shop_id",), "products": ("shop_id", "product_id")}
    found = [r for r in doc[table] if tuple(r[k] for k in names[table]) == key]
    assert len(found) == 1, f"{table} {key}: {len(found)} rows"
    return found[0]


def check(actual: dict, expected: dict) -> None:
    """Each expected key equals the actual value: floats approximately, ints and null exactly."""
    for name, value in expected.items():
        got = actual[name]
        if isinstance(value, float):
            assert isinstance(got, float), f"{name}: {got!r} is not a float"
            assert got == pytest.approx(value, rel=1e-12), f"{name}: {got!r} != {value!r}"
        else:
            assert got == value and type(got) is type(value), f"{name}: {got!r} != {value!r}"


def keys_in_order(doc: dict) -> None:
    for r in doc["agents"]:
        assert tuple(r) == AGENT_KEYS
    for r in doc["shops"]:
        assert tuple(r) == SHOP_KEYS
    for r in doc["products"]:
        assert tuple(r) == PRODUCT_KEYS


# ---------------------------------------------------------------------------------------------
# Tiny cases
# ---------------------------------------------------------------------------------------------


def test_turns_skip_bots_and_systems_and_are_answered_by_the_next_agent_message(tmp_path):
    doc = run(tmp_path, "turns")
    keys_in_order(doc)
    assert doc["period"] == {"from": "2026-11-01T00:00:00+08:00", "to": "2026-11-10T00:00:00+08:00"}
    assert [(r["shop_id"], r["agent_id"]) for r in doc["agents"]] == [
        ("s1", "a1"),
        ("s1", "a2"),
        ("s1", "a3"),
    ]
    # a1: c1's first turn (10:00:00, a bot and a buyer message in it, answered at 10:00:30);
    # c5's first turn starts before P. Served b1, b3 (a conversation without buyer messages), b5.
    check(
        row(doc, "agents", "s1", "a1"),
        {
            "turns": 1,
            "avg_response_s": 30.0,
            "first_response_s": 30.0,
            "reply_within_30s_rate": 1.0,  # 30 s is within 30 s
            "served_buyers": 3,
            **NO_ORDERS,
            "refund_rate": None,
            **NO_RATINGS,
        },
    )
    # a2: c1's second turn at the same second (0 s, after a transfer),
    # c2's turn after a proactive message (45 s).
    check(
        row(doc, "agents", "s1", "a2"),
        {
            "turns": 2,
            "avg_response_s": 22.5,
            "first_response_s": 45.0,
            "reply_within_30s_rate": 0.5,
            "served_buyers": 2,
        },
    )
    # a3 wrote at the same second as the buyer but earlier in the file: answered nothing.
    check(
        row(doc, "agents", "s1", "a3"),
        {
            "turns": 0,
            "avg_response_s": None,
            "first_response_s": None,
            "reply_within_30s_rate": None,
            "served_buyers": 1,
        },
    )
    check(
        row(doc, "shops", "s1"),
        {
            "turns": 3,
            "avg_response_s": 25.0,
            "first_response_s": 37.5,
            "reply_within_30s_rate": 2 / 3,
            "served_buyers": 5,
            **NO_ORDERS,
            "refund_rate": None,
            **NO_RATINGS,
            # c1's last turn, c4's turn, c5's second turn (its conversation started before P)
            "unanswered_turns": 3,
            # c1 and c4; c5 started before P, c3 never started
            "buyer_last_word_conversations": 2,
            **NO_SHOP_ORDERS,
            "refund_reasons": None,
            **NO_REVIEWS,
        },
    )
    assert doc["products"] == []


def test_attribution_window_edges_and_equal_times(tmp_path):
    doc = run(tmp_path, "attribution")
    keys_in_order(doc)
    # a1: served b, c, d (at 11-01 08:00), e, g; o1 (exactly 24 h) and o4 (same second, a1 later
    # in the file than a2) attributed with the message in P; o6's attributing message is before P
    # (g is served in P, but later).
    check(
        row(doc, "agents", "s1", "a1"),
        {
            "turns": 0,
            "served_buyers": 5,
            "ordered_buyers": 2,
            "paid_buyers": 2,
            "inquiry_conversion_rate": 0.4,
            "order_rate": 0.4,
            "payment_rate": 1.0,
            "sales": 180.5,
            "aov": 90.25,
            "refund_rate": None,
            **NO_RATINGS,
        },
    )
    # a2: served e, f, h; o5 (created after `to`, paid) and o7 (unpaid).
    check(
        row(doc, "agents", "s1", "a2"),
        {
            "served_buyers": 3,
            "ordered_buyers": 2,
            "paid_buyers": 1,
            "inquiry_conversion_rate": 1 / 3,
            "order_rate": 2 / 3,
            "payment_rate": 0.5,
            "sales": 20.0,
            "aov": 20.0,
        },
    )
    check(
        row(doc, "shops", "s1"),
        {
            "turns": 0,
            "avg_response_s": None,
            "served_buyers": 7,
            "ordered_buyers": 4,
            "paid_buyers": 3,
            "inquiry_conversion_rate": 3 / 7,
            "order_rate": 4 / 7,
            "payment_rate": 0.75,
            "sales": 200.5,
            "aov": 200.5 / 3,
            "refund_rate": None,
            "unanswered_turns": 0,
            "buyer_last_word_conversations": 0,
            # created in P: o1 o2 o3 o4 o6 o7 (o5 after `to`)
            "orders": 6,
            "paid_orders": 4,
            "inquiry_orders": 4,  # o1 o4 o6 o7
            "bot_assisted_orders": 1,  # o3
            "silent_orders": 1,  # o2: 24 h + 1 s
            "refund_reasons": None,
        },
    )


def test_new_rule_removes_in_order(tmp_path):
    doc = run(tmp_path, "new_rule")
    keys_in_order(doc)
    assert [(r["shop_id"], r["agent_id"]) for r in doc["agents"]] == [
        ("s1", "a1"),
        ("s1", "a2"),
        ("s2", "a1"),
    ]
    # a1 in P: r1-r4, w1-w6, w8, v1, v2, v8 (14; 9 satisfied or better). Kept: r4, w1, w4, v1, v2.
    check(
        row(doc, "agents", "s1", "a1"),
        {
            "ratings": 14,
            "ratings_counted": 5,
            "satisfaction_old": 9 / 14,
            "satisfaction_new": 4 / 5,
            "served_buyers": 0,
            **NO_ORDERS,
        },
    )
    # v9 and v8 at the same second: v9 is first in the file, so v9 is kept and v8 removed.
    check(
        row(doc, "agents", "s1", "a2"),
        {"ratings": 1, "ratings_counted": 1, "satisfaction_old": 1.0, "satisfaction_new": 1.0},
    )
    # Shop: also w7 (the bot's). Kept: r4, w1, w4, w7, v1, v2, v9.
    check(
        row(doc, "shops", "s1"),
        {"ratings": 16, "ratings_counted": 7, "satisfaction_old": 11 / 16, "satisfaction_new": 6 / 7},
    )
    # z is flagged at s2 only.
    check(
        row(doc, "agents", "s2", "a1"),
        {"ratings": 1, "ratings_counted": 0, "satisfaction_old": 1.0, "satisfaction_new": None},
    )
    check(row(doc, "shops", "s2"), {"ratings": 1, "ratings_counted": 0, "satisfaction_new": None})
    assert [r["shop_id"] for r in doc["shops"]] == ["s1", "s2"]


def test_refund_rate_has_a_shop_meaning_and_an_agent_meaning(tmp_path):
    doc = run(tmp_path, "refunds")
    keys_in_order(doc)
    # Agent: of the paid orders attributed in P (o1 o2 o6), those with a completed refund at any time (o1 o2).
    check(
        row(doc, "agents", "s1", "a1"),
        {
            "served_buyers": 3,
            "ordered_buyers": 3,
            "paid_buyers": 3,
            "sales": 30.0,
            "aov": 10.0,
            "refund_rate": 2 / 3,
        },
    )
    # Shop: R1 R2 R3 R8 R12 completed in P / lines of orders paid in P: o1 (2) + o2 (none: 1) + o6 (1).
    check(
        row(doc, "shops", "s1"),
        {
            "refund_rate": 5 / 4,
            "refund_reasons": {"size": 3, "damaged": 1, "quality": 1},
            "orders": 5,  # o1 o2 o4 o5 o6
            "paid_orders": 4,  # o4 paid after `to` counts
            "inquiry_orders": 3,
            "bot_assisted_orders": 0,
            "silent_orders": 2,
            **NO_RATINGS,
            **NO_REVIEWS,
        },
    )
    assert list(row(doc, "shops", "s1")["refund_reasons"]) == ["size", "damaged", "quality"]
    assert doc["products"] == [
        {"shop_id": "s1", "product_id": "p1", "refund_rate": 1.0, "refund_reasons": {"size": 2}},
        {"shop_id": "s1", "product_id": "p2", "refund_rate": 0.0, "refund_reasons": {}},
        {"shop_id": "s1", "product_id": "p4", "refund_rate": None, "refund_reasons": {"damaged": 1}},
    ]


def test_dsr_window_is_180_days_on_the_shops_calendar(tmp_path):
    doc = run(tmp_path, "dsr")
    check(
        row(doc, "shops", "s1"),
        {
            "dsr_description": 4.0,  # rv2 rv3 rv6
            "dsr_service": 4.5,  # rv2 rv6
            "dsr_shipping": 3.5,  # rv3 rv6
            "positive_review_rate": 2 / 3,  # rv3 rv5 rv6
            **NO_SHOP_ORDERS,
            "refund_rate": None,
            "refund_reasons": None,
            **NO_RATINGS,
            "turns": 0,
            "served_buyers": 0,
        },
    )
    assert doc["agents"] == []
    # In UTC the window and P move by 8 hours: rv2 falls out, rv4 comes in.
    utc = run(tmp_path / "utc", "dsr", tz="UTC")
    assert utc["period"] == {"from": "2026-11-01T00:00:00+00:00", "to": "2026-11-10T00:00:00+00:00"}
    check(
        row(utc, "shops", "s1"),
        {"dsr_description": 8 / 3, "dsr_service": 3.0, "dsr_shipping": 8 / 3, "positive_review_rate": 0.5},
    )


def test_which_rows(tmp_path):
    doc = run(tmp_path, "rows")
    keys_in_order(doc)
    # q1 wrote only before P; t1 answered a turn started in P after `to`; r1 has only a rating.
    assert [(r["shop_id"], r["agent_id"]) for r in doc["agents"]] == [
        ("s4", "m1"),
        ("s4", "r1"),
        ("s4", "t1"),
    ]
    # s1: messages before P only; s2: a buyers row only; s3: an order before P only (id 000123 kept).
    assert [r["shop_id"] for r in doc["shops"]] == ["s1", "s2", "s3", "s4"]
    assert doc["products"] == []
    zero_shop = {
        "turns": 0,
        "avg_response_s": None,
        "first_response_s": None,
        "reply_within_30s_rate": None,
        "served_buyers": 0,
        "ordered_buyers": 0,
        "paid_buyers": 0,
        "inquiry_conversion_rate": None,
        "order_rate": None,
        "payment_rate": None,
        "sales": 0.0,
        "aov": None,
        "refund_rate": None,  # no refunds table
        "ratings": 0,
        "ratings_counted": 0,
        "satisfaction_old": None,
        "satisfaction_new": None,
        "unanswered_turns": 0,
        "buyer_last_word_conversations": 0,
        "orders": 0,
        "paid_orders": 0,
        "inquiry_orders": 0,
        "bot_assisted_orders": 0,
        "silent_orders": 0,
        "refund_reasons": None,
        **NO_REVIEWS,
    }
    for shop in ("s1", "s2", "s3"):
        check(row(doc, "shops", shop), zero_shop)
    check(
        row(doc, "agents", "s4", "m1"),
        {
            "turns": 0,
            "served_buyers": 1,
            "ordered_buyers": 0,
            "inquiry_conversion_rate": 0.0,
            "order_rate": 0.0,
            "payment_rate": None,
            "sales": 0.0,
            "aov": None,
            "ratings": 0,
            "satisfaction_old": None,
        },
    )
    check(
        row(doc, "agents", "s4", "t1"),
        {
            "turns": 1,
            "avg_response_s": 15.0,
            "first_response_s": 15.0,
            "reply_within_30s_rate": 1.0,
            "served_buyers": 0,
            "inquiry_conversion_rate": None,
        },
    )
    check(
        row(doc, "agents", "s4", "r1"),
        {"turns": 0, "served_buyers": 0, "ratings": 1, "ratings_counted": 1, "satisfaction_new": 1.0},
    )
    check(
        row(doc, "shops", "s4"),
        {
            "turns": 1,
            "served_buyers": 1,
            "ratings": 1,
            "unanswered_turns": 0,
            "buyer_last_word_conversations": 0,
        },
    )
    only = run(tmp_path / "filtered", "rows", shop_id="s4")
    assert [r["shop_id"] for r in only["shops"]] == ["s4"]
    assert only["agents"] == doc["agents"]


def test_naive_timestamps_use_the_shops_zone_unless_tz_is_given(tmp_path):
    doc = run(tmp_path, "zones")
    assert doc["period"]["from"] == "2026-11-01T00:00:00+08:00"
    check(row(doc, "agents", "tk", "a1"), {"turns": 1, "avg_response_s": 10.0, "served_buyers": 1})
    check(row(doc, "agents", "sh", "a1"), {"turns": 1, "avg_response_s": 20.0, "served_buyers": 1})
    # In UTC both buyers wrote after the agents (and the agents wrote before P).
    utc = run(tmp_path / "utc", "zones", tz="UTC")
    assert utc["agents"] == []
    for shop in ("sh", "tk"):
        check(
            row(utc, "shops", shop), {"turns": 0, "unanswered_turns": 1, "buyer_last_word_conversations": 1}
        )
    tokyo = run(tmp_path / "tokyo", "zones", tz="Asia/Tokyo")
    assert tokyo["period"] == {"from": "2026-11-01T00:00:00+09:00", "to": "2026-11-10T00:00:00+09:00"}
    check(row(tokyo, "agents", "sh", "a1"), {"avg_response_s": 3620.0})


def test_tiny_cases_are_valid_interchange_datasets(tmp_path):
    written = write_tiny_cases(tmp_path)
    assert sorted(written) == sorted(TINY_CASES)
    for folder, date_from, date_to in written.values():
        load_dataset(folder)
        assert date_from < date_to


# ---------------------------------------------------------------------------------------------
# The edge dataset
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edge")
    return folder, *write_edge_dataset(folder, seed=1)


def test_edge_dataset_is_accepted_by_kefu_import(edge, tmp_path):
    folder, _, _ = edge
    load_dataset(folder)
    result = CliRunner().invoke(main, ["import", str(folder), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_edge_datasets_of_other_seeds_validate(tmp_path, seed):
    write_edge_dataset(tmp_path, seed)
    load_dataset(tmp_path)


def test_the_reference_reads_timestamps_as_kefu_does(edge):
    folder, _, _ = edge
    dataset = load_dataset(folder)
    shop_of_order = {r["order_id"]: r["shop_id"] for r in read_table(folder, "orders")}
    for table, columns in {
        "messages": ("sent_at",),
        "orders": ("created_at", "paid_at"),
        "refunds": ("requested_at", "completed_at"),
        "ratings": ("rated_at",),
        "reviews": ("created_at",),
    }.items():
        ours = read_table(folder, table)
        theirs = dataset.tables[table].to_pylist()
        assert len(ours) == len(theirs)
        for mine, kefu in zip(ours, theirs, strict=True):
            zone = shop_zone(mine.get("shop_id") or shop_of_order[mine["order_id"]])
            for column in columns:
                value = parse_instant(mine[column], zone) if mine.get(column) else None
                assert value == kefu[column], (table, column, mine[column])


def test_edge_dataset_covers_the_cases(edge):
    folder, date_from, date_to = edge
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {
        "messages/part-0001.jsonl",
        "messages/part-0002.csv",
        "orders.csv",
        "ratings/part-0002.jsonl",
    } <= set(files)
    assert (folder / "orders.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    messages = read_table(folder, "messages")
    stamps = [m["sent_at"] for m in messages]
    assert any(s.endswith("+08:00") for s in stamps)
    assert any(s.endswith("Z") for s in stamps) and any(s.endswith("+00:00") for s in stamps)
    assert any(s.endswith(("-05:00", "+05:30", "+09:00")) for s in stamps)
    assert any(not re.search(r"(Z|[+-]\d\d:\d\d)$", s) for s in stamps)
    orders = read_table(folder, "orders")
    assert any(o["order_id"].startswith("0") for o in orders)

    times = [(parse_instant(m["sent_at"], shop_zone(m["shop_id"])), i, m) for i, m in enumerate(messages)]
    by_conv: dict[str, list] = {}
    for t in sorted(times, key=lambda x: (x[0], x[1])):
        by_conv.setdefault(t[2]["conversation_id"], []).append(t)
    same_second_buyer_agent = transfer = proactive = no_buyer = last_word = bot_between = 0
    for conv in by_conv.values():
        talk = [(t, m["sender"], m["agent_id"]) for t, _, m in conv if m["sender"] in ("buyer", "agent")]
        senders = [s for _, s, _ in talk]
        if any(a[0] == b[0] and {a[1], b[1]} == {"buyer", "agent"} for a, b in pairwise(talk)):
            same_second_buyer_agent += 1
        transfer += len({a for _, s, a in talk if s == "agent"}) > 1 and "buyer" in senders
        proactive += bool(senders) and senders[0] == "agent" and "buyer" in senders
        no_buyer += "buyer" not in senders
        last_word += bool(senders) and senders[-1] == "buyer"
        all_senders = [m["sender"] for _, _, m in conv]
        bot_between += any(
            all_senders[i] in ("bot", "system") and "buyer" in all_senders[:i] and "agent" in all_senders[i:]
            for i in range(len(all_senders))
        )
    assert min(same_second_buyer_agent, transfer, proactive, no_buyer, last_word, bot_between) >= 3

    # Orders exactly 24 h after, 24 h + 1 s after and at the same second as an agent message.
    agent_times = {(m["shop_id"], m["buyer_id"], t) for t, _, m in times if m["sender"] == "agent"}
    gaps = Counter()
    for o in orders:
        created = parse_instant(o["created_at"], shop_zone(o["shop_id"]))
        for name, gap in (
            ("24h", timedelta(hours=24)),
            ("24h1s", timedelta(hours=24, seconds=1)),
            ("0", timedelta()),
        ):
            gaps[name] += (o["shop_id"], o["buyer_id"], created - gap) in agent_times
    assert min(gaps.values()) >= 3

    refunds = read_table(folder, "refunds")
    assert {r["status"] for r in refunds} == {"requested", "completed", "rejected", "cancelled"}
    assert any(not r["product_id"] for r in refunds) and any(r["product_id"] for r in refunds)
    ratings = read_table(folder, "ratings")
    assert {(r.get("robot") or "").lower() for r in ratings} >= {"", "true", "false", "1", "0", "yes"}
    rated = Counter(
        (r["shop_id"], r["buyer_id"], parse_instant(r["rated_at"], shop_zone(r["shop_id"]))) for r in ratings
    )
    assert rated.most_common(1)[0][1] >= 2  # one buyer rating twice at one second
    buyers = read_table(folder, "buyers")
    assert any(b["risk_flag"] and not b["shop_id"] for b in buyers)
    assert any(b["risk_flag"] and b["shop_id"] for b in buyers)
    reviews = read_table(folder, "reviews")
    assert any(r["dsr_service"] is None for r in reviews)

    doc = reference_report(folder, date_from, date_to)
    keys_in_order(doc)
    assert {r["shop_id"] for r in doc["shops"]} == {"shop_a", "shop_b", "0042", "0099"}
    assert ("shop_a", "a1") in {(r["shop_id"], r["agent_id"]) for r in doc["agents"]}
    assert ("shop_b", "a1") in {(r["shop_id"], r["agent_id"]) for r in doc["agents"]}
    shops = {r["shop_id"]: r for r in doc["shops"]}
    for shop in ("shop_a", "shop_b", "0042"):
        s = shops[shop]
        assert s["turns"] > 0 and s["unanswered_turns"] > 0 and s["buyer_last_word_conversations"] > 0
        assert s["inquiry_orders"] > 0 and s["bot_assisted_orders"] > 0 and s["silent_orders"] > 0
        assert s["refund_reasons"] and s["ratings_counted"] < s["ratings"]
        assert s["dsr_description"] is not None and s["positive_review_rate"] is not None
    assert any(p["refund_rate"] is None for p in doc["products"])  # a product named only by a refund


def test_edge_dataset_is_the_same_for_the_same_seed(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert write_edge_dataset(one, 5) == write_edge_dataset(two, 5)
    for path in one.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (two / path.relative_to(one)).read_bytes()
