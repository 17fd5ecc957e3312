"""Tiny hand-made datasets, one per rule of the metrics contract; test_reference.py holds their
expected values, written by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from edge_dataset import (
    BUYER_FIELDS,
    ORDER_FIELDS,
    RATING_FIELDS,
    REFUND_FIELDS,
    SHOP_FIELDS,
    write_csv,
    write_jsonl,
)

P_FROM = date(2026, 11, 1)
P_TO = date(2026, 11, 10)


def _m(conv: str, buyer: str, sender: str, agent: str | None, at: str, shop: str = "s1") -> dict:
    return {
        "conversation_id": conv,
        "shop_id": shop,
        "buyer_id": buyer,
        "sender": sender,
        "agent_id": agent,
        "sent_at": at,
        "text": "",
    }


def tiny_turns(folder: Path) -> tuple[date, date]:
    """Turn grouping: bot/system in between, same-second buyer/agent, proactive agents, last words."""
    rows = [
        # c1: a turn of two buyer messages around a bot and a system message, answered by a1 in 30 s.
        _m("c1", "b1", "buyer", None, "2026-11-02T10:00:00+08:00"),
        _m("c1", "b1", "bot", None, "2026-11-02T10:00:05+08:00"),
        _m("c1", "b1", "buyer", None, "2026-11-02T02:00:10Z"),  # same turn (bot skipped)
        _m("c1", "b1", "system", None, "2026-11-02T10:00:12"),
        _m("c1", "b1", "agent", "a1", "2026-11-02T10:00:30+08:00"),
        _m("c1", "b1", "agent", "a1", "2026-11-02T10:00:35+08:00"),  # answers nothing
        # a transfer: a2 answers the next turn at the same second (later in the file): 0 s
        _m("c1", "b1", "buyer", None, "2026-11-02T10:01:00+08:00"),
        _m("c1", "b1", "system", None, "2026-11-02T10:01:00+08:00"),
        _m("c1", "b1", "agent", "a2", "2026-11-02T10:01:00+08:00"),
        # the buyer has the last word: an unanswered turn, a bot after it changes nothing
        _m("c1", "b1", "buyer", None, "2026-11-02T10:02:00+08:00"),
        _m("c1", "b1", "bot", None, "2026-11-02T10:02:40+08:00"),
        # c2: a proactive agent message, then a turn answered by a2 in 45 s.
        _m("c2", "b2", "agent", "a2", "2026-11-03T09:00:00+08:00"),
        _m("c2", "b2", "buyer", None, "2026-11-03T09:00:50+08:00"),
        _m("c2", "b2", "agent", "a2", "2026-11-03T09:01:35+08:00"),
        _m("c2", "b2", "bot", None, "2026-11-03T09:02:00+08:00"),  # the agent still has the last word
        # c3: no buyer message at all (a1 still serves b3).
        _m("c3", "b3", "system", None, "2026-11-04T09:00:00+08:00"),
        _m("c3", "b3", "agent", "a1", "2026-11-04T09:00:01+08:00"),
        # c4: the agent's message at the same second but earlier in the file answers nothing.
        _m("c4", "b4", "agent", "a3", "2026-11-05T10:05:00+08:00"),
        _m("c4", "b4", "buyer", None, "2026-11-05T10:05:00+08:00"),
        # c5: starts before P (its turns are not in P), answered by a1 in P.
        _m("c5", "b5", "buyer", None, "2026-10-31T23:59:50+08:00"),
        _m("c5", "b5", "agent", "a1", "2026-11-01T00:00:30+08:00"),
        _m("c5", "b5", "buyer", None, "2026-11-01T00:01:00+08:00"),
    ]
    write_jsonl(folder / "messages.jsonl", rows)
    return P_FROM, P_TO


def tiny_attribution(folder: Path) -> tuple[date, date]:
    """The 24 h window's edges, the equal-time tie (later in the file), bot-assisted and silent orders."""
    messages = [
        _m("cb", "b", "agent", "a1", "2026-11-02T10:00:00+08:00"),
        _m("cc", "c", "agent", "a1", "2026-11-02T10:00:00+08:00"),
        _m("cd", "d", "agent", "a1", "2026-11-01T08:00:00+08:00"),
        _m("cd", "d", "bot", None, "2026-11-02T12:00:00+08:00"),
        # two agents at one second in two conversations: a2 first in the file, a1 later: a1 wins
        _m("ce2", "e", "agent", "a2", "2026-11-04T09:00:00+08:00"),
        _m("ce1", "e", "agent", "a1", "2026-11-04T01:00:00Z"),
        _m("cf", "f", "agent", "a2", "2026-11-09T23:00:00+08:00"),
        _m("cg", "g", "agent", "a1", "2026-10-31T20:00:00+08:00"),
        _m("cg", "g", "agent", "a1", "2026-11-05T10:00:00+08:00"),  # g served in P, after o6
        _m("ch", "h", "agent", "a2", "2026-11-06T10:00:00+08:00"),
    ]
    orders = [
        # order_id, buyer, created_at, paid_at, amount
        ("o1", "b", "2026-11-03T10:00:00+08:00", "2026-11-03T10:05:00+08:00", "100.00"),  # exactly 24 h: a1
        ("o2", "c", "2026-11-03T10:00:01+08:00", "2026-11-03T10:05:00+08:00", "50"),  # 24 h + 1 s: silent
        ("o3", "d", "2026-11-03T09:00:00+08:00", "", "30.00"),  # only a bot in the window
        ("o4", "e", "2026-11-04T09:00:00+08:00", "2026-11-04T09:10:00+08:00", "80.5"),  # same second: a1
        ("o5", "f", "2026-11-10T08:00:00+08:00", "2026-11-10T09:00:00+08:00", "20.00"),  # after `to`: a2
        (
            "o6",
            "g",
            "2026-11-01T08:00:00+08:00",
            "2026-11-01T09:00:00+08:00",
            "60.00",
        ),  # a1, message before P
        ("o7", "h", "2026-11-06T11:00:00+08:00", "", "40.00"),  # a2, unpaid
    ]
    write_jsonl(folder / "messages.jsonl", messages)
    write_csv(
        folder / "orders.csv",
        [dict(zip(ORDER_FIELDS, (o[0], "s1", o[1], o[2], o[3], o[4]), strict=True)) for o in orders],
        ORDER_FIELDS,
    )
    return P_FROM, P_TO


