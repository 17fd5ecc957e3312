"""Turns, the bot's conversations, attributed orders and a period's service figures on numpy.

turns.py, service_metrics.py and attribution.py state these as Ibis expressions, and those are
what runs in the store (SQLite, PostgreSQL) and on Spark. Turns and attribution are sequential by
nature (what came just before, the latest such message up to a time), which a database answers
with windows: a sort per partition, then joins back. Over Arrow facts the same answers come from
one stable sort and a few passes over the sorted arrays, several times faster than DuckDB's
windows on ten million messages. An engine that takes them (`Engine.timelines`: DuckDB) gets
them with the facts (sources.bind_tables); the results are the same tables, row for row and type
for type, except that the turn table's shops and agents stay dictionary-encoded where the
facts' are (tests/analytics/test_timelines.py).

A period's response and served figures (service_metrics.response_figures, served_figures) are
group-bys of the period's turns and messages (a million groups for the messages at ten million);
over Arrow they are counts per integer code (bincount) and one sort of the period's agent
messages, giving the same small tables (reporting.py takes this path when no segment or channel
filter is set; tests/analytics/test_period_figures.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kefu.analytics.attribution import BOT_ASSISTED, INQUIRY, SILENT, WINDOW_US
from kefu.analytics.turns import SLOW_REPLY_US, WITHIN_3MIN_US, WITHIN_30S_US
from kefu.interchange.dictionaries import codes, encode, equal_to, is_dictionary, places, plain, whole

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


def served_figures(messages: pa.Table, bounds: pa.Table) -> dict[str, pa.Table]:
    """service_metrics.served_figures of the period's talk_counts, over Arrow facts.

    The agents' messages are grouped per (conversation, agent) by one sort of an integer code; the
    buyers' are counted per conversation. A conversation has one shop and one buyer (the dataset
    checks say so, as turn_table assumes): a group's first message gives them.
    """
    at = _values(messages.column("at"))
    low, high, timed = period_span(at, bounds)

    def window(column: str) -> pa.ChunkedArray | pa.Array:
        return messages.column(column).slice(low, high - low)

    shop, shops = _coded(window("shop_id"))
    in_period = period_flags(shop, shops, at[low:high], bounds, timed=timed)
    conversation = _values(window("conversation_id"))
    asked = in_period & equal_to(window("sender"), "buyer")
    questions = np.bincount(conversation[asked], minlength=int(conversation.max(initial=-1)) + 1)
    shop_questions = np.bincount(shop[asked], minlength=len(shops))
    del asked
    sent = np.flatnonzero(in_period & equal_to(window("sender"), "agent"))
    agent, agents = _coded(window("agent_id"))
    key = conversation[sent].astype(np.int64)
    key *= len(agents) + 1
    key += agent[sent]
    key += 1  # an agent's code from 1: 0 is no agent
    first, replies = _runs_of(key, sent)
    del key, sent
    shop, agent, conversation = shop[first], agent[first], conversation[first]
    buyer = _ints(window("buyer_id"), -1)[first]
    # The (shop, agent) pairs, numbered in order; a shop's or a pair's figures are sums over groups.
    pairs, pair = _numbered(shop.astype(np.int64) * (len(agents) + 1) + agent + 1)
    pair_shop, pair_agent = pairs // (len(agents) + 1), pairs % (len(agents) + 1) - 1
    asked_pair = _sums(pair, questions[conversation], len(pairs))
    with_questions = asked_pair > 0
    replied = _sums(shop, replies, len(shops))
    listed = np.flatnonzero(np.bincount(shop, minlength=len(shops)))
    asked_shop = np.flatnonzero(shop_questions)
    return {
        "sent_agents": _named(
            shops,
            pair_shop,
            pair_agent,
            agents,
            n=_distinct(pair, buyer, len(pairs)),
            replies=_sums(pair, replies, len(pairs)),
        ),
        "sent_shops": _named(
            shops, listed, n=_distinct(shop, buyer, len(shops))[listed], replies=replied[listed]
        ),
        "asked_agents": _named(
            shops, pair_shop[with_questions], pair_agent[with_questions], agents, q=asked_pair[with_questions]
        ),
        "asked_shops": _named(shops, asked_shop, q=shop_questions[asked_shop]),
        "wrote": _named(shops, shop, agent, agents).append_column(
            "conversation_id", pa.array(conversation, messages.schema.field("conversation_id").type)
        ),
    }


def response_figures(every_turn: pa.Table, bounds: pa.Table) -> dict[str, pa.Table]:
    """service_metrics.response_figures over the Arrow turn table (turn_table) and the period's bounds."""
    shop, shops = _coded(every_turn.column("shop_id"))
    agent, agents = _coded(every_turn.column("agent_id"))
    conversation = _values(every_turn.column("conversation_id"))
    started = period_flags(shop, shops, _values(every_turn.column("turn_at")), bounds)
    unanswered = ~_values(every_turn.column("answered_at").is_valid())
    first = _values(every_turn.column("first"))
    # A conversation counts where its first turn starts; the buyer has the last word when its last
    # turn went unanswered (whenever that was).
    left_open = np.zeros(int(conversation.max(initial=-1)) + 1, dtype=bool)
    left_open[conversation[_values(every_turn.column("last")) & unanswered]] = True
    last_word = np.bincount(shop[started & first & left_open[conversation]], minlength=len(shops))
    open_turns = np.bincount(shop[started & unanswered], minlength=len(shops))
    listed = np.flatnonzero(np.bincount(shop[started], minlength=len(shops)))
    figures = {
        "open_turns": _named(shops, listed, n=open_turns[listed]),
        "last_word": _named(shops, np.flatnonzero(last_word), n=last_word[last_word > 0]),
    }
    answered = np.flatnonzero(started & ~unanswered)
    shop, agent = shop[answered], agent[answered]
    pairs, pair = _numbered(shop.astype(np.int64) * (len(agents) + 1) + agent + 1)
    response = _ints(every_turn.column("response_us"), 0)[answered]
    per_pair = _response_sums(pair, len(pairs), response, first[answered])
    pair_shop, pair_agent = pairs // (len(agents) + 1), pairs % (len(agents) + 1) - 1
    # A shop's sums are its pairs' (float sums of whole numbers below 2**53: exact).
    per_shop = {
        k: np.bincount(pair_shop, weights=v, minlength=len(shops)).astype(v.dtype)
        for k, v in per_pair.items()
    }
    for name, sums, keys in (
        ("agents", per_pair, (pair_shop, pair_agent)),
        ("shops", per_shop, (np.arange(len(shops)),)),
    ):
        hit = np.flatnonzero(sums["turns"])
        figures[f"answered_{name}"] = _named(
            shops,
            *(k[hit] for k in keys),
            agents=agents,
            turns=sums["turns"][hit],
            avg=sums["total"][hit] / sums["turns"][hit],
            **{band: sums[band][hit] for band in ("within_30s", "within_3min", "slow")},
        )
        hit = np.flatnonzero(sums["firsts"])
        average = sums["first_total"][hit] / sums["firsts"][hit]
        figures[f"first_{name}"] = _named(shops, *(k[hit] for k in keys), agents=agents, avg=average)
    return figures


