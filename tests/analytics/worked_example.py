"""The small shop day that docs/metrics.md walks through, as a dataset (so the docs stay true)."""

from __future__ import annotations

import json
from pathlib import Path

DAY = "2026-11-02"
MESSAGES = [
    # c1: two turns answered by a1 (20 s, 150 s), then the buyer has the last word.
    ("c1", "b1", "buyer", "", "10:00:00", "在吗"),
    ("c1", "b1", "buyer", "", "10:00:05", "这件有M码吗"),
    ("c1", "b1", "agent", "a1", "10:00:20", "您好，M码有货"),
    ("c1", "b1", "buyer", "", "10:05:00", "什么时候发货"),
    ("c1", "b1", "agent", "a1", "10:07:30", "今天下午四点前发出"),
    ("c1", "b1", "buyer", "", "10:20:00", "好的谢谢"),
    # c2: the bot answers first; a2 takes over after 240 s (the bot's reply does not end the turn).
    ("c2", "b2", "buyer", "", "11:00:00", "怎么退货"),
    ("c2", "b2", "bot", "", "11:00:01", "您可以在订单页申请退货"),
    ("c2", "b2", "buyer", "", "11:00:30", "转人工"),
    ("c2", "b2", "agent", "a2", "11:04:00", "您好，我来为您处理"),
    ("c2", "b2", "agent", "a2", "11:05:00", "退货地址已经发给您了"),
    # c3: the bot alone.
    ("c3", "b3", "buyer", "", "12:00:00", "发什么快递"),
    ("c3", "b3", "bot", "", "12:00:02", "默认发中通快递"),
]
ORDERS = [
    # o0 was paid 13 days before c2: c2 is an after-sale conversation.
    ("o0", "b2", "2026-10-20T09:00:00+08:00", "2026-10-20T09:01:00+08:00", "89.00"),
    # o1 follows a1's last message (10:07:30) by 22.5 minutes: credited to a1.
    ("o1", "b1", f"{DAY}T10:30:00+08:00", f"{DAY}T10:31:00+08:00", "199.00"),
]

# b1 rates c1 after a1's invitation; b2 rates c2 unasked; c3 (the bot's) is invited, never rated.
RATINGS = [
    ("r1", "c1", "b1", "a1", "10:25:00", "satisfied"),
    ("r2", "c2", "b2", "a2", "11:05:30", "very_satisfied"),
]
INVITATIONS = [("c1", "b1", "a1", "10:21:00"), ("c3", "b3", "", "12:01:00")]


def write_worked_example(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "messages.jsonl").open("w", encoding="utf-8") as fh:
        for conversation, buyer, sender, agent, at, text in MESSAGES:
            row = {
                "conversation_id": conversation,
                "shop_id": "s1",
                "buyer_id": buyer,
                "sender": sender,
                "agent_id": agent,
                "sent_at": f"{DAY}T{at}+08:00",
                "text": text,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (folder / "orders.jsonl").open("w", encoding="utf-8") as fh:
        for order, buyer, created, paid, amount in ORDERS:
            row = {"order_id": order, "shop_id": "s1", "buyer_id": buyer, "created_at": created}
            fh.write(json.dumps({**row, "paid_at": paid, "amount": amount}) + "\n")
    with (folder / "ratings.jsonl").open("w", encoding="utf-8") as fh:
        for rating, conversation, buyer, agent, at, score in RATINGS:
            row = {"rating_id": rating, "conversation_id": conversation, "shop_id": "s1", "buyer_id": buyer}
            fh.write(
                json.dumps({**row, "agent_id": agent, "rated_at": f"{DAY}T{at}+08:00", "score": score}) + "\n"
            )
    with (folder / "rating_invitations.jsonl").open("w", encoding="utf-8") as fh:
        for conversation, buyer, agent, at in INVITATIONS:
            row = {"conversation_id": conversation, "shop_id": "s1", "buyer_id": buyer, "agent_id": agent}
            fh.write(json.dumps({**row, "invited_at": f"{DAY}T{at}+08:00"}) + "\n")
    return folder
