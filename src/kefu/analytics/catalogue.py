"""Every metric kefu reports, declared once: key, names, unit, and which way is better.

The report writers, the dashboard, docs/metrics.md and the tests walk this list. Keys of the
contract (shared/spec/metrics.md) keep their meaning exactly; `contract=False` marks kefu's
additions, each defined with a worked example in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Unit(Enum):
    COUNT = "count"
    SECONDS = "seconds"
    RATE = "rate"  # a fraction; shown as a percentage
    MONEY = "money"  # yuan
    SCORE = "score"  # DSR, 1-5
    RATIO = "ratio"  # may exceed 1
    MAPPING = "mapping"  # reason -> count


@dataclass(frozen=True)
class Metric:
    key: str
    zh: str
    en: str
    unit: Unit
    higher_is_better: bool | None  # None: neither (a volume)
    scopes: tuple[str, ...]  # "agent", "shop", "product"
    contract: bool = True


A, S, P = "agent", "shop", "product"
AS = (A, S)

METRICS: tuple[Metric, ...] = (
    Metric("turns", "接待轮次", "Answered turns", Unit.COUNT, None, AS),
    Metric("avg_response_s", "平均响应时间(秒)", "Average response (s)", Unit.SECONDS, False, AS),
    Metric("first_response_s", "首次响应时间(秒)", "First response (s)", Unit.SECONDS, False, AS),
    Metric("reply_within_30s_rate", "30秒应答率", "Answered within 30 s", Unit.RATE, True, AS),
    Metric("served_buyers", "询单人数", "Buyers served", Unit.COUNT, None, AS),
    Metric("ordered_buyers", "下单人数", "Buyers who ordered", Unit.COUNT, True, AS),
    Metric("paid_buyers", "付款人数", "Buyers who paid", Unit.COUNT, True, AS),
    Metric("inquiry_conversion_rate", "询单转化率", "Inquiry conversion", Unit.RATE, True, AS),
    Metric("order_rate", "下单率", "Order rate", Unit.RATE, True, AS),
    Metric("payment_rate", "支付率", "Payment rate", Unit.RATE, True, AS),
    Metric("sales", "询单销售额(元)", "Inquiry sales (CNY)", Unit.MONEY, True, AS),
    Metric("aov", "客单价(元)", "Average order value (CNY)", Unit.MONEY, True, AS),
    Metric("refund_rate", "退款率", "Refund rate", Unit.RATIO, False, (A, S, P)),
    Metric("ratings", "评价数", "Ratings", Unit.COUNT, None, AS),
    Metric("ratings_counted", "有效评价数", "Ratings counted", Unit.COUNT, None, AS),
    Metric("satisfaction_old", "满意度(旧规则)", "Satisfaction (old rule)", Unit.RATE, True, AS),
    Metric("satisfaction_new", "满意度(新规则)", "Satisfaction (new rule)", Unit.RATE, True, AS),
    Metric("unanswered_turns", "未回复轮次", "Unanswered turns", Unit.COUNT, False, (S,)),
    Metric(
        "buyer_last_word_conversations",
        "买家最后发言会话",
        "Buyer had the last word",
        Unit.COUNT,
        False,
        (S,),
    ),
    Metric("orders", "订单数", "Orders", Unit.COUNT, None, (S, P)),
    Metric("paid_orders", "付款订单数", "Paid orders", Unit.COUNT, None, (S, P)),
    Metric("inquiry_orders", "询单订单", "Orders after an agent", Unit.COUNT, None, (S, P)),
    Metric("bot_assisted_orders", "机器人辅助订单", "Bot-assisted orders", Unit.COUNT, None, (S,)),
    Metric("silent_orders", "静默下单", "Silent orders", Unit.COUNT, None, (S,)),
    Metric("refund_reasons", "退款原因", "Refund reasons", Unit.MAPPING, None, (S, P)),
    Metric("dsr_description", "描述相符", "DSR: description", Unit.SCORE, True, (S,)),
    Metric("dsr_service", "服务态度", "DSR: service", Unit.SCORE, True, (S,)),
    Metric("dsr_shipping", "物流服务", "DSR: shipping", Unit.SCORE, True, (S,)),
    Metric("positive_review_rate", "好评率", "Positive reviews", Unit.RATE, True, (S,)),
    # kefu's additions (docs/metrics.md, with a worked example each)
    Metric("reply_within_3min_rate", "3分钟回复率", "Answered within 3 min", Unit.RATE, True, AS, False),
    Metric("slow_replies", "慢响应次数", "Slow replies (> 100 s)", Unit.COUNT, False, AS, False),
    Metric("agent_messages", "客服消息数", "Agent messages", Unit.COUNT, None, AS, False),
    Metric("reply_question_ratio", "答问比", "Replies per buyer message", Unit.RATIO, None, AS, False),
    Metric("bot_conversations", "机器人接待会话", "Bot conversations", Unit.COUNT, None, (S,), False),
    Metric("bot_resolution_rate", "机器人独立解决率", "Bot resolution", Unit.RATE, True, (S,), False),
    Metric("bot_handover_rate", "转人工率", "Bot hand-over", Unit.RATE, None, (S,), False),
    Metric("invited_conversations", "邀评会话数", "Invited to rate", Unit.COUNT, True, AS, False),
    Metric("rating_invitation_rate", "邀评率", "Rating invitation rate", Unit.RATE, True, AS, False),
    Metric("invitation_response_rate", "邀评参评率", "Invitations rated", Unit.RATE, True, AS, False),
    Metric("paid_lines", "付款件数", "Paid order lines", Unit.COUNT, None, (P,), False),
    Metric("refunds", "退款数", "Refunds", Unit.COUNT, False, (P,), False),
    Metric("order_payment_rate", "订单支付率", "Orders paid", Unit.RATE, True, (P,), False),
)

BY_KEY = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    return BY_KEY[key]
