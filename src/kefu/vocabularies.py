"""The closed vocabularies of kefu's data, one place each, with what every value means.

The interchange contract fixes some of them (sender, score, refund status, review rating);
the rest are ours. Validation, the store, the docs and the UI all walk these tuples.
"""

from __future__ import annotations

SENDERS = (
    "buyer",  # the shopper
    "agent",  # a person on the shop's staff
    "bot",  # the shop's automatic assistant
    "system",  # the platform: joins, transfers, cards, notices
)

RATING_SCORES = (
    "very_satisfied",  # 非常满意
    "satisfied",  # 满意
    "neutral",  # 一般
    "dissatisfied",  # 不满意
    "very_dissatisfied",  # 非常不满意
)

REFUND_STATUSES = (
    "requested",  # the buyer asked; nothing decided yet
    "completed",  # the money went back to the buyer
    "rejected",  # the shop refused
    "cancelled",  # the buyer withdrew the request
)

REVIEW_RATINGS = (
    "good",  # 好评
    "neutral",  # 中评
    "bad",  # 差评
)

ORDER_STATUSES = (
    "unpaid",  # placed (拍下) but not paid
    "paid",  # paid, waiting to be shipped
    "shipped",  # handed to the courier
    "delivered",  # the courier reports delivery
    "completed",  # the buyer confirmed receipt or the platform closed it as done
    "cancelled",  # closed before payment
    "refunded",  # closed by a full refund
)

LOGISTICS_STATUSES = (
    "shipped",  # collected by the courier
    "in_transit",  # moving between hubs
    "out_for_delivery",  # with the courier for the last mile
    "delivered",  # signed for
    "exception",  # stuck, lost, returned or refused
)

SHOP_CATEGORIES = (
    "clothing",  # 服饰
    "cosmetics",  # 美妆
    "electronics",  # 数码
    "food",  # 食品
    "other",  # anything else
)

STAFF_ROLES = (
    "admin",  # configures the shop and its staff
    "supervisor",  # leads the team: sees every queue, the dashboard and the scorecard
    "agent",  # answers buyers
)

SKILL_GROUPS = (
    "presale",  # 售前: questions before an order
    "aftersale",  # 售后: everything after payment
)

CONVERSATION_STATUSES = (
    "open",  # waiting for or talking with the shop
    "closed",  # ended by an agent or by inactivity
)

MESSAGE_KINDS = (
    "text",  # words and emoji
    "image",  # an uploaded picture (payload: upload_id)
    "product",  # a product card (payload: product_id)
    "order",  # an order card (payload: order_id)
)

FOLLOW_UP_KINDS = (
    "no_order",  # asked before buying but did not order: ask again later
    "unpaid",  # ordered but did not pay: remind (催付)
    "confirm_address",  # ordered: check the address before dispatch
    "custom",  # anything an agent schedules by hand
)

WEBHOOK_EVENTS = (
    "message.created",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.closed",
    "conversation.rated",
)