def _response_sums(
    owner: np.ndarray, size: int, response: np.ndarray, first: np.ndarray
) -> dict[str, np.ndarray]:
    """Per owner code (0 to size - 1) of answered turns: what service_metrics.response_summary and the
    first answers' mean add up."""

    def count(where: np.ndarray) -> np.ndarray:
        return np.bincount(owner[where], minlength=size)

    return {
        "turns": np.bincount(owner, minlength=size),
        "total": np.bincount(owner, weights=response, minlength=size),
        "within_30s": count(response <= WITHIN_30S_US),
        "within_3min": count(response <= WITHIN_3MIN_US),
        "slow": count(response > SLOW_REPLY_US),
        "firsts": count(first),
        "first_total": np.bincount(owner[first], weights=response[first], minlength=size),
    }


def period_span(at: np.ndarray, bounds: pa.Table) -> tuple[int, int, bool]:
    """The rows [low, high) that may lie in the period (period.bounds_table) and whether all of them do
    but for their shop: rows in time order (an export usually is) lie between two binary searches,
    and when every shop has the same bounds (one time zone) those are the period's."""
    p_from, p_to = _values(bounds.column("p_from")), _values(bounds.column("p_to"))
    if not len(p_from) or not _ascending(at):
        return 0, len(at) if len(p_from) else 0, False
    low, high = int(np.searchsorted(at, p_from.min())), int(np.searchsorted(at, p_to.max()))
    return low, high, bool(p_from.min() == p_from.max() and p_to.min() == p_to.max())