def _r(
    rid: str, buyer: str, agent: str | None, at: str, score: str, robot: str = "", shop: str = "s1"
) -> dict:
    return {
        "rating_id": rid,
        "conversation_id": "c1",
        "shop_id": shop,
        "buyer_id": buyer,
        "agent_id": agent,
        "rated_at": at,
        "score": score,
        "robot": robot,
        "tags": "",
    }


def tiny_new_rule(folder: Path) -> tuple[date, date]:
    """The four removal steps of the new satisfaction rule, in order."""
    write_jsonl(folder / "messages.jsonl", [_m("c1", "w", "system", None, "2026-11-01T09:00:00+08:00")])
    buyers = [
        {"buyer_id": "x", "shop_id": "s1", "risk_flag": "fake_reviews", "nickname": ""},
        {"buyer_id": "y", "shop_id": "", "risk_flag": "fake_reviews", "nickname": ""},
        {"buyer_id": "z", "shop_id": "s2", "risk_flag": "fake_reviews", "nickname": ""},
        {"buyer_id": "w", "shop_id": "s1", "risk_flag": "", "nickname": ""},
    ]
    write_csv(folder / "buyers.csv", buyers, BUYER_FIELDS)
    ratings = [
        _r("r1", "x", "a1", "2026-11-02T10:00:00+08:00", "very_satisfied"),  # 1: flagged at s1
        _r("r2", "y", "a1", "2026-11-02T10:00:00+08:00", "satisfied"),  # 1: flagged everywhere
        _r("r3", "z", "a1", "2026-11-02T10:00:00+08:00", "dissatisfied", robot="1"),  # 2: robot
        _r("r4", "z", "a1", "2026-11-02T11:00:00+08:00", "satisfied", robot="false"),  # kept
        _r("w0", "w", "a1", "2026-10-31T23:55:00+08:00", "very_dissatisfied"),  # before P: ignored
        _r("w1", "w", "a1", "2026-11-01T00:00:00+08:00", "very_satisfied"),  # kept (1st)
        _r("w2", "w", "a1", "2026-11-01T00:05:00+08:00", "satisfied", robot="yes"),  # 2: robot
        _r("w3", "w", "a1", "2026-11-01T00:09:59+08:00", "neutral"),  # 3: 599 s after w1
        _r("w4", "w", "a1", "2026-10-31T16:10:00Z", "satisfied"),  # kept (2nd): 600 s after w1
        _r("w5", "w", "a1", "2026-11-01T00:15:00+08:00", "very_satisfied"),  # 3
        _r("w6", "w", "a1", "2026-11-01T00:19:59+08:00", "dissatisfied"),  # 3: 599 s after w4
        _r("w7", "w", None, "2026-11-01T00:20:00+08:00", "satisfied"),  # kept (3rd), the bot's
        _r("w8", "w", "a1", "2026-11-01T01:00:00+08:00", "very_satisfied"),  # 4: after the first 3
        # v: equal times, the first in the file is the earlier one
        _r("v1", "v", "a1", "2026-11-03T10:00:00+08:00", "satisfied"),  # kept
        _r("v2", "v", "a1", "2026-11-03T11:00:00+08:00", "neutral"),  # kept
        _r("v9", "v", "a2", "2026-11-03T12:00:00+08:00", "very_satisfied"),  # kept (3rd)
        _r("v8", "v", "a1", "2026-11-03T12:00:00+08:00", "dissatisfied"),  # 3: 0 s after v9
        # another shop: z is flagged there
        _r("t1", "z", "a1", "2026-11-03T12:00:00+08:00", "satisfied", shop="s2"),
    ]
    write_csv(folder / "ratings.csv", ratings, RATING_FIELDS)
    return P_FROM, P_TO


