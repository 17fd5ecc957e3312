"""Turns, the bot's conversations and attributed orders computed on Arrow and numpy arrays.

turns.py, service_metrics.py and attribution.py state these as Ibis expressions, and those are
what runs in the store (SQLite, PostgreSQL) and on Spark. Turns and attribution are sequential by
nature (what came just before, the latest such message up to a time), which a database answers
with windows: a sort per partition, then joins back. Over Arrow facts the same answers come from
one stable sort and a few passes over the sorted arrays, several times faster than DuckDB's
windows on ten million messages. An engine that takes them (`Engine.timelines`: DuckDB) gets
them with the facts (sources.bind_tables); the results are the same tables, row for row and type
for type (tests/analytics/test_timelines.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kefu.analytics.attribution import BOT_ASSISTED, INQUIRY, SILENT, WINDOW_US
from kefu.interchange.dictionaries import equal_to, places, plain, whole

I64 = pa.int64()


def derived_tables(facts: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The turn table, the bot's conversations, and the attributed orders when there are orders.

    The turns are computed beside the rest: numpy and Arrow let go of the GIL as they sort and gather.
    """
    messages = facts["messages"]
    with ThreadPoolExecutor(1) as pool:
        turns = pool.submit(turn_table, messages)
        derived = {"bot_conversations": bot_conversations(messages)}
        if "orders" in facts:
            derived["credited"] = attributed_orders(messages, facts["orders"])
        return {"turns": turns.result(), **derived}


def bot_conversations(messages: pa.Table) -> pa.Table:
    """service_metrics.bot_conversations over Arrow facts: per conversation the bot spoke in, its shop,
    the first bot message and the last agent message (minimum and maximum per code, no sort)."""
    conversation = _values(messages.column("conversation_id"))
    at = _values(messages.column("at"))
    bots = np.flatnonzero(equal_to(messages.column("sender"), "bot"))
    agents = np.flatnonzero(equal_to(messages.column("sender"), "agent"))
    size = int(conversation.max(initial=-1)) + 1
    never, before_all = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    bot_first = np.full(size, never, dtype=np.int64)
    np.minimum.at(bot_first, conversation[bots], at[bots])
    agent_last = np.full(size, before_all, dtype=np.int64)
    np.maximum.at(agent_last, conversation[agents], at[agents])
    spoke = np.flatnonzero(bot_first != never)
    some_row = np.zeros(size, dtype=np.int64)  # a bot message of each conversation: its shop is the shop
    some_row[conversation[bots]] = bots
    last = agent_last[spoke]
    return pa.table(
        {
            "conversation_id": pa.array(spoke, messages.schema.field("conversation_id").type),
            "shop_id": plain(messages.column("shop_id").take(pa.array(some_row[spoke]))),
            "bot_first": pa.array(bot_first[spoke], I64),
            "agent_last": pa.array(last, I64, mask=last == before_all),
        }
    )


