"""A synthetic shop history of exactly N messages for the analytics benchmark, built with numpy.

    .venv/bin/python bench/analytics_data.py --messages 1000000 [--seed 7]

Every table is drawn column by column (no Python loop per row): 10 M messages take about
15–20 s and 2.3 GB. The dataset is in the interchange format (shared/spec/interchange.md)
as one Parquet file per table, row groups of 1 M rows, timestamps typed
`timestamp[us, tz=UTC]`, ids as strings and money as decimal128(12, 2). It is cached under
bench/out/analytics-N/seed-S/ (bench/out is git-ignored); `generated.json` beside the tables
records the counts and the time span and is written last, so a half-written folder is redone.

Proportions: ~10 messages per conversation; 3–6 shops of ~20 agents; buyers who mostly stay
with one shop; buyer turns of 1–3 messages answered 2–200 s later, a few left unanswered,
bot greetings and bot-only chats, system notices, proactive agent messages and agent-only
conversations; orders for ~25 % of conversations 0–30 h after the last reply (some exactly
at it, some exactly 24 h later) plus silent orders; ~75 % paid; 0–3 items per order;
refunds for ~10 % of paid orders; ratings for ~35 % of conversations with robot flags and
bursts; reviews for ~25 % of orders; a buyers table with ~1 % risk-flagged accounts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ZONE = "Asia/Shanghai"
FIRST_DAY = datetime(2026, 9, 1, tzinfo=ZoneInfo(ZONE))
DAYS = 60
ROW_GROUP = 1_000_000
MESSAGES_PER_CONVERSATION = 9.6  # the mean the draws below give; used to size the first draw
US = 1_000_000
UTC_US = pa.timestamp("us", "UTC")

BUYER_TEXTS = (
    "在吗",
    "这款有货吗",
    "什么时候发货",
    "能便宜点吗",
    "有优惠券吗",
    "尺码怎么选",
    "我身高170体重60",
    "包邮吗",
    "发什么快递",
    "可以开发票吗",
    "颜色有色差吗",
    "好的谢谢",
    "已经拍了",
    "地址写错了能改吗",
    "质量怎么样",
    "",
    "[图片]",
    "能送到新疆吗",
    "七天无理由吗",
    "还没收到货",
)
AGENT_TEXTS = (
    "亲，在的呢",
    "有货的亲",
    "今天下单明天发货哦",
    "亲，这是活动价了呢",
    "可以领店铺优惠券哦",
    "建议您拍M码",
    "默认中通快递",
    "可以开的，备注抬头即可",
    "实物拍摄，无色差的",
    "好的亲，已为您修改",
    "感谢支持，祝您生活愉快",
    "亲，有什么可以帮您",
    "[商品卡片]",
    "",
)
BOT_TEXTS = (
    "您好，欢迎光临，请问有什么可以帮您？",
    "亲，您可以点击下方问题快速咨询哦",
    "人工客服马上为您服务",
)
SYSTEM_TEXTS = ("买家进入店铺", "会话已转接", "会话已结束", "买家发送了订单")
REASONS = (
    "七天无理由",
    "尺码不合适",
    "质量问题",
    "与描述不符",
    "发错货",
    "少件/漏发",
    "快递破损",
    "不想要了",
    "颜色有色差",
    "拍错了",
)
REASON_WEIGHTS = (0.22, 0.16, 0.12, 0.1, 0.06, 0.05, 0.05, 0.14, 0.05, 0.05)
REVIEW_TEXTS = (
    "质量很好，物流很快",
    "和描述一致",
    "一般般",
    "包装很用心",
    "客服态度好",
    "有点色差",
    "",
    "不太满意",
)
SCORES = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")
REFUND_STATUSES = ("completed", "requested", "rejected", "cancelled")
TAGS = ("回复及时", "态度好", "专业", "回复慢|答非所问", "")

BUYER, AGENT, BOT, SYSTEM = 0, 1, 2, 3
SENDERS = ("buyer", "agent", "bot", "system")


def dataset_folder(messages: int, seed: int) -> Path:
    return OUT / f"analytics-{messages}" / f"seed-{seed}"


def ensure_dataset(messages: int, seed: int, log=None) -> Path:
    """The cached dataset folder of (messages, seed), generating it first if needed."""
    folder = dataset_folder(messages, seed)
    if (folder / "generated.json").is_file():
        return folder
    started = time.perf_counter()
    tables = generate(messages, seed)
    drawn = time.perf_counter() - started
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, table in tables.items():
        pq.write_table(table, partial / f"{name}.parquet", row_group_size=ROW_GROUP)
    sent = tables["messages"]["sent_at"]
    meta = {
        "messages": messages,
        "seed": seed,
        "zone": ZONE,
        "first_sent_at": pc.min(sent).as_py().isoformat(),
        "last_sent_at": pc.max(sent).as_py().isoformat(),
        "rows": {name: table.num_rows for name, table in tables.items()},
        "draw_s": round(drawn, 2),
        "total_s": round(time.perf_counter() - started, 2),
    }
    (partial / "generated.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    if log:
        log(f"generated {folder.relative_to(ROOT)} in {meta['total_s']} s ({meta['rows']}) (not timed)")
    return folder


# --- small vectorised helpers ----------------------------------------------------------------


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """ "c0000042"-style ids of integer numbers: the bytes are laid out with numpy, digit by digit."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers):
        width = max(width, len(str(int(numbers.max()))))
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    size = len(head) + width
    chars = np.empty((len(numbers), size), dtype=np.uint8)
    chars[:, : len(head)] = head
    rest = numbers.astype(np.int32) if len(numbers) and numbers.max() < 2**31 else numbers.copy()
    for place in range(size - 1, len(head) - 1, -1):  # a loop over digit places, not rows
        chars[:, place] = rest % 10 + ord("0")
        rest //= 10
    offsets = np.arange(len(numbers) + 1, dtype=np.int64) * size
    return pa.LargeStringArray.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(chars)).cast(
        pa.string()
    )


