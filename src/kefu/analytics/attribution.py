"""Which agent an order is credited to (metrics.md, "Attribution of orders").

The latest agent message to the same buyer from the same shop within the 24 hours up to the
order wins. Rather than an as-of join (not every engine has one), messages and orders are
merged into one time line per (shop, buyer): at equal times messages sort before orders, so
a message at the order's very second counts, and among messages the later in the file wins.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

WINDOW_US = 24 * 3600 * 1_000_000

INQUIRY, BOT_ASSISTED, SILENT = "inquiry", "bot_assisted", "silent"


def attributed_orders(messages: ir.Table, orders: ir.Table) -> ir.Table:
    """Orders with their `channel` and, when credited, `agent_id`, `credited_at`, `credited_conversation`."""
    null_s, null_i = ibis.null("string"), ibis.null("int64")
    voiced = messages.filter(messages.sender.isin(("agent", "bot")))
    # Only the time lines of buyers who ordered matter.
    voiced = voiced.semi_join(orders, ["shop_id", "buyer_id"])
    line_of_messages = voiced.select(
        "shop_id",
        "buyer_id",
        "at",
        "ord",
        kind=ibis.literal(0, "int8"),
        agent_id=ibis.ifelse(voiced.sender == "agent", voiced.agent_id, null_s),
        is_agent=voiced.sender == "agent",
        order_id=ibis.null(orders.order_id.type()),
        conversation_id=voiced.conversation_id,
    )
    line_of_orders = orders.select(
        "shop_id",
        "buyer_id",
        at=orders.created,
        ord=ibis.literal(0, "int64"),
        kind=ibis.literal(1, "int8"),
        agent_id=null_s,
        is_agent=ibis.literal(False),
        order_id=orders.order_id,
        conversation_id=ibis.null(messages.conversation_id.type()),
    )
    line = line_of_messages.union(line_of_orders)
    order = ["at", "kind", "ord"]
    w = ibis.window(group_by=["shop_id", "buyer_id"], order_by=order)
    upto = ibis.cumulative_window(group_by=["shop_id", "buyer_id"], order_by=order)
    line = line.mutate(position=ibis.row_number().over(w))
    line = line.mutate(
        last_agent=ibis.ifelse(line.is_agent, line.position, null_i).max().over(upto),
        last_bot_at=ibis.ifelse((line.kind == 0) & ~line.is_agent, line.at, null_i).max().over(upto),
    )
    placed = line.filter(line.kind == 1).select(
        "shop_id", "buyer_id", "order_id", "at", "last_agent", "last_bot_at"
    )
    said = line.filter(line.is_agent).select(
        m_shop="shop_id",
        m_buyer="buyer_id",
        m_position="position",
        m_agent="agent_id",
        m_at="at",
        m_conversation="conversation_id",
    )
    joined = placed.left_join(
        said,
        [
            placed.shop_id == said.m_shop,
            placed.buyer_id == said.m_buyer,
            placed.last_agent == said.m_position,
        ],
    )
    in_window = joined.m_at.notnull() & (joined.m_at >= joined.at - WINDOW_US)
    bot_in_window = joined.last_bot_at.notnull() & (joined.last_bot_at >= joined.at - WINDOW_US)
    credited = joined.select(
        "order_id",
        agent_id=ibis.ifelse(in_window, joined.m_agent, null_s),
        credited_at=ibis.ifelse(in_window, joined.m_at, null_i),
        credited_conversation=ibis.ifelse(
            in_window, joined.m_conversation, ibis.null(messages.conversation_id.type())
        ),
        channel=ibis.cases((in_window, INQUIRY), (bot_in_window, BOT_ASSISTED), else_=SILENT),
    )
    return orders.inner_join(credited, "order_id")