def turn_table(messages: pa.Table) -> pa.Table:
    """turns.turn_table over Arrow facts: one row per turn (a run of buyer messages) with its answer."""
    is_buyer = equal_to(messages.column("sender"), "buyer")
    talk = np.flatnonzero(is_buyer | equal_to(messages.column("sender"), "agent"))
    conversation = _values(messages.column("conversation_id"))[talk]
    at = _values(messages.column("at"))
    rows = talk[_time_order(messages, talk, conversation)]
    del talk
    at, buyer = at[rows], is_buyer[rows]
    del is_buyer
    # The conversations in sorted order, from how many messages each has (no gather needed).
    per = np.bincount(conversation)
    begins = np.cumsum(per) - per  # where each conversation's messages begin
    conversation = np.repeat(np.arange(len(per), dtype=conversation.dtype), per)

    after_buyer = np.zeros(len(rows), dtype=bool)  # the message before is the same conversation's buyer's
    after_buyer[1:] = buyer[:-1] & (conversation[1:] == conversation[:-1])
    opens = buyer & ~after_buyer  # a turn's first message
    starts = np.flatnonzero(opens)
    replies = np.flatnonzero(~buyer & after_buyer)  # the agent message that ends a turn answers it
    # Running counts in int32 where they fit: half the fresh memory, and fresh memory is slow here.
    running = np.int32 if len(rows) < 1 << 31 else np.int64
    answered = np.cumsum(opens, dtype=running)[replies] - 1  # the turn each reply ends
    del opens

    # turn_key as turns.py has it: the conversation's agent messages up to the turn.
    agents = np.cumsum(~buyer, dtype=running)
    begin = begins[conversation[starts]]
    agents_so_far = agents[starts] - agents[begin] + (~buyer[begin])
    del agents, after_buyer

    count = len(starts)
    turn_conversation = conversation[starts]
    first = np.ones(count, dtype=bool)
    first[1:] = turn_conversation[1:] != turn_conversation[:-1]
    last = np.ones(count, dtype=bool)
    last[:-1] = first[1:]
    answered_at = np.zeros(count, dtype=np.int64)
    answered_at[answered] = at[replies]
    has_answer = np.zeros(count, dtype=bool)
    has_answer[answered] = True
    reply_row = np.zeros(count, dtype=np.int64)
    reply_row[answered] = rows[replies]
    no_answer = ~has_answer
    turn_at = at[starts]
    first_rows = pa.array(rows[starts])
    agent = plain(messages.column("agent_id").take(pa.array(reply_row)))
    return pa.table(
        {
            "conversation_id": pa.array(turn_conversation, messages.schema.field("conversation_id").type),
            "shop_id": plain(messages.column("shop_id").take(first_rows)),
            "buyer_id": messages.column("buyer_id").take(first_rows),
            "turn_key": pa.array(agents_so_far, I64),
            "turn_at": pa.array(turn_at, I64),
            "agent_id": pc.if_else(pa.array(has_answer), agent, pa.scalar(None, agent.type)),
            "answered_at": pa.array(answered_at, I64, mask=no_answer),
            "response_us": pa.array(answered_at - turn_at, I64, mask=no_answer),
            "first": pa.array(first),
            "last": pa.array(last),
        }
    )


def attributed_orders(messages: pa.Table, orders: pa.Table) -> pa.Table:
    """attribution.attributed_orders over Arrow facts: each order with the agent message that won it."""
    if not orders.num_rows or not messages.num_rows:
        return _credit(orders, messages, np.full(orders.num_rows, -1), np.zeros(orders.num_rows, bool))
    shops = pc.unique(plain(orders.column("shop_id")).drop_null())
    order_buyer = _ints(orders.column("buyer_id"), -1)
    order_group = _groups(orders.column("shop_id"), order_buyer, shops)
    # Only agent and bot messages to buyers who ordered matter (a buyer may talk to other shops too).
    buyer = _ints(messages.column("buyer_id"), -1)
    ordered = np.zeros(max(buyer.max(initial=-1), order_buyer.max(initial=-1)) + 2, dtype=bool)
    ordered[order_buyer[order_buyer >= 0]] = True  # the last place stays False: -1, no buyer, reads it
    is_agent = equal_to(messages.column("sender"), "agent")
    voiced = is_agent | equal_to(messages.column("sender"), "bot")
    rows = np.flatnonzero(voiced & ordered[buyer])
    del ordered, voiced
    group = _groups(messages.column("shop_id").take(pa.array(rows)), buyer[rows], shops)
    at = _values(messages.column("at"))[rows]
    order = _time_order(messages, rows, group)
    rows, group, at = rows[order], group[order], at[order]
    is_agent = is_agent[rows]
    del order, buyer

    # For each order: the last message of its (shop, buyer) sent at or before it (messages sort
    # before orders at equal times; among messages the later in the file is the later).
    # The orders go through in (shop, buyer) order: the searches then read the messages in order.
    by_group = stable_order(order_group)
    order_group, created = order_group[by_group], _values(orders.column("created")).astype(np.int64)[by_group]
    low = np.searchsorted(group, order_group, "left")
    high = np.where(order_group >= 0, np.searchsorted(group, order_group, "right"), low)
    upto = _last_at_or_before(at, low, high, created)  # an index into the sorted messages, or low - 1
    positions = np.arange(len(rows))
    last_agent = np.append(np.maximum.accumulate(np.where(is_agent, positions, -1)), -1)
    last_bot = np.append(np.maximum.accumulate(np.where(~is_agent, positions, -1)), -1)
    agent_pos = last_agent[upto]  # upto == -1 reads the -1 appended
    bot_pos = last_bot[upto]
    agent_pos[agent_pos < low] = -1  # another buyer's
    bot_pos[bot_pos < low] = -1
    at = np.append(at, 0)
    start = created - WINDOW_US
    in_window = (agent_pos >= 0) & (at[agent_pos] >= start)
    bot_in_window = (bot_pos >= 0) & (at[bot_pos] >= start)
    credited = np.empty(len(by_group), dtype=np.int64)  # back in the orders' own order
    credited[by_group] = np.where(in_window, np.append(rows, 0)[agent_pos], -1)
    bot_credit = np.empty(len(by_group), dtype=bool)
    bot_credit[by_group] = bot_in_window
    credited_at = np.empty(len(by_group), dtype=np.int64)
    credited_at[by_group] = at[agent_pos]
    return _credit(orders, messages, credited, bot_credit, credited_at)