def time_order(times: np.ndarray) -> np.ndarray:
    """Indices sorting integer `times`, equal times kept in their order (a stable argsort, faster)."""
    n = len(times)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    low = times.min()
    if (int(times.max()) - int(low) + 1) * n < 2**62:
        return np.argsort((times - low) * n + np.arange(n), kind="quicksort")  # keys are unique
    return np.argsort(times, kind="stable")


def pick(words: tuple[str, ...], index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """words[index] as a string column (null where mask is False)."""
    positions = pa.array(np.asarray(index, dtype=np.int64), mask=None if mask is None else ~np.asarray(mask))
    return pa.array(words, pa.string()).take(positions)


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents as decimal128(12, 2) (non-negative, so the high word is 0)."""
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words)])


def stamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds (int or float) as timestamp[us, UTC]; null where mask is False."""
    micros = np.round(np.asarray(seconds, dtype=np.float64) * US).astype(np.int64)
    return pa.array(micros, pa.int64(), mask=None if mask is None else ~mask).cast(UTC_US)


def offsets_of(counts: np.ndarray) -> np.ndarray:
    """Start of each group in a flat array of groups of `counts` rows."""
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def within(counts: np.ndarray) -> np.ndarray:
    """0..count-1 for each group, flattened."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(offsets_of(counts), counts)


def log_uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


# --- the dataset ---------------------------------------------------------------------------------


def generate(messages: int, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    origin = int(FIRST_DAY.timestamp())

    n_shops = int(rng.integers(3, 7))
    shop_weight = rng.dirichlet(np.full(n_shops, 3.0))
    agents_per_shop = rng.integers(16, 25, n_shops)
    shop_ids = np.array([f"shop{i + 1:02d}" for i in range(n_shops)], dtype=object)

    # Conversations: drawn a little generously, cut to exactly `messages` messages below.
    n_conv = max(1, int(messages / MESSAGES_PER_CONVERSATION * 1.08) + 20)
    n_buyers = max(1, int(n_conv * 0.55))
    home = rng.choice(n_shops, n_buyers, p=shop_weight)
    buyer = rng.integers(0, n_buyers, n_conv)
    shop = np.where(rng.random(n_conv) < 0.8, home[buyer], rng.choice(n_shops, n_conv, p=shop_weight))
    agent = (rng.random(n_conv) * agents_per_shop[shop]).astype(np.int64)
    other = (agent + 1 + (rng.random(n_conv) * (agents_per_shop[shop] - 1)).astype(np.int64)) % (
        agents_per_shop[shop]
    )
    hour_weight = np.array([2, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 7, 7, 8, 8, 7, 7, 7, 8, 10, 11, 9, 5.0])
    day = rng.integers(0, DAYS, n_conv)
    hour = rng.choice(24, n_conv, p=hour_weight / hour_weight.sum())
    start = origin + day * 86400 + hour * 3600 + rng.integers(0, 3600, n_conv)

    turns = np.where(rng.random(n_conv) < 0.02, 0, 1 + np.minimum(rng.poisson(1.9, n_conv), 11))
    bot_only = rng.random(n_conv) < 0.05
    has_system = rng.random(n_conv) < 0.25
    has_greeting = rng.random(n_conv) < 0.35
    proactive = np.where(turns == 0, rng.integers(1, 3, n_conv), (rng.random(n_conv) < 0.04).astype(int))
    closing = rng.random(n_conv) < 0.1
    transfer_at = np.where(
        (rng.random(n_conv) < 0.08) & (turns >= 2), (rng.random(n_conv) * (turns - 1)).astype(int) + 1, 999
    )

    # Turns: buyer messages, then the reply (agent 1–2 messages, bot 1, or none).
    t_conv = np.repeat(np.arange(n_conv), turns)
    t_index = within(turns)
    n_t = len(t_conv)
    last_turn = t_index == turns[t_conv] - 1
    nb = rng.choice([1, 2, 3], n_t, p=[0.4, 0.35, 0.25])
    draw = rng.random(n_t)
    unanswered = np.where(last_turn, draw < 0.08, draw < 0.02)
    responder = np.where(bot_only[t_conv], BOT, np.where(draw > 0.97, BOT, AGENT))
    nr = np.where(unanswered, 0, np.where(responder == AGENT, rng.choice([1, 2], n_t, p=[0.7, 0.3]), 1))
    t_agent = np.where(t_index >= transfer_at[t_conv], other[t_conv], agent[t_conv])

    # Messages of turns, conversation by conversation, with their place in the conversation.
    lengths = nb + nr
    m_turn = np.repeat(np.arange(n_t), lengths)
    pos_in_turn = within(lengths)
    nb_of_msg = nb[m_turn]
    turn_msgs = np.bincount(t_conv, weights=lengths, minlength=n_conv).astype(np.int64)
    # Each conversation: [system notice] [bot greeting] [proactive agent messages] turns [closing
    # notice]; every message is written straight into its place (no sort).
    n_sys, greeting = has_system.astype(np.int64), has_greeting & (turns > 0)
    n_greet, n_close = greeting.astype(np.int64), closing.astype(np.int64)
    sizes = n_sys + n_greet + proactive + turn_msgs + n_close
    first_at = offsets_of(sizes)
    total = int(sizes.sum())
    m_conv = np.repeat(np.arange(n_conv), sizes)
    kind = np.full(total, SYSTEM, dtype=np.int8)
    m_agent = np.repeat(agent, sizes)
    pos = np.zeros(total, dtype=np.int64)  # place in the turn; -1: a proactive agent message
    m_nb = np.zeros(total, dtype=np.int64)
    kind[first_at[greeting] + n_sys[greeting]] = BOT
    lead = np.repeat(first_at + n_sys + n_greet, proactive) + within(proactive)
    kind[lead] = AGENT
    pos[lead] = -1
    at = np.repeat(first_at + n_sys + n_greet + proactive, turn_msgs) + within(turn_msgs)
    kind[at] = np.where(pos_in_turn < nb_of_msg, BUYER, responder[m_turn])
    m_agent[at] = t_agent[m_turn]
    pos[at] = pos_in_turn
    m_nb[at] = nb_of_msg
    del lead, at, m_turn, pos_in_turn, nb_of_msg

    # Exactly `messages` messages: keep whole conversations, cutting the last one short.
    if total < messages:
        raise RuntimeError(f"drew {total} messages, fewer than {messages}: raise MESSAGES_PER_CONVERSATION")
    m_conv, kind, m_agent, pos, m_nb = (a[:messages] for a in (m_conv, kind, m_agent, pos, m_nb))
    n_conv = int(m_conv[-1]) + 1 if len(m_conv) else 0
    n = len(m_conv)

    # Gaps from the previous message of the conversation.
    first = np.ones(n, dtype=bool)
    first[1:] = m_conv[1:] != m_conv[:-1]
    prev_kind = np.concatenate(([SYSTEM], kind[:-1]))
    r = rng.random(n)
    gap = np.zeros(n, dtype=np.int64)
    is_buyer = kind == BUYER
    follow = is_buyer & (pos > 0)  # a further buyer message of the same turn
    gap[follow] = np.where(r[follow] < 0.05, 0, rng.integers(2, 41, int(follow.sum())))
    opens = is_buyer & (pos == 0)
    gap[opens] = np.where(
        prev_kind[opens] == BUYER,
        rng.integers(120, 3600, int(opens.sum())),  # came back after an unanswered turn
        rng.integers(5, 900, int(opens.sum())),
    )
    first_reply = (kind == AGENT) & (pos == m_nb) & (pos > 0)
    gap[first_reply] = log_uniform(rng, 2, 201, int(first_reply.sum())).astype(np.int64)
    bot_reply = (kind == BOT) & (pos > 0)
    gap[bot_reply] = rng.integers(1, 4, int(bot_reply.sum()))
    more_reply = (kind == AGENT) & (pos > m_nb)
    gap[more_reply] = rng.integers(3, 61, int(more_reply.sum()))
    lead = (kind == AGENT) & (pos < 0)
    gap[lead] = rng.integers(5, 31, int(lead.sum()))
    system = kind == SYSTEM
    gap[system] = np.where(prev_kind[system] == SYSTEM, 0, rng.integers(60, 600, int(system.sum())))
    greet = (kind == BOT) & (pos == 0)
    gap[greet] = 1
    gap[first] = 0
    elapsed = np.cumsum(gap)
    conv_first = np.flatnonzero(first)
    elapsed -= np.repeat(elapsed[conv_first], np.diff(np.append(conv_first, n)))
    sent = start[m_conv] + elapsed
    del gap, elapsed, r, prev_kind

    # File order: by time, ties in conversation order (so a turn's messages keep their order).
    file_order = time_order(sent)
    agent_ids = ids("kf", np.arange(int(agents_per_shop.max())) + 1, 2)
    f_conv, f_kind, f_agent = m_conv[file_order], kind[file_order], m_agent[file_order]
    text_index = np.select(
        [f_kind == BUYER, f_kind == AGENT, f_kind == BOT],
        [
            rng.integers(0, len(BUYER_TEXTS), n),
            rng.integers(0, len(AGENT_TEXTS), n),
            rng.integers(0, len(BOT_TEXTS), n),
        ],
        rng.integers(0, len(SYSTEM_TEXTS), n),
    )
    offsets = offsets_of(np.array([len(t) for t in (BUYER_TEXTS, AGENT_TEXTS, BOT_TEXTS, SYSTEM_TEXTS)]))
    all_texts = BUYER_TEXTS + AGENT_TEXTS + BOT_TEXTS + SYSTEM_TEXTS
    messages_table = pa.table(
        {
            "conversation_id": ids("c", f_conv, 7),
            "shop_id": pick(tuple(shop_ids), shop[f_conv]),
            "buyer_id": ids("u", buyer[f_conv], 7),
            "sender": pick(SENDERS, f_kind),
            "agent_id": agent_ids.take(pa.array(f_agent, mask=f_kind != AGENT)),
            "sent_at": stamps(sent[file_order]),
            "text": pick(all_texts, offsets[f_kind] + text_index),
        }
    )
    del f_conv, f_kind, f_agent, text_index, file_order

    # Per conversation: its last reply (agent or bot) and last message.
    replied = np.flatnonzero((kind == AGENT) | (kind == BOT))
    last_reply = np.full(n_conv, np.nan)
    last_reply[m_conv[replied]] = sent[replied]  # later rows of a conversation win
    agent_rows = np.flatnonzero(kind == AGENT)
    last_agent = np.full(n_conv, -1)
    last_agent[m_conv[agent_rows]] = m_agent[agent_rows]
    last_msg = np.full(n_conv, np.nan)
    last_msg[m_conv] = sent
    del kind, m_agent, pos, m_nb, sent, m_conv
    shop, buyer = shop[:n_conv], buyer[:n_conv]

    # Orders: after a reply (0–30 h, a few exactly at it or exactly 24 h later) or silent.
    eligible = np.flatnonzero(~np.isnan(last_reply))
    chosen = eligible[rng.random(len(eligible)) < 0.25 * n_conv / max(len(eligible), 1)]
    u = rng.random(len(chosen))
    delay = np.select(
        [u < 0.01, u < 0.015, u < 0.02, u < 0.67, u < 0.9],
        [
            np.zeros(len(chosen)),
            np.full(len(chosen), 86400.0),
            np.full(len(chosen), 86401.0),
            rng.integers(10, 7200, len(chosen)),
            rng.integers(7200, 86400, len(chosen)),
        ],
        rng.integers(86400, 108000, len(chosen)),
    )
    n_silent = int(n_conv * 0.05)
    silent_buyer = rng.integers(0, n_buyers, n_silent)
    o_shop = np.concatenate((shop[chosen], home[silent_buyer]))
    o_buyer = np.concatenate((buyer[chosen], silent_buyer))
    o_created = np.concatenate((last_reply[chosen] + delay, origin + rng.integers(0, DAYS * 86400, n_silent)))
    by_time = np.argsort(o_created, kind="stable")
    o_shop, o_buyer, o_created = o_shop[by_time], o_buyer[by_time], o_created[by_time]
    n_orders = len(o_created)
    paid = rng.random(n_orders) < 0.75
    pay_delay = np.where(
        rng.random(n_orders) < 0.9, rng.integers(5, 1800, n_orders), rng.integers(1800, 259200, n_orders)
    )
    o_paid_at = o_created + pay_delay

    # Items: 0–3 per order from a per-shop catalogue of 150 products, popular ones first.
    catalogue = 150
    price = np.round(np.exp(rng.normal(np.log(8000), 0.8, (n_shops, catalogue)))).astype(np.int64) + 100
    n_items = rng.choice([0, 1, 2, 3], n_orders, p=[0.02, 0.6, 0.28, 0.1])
    i_order = np.repeat(np.arange(n_orders), n_items)
    i_product = (catalogue * rng.random(len(i_order)) ** 2).astype(np.int64)
    i_qty = rng.choice([1, 2, 3], len(i_order), p=[0.8, 0.15, 0.05])
    i_price = price[o_shop[i_order], i_product]
    line_cents = i_qty * i_price
    amount = np.bincount(i_order, weights=line_cents, minlength=n_orders).astype(np.int64)
    no_items = n_items == 0
    amount[no_items] = rng.integers(990, 30000, int(no_items.sum()))
    product_ids = ids("p", np.arange(n_shops * catalogue) + 1, 5)
    order_ids = ids("o", np.arange(n_orders) + 1, 8)
    orders_table = pa.table(
        {
            "order_id": order_ids,
            "shop_id": pick(tuple(shop_ids), o_shop),
            "buyer_id": ids("u", o_buyer, 7),
            "created_at": stamps(o_created),
            "paid_at": stamps(o_paid_at, paid),
            "amount": money(amount),
        }
    )
    items_table = pa.table(
        {
            "order_id": order_ids.take(pa.array(i_order)),
            "product_id": product_ids.take(pa.array(o_shop[i_order] * catalogue + i_product)),
            "sku": pick(("s1", "s2", "s3"), rng.integers(0, 3, len(i_order)), rng.random(len(i_order)) < 0.7),
            "quantity": pa.array(i_qty, pa.int64()),
            "unit_price": money(i_price),
        }
    )

    # Refunds: ~10 % of paid orders, a few twice; mostly naming one of the order's items.
    paid_rows = np.flatnonzero(paid)
    f_order = paid_rows[rng.random(len(paid_rows)) < 0.1]
    f_order = np.sort(np.concatenate((f_order, f_order[rng.random(len(f_order)) < 0.08])))
    n_ref = len(f_order)
    item_start = offsets_of(n_items)
    has_item = n_items[f_order] > 0
    item_row = item_start[f_order] + (rng.random(n_ref) * np.maximum(n_items[f_order], 1)).astype(np.int64)
    item_row = np.where(has_item, item_row, 0)
    names_product = has_item & (rng.random(n_ref) < 0.9)
    status = rng.choice(4, n_ref, p=[0.6, 0.12, 0.16, 0.12])
    requested = o_paid_at[f_order] + rng.integers(600, 12 * 86400, n_ref)
    completed = requested + rng.integers(3600, 4 * 86400, n_ref)
    ref_cents = np.where(has_item, line_cents[item_row] if len(line_cents) else 0, amount[f_order])
    ref_product = o_shop[f_order] * catalogue + (i_product[item_row] if len(i_product) else 0)
    by_time = np.argsort(requested, kind="stable")
    refunds_table = pa.table(
        {
            "refund_id": ids("r", np.arange(n_ref) + 1, 7),
            "order_id": order_ids.take(pa.array(f_order[by_time])),
            "product_id": product_ids.take(pa.array(ref_product[by_time], mask=~names_product[by_time])),
            "reason": pick(REASONS, rng.choice(len(REASONS), n_ref, p=REASON_WEIGHTS)),
            "amount": money(np.minimum(ref_cents, amount[f_order])[by_time]),
            "requested_at": stamps(requested[by_time]),
            "completed_at": stamps(completed[by_time], (status == 0)[by_time]),
            "status": pick(REFUND_STATUSES, status[by_time]),
        }
    )

    # Ratings: ~35 % of conversations, some in bursts (a few seconds to 15 minutes apart).
    rated = np.flatnonzero(rng.random(n_conv) < 0.35)
    burst = rng.choice([0, 2, 3, 4, 5], len(rated), p=[0.97, 0.012, 0.008, 0.006, 0.004])
    r_conv = np.repeat(rated, 1 + burst)
    r_step = within(1 + burst)
    step_gap = np.where(rng.random(len(r_conv)) < 0.15, 0, rng.integers(30, 900, len(r_conv)))
    step_gap[r_step == 0] = rng.integers(5, 1800, int((r_step == 0).sum()))
    r_at = last_msg[r_conv] + np.cumsum(step_gap)
    offset = np.cumsum(step_gap)[r_step == 0] - step_gap[r_step == 0]
    r_at -= np.repeat(offset, 1 + burst)
    by_time = np.argsort(r_at, kind="stable")
    r_conv, r_at = r_conv[by_time], r_at[by_time]
    n_rat = len(r_conv)
    r_agent = last_agent[r_conv]
    ratings_table = pa.table(
        {
            "rating_id": ids("t", np.arange(n_rat) + 1, 7),
            "conversation_id": ids("c", r_conv, 7),
            "shop_id": pick(tuple(shop_ids), shop[r_conv]),
            "buyer_id": ids("u", buyer[r_conv], 7),
            "agent_id": agent_ids.take(pa.array(np.maximum(r_agent, 0), mask=r_agent < 0)),
            "rated_at": stamps(r_at),
            "score": pick(SCORES, rng.choice(5, n_rat, p=[0.55, 0.25, 0.1, 0.06, 0.04])),
            "robot": pa.array(rng.random(n_rat) < 0.03),
            "tags": pick(TAGS, rng.integers(0, len(TAGS), n_rat), rng.random(n_rat) < 0.3),
        }
    )

    # Reviews: ~25 % of orders (paid ones), 2–15 days after payment; DSR 1–5, some empty.
    v_order = paid_rows[rng.random(len(paid_rows)) < 1 / 3]
    v_at = o_paid_at[v_order] + rng.integers(2 * 86400, 15 * 86400, len(v_order))
    by_time = np.argsort(v_at, kind="stable")
    v_order, v_at = v_order[by_time], v_at[by_time]
    n_rev = len(v_order)
    v_has_item = n_items[v_order] > 0
    v_first_item = i_product[np.where(v_has_item, item_start[v_order], 0)] if len(i_product) else 0
    v_product = o_shop[v_order] * catalogue + np.where(v_has_item, v_first_item, 0)

    def dsr() -> pa.Array:
        score = rng.choice([5, 4, 3, 2, 1], n_rev, p=[0.7, 0.18, 0.07, 0.03, 0.02])
        return pa.array(score, pa.int64(), mask=rng.random(n_rev) < 0.04)

    reviews_table = pa.table(
        {
            "review_id": ids("v", np.arange(n_rev) + 1, 7),
            "order_id": order_ids.take(pa.array(v_order)),
            "shop_id": pick(tuple(shop_ids), o_shop[v_order]),
            "buyer_id": ids("u", o_buyer[v_order], 7),
            "product_id": product_ids.take(pa.array(v_product, mask=~v_has_item)),
            "created_at": stamps(v_at),
            "rating": pick(("good", "neutral", "bad"), rng.choice(3, n_rev, p=[0.85, 0.08, 0.07])),
            "dsr_description": dsr(),
            "dsr_service": dsr(),
            "dsr_shipping": dsr(),
            "text": pick(REVIEW_TEXTS, rng.integers(0, len(REVIEW_TEXTS), n_rev)),
        }
    )

    # Buyers: everyone seen, at their home shop; ~1 % flagged, a third of those at every shop.
    seen = np.flatnonzero(np.bincount(np.concatenate((buyer, o_buyer)), minlength=n_buyers))
    flagged = rng.random(len(seen)) < 0.01
    everywhere = flagged & (rng.random(len(seen)) < 0.3)
    buyers_table = pa.table(
        {
            "buyer_id": ids("u", seen, 7),
            "shop_id": pick(tuple(shop_ids), home[seen], ~everywhere),
            "risk_flag": pick(("fake_reviews",), np.zeros(len(seen), dtype=np.int64), flagged),
        }
    )
    return {
        "messages": messages_table,
        "orders": orders_table,
        "order_items": items_table,
        "refunds": refunds_table,
        "ratings": ratings_table,
        "reviews": reviews_table,
        "buyers": buyers_table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = ensure_dataset(args.messages, args.seed, log=lambda s: print(s, file=sys.stderr))
    print(folder)


if __name__ == "__main__":
    main()
