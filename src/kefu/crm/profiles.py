"""客户档案: what a shop knows about one buyer, as the agent's sidebar shows it, and the rules of editing it.

`get_buyer_profile` reads everything for one (shop, buyer) pair in a handful of queries:
the buyer's name and masked phone, the shop's tags, notes and attributes (`ShopBuyer`), the
risk flag, orders with their lines and latest tracking event, and earlier conversations.

**Returning customer (老顾客).** A buyer is *returning* at a moment when they have at least one
order at this shop that was paid before that moment (`Order.paid_at` earlier than it). A paid
order later refunded still counts: the buyer did buy here. A buyer with earlier conversations
but no paid order is not returning; the profile says so separately (`asked_before`), because
greeting someone who only asked as a regular would ring false. The moment is the start of the
conversation being served, so an order paid during this chat does not turn the greeting.

The `check_*` functions hold the editing rules; `kefu.crm.actions` stores the result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.chinese_text import folded
from kefu.crm.masking import mask_phone, mask_phones_in_text
from kefu.store.models import (
    Buyer,
    Conversation,
    LogisticsEvent,
    Message,
    Order,
    OrderItem,
    Product,
    ShopBuyer,
    Staff,
)

ORDERS_SHOWN = 10
CONVERSATIONS_SHOWN = 5
SNIPPET_CHARS = 40

MAX_TAGS = 20
MAX_TAG_CHARS = 16
MAX_NOTES_CHARS = 2000
MAX_ATTRIBUTES = 30
MAX_ATTRIBUTE_KEY_CHARS = 20
MAX_ATTRIBUTE_VALUE_CHARS = 100


class ProfileError(ValueError):
    """An edit of a buyer's profile that breaks a rule; `code` and `values` let the UI word it."""

    def __init__(self, code: str, message: str, **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


# --- attributes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """An attribute the sidebar offers by name; shops may add keys of their own."""

    key: str
    zh: str
    en: str
    help: str


# What agents learn in pre-sale talk and would otherwise ask again next time.
ATTRIBUTES = (
    Attribute("size", "尺码", "Size", "clothing or shoe size the buyer wears, e.g. M, 38"),
    Attribute("height_cm", "身高", "Height", "in centimetres, for size advice"),
    Attribute("weight_kg", "体重", "Weight", "in kilograms, for size advice"),
    Attribute("skin_type", "肤质", "Skin type", "dry, oily, combination, sensitive"),
    Attribute("preferences", "偏好", "Preferences", "colours, styles, brands the buyer likes"),
    Attribute("dislikes", "忌讳", "Dislikes", "what not to recommend: allergies, materials, colours"),
    Attribute("occasion", "用途", "Occasion", "for whom or for what the buyer shops: a gift, the office"),
    Attribute("budget", "预算", "Budget", "the price range the buyer mentioned"),
)
ATTRIBUTES_BY_KEY = {attribute.key: attribute for attribute in ATTRIBUTES}
# Letters (any script, so 鞋码 works), digits and underscores; no spaces or punctuation.
_ATTRIBUTE_KEY = re.compile(rf"\w{{1,{MAX_ATTRIBUTE_KEY_CHARS}}}")


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t" for ch in text)


def check_tags(tags: list[str] | tuple[str, ...]) -> list[str]:
    """The tags to store: trimmed, duplicates dropped (traditional and simplified count as one)."""
    kept: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        tag = " ".join(str(raw).split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise ProfileError(
                "tag_too_long",
                f"tag {tag!r} is {len(tag)} characters long; at most {MAX_TAG_CHARS}",
                tag=tag,
                limit=MAX_TAG_CHARS,
            )
        if _has_control_characters(tag):
            raise ProfileError("control_character", f"tag {tag!r} holds a control character")
        key = folded(tag)
        if key in seen:
            continue
        seen.add(key)
        kept.append(tag)
    if len(kept) > MAX_TAGS:
        raise ProfileError(
            "too_many_tags", f"{len(kept)} tags; a buyer has at most {MAX_TAGS}", limit=MAX_TAGS
        )
    return kept


def split_tags(text: str) -> list[str]:
    """Tags typed in one field, separated by commas (either width), 、 or semicolons."""
    return [piece for piece in re.split(r"[,，、;；\n]", text) if piece.strip()]


def check_notes(notes: str | None) -> str | None:
    """The notes to store, or None for none; line breaks are kept, trailing space is not."""
    if notes is None:
        return None
    text = notes.replace("\r\n", "\n").strip()
    if not text:
        return None
    if len(text) > MAX_NOTES_CHARS:
        raise ProfileError(
            "notes_too_long",
            f"notes are {len(text)} characters long; at most {MAX_NOTES_CHARS}",
            limit=MAX_NOTES_CHARS,
        )
    if _has_control_characters(text):
        raise ProfileError("control_character", "notes hold a control character")
    return text


def check_attribute_changes(current: Mapping[str, Any], changes: Mapping[str, str | None]) -> dict[str, str]:
    """The attributes after `changes`: a value sets a key, None or an empty value removes it."""
    result = {key: str(value) for key, value in current.items()}
    for raw_key, raw_value in changes.items():
        key = str(raw_key).strip()
        if not _ATTRIBUTE_KEY.fullmatch(key):
            raise ProfileError(
                "attribute_name",
                f"attribute name {key!r}: use 1-{MAX_ATTRIBUTE_KEY_CHARS} letters, digits or _ (no spaces)",
                name=key,
                limit=MAX_ATTRIBUTE_KEY_CHARS,
            )
        value = " ".join(str(raw_value).split()) if raw_value is not None else ""
        if not value:
            result.pop(key, None)
            continue
        if len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise ProfileError(
                "attribute_too_long",
                f"attribute {key!r} is {len(value)} characters long; at most {MAX_ATTRIBUTE_VALUE_CHARS}",
                name=key,
                limit=MAX_ATTRIBUTE_VALUE_CHARS,
            )
        if _has_control_characters(value):
            raise ProfileError("control_character", f"attribute {key!r} holds a control character")
        result[key] = value
    if len(result) > MAX_ATTRIBUTES:
        raise ProfileError(
            "too_many_attributes",
            f"{len(result)} attributes; a buyer has at most {MAX_ATTRIBUTES}",
            limit=MAX_ATTRIBUTES,
        )
    return result


# --- the read model -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    title: str | None  # None: the product is not in the shop's catalogue (imported history)
    sku: str | None
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Tracking:
    """The latest courier event of an order."""

    at: datetime
    status: str  # vocabularies.LOGISTICS_STATUSES
    courier: str | None
    tracking_no: str | None
    description: str | None


@dataclass(frozen=True)
class OrderSummary:
    id: str
    created_at: datetime
    paid_at: datetime | None
    amount: Decimal
    status: str | None  # vocabularies.ORDER_STATUSES
    address: str | None  # phone numbers in it masked
    lines: tuple[OrderLine, ...]
    tracking: Tracking | None


@dataclass(frozen=True)
class PastConversation:
    id: str
    started_at: datetime | None
    status: str
    agent_id: str | None
    agent_nickname: str | None
    last_text: str  # the last words said, shortened, phone numbers masked


@dataclass(frozen=True)
class BuyerProfile:
    """What the sidebar shows about a buyer at one shop; phone numbers only masked."""

    shop_id: str
    buyer_id: str
    nickname: str | None
    masked_phone: str | None
    tags: tuple[str, ...]
    notes: str | None
    attributes: dict[str, str]
    risk_flag: str | None  # the shop's own flag, else the one every shop sees
    returning: bool  # a paid order here before `as_of` (see the module docstring)
    asked_before: bool  # an earlier conversation here (whether or not they bought)
    as_of: datetime | None
    order_count: int
    paid_order_count: int
    paid_total: Decimal
    conversation_count: int  # earlier conversations at this shop
    orders: tuple[OrderSummary, ...]  # newest first, at most ORDERS_SHOWN
    previous_conversations: tuple[PastConversation, ...]  # newest first, at most CONVERSATIONS_SHOWN


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """One line of at most `limit` characters, marked with … when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _orders(
    session: Session, shop_id: str, buyer_id: str, known_phones: tuple[str, ...]
) -> list[OrderSummary]:
    orders = session.scalars(
        select(Order)
        .where(Order.shop_id == shop_id, Order.buyer_id == buyer_id)
        .order_by(Order.created_at.desc(), Order.id)
        .limit(ORDERS_SHOWN)
    ).all()
    if not orders:
        return []
    ids = [order.id for order in orders]
    titles_by_product: dict[str, str] = {}
    lines_by_order: dict[str, list[OrderItem]] = {}
    for item in session.scalars(
        select(OrderItem).where(OrderItem.order_id.in_(ids)).order_by(OrderItem.order_id, OrderItem.line_no)
    ):
        lines_by_order.setdefault(item.order_id, []).append(item)
    product_ids = {item.product_id for items in lines_by_order.values() for item in items}
    if product_ids:
        titles_by_product = {
            product_id: title
            for product_id, title in session.execute(
                select(Product.id, Product.title).where(
                    Product.id.in_(product_ids), Product.shop_id == shop_id
                )
            )
        }
    latest: dict[str, LogisticsEvent] = {}
    for event in session.scalars(
        select(LogisticsEvent).where(LogisticsEvent.order_id.in_(ids)).order_by(LogisticsEvent.seq)
    ):
        latest[event.order_id] = event  # ordered by seq: the last one wins
    summaries = []
    for order in orders:
        event = latest.get(order.id)
        summaries.append(
            OrderSummary(
                id=order.id,
                created_at=order.created_at,
                paid_at=order.paid_at,
                amount=order.amount,
                status=order.status,
                address=mask_phones_in_text(order.address, known_phones) if order.address else None,
                lines=tuple(
                    OrderLine(
                        item.product_id,
                        titles_by_product.get(item.product_id),
                        item.sku,
                        item.quantity,
                        item.unit_price,
                    )
                    for item in lines_by_order.get(order.id, [])
                ),
                tracking=Tracking(
                    event.event_at, event.status, event.courier, event.tracking_no, event.description
                )
                if event is not None
                else None,
            )
        )
    return summaries


def _previous_conversations(
    session: Session,
    shop_id: str,
    buyer_id: str,
    before: Conversation | None,
    known_phones: tuple[str, ...],
) -> tuple[int, list[PastConversation]]:
    query = select(Conversation).where(Conversation.shop_id == shop_id, Conversation.buyer_id == buyer_id)
    if before is not None:
        query = query.where(Conversation.id != before.id)
        if before.started_at is not None:
            query = query.where(Conversation.started_at < before.started_at)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Conversation.started_at.desc(), Conversation.id).limit(CONVERSATIONS_SHOWN)
    ).all()
    if not rows:
        return count, []
    ids = [row.id for row in rows]
    # The last message of each: the highest seq per conversation, then those rows.
    last_seq = (
        select(Message.conversation_id, func.max(Message.seq).label("seq"))
        .where(Message.conversation_id.in_(ids), Message.sender != "system")
        .group_by(Message.conversation_id)
        .subquery()
    )
    last_texts: dict[str, str] = {
        conversation_id: text
        for conversation_id, text in session.execute(
            select(Message.conversation_id, Message.text).join(
                last_seq,
                (Message.conversation_id == last_seq.c.conversation_id) & (Message.seq == last_seq.c.seq),
            )
        )
    }
    agent_ids = {row.assigned_agent_id for row in rows if row.assigned_agent_id}
    names: dict[str, str] = {}
    if agent_ids:
        names = {
            agent_id: nickname
            for agent_id, nickname in session.execute(
                select(Staff.agent_id, Staff.nickname).where(
                    Staff.shop_id == shop_id, Staff.agent_id.in_(agent_ids)
                )
            )
        }
    return count, [
        PastConversation(
            id=row.id,
            started_at=row.started_at,
            status=row.status,
            agent_id=row.assigned_agent_id,
            agent_nickname=names.get(row.assigned_agent_id or ""),
            last_text=snippet(mask_phones_in_text(last_texts.get(row.id) or "", known_phones)),
        )
        for row in rows
    ]


def get_buyer_profile(
    session: Session,
    shop_id: str,
    buyer_id: str,
    *,
    conversation: Conversation | None = None,
    as_of: datetime | None = None,
) -> BuyerProfile:
    """The buyer's profile at the shop; with `conversation`, as seen from its start.

    The caller has already checked that the staff member may see this buyer (a conversation
    of their shop, through `kefu.desk.access`); this function reads, it does not authorise.
    """
    if as_of is None and conversation is not None:
        as_of = conversation.started_at
    buyer = session.get(Buyer, buyer_id)
    record = session.get(ShopBuyer, (shop_id, buyer_id))
    known_phones = (buyer.phone,) if buyer is not None and buyer.phone else ()

    totals = session.execute(
        select(
            func.count(),
            func.count(Order.paid_at),
            func.coalesce(func.sum(Order.amount).filter(Order.paid_at.is_not(None)), 0),
        ).where(Order.shop_id == shop_id, Order.buyer_id == buyer_id)
    ).one()
    paid_before = select(Order.id).where(
        Order.shop_id == shop_id, Order.buyer_id == buyer_id, Order.paid_at.is_not(None)
    )
    if as_of is not None:
        paid_before = paid_before.where(Order.paid_at < as_of)
    returning = session.scalar(paid_before.limit(1)) is not None
    count, previous = _previous_conversations(session, shop_id, buyer_id, conversation, known_phones)

    return BuyerProfile(
        shop_id=shop_id,
        buyer_id=buyer_id,
        nickname=buyer.nickname if buyer is not None else None,
        masked_phone=mask_phone(buyer.phone) if buyer is not None else None,
        tags=tuple(record.tags or ()) if record is not None else (),
        notes=record.notes if record is not None else None,
        attributes={str(k): str(v) for k, v in (record.attributes or {}).items()}
        if record is not None
        else {},
        risk_flag=(record.risk_flag if record is not None else None) or (buyer.risk_flag if buyer else None),
        returning=returning,
        asked_before=count > 0,
        as_of=as_of,
        order_count=int(totals[0]),
        paid_order_count=int(totals[1]),
        paid_total=Decimal(totals[2]).quantize(Decimal("0.01")),
        conversation_count=count,
        orders=tuple(_orders(session, shop_id, buyer_id, known_phones)),
        previous_conversations=tuple(previous),
    )