def _credit(
    orders: pa.Table,
    messages: pa.Table,
    message: np.ndarray,
    bot_in_window: np.ndarray,
    credited_at: np.ndarray | None = None,
) -> pa.Table:
    """The orders with the columns of attribution.attributed_orders; `message` is the credited row or -1."""
    found = message >= 0
    taken = pa.array(np.where(found, message, 0))
    mask = pa.array(~found)
    nothing = messages.num_rows == 0

    def credited(column: str) -> pa.Array:
        values = messages.column(column)
        if nothing:
            return pa.nulls(len(message), plain(values).type)
        taken_values = plain(values.take(taken))
        return pc.if_else(mask, pa.scalar(None, taken_values.type), taken_values)

    at = np.zeros(len(message), np.int64) if credited_at is None else credited_at
    channel = np.where(found, 0, np.where(bot_in_window, 1, 2))
    return (
        orders.append_column("agent_id", credited("agent_id"))
        .append_column("credited_at", pa.array(at, I64, mask=~found))
        .append_column("credited_conversation", credited("conversation_id"))
        .append_column("channel", pa.array([INQUIRY, BOT_ASSISTED, SILENT]).take(pa.array(channel)))
    )


def _groups(shop: pa.ChunkedArray | pa.Array, buyer: np.ndarray, shops: pa.Array) -> np.ndarray:
    """A code per (shop, buyer): the buyer's code times the shops plus the shop's place; -1 if unknown."""
    place = places(shop, shops)
    code = buyer.astype(np.int64) * max(len(shops), 1) + place
    return np.where((buyer >= 0) & (place >= 0), code, -1)


def _last_at_or_before(at: np.ndarray, low: np.ndarray, high: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """For each range [low, high) of `at`, sorted within it: the last index with at <= limit, or low - 1."""
    lo, hi = low.copy(), high.copy()  # the answer + 1 lies in [lo, hi]
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo - 1
        mid = (lo + hi) // 2
        right = open_ & (at[np.where(open_, mid, 0)] <= limit)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)


def _time_order(messages: pa.Table, rows: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Indices sorting the given rows of `messages` by (group, at, ord), stable.

    When the file lists messages in time order (an export usually does), one stable sort by
    group is enough.
    """
    ord_ = _values(messages.column("ord"))
    at = _values(messages.column("at"))
    if bool(np.all(ord_[1:] > ord_[:-1])) and bool(np.all(at[1:] >= at[:-1])):
        return stable_order(group)
    return np.lexsort((ord_[rows], at[rows], group))


def stable_order(keys: np.ndarray) -> np.ndarray:
    """np.argsort(keys, kind="stable"), about three times faster for integer codes.

    numpy's stable sort of int32 is a merge sort; its default sort of int64 is a vectorised
    quicksort (x86-simd-sort). Each key is put in the high 32 bits and its position in the low
    ones: the combined keys are all different, so any sort of them gives the stable order.
    """
    count = len(keys)
    if not count:
        return np.empty(0, dtype=np.intp)
    low, high = int(keys.min()), int(keys.max())
    if count >= 1 << 32 or high - low >= 1 << 31:
        return np.argsort(keys, kind="stable")
    combined = keys.astype(np.int64)
    if low:
        combined -= low
    combined <<= 32
    combined |= np.arange(count, dtype=np.int64)
    combined.sort()
    combined &= 0xFFFFFFFF
    return combined.view(np.intp)


def _values(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column without nulls as numpy, its type kept (no copy for one chunk)."""
    return whole(values).to_numpy(zero_copy_only=False)


def _ints(values: pa.ChunkedArray | pa.Array, null: int) -> np.ndarray:
    """A column of integers as numpy (its type kept), nulls as `null`."""
    if values.null_count:
        values = values.fill_null(null)
    return whole(values).to_numpy(zero_copy_only=False)
