"""Tests of the demo shop generator: shape of the tables, integrity, and the realism analytics rely on."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import random
import statistics
from decimal import Decimal

import pytest

from kefu.demo.catalogue import CATEGORIES
from kefu.demo.dialogue import compile_bank
from kefu.demo.generator import DEFAULT_START, TABLE_FIELDS, generate
from kefu.demo.phrases import (
    CONTEXT_KEYS,
    CONVERSATION,
    PAIRED,
    REASON_HINTS,
    REFUND_AFTER,
    TRANSFER_KEYS,
    placeholders,
)
from kefu.demo.scenarios import ESCALATION, SCRIPTS, TAILS, TOPICS, flatten

N = 300
CST = dt.timedelta(hours=8)
DAY = dt.timedelta(days=1)
MONEY = {"products": ("price",), "skus": ("price",), "orders": ("amount",), "order_items": ("unit_price",),
         "refunds": ("amount",)}


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    return generate(11, N)


@pytest.fixture(scope="module")
def big() -> dict[str, list[dict]]:
    """A larger dataset for properties that need numbers to show."""
    return generate(4, 1500)


@pytest.fixture(scope="module")
def conversations(data) -> dict[str, list[dict]]:
    """conversation_id -> its messages, in file order."""
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for m in data["messages"]:
        out[m["conversation_id"]].append(m)
    return out


def by(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


# --- determinism and arguments -------------------------------------------------------------------------
def test_same_seed_gives_identical_output() -> None:
    assert generate(5, 120) == generate(5, 120)


def test_different_seed_or_size_gives_different_output() -> None:
    a = generate(5, 120)
    assert a["messages"] != generate(6, 120)["messages"]
    assert a["orders"] != generate(6, 120)["orders"]
    assert len(generate(5, 121)["messages"]) != len(a["messages"]) or generate(5, 121) != a


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        generate(1, -1)
    with pytest.raises(ValueError):
        generate(1, 10, days=0)


def test_zero_conversations_still_gives_the_shops() -> None:
    d = generate(3, 0)
    assert len(d["shops"]) == 4 and d["messages"] == [] and d["ratings"] == []
    assert len(d["products"]) > 0 and len(d["agents"]) >= 4 * 5


def test_start_and_days_bound_every_timestamp() -> None:
    start = dt.date(2027, 3, 1)
    d = generate(2, 150, start=start, days=10)
    lo = dt.datetime(2027, 3, 1, tzinfo=dt.timezone(CST))
    hi = lo + 10 * DAY
    stamps = list(_timestamps(d))
    assert stamps and all(lo <= ts < hi for ts in stamps)


def test_default_start_is_fixed() -> None:
    assert DEFAULT_START == dt.date(2026, 10, 19)


# --- shape ---------------------------------------------------------------------------------------------
def test_every_row_has_exactly_its_tables_keys(data) -> None:
    assert list(data) == list(TABLE_FIELDS)
    for table, rows in data.items():
        assert rows, table
        for row in rows:
            assert tuple(row) == TABLE_FIELDS[table], (table, row)


def test_exactly_the_requested_number_of_conversations(conversations) -> None:
    assert len(conversations) == N


def test_ids_are_unique(data) -> None:
    for table, key in (("shops", "shop_id"), ("agents", "agent_id"), ("products", "product_id"),
                       ("orders", "order_id"), ("refunds", "refund_id"), ("ratings", "rating_id"),
                       ("reviews", "review_id")):
        ids = [r[key] for r in data[table]]
        assert len(ids) == len(set(ids)), table
        assert all(isinstance(i, str) for i in ids)
    skus = [(r["product_id"], r["sku"]) for r in data["skus"]]
    assert len(skus) == len(set(skus))
    pairs = [(r["buyer_id"], r["shop_id"]) for r in data["buyers"]]
    assert len(pairs) == len(set(pairs))


def test_values_have_the_promised_types(data) -> None:
    for table, rows in data.items():
        for row in rows:
            for key, value in row.items():
                assert value is None or isinstance(value, str | int | Decimal | dt.datetime), (table, key)
                if isinstance(value, dt.datetime):
                    assert value.utcoffset() == CST, (table, key)
                if isinstance(value, Decimal):
                    assert value.as_tuple().exponent == -2 and value > 0, (table, key, value)
    for table, keys in MONEY.items():
        for row in data[table]:
            assert all(isinstance(row[k], Decimal) for k in keys), table
    assert all(isinstance(r["robot"], bool) for r in data["ratings"])
    assert all(isinstance(r["quantity"], int) and r["quantity"] >= 1 for r in data["order_items"])
    for r in data["reviews"]:
        for k in ("dsr_description", "dsr_service", "dsr_shipping"):
            assert r[k] is None or (isinstance(r[k], int) and 1 <= r[k] <= 5)


def test_enumerations(data) -> None:
    def values(table: str, key: str) -> set:
        return {r[key] for r in data[table]}

    assert values("messages", "sender") == {"buyer", "agent", "bot", "system"}
    assert values("orders", "status") <= {"unpaid", "paid", "shipped", "delivered", "completed", "cancelled",
                                           "refunded"}
    assert values("refunds", "status") <= {"requested", "completed", "rejected", "cancelled"}
    assert values("ratings", "score") <= {"very_satisfied", "satisfied", "neutral", "dissatisfied",
                                          "very_dissatisfied"}
    assert values("reviews", "rating") <= {"good", "neutral", "bad"}
    assert values("logistics", "status") <= {"shipped", "in_transit", "out_for_delivery", "delivered",
                                             "exception"}
    assert values("agents", "role") == {"agent", "supervisor", "admin"}
    assert values("agents", "skill_group") == {"presale", "aftersale"}
    assert values("shops", "timezone") == {"Asia/Shanghai"}


def test_four_shops_one_per_category_with_their_teams(data) -> None:
    assert sorted(s["category"] for s in data["shops"]) == sorted(CATEGORIES)
    for shop in data["shops"]:
        assert shop["name"] in shop["welcome"]
        team = [a for a in data["agents"] if a["shop_id"] == shop["shop_id"]]
        roles = collections.Counter(a["role"] for a in team)
        assert roles["admin"] == 1 and roles["supervisor"] == 1 and 3 <= roles["agent"] <= 6
        assert {a["skill_group"] for a in team if a["role"] == "agent"} == {"presale", "aftersale"}
    categories = {s["shop_id"]: s["category"] for s in data["shops"]}
    assert all(p["category"] == categories[p["shop_id"]] for p in data["products"])


# --- referential integrity ------------------------------------------------------------------------------
def test_each_conversation_has_one_shop_and_one_buyer(conversations) -> None:
    for msgs in conversations.values():
        assert len({(m["shop_id"], m["buyer_id"]) for m in msgs}) == 1


def test_agent_messages_carry_an_agent_of_that_shop(data) -> None:
    shop_of = {a["agent_id"]: a["shop_id"] for a in data["agents"]}
    for m in data["messages"]:
        if m["sender"] == "agent":
            assert shop_of[m["agent_id"]] == m["shop_id"]
        else:
            assert m["agent_id"] is None


def test_each_conversation_is_in_time_order(conversations) -> None:
    for msgs in conversations.values():
        times = [m["sent_at"] for m in msgs]
        assert times == sorted(times)
        agent_times = [m["sent_at"] for m in msgs if m["sender"] == "agent"]
        assert agent_times == sorted(agent_times)


def test_order_tables_reference_existing_orders_and_products(data) -> None:
    orders = by(data["orders"], "order_id")
    products = by(data["products"], "product_id")
    shops = by(data["shops"], "shop_id")
    skus = {(s["product_id"], s["sku"]) for s in data["skus"]}
    assert all(o["shop_id"] in shops for o in data["orders"])
    items_of = collections.defaultdict(list)
    for i in data["order_items"]:
        assert i["order_id"] in orders
        assert products[i["product_id"]]["shop_id"] == orders[i["order_id"]]["shop_id"]
        assert i["sku"] is None or (i["product_id"], i["sku"]) in skus
        items_of[i["order_id"]].append(i)
    assert set(items_of) == set(orders)
    for f in data["refunds"]:
        assert f["order_id"] in orders
        bought = {i["product_id"] for i in items_of[f["order_id"]]}
        assert f["product_id"] is None or f["product_id"] in bought
    for e in data["logistics"]:
        assert e["order_id"] in orders
    for r in data["reviews"]:
        o = orders[r["order_id"]]
        assert (r["shop_id"], r["buyer_id"]) == (o["shop_id"], o["buyer_id"])
        assert r["product_id"] in {i["product_id"] for i in items_of[r["order_id"]]}


def test_ratings_reference_conversations_of_the_same_shop_and_buyer(data, conversations) -> None:
    for r in data["ratings"]:
        msgs = conversations[r["conversation_id"]]
        assert (msgs[0]["shop_id"], msgs[0]["buyer_id"]) == (r["shop_id"], r["buyer_id"])
        assert r["rated_at"] >= msgs[-1]["sent_at"]
        spoke = {m["agent_id"] for m in msgs if m["sender"] == "agent"}
        assert (r["agent_id"] in spoke) if r["agent_id"] else not spoke


def test_buyers_table_covers_every_buyer_shop_pair(data) -> None:
    rows = {(b["buyer_id"], b["shop_id"]) for b in data["buyers"]}
    used = {(m["buyer_id"], m["shop_id"]) for m in data["messages"]}
    used |= {(o["buyer_id"], o["shop_id"]) for o in data["orders"]}
    assert used == rows
    for b in data["buyers"]:
        assert len(b["phone"]) == 11 and b["phone"].startswith("13") and b["phone"].isdigit()
        assert b["tags"] is None or all(b["tags"].split("|"))


# --- orders, refunds, logistics, reviews ------------------------------------------------------------------
def test_order_amounts_and_payment(data) -> None:
    items_of = collections.defaultdict(list)
    for i in data["order_items"]:
        items_of[i["order_id"]].append(i)
    for o in data["orders"]:
        total = sum(i["unit_price"] * i["quantity"] for i in items_of[o["order_id"]])
        assert Decimal("0.01") <= o["amount"] <= total
        if o["paid_at"] is None:
            assert o["status"] in ("unpaid", "cancelled")
        else:
            assert o["paid_at"] >= o["created_at"] and o["status"] not in ("unpaid", "cancelled")
        assert "省" in o["address"] or "市" in o["address"]


def test_unpaid_orders_are_a_tenth_or_so(data) -> None:
    unpaid = sum(o["paid_at"] is None for o in data["orders"])
    assert 0.07 <= unpaid / len(data["orders"]) <= 0.22


def test_refunds_are_consistent(data) -> None:
    orders = by(data["orders"], "order_id")
    assert data["refunds"]
    for f in data["refunds"]:
        o = orders[f["order_id"]]
        assert o["paid_at"] is not None and f["requested_at"] >= o["paid_at"]
        assert Decimal("0") < f["amount"] <= o["amount"]
        assert (f["completed_at"] is not None) == (f["status"] == "completed")
        if f["completed_at"]:
            assert f["completed_at"] >= f["requested_at"]
    assert any(o["status"] == "refunded" for o in data["orders"])


def test_refund_reasons_match_the_category(big) -> None:
    category = {s["shop_id"]: s["category"] for s in big["shops"]}
    orders = by(big["orders"], "order_id")
    reasons = collections.defaultdict(collections.Counter)
    for f in big["refunds"]:
        reasons[category[orders[f["order_id"]]["shop_id"]]][f["reason"]] += 1
    assert "尺码不合适" in [r for r, _ in reasons["clothing"].most_common(2)]
    def share(category: str, reason: str) -> float:
        return reasons[category][reason] / reasons[category].total()

    assert share("food", "商品破损") > max(share("clothing", "商品破损"), share("electronics", "商品破损"))
    assert "尺码不合适" not in reasons["food"] | reasons["electronics"] | reasons["cosmetics"]
    assert "使用后过敏" not in reasons["food"] | reasons["clothing"] | reasons["electronics"]
    assert len(set().union(*reasons.values())) >= 8


def test_logistics_follow_shipped_orders(data) -> None:
    orders = by(data["orders"], "order_id")
    events = collections.defaultdict(list)
    for e in data["logistics"]:
        events[e["order_id"]].append(e)
    for oid, evs in events.items():
        times = [e["event_at"] for e in evs]
        assert times == sorted(times)
        assert evs[0]["status"] == "shipped" and evs[0]["event_at"] >= orders[oid]["paid_at"]
        assert len({(e["courier"], e["tracking_no"]) for e in evs}) == 1
    for o in data["orders"]:
        if o["status"] in ("shipped", "delivered", "completed"):
            assert o["order_id"] in events
        if o["status"] in ("delivered", "completed"):
            assert events[o["order_id"]][-1]["status"] == "delivered"
    assert any(e["status"] == "exception" for e in data["logistics"])


def test_reviews_follow_delivery_and_mostly_score_high(data, big) -> None:
    assert {r["rating"] for r in big["reviews"]} == {"good", "neutral", "bad"}
    delivered = {e["order_id"]: e["event_at"] for e in data["logistics"] if e["status"] == "delivered"}
    for r in data["reviews"]:
        assert r["created_at"] > delivered[r["order_id"]]
    scores = [r["dsr_service"] for r in data["reviews"] if r["dsr_service"] is not None]
    assert sum(s >= 4 for s in scores) / len(scores) > 0.7
    good = [r for r in data["reviews"] if r["rating"] == "good"]
    bad = [r for r in data["reviews"] if r["rating"] == "bad"]
    assert statistics.mean(r["dsr_description"] or 5 for r in good) > statistics.mean(
        r["dsr_description"] or 1 for r in bad) + 1.5


# --- the realism analytics will look for ---------------------------------------------------------------
def test_silent_orders_exist(data) -> None:
    agent_times = _agent_times(data)
    silent = [o for o in data["orders"] if not any(
        o["created_at"] - DAY <= t <= o["created_at"] for t in agent_times[(o["buyer_id"], o["shop_id"])])]
    assert len(silent) >= 0.2 * len(data["orders"])


def test_orders_follow_chats_within_minutes_hours_and_around_a_day(data) -> None:
    agent_times = _agent_times(data)
    gaps = []
    for o in data["orders"]:
        before = [t for t in agent_times[(o["buyer_id"], o["shop_id"])] if t <= o["created_at"]]
        if before:
            gaps.append(o["created_at"] - max(before))
    hour = dt.timedelta(hours=1)
    assert sum(g <= hour for g in gaps) >= 15
    assert any(hour < g < 20 * hour for g in gaps)
    assert any(23 * hour <= g < 24 * hour for g in gaps)
    assert any(24 * hour < g <= 26 * hour for g in gaps)


def test_a_rating_burst(data) -> None:
    times = collections.defaultdict(list)
    for r in data["ratings"]:
        times[(r["buyer_id"], r["shop_id"])].append(r["rated_at"])
    assert any(_most_within(ts, dt.timedelta(minutes=10)) >= 4 for ts in times.values())


def test_robot_and_flagged_ratings(data) -> None:
    flagged = {b["buyer_id"] for b in data["buyers"] if b["risk_flag"]}
    assert flagged and {b["risk_flag"] for b in data["buyers"]} == {None, "fake_reviews"}
    assert any(r["robot"] for r in data["ratings"])
    assert any(r["buyer_id"] in flagged for r in data["ratings"])
    assert any(r["agent_id"] is None for r in data["ratings"])


def test_about_a_third_of_conversations_are_rated(data) -> None:
    assert 0.25 <= len(data["ratings"]) / N <= 0.47
    assert len({r["conversation_id"] for r in data["ratings"]}) == len(data["ratings"])


def test_bot_and_system_messages(data, conversations) -> None:
    senders = collections.Counter(m["sender"] for m in data["messages"])
    assert senders["bot"] > 0.02 * len(data["messages"]) and senders["system"] > 0.02 * len(data["messages"])
    assert any(m["text"] == "" for m in data["messages"])  # pictures and cards
    assert any(msgs[0]["sender"] == "agent" for msgs in conversations.values())  # reaching out first


def test_a_conversation_is_transferred(conversations) -> None:
    def transferred(msgs: list[dict]) -> bool:
        agents = [m["agent_id"] for m in msgs if m["sender"] == "agent"]
        switch = next((i for i, a in enumerate(agents) if a != agents[0]), None)
        return switch is not None and any(m["sender"] == "system" and "转" in m["text"] for m in msgs)

    assert sum(transferred(m) for m in conversations.values()) >= 3


def test_buyers_sometimes_have_the_last_word(conversations) -> None:
    last = collections.Counter(msgs[-1]["sender"] for msgs in conversations.values())
    assert last["buyer"] >= 0.1 * N and last["agent"] >= 0.4 * N


def test_buyers_write_several_messages_in_a_row(conversations) -> None:
    runs = sum(any(a["sender"] == b["sender"] == "buyer" for a, b in itertools.pairwise(msgs))
               for msgs in conversations.values())
    assert runs >= 0.2 * N


def test_about_ten_messages_per_conversation(data) -> None:
    assert 7.5 <= len(data["messages"]) / N <= 12.5


def test_agents_say_nin_far_more_than_qin(data) -> None:
    texts = [m["text"] for m in data["messages"] if m["sender"] == "agent"]
    assert sum("您" in t for t in texts) > 5 * sum("亲" in t for t in texts)


def test_wording_is_filled_in(data) -> None:
    for m in data["messages"]:
        assert "{" not in m["text"] and "}" not in m["text"], m["text"]
    assert any("元" in m["text"] for m in data["messages"])


def test_peak_day_has_several_times_the_median_volume(conversations) -> None:
    per_day = collections.Counter((msgs[0]["sent_at"]).date() for msgs in conversations.values())
    day, top = per_day.most_common(1)[0]
    assert day == dt.date(2026, 11, 11)
    assert top >= 2.5 * statistics.median(per_day.values())


def test_responses_are_slower_on_the_peak_day(conversations) -> None:
    peak, normal = [], []
    for msgs in conversations.values():
        for gap, when in _reply_gaps(msgs):
            (peak if when.date() == dt.date(2026, 11, 11) else normal).append(gap)
    assert statistics.median(peak) > 1.5 * statistics.median(normal)


def test_agents_differ_in_speed(big) -> None:
    d = big
    gaps = collections.defaultdict(list)
    msgs_of = collections.defaultdict(list)
    for m in d["messages"]:
        msgs_of[m["conversation_id"]].append(m)
    for msgs in msgs_of.values():
        for gap, when, agent in _reply_gaps(msgs, with_agent=True):
            if when.date() != dt.date(2026, 11, 11) and gap < 600:
                gaps[agent].append(gap)
    medians = [statistics.median(g) for g in gaps.values() if len(g) >= 30]
    assert min(medians) <= 20 and max(medians) >= 50
    assert any(g >= 600 for msgs in msgs_of.values() for g, _ in _reply_gaps(msgs))


def test_agents_differ_in_conversion(big) -> None:
    role = {a["agent_id"]: (a["role"], a["skill_group"]) for a in big["agents"]}
    orders = collections.defaultdict(list)
    for o in big["orders"]:
        orders[(o["buyer_id"], o["shop_id"])].append(o["created_at"])
    chats = collections.defaultdict(list)
    for m in big["messages"]:
        chats[m["conversation_id"]].append(m)
    tally = collections.defaultdict(lambda: [0, 0])
    for msgs in chats.values():
        replies = [m for m in msgs if m["sender"] == "agent"]
        if not replies or role[replies[0]["agent_id"]] != ("agent", "presale"):
            continue
        last = replies[-1]["sent_at"]
        bought = any(last <= t <= last + DAY for t in orders[(msgs[0]["buyer_id"], msgs[0]["shop_id"])])
        tally[replies[0]["agent_id"]][0] += 1
        tally[replies[0]["agent_id"]][1] += bought
    rates = [won / n for n, won in tally.values() if n >= 40]
    assert len(rates) >= 6 and max(rates) >= 2 * min(rates)


def test_daily_rhythm_busy_by_day_quiet_at_night(data) -> None:
    hours = collections.Counter(m["sent_at"].hour for m in data["messages"] if m["sender"] == "buyer")
    busy = sum(hours[h] for h in (10, 11, 14, 15, 16, 20, 21, 22))
    night = sum(hours[h] for h in (1, 2, 3, 4, 5, 6))
    assert busy > 10 * night
    # Outside the promotion day (served round the clock) agents keep business hours.
    agents = collections.Counter(m["sent_at"].hour for m in data["messages"]
                                 if m["sender"] == "agent" and m["sent_at"].date() != dt.date(2026, 11, 11))
    assert sum(agents[h] for h in range(1, 8)) < 0.01 * sum(agents.values())


def test_returning_and_multi_shop_buyers(data, conversations) -> None:
    per_buyer = collections.Counter(msgs[0]["buyer_id"] for msgs in conversations.values())
    assert per_buyer.most_common(1)[0][1] >= 4
    assert sum(n >= 2 for n in per_buyer.values()) >= 20
    shops_of = collections.Counter(b["buyer_id"] for b in data["buyers"])
    assert any(n >= 2 for n in shops_of.values())


# --- the phrase bank -----------------------------------------------------------------------------------
def test_every_placeholder_is_known() -> None:
    for key, variants in CONVERSATION.items():
        allowed = set(TRANSFER_KEYS if key == "system.transfer" else CONTEXT_KEYS)
        for text in variants:
            assert placeholders(text) <= allowed, (key, text)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_scripted_key_exists_and_pairs_line_up(category: str) -> None:
    bank = compile_bank(category)
    for answer, question in PAIRED.items():
        assert len(bank[answer]) == len(bank[question]) or answer == "fit.answer", (category, answer)
    for key, kinds in REFUND_AFTER.items():
        assert len(bank[key]) == len(kinds), (category, key)
    assert set(REASON_HINTS) <= set(bank)
    keys = set()
    for steps in [s.steps for s in SCRIPTS.values()] + list(TOPICS.values()) + [ESCALATION] + [
            t for _, t in TAILS]:
        keys |= _keys(steps)
    assert keys <= set(bank), keys - set(bank)


def _keys(steps: tuple) -> set[str]:
    out: set[str] = set()
    for step in steps:
        if step[0] in ("b", "a", "check", "bot"):
            out.add(step[1])
        elif step[0] == "opt":
            out |= _keys(step[2])
        elif step[0] == "any":
            for _, alternative in step[1]:
                out |= _keys(alternative)
    return out


def test_flatten_resolves_options() -> None:
    out: list = []
    flatten(random.Random(1), ESCALATION, out)
    assert out and all(step[0] not in ("opt", "any") for step in out)


# --- helpers -------------------------------------------------------------------------------------------
def _timestamps(d: dict[str, list[dict]]):
    for rows in d.values():
        for row in rows:
            for value in row.values():
                if isinstance(value, dt.datetime):
                    yield value


def _agent_times(data) -> dict[tuple[str, str], list[dt.datetime]]:
    out = collections.defaultdict(list)
    for m in data["messages"]:
        if m["sender"] == "agent":
            out[(m["buyer_id"], m["shop_id"])].append(m["sent_at"])
    return out


def _most_within(times: list[dt.datetime], span: dt.timedelta) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _reply_gaps(msgs: list[dict], with_agent: bool = False) -> list:
    """(seconds from the buyer's last message to the agent's answer, when the buyer wrote[, agent])."""
    out = []
    waiting: dt.datetime | None = None
    for m in msgs:
        if m["sender"] == "buyer":
            waiting = m["sent_at"]
        elif m["sender"] == "agent":
            if waiting is not None:
                gap = (m["sent_at"] - waiting).total_seconds()
                if gap < 3 * 3600:  # not a message left overnight
                    out.append((gap, waiting, m["agent_id"]) if with_agent else (gap, waiting))
            waiting = None
    return out