def tiny_refunds(folder: Path) -> tuple[date, date]:
    """Shop refund rate (completed in P / paid lines in P) against the agent's (paid orders refunded)."""
    messages = [
        _m("c1", "b1", "agent", "a1", "2026-11-02T09:00:00+08:00"),
        _m("c2", "b2", "agent", "a1", "2026-11-03T09:00:00+08:00"),
        _m("c6", "b6", "agent", "a1", "2026-11-03T09:00:00+08:00"),
    ]
    orders = [
        ("o1", "b1", "2026-11-02T09:30:00+08:00", "2026-11-02T09:40:00+08:00"),  # a1, lines p1 p2
        ("o2", "b2", "2026-11-03T09:30:00+08:00", "2026-11-03T09:40:00+08:00"),  # a1, no lines
        ("o3", "b3", "2026-10-25T10:00:00+08:00", "2026-10-25T10:00:00+08:00"),  # paid before P, p1
        ("o4", "b4", "2026-11-08T10:00:00+08:00", "2026-11-12T10:00:00+08:00"),  # paid after P, p2
        ("o5", "b5", "2026-11-05T10:00:00+08:00", ""),  # unpaid, p3
        ("o6", "b6", "2026-11-03T09:30:00+08:00", "2026-11-03T09:40:00+08:00"),  # a1, p1, only rejected
    ]
    items = [("o1", "p1"), ("o1", "p2"), ("o3", "p1"), ("o4", "p2"), ("o5", "p3"), ("o6", "p1")]
    refunds = [
        ("R1", "o1", "p1", "size", "2026-11-04T10:00:00+08:00", "completed"),
        ("R2", "o1", "", "quality", "2026-11-05T10:00:00+08:00", "completed"),
        ("R3", "o3", "p1", "size", "2026-11-06T10:00:00+08:00", "completed"),
        ("R4", "o2", "", "late", "2026-11-15T10:00:00+08:00", "completed"),  # after P
        ("R5", "o1", "p2", "quality", "", "rejected"),
        ("R6", "o4", "p2", "size", "", "requested"),
        ("R7", "o2", "p9", "quality", "", "cancelled"),
        ("R8", "o3", "p4", "damaged", "2026-11-09T23:59:59+08:00", "completed"),
        ("R9", "o2", "", "late", "2026-11-10T00:00:00+08:00", "completed"),  # at `to`: outside
        ("R10", "zz", "p1", "size", "2026-11-04T10:00:00+08:00", "completed"),  # order absent: ignored
        ("R11", "o6", "p1", "size", "", "rejected"),
        ("R12", "o3", "", "size", "2026-11-07T10:00:00", "completed"),  # naive: the order's shop's zone
        ("R13", "o1", "p1", "size", "2026-11-07T10:00:00+08:00", "rejected"),  # a time, but not completed
    ]
    write_jsonl(folder / "messages.jsonl", messages)
    write_csv(
        folder / "orders.csv",
        [dict(zip(ORDER_FIELDS, (o[0], "s1", o[1], o[2], o[3], "10.00"), strict=True)) for o in orders],
        ORDER_FIELDS,
    )
    write_jsonl(
        folder / "order_items.jsonl",
        [{"order_id": o, "product_id": p, "sku": "", "quantity": 1, "unit_price": "10.00"} for o, p in items],
    )
    write_csv(
        folder / "refunds.csv",
        [
            {
                "refund_id": r[0],
                "order_id": r[1],
                "product_id": r[2],
                "reason": r[3],
                "amount": "5.00",
                "requested_at": "2026-11-04T09:00:00+08:00" if r[1] != "o3" else "2026-10-26T09:00:00+08:00",
                "completed_at": r[4],
                "status": r[5],
            }
            for r in refunds
        ],
        REFUND_FIELDS,
    )
    return P_FROM, P_TO