def period_flags(
    shop: np.ndarray, shops: pa.Array, at: np.ndarray, bounds: pa.Table, timed: bool = False
) -> np.ndarray:
    """Per row, whether `at` lies in [p_from, p_to) of its shop (`shop`: codes into `shops`, -1 for
    null); a shop that `bounds` does not list has none. `timed`: every `at` does (period_span)."""
    # Per distinct shop its row of `bounds`; the entry appended (-1) is a null shop's.
    listed = np.append(places(shops, whole(bounds.column("shop_id"))), -1)
    if timed:
        return (listed >= 0)[shop]
    starts = np.append(_values(bounds.column("p_from")), 0)[listed]  # not listed: the bounds appended,
    ends = np.append(_values(bounds.column("p_to")), np.iinfo(np.int64).min)[listed]  # which hold nothing
    return (at >= starts[shop]) & (at < ends[shop])


def turn_table(messages: pa.Table) -> pa.Table:
    """turns.turn_table over Arrow facts: one row per turn (a run of buyer messages) with its answer."""
    is_buyer = equal_to(messages.column("sender"), "buyer")
    talk = np.flatnonzero(is_buyer | equal_to(messages.column("sender"), "agent"))
    conversation = _values(messages.column("conversation_id"))[talk]
    # The conversations in sorted order, from how many messages each has (no gather needed).
    per = np.bincount(conversation)
    rows = _time_order(messages, talk, conversation)
    del talk
    at, buyer = _values(messages.column("at"))[rows], is_buyer[rows]
    del is_buyer
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
    # Shops and agents stay as the facts have them (dictionary-encoded from Parquet): no strings
    # written out, and response_figures reads their codes.
    return pa.table(
        {
            "conversation_id": pa.array(turn_conversation, messages.schema.field("conversation_id").type),
            "shop_id": messages.column("shop_id").take(first_rows),
            "buyer_id": messages.column("buyer_id").take(first_rows),
            "turn_key": pa.array(agents_so_far, I64),
            "turn_at": pa.array(turn_at, I64),
            "agent_id": messages.column("agent_id").take(pa.array(reply_row, mask=no_answer)),
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

    def group_of(rows: np.ndarray) -> np.ndarray:
        return _groups(messages.column("shop_id").take(pa.array(rows)), buyer[rows], shops)

    # The sorted rows' groups worked out again: no positions to sort and gather through (about even).
    rows = _time_order(messages, rows, group_of(rows))
    group = group_of(rows)
    at, is_agent = _values(messages.column("at"))[rows], is_agent[rows]

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
    """The given rows of `messages` (ascending) sorted by (group, at, ord), stable.

    When the file lists messages in time order (an export usually does), one stable sort by
    group is enough, and the rows themselves break its ties (_packed_sort): no positions to
    make and gather through.
    """
    ord_ = _values(messages.column("ord"))
    at = _values(messages.column("at"))
    if bool(np.all(ord_[1:] > ord_[:-1])) and _ascending(at):
        packed = _packed_sort(group.astype(np.int64), rows)
        if packed is None:
            return rows[np.argsort(group, kind="stable")]
        combined, bits = packed
        combined &= (1 << bits) - 1
        return combined
    return rows[np.lexsort((ord_[rows], at[rows], group))]


def stable_order(keys: np.ndarray) -> np.ndarray:
    """np.argsort(keys, kind="stable"), about three times faster for integer codes.

    numpy's stable sort of int32 is a merge sort; its default sort of int64 is a vectorised
    quicksort (x86-simd-sort): see _packed_sort.
    """
    packed = _packed_sort(keys.astype(np.int64), np.arange(len(keys), dtype=np.int64))
    if packed is None:
        return np.argsort(keys, kind="stable")
    combined, bits = packed
    combined &= (1 << bits) - 1
    return combined.view(np.intp)


def _runs_of(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct key, its first row and how many rows have it. `keys` is int64 and overwritten,
    `rows` ascending."""
    packed = _packed_sort(keys, rows)
    if packed is None:
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        starts = _starts(keys)
        first = rows[starts]
    else:
        combined, bits = packed
        starts = _starts(combined >> bits)
        first = combined[starts] & ((1 << bits) - 1)
    return first, np.diff(np.append(starts, len(keys)))


def _packed_sort(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Each key (int64, overwritten) and its row (ascending, from 0) packed into one int64, the key
    in the high bits, sorted; also how many low bits the row takes. None when they do not fit.

    The packed values are all different, so numpy's fastest sort (not a stable one) of them
    gives the stable order of the keys.
    """
    if not len(keys):
        return keys, 0
    low, high = int(keys.min()), int(keys.max())
    bits = int(rows[-1]).bit_length()
    if (high - low).bit_length() + bits > 63:
        return None
    if low:
        keys -= low
    keys <<= bits
    keys |= rows
    keys.sort()
    return keys, bits


def _starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins in a sorted array."""
    return np.flatnonzero(np.append(True, ordered[1:] != ordered[:-1])) if len(ordered) else ordered[:0]


def _named(
    shops: pa.Array,
    at_shop: np.ndarray,
    of_agent: np.ndarray | None = None,
    agents: pa.Array | None = None,
    **values: np.ndarray,
) -> pa.Table:
    """A figure per shop, or per (shop, agent) pair, from codes into `shops` and `agents` (-1: null)."""
    columns = {"shop_id": shops.take(pa.array(at_shop))}
    if of_agent is not None:
        columns["agent_id"] = agents.take(pa.array(of_agent, mask=of_agent < 0))
    return pa.table(columns | {name: pa.array(v) for name, v in values.items()})


def _numbered(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(codes, return_inverse=True) of non-negative codes; a table lookup when they are few."""
    size = int(codes.max(initial=-1)) + 1
    if size > 4 * len(codes) + 4096:
        return np.unique(codes, return_inverse=True)
    present = np.bincount(codes, minlength=size) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[codes]


def _sums(owner: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per owner code (0 to size - 1), the sum of its values (counts: exact in float64)."""
    return np.bincount(owner, weights=values, minlength=size).astype(np.int64)


def _distinct(owner: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per owner code (0 to size - 1), how many distinct values it has; -1 (null) is not a value."""
    kept = values >= 0
    span = int(values.max(initial=0)) + 1
    pairs = owner[kept].astype(np.int64) * span + values[kept]
    pairs.sort()  # not np.unique: it hashes, several times slower on int64 here
    return np.bincount(pairs[_starts(pairs)] // span, minlength=size)


def _ascending(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] >= values[:-1]))


def _coded(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """A column as int32 codes (-1 for null) and the values the codes stand for."""
    values = whole(values)
    if is_dictionary(values):
        return codes(values), values.dictionary
    dictionary, coded = encode(values)
    return coded, dictionary


def _values(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column without nulls as numpy, its type kept (no copy for one chunk)."""
    return whole(values).to_numpy(zero_copy_only=False)


def _ints(values: pa.ChunkedArray | pa.Array, null: int) -> np.ndarray:
    """A column of integers as numpy (its type kept), nulls as `null`."""
    if values.null_count:
        values = values.fill_null(null)
    return whole(values).to_numpy(zero_copy_only=False)