def tiny_dsr(folder: Path) -> tuple[date, date]:
    """DSR over [to - 180 days, to) on the shop's calendar; positive reviews over P."""
    write_jsonl(folder / "messages.jsonl", [_m("c1", "b1", "system", None, "2026-11-01T09:00:00+08:00")])
    reviews = [
        ("rv1", "2026-05-13T23:59:59+08:00", "good", 1, 1, 1),  # 1 s before the window
        ("rv2", "2026-05-13T16:00:00Z", "good", 5, 4, None),  # the window's first instant
        ("rv3", "2026-11-09T23:59:59+08:00", "good", 3, None, 2),  # in P
        ("rv4", "2026-11-10T00:00:00+08:00", "neutral", 1, 1, 1),  # at `to`: outside
        ("rv5", "2026-11-02T12:00:00+08:00", "bad", None, None, None),  # in P
        ("rv6", "2026-11-05T12:00:00+08:00", "good", 4, 5, 5),  # in P
    ]
    write_jsonl(
        folder / "reviews.jsonl",
        [
            {
                "review_id": r[0],
                "order_id": "o1",
                "shop_id": "s1",
                "buyer_id": "b1",
                "product_id": "p1",
                "created_at": r[1],
                "rating": r[2],
                "dsr_description": r[3],
                "dsr_service": r[4] if r[4] is not None else "",
                "dsr_shipping": r[5],
                "text": "",
            }
            for r in reviews
        ],
    )
    return P_FROM, P_TO


def tiny_rows(folder: Path) -> tuple[date, date]:
    """Which agents, shops and products get a row; missing optional tables give nulls."""
    messages = [
        _m("c1", "b1", "buyer", None, "2026-10-20T10:00:00+08:00", shop="s1"),  # s1: only before P
        _m("c1", "b1", "agent", "q1", "2026-10-20T10:00:05+08:00", shop="s1"),  # q1: no row
        _m("c2", "b2", "agent", "m1", "2026-11-03T10:00:00+08:00", shop="s4"),  # m1: served b2
        _m("c3", "b3", "buyer", None, "2026-11-09T23:59:50+08:00", shop="s4"),
        _m("c3", "b3", "agent", "t1", "2026-11-10T00:00:05+08:00", shop="s4"),  # t1: answered a turn in P
    ]
    write_jsonl(folder / "messages.jsonl", messages)
    write_csv(
        folder / "buyers.csv",
        [{"buyer_id": "b9", "shop_id": "s2", "risk_flag": "", "nickname": ""}],
        BUYER_FIELDS,
    )
    write_csv(
        folder / "orders.csv",
        [dict(zip(ORDER_FIELDS, ("000123", "s3", "000456", "2026-10-01T10:00:00", "", "9.90"), strict=True))],
        ORDER_FIELDS,
    )
    write_csv(
        folder / "ratings.csv",
        [_r("r1", "b2", "r1", "2026-11-04T10:00:00+08:00", "satisfied", shop="s4")],  # r1: only a rating
        RATING_FIELDS,
    )
    return P_FROM, P_TO


def tiny_zones(folder: Path) -> tuple[date, date]:
    """Naive timestamps in the shop's zone (shops table), and the report's `tz` overriding it."""
    messages = [
        _m("c1", "b1", "buyer", None, "2026-11-01T00:30:00", shop="tk"),  # Tokyo: 2026-10-31T15:30Z
        _m("c1", "b1", "agent", "a1", "2026-10-31T15:30:10Z", shop="tk"),
        _m("c2", "b2", "buyer", None, "2026-11-01T00:30:00", shop="sh"),  # Shanghai: 2026-10-31T16:30Z
        _m("c2", "b2", "agent", "a1", "2026-10-31T16:30:20Z", shop="sh"),
    ]
    write_jsonl(folder / "messages.jsonl", messages)
    write_csv(
        folder / "shops.csv",
        [
            {"shop_id": "tk", "name": "", "category": "", "timezone": "Asia/Tokyo"},
            {"shop_id": "sh", "name": "", "category": "", "timezone": ""},
        ],
        SHOP_FIELDS,
    )
    return P_FROM, P_TO


TINY_CASES = {
    "turns": tiny_turns,
    "attribution": tiny_attribution,
    "new_rule": tiny_new_rule,
    "refunds": tiny_refunds,
    "dsr": tiny_dsr,
    "rows": tiny_rows,
    "zones": tiny_zones,
}


def write_tiny_cases(root: Path) -> dict[str, tuple[Path, date, date]]:
    """Write every tiny case to root/<name>; return {name: (folder, from, to)}."""
    written = {}
    for name, writer in TINY_CASES.items():
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        written[name] = (folder, *writer(folder))
    return written
