"""接待: what the software offers at each step of serving a buyer before the sale.

The steps are declared once (`STEPS`), so the sidebar, the docs and the tests walk the same
list. Each step is served by something concrete:

- welcome, goodbye: the canned replies of the ``welcome`` and ``closing`` scenes;
- answer and recommend: product cards found in the shop's catalogue (`search_products`);
- promotions: the shop's current offers (`current_promotions`, shape below);
- related items: bought together first, then the same category (`related_products`);
- follow up, confirm the address, remind to pay: tasks (`kefu.desk.followups`);
- record what was learned: the buyer's profile (`kefu.crm.profiles`).

**Promotions** live in the shop's policies as ``policies["promotions"]``, a list of objects::

    {"title": "满300减40", "text": "全店通用，可与店铺券叠加", "starts": "2026-11-01", "ends": "2026-11-11"}

``title`` is required (at most 40 characters), ``text`` optional (at most 300). ``starts`` and
``ends`` are optional; a date (``YYYY-MM-DD``) means that whole day in the shop's time zone,
so ``ends`` is inclusive; a date and time (ISO 8601) is the exact instant, read in the shop's
zone when it has no offset, and ``ends`` is then exclusive. A promotion without ``starts``
has always run; one without ``ends`` runs until someone removes it.

`reply_context` builds what canned replies are filled from (`canned_replies.render`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from kefu.chinese_text import folded
from kefu.desk.followups import ORDER_LOOKBACK
from kefu.store.models import Buyer, Conversation, Message, Order, OrderItem, Product, Shop

log = logging.getLogger(__name__)

SEARCH_LIMIT = 10
RELATED_LIMIT = 4
MAX_PROMOTION_TITLE = 40
MAX_PROMOTION_TEXT = 300

# --- the steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A step of good pre-sale reception and what in kefu serves it."""

    name: str
    zh: str
    en: str
    scene: str | None  # the canned-reply scene with words for it (canned_replies.SCENES)
    help: str


STEPS = (
    Step("welcome", "欢迎", "Welcome", "welcome", "greet in the shop's name; a returning buyer by name"),
    Step("recommend", "解答与推荐", "Answer and recommend", "product", "find the need; send product cards"),
    Step("promotions", "活动告知", "Promotions", None, "mention the offers running now"),
    Step("related", "关联推荐", "Related items", "product", "bought together, or of the same kind"),
    Step("follow_up", "下单跟进", "Follow up", None, "asked and did not order: a task in your list"),
    Step(
        "confirm",
        "核对地址与催付",
        "Confirm and remind",
        "payment",
        "check a new order's address; remind to pay",
    ),
    Step("goodbye", "告别", "Goodbye", "closing", "thank, invite a review, say where after-sales help is"),
    Step("record", "记录客户信息", "Record", None, "size, preferences, notes: nobody asks twice"),
)
STEPS_BY_NAME = {step.name: step for step in STEPS}


def suggested_steps(*, agent_answered: bool, ordered: bool, paid: bool) -> tuple[str, ...]:
    """The steps that fit where the conversation stands (the sidebar highlights them)."""
    if not ordered:
        first = () if agent_answered else ("welcome",)
        return (*first, "recommend", "promotions", "related", "record")
    if not paid:
        return ("confirm", "record")
    return ("confirm", "goodbye", "record")


def steps_for(session: Session, conversation: Conversation) -> tuple[str, ...]:
    """`suggested_steps` for a conversation as it stands in the store."""
    agent_answered = (
        session.scalar(
            select(Message.id)
            .where(Message.conversation_id == conversation.id, Message.sender == "agent")
            .limit(1)
        )
        is not None
    )
    query = select(Order.paid_at).where(
        Order.shop_id == conversation.shop_id, Order.buyer_id == conversation.buyer_id
    )
    if conversation.started_at is not None:
        # As the follow-up rules count them: an order placed just before the chat belongs to it.
        query = query.where(Order.created_at >= conversation.started_at - ORDER_LOOKBACK)
    paid_at = session.execute(query.order_by(Order.created_at.desc()).limit(1)).first()
    return suggested_steps(
        agent_answered=agent_answered,
        ordered=paid_at is not None,
        paid=paid_at is not None and paid_at[0] is not None,
    )


# --- product cards ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductCard:
    """A product as a card in the chat or the sidebar."""

    id: str
    title: str
    price: Decimal | None
    stock: int | None  # None: the shop does not report stock
    category: str | None

    @property
    def in_stock(self) -> bool:
        # Unknown stock counts as available: many shops never sync it, and hiding all their
        # products would hide the catalogue.
        return self.stock is None or self.stock > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "product_id": self.id,
            "title": self.title,
            "price": None if self.price is None else f"{self.price:.2f}",
            "stock": self.stock,
            "in_stock": self.in_stock,
            "category": self.category,
        }


def _card(product: Product) -> ProductCard:
    return ProductCard(product.id, product.title, product.price, product.stock, product.category)


def search_products(
    session: Session, shop_id: str, query: str, limit: int = SEARCH_LIMIT
) -> list[ProductCard]:
    """The shop's products for what the agent typed: the id, then titles starting with it, then containing it.

    Every word must appear; traditional and full-width input find simplified titles. In-stock
    products come before sold-out ones within a rank. The titles are folded in Python (SQL
    cannot fold traditional characters); a shop's catalogue is small enough to read whole.
    """
    words = [folded(word) for word in query.split()]
    if not words:
        return []
    needle = " ".join(words)
    ranked: list[tuple[int, bool, str, Product]] = []
    for product in session.scalars(select(Product).where(Product.shop_id == shop_id)):
        title = folded(product.title)
        if product.id.casefold() == needle:
            rank = 0
        elif title.startswith(words[0]) and all(word in title for word in words):
            rank = 1
        elif all(word in title for word in words):
            rank = 2
        else:
            continue
        card = _card(product)
        ranked.append((rank, not card.in_stock, product.title, product))
    ranked.sort(key=lambda item: item[:3])
    return [_card(product) for *_, product in ranked[:limit]]


def get_product_card(session: Session, shop_id: str, product_id: str) -> ProductCard | None:
    """The shop's product of that id, or None (another shop's product is as missing)."""
    product = session.get(Product, product_id)
    if product is None or product.shop_id != shop_id:
        return None
    return _card(product)


def related_products(
    session: Session, shop_id: str, product_id: str, limit: int = RELATED_LIMIT
) -> list[ProductCard]:
    """Items to suggest with a product: in stock, never the product itself.

    First what buyers bought in the same orders (most orders first), then products of the
    same category by how often they sold, then by title.
    """
    product = session.get(Product, product_id)
    if product is None or product.shop_id != shop_id:
        return []
    available = (Product.stock.is_(None)) | (Product.stock > 0)
    picked: list[ProductCard] = []
    seen = {product_id}

    this_line = aliased(OrderItem)
    other_line = aliased(OrderItem)
    together = func.count(func.distinct(other_line.order_id))
    bought_with = session.scalars(
        select(Product)
        .join(other_line, other_line.product_id == Product.id)
        .join(this_line, (this_line.order_id == other_line.order_id) & (this_line.product_id == product_id))
        .where(Product.shop_id == shop_id, Product.id != product_id, available)
        .group_by(Product.id)
        .order_by(together.desc(), Product.title, Product.id)
        .limit(limit)
    ).all()
    for row in bought_with:
        picked.append(_card(row))
        seen.add(row.id)
    if len(picked) >= limit or product.category is None:
        return picked[:limit]

    sold = select(OrderItem.product_id, func.count().label("lines")).group_by(OrderItem.product_id).subquery()
    same_category = session.scalars(
        select(Product)
        .outerjoin(sold, sold.c.product_id == Product.id)
        .where(
            Product.shop_id == shop_id,
            Product.category == product.category,
            Product.id.not_in(seen),
            available,
        )
        .order_by(func.coalesce(sold.c.lines, 0).desc(), Product.title, Product.id)
        .limit(limit - len(picked))
    ).all()
    picked.extend(_card(row) for row in same_category)
    return picked


# --- promotions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """An offer the shop runs, with the instants it starts and ends (end exclusive)."""

    title: str
    text: str
    starts: datetime | None
    ends: datetime | None

    def runs_at(self, moment: datetime) -> bool:
        return (self.starts is None or self.starts <= moment) and (self.ends is None or moment < self.ends)


def _instant(value: object, zone: ZoneInfo, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        if end:
            day += timedelta(days=1)  # a date given as the end is the whole of that day
        return datetime.combine(day, time(), zone)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


@dataclass(frozen=True)
class PromotionProblem:
    """Why an entry of ``policies["promotions"]`` was left out.

    `number` counts entries from 1 (None: the value as a whole); `part` is the entry's key at
    fault (None: the entry as a whole); `code` and `limit` let a form say it in its language.
    """

    number: int | None
    part: str | None
    code: str
    detail: str
    limit: int | None = None

    def __str__(self) -> str:
        where = f"promotion {self.number}" if self.number is not None else "promotions"
        return f"{where}: {self.detail}"


def _problem_of(
    problems: list[PromotionProblem],
    number: int,
    part: str | None,
    code: str,
    detail: str,
    limit: int | None = None,
) -> None:
    problems.append(PromotionProblem(number, part, code, detail, limit))


def check_promotions(value: object, timezone: str) -> tuple[list[Promotion], list[PromotionProblem]]:
    """The promotions of ``policies["promotions"]``, and a problem for each entry left out."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [PromotionProblem(None, None, "not_a_list", "must be a list of objects")]
    zone = ZoneInfo(timezone)
    promotions: list[Promotion] = []
    problems: list[PromotionProblem] = []
    for number, entry in enumerate(value, start=1):
        problem = partial(_problem_of, problems, number)
        if not isinstance(entry, Mapping):
            problem(None, "not_an_object", "must be an object with title, text, starts, ends")
            continue
        title = entry.get("title")
        text = entry.get("text") or ""
        if not isinstance(title, str) or not title.strip():
            problem("title", "title_missing", "the title is missing")
            continue
        if len(title) > MAX_PROMOTION_TITLE:
            problem(
                "title",
                "title_too_long",
                f"the title is longer than {MAX_PROMOTION_TITLE} characters",
                MAX_PROMOTION_TITLE,
            )
            continue
        if not isinstance(text, str) or len(text) > MAX_PROMOTION_TEXT:
            problem(
                "text",
                "text_too_long",
                f"the text must be at most {MAX_PROMOTION_TEXT} characters",
                MAX_PROMOTION_TEXT,
            )
            continue
        instants: dict[str, datetime | None] = {}
        for part in ("starts", "ends"):
            try:
                instants[part] = _instant(entry.get(part), zone, end=part == "ends")
            except ValueError as error:
                problem(part, "bad_date", f"starts/ends: {error}")
                break
        if len(instants) < 2:
            continue
        starts, ends = instants["starts"], instants["ends"]
        if starts is not None and ends is not None and ends <= starts:
            problem("ends", "ends_before_start", "ends before it starts")
            continue
        promotions.append(Promotion(title.strip(), text.strip(), starts, ends))
    return promotions, problems


def parse_promotions(value: object, timezone: str) -> tuple[list[Promotion], list[str]]:
    """The promotions of ``policies["promotions"]``, and a problem for each entry left out."""
    promotions, problems = check_promotions(value, timezone)
    return promotions, [str(problem) for problem in problems]


def current_promotions(shop: Shop, now: datetime) -> list[Promotion]:
    """The shop's promotions running at `now`; malformed entries are logged and left out."""
    promotions, problems = parse_promotions((shop.policies or {}).get("promotions"), shop.timezone)
    for problem in problems:
        log.warning("shop %s: %s", shop.id, problem)
    return [promotion for promotion in promotions if promotion.runs_at(now)]


# --- the canned replies' context ----------------------------------------------------------


def product_under_discussion(session: Session, conversation: Conversation) -> Product | None:
    """The product of the latest product card in the conversation, if it is the shop's."""
    payload = session.scalar(
        select(Message.payload)
        .where(Message.conversation_id == conversation.id, Message.kind == "product")
        .order_by(Message.seq.desc())
        .limit(1)
    )
    product_id = payload.get("product_id") if isinstance(payload, dict) else None
    if not isinstance(product_id, str):
        return None
    product = session.get(Product, product_id)
    return product if product is not None and product.shop_id == conversation.shop_id else None


def latest_order(session: Session, shop_id: str, buyer_id: str) -> Order | None:
    return session.scalars(
        select(Order)
        .where(Order.shop_id == shop_id, Order.buyer_id == buyer_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    ).first()


def _first_item_title(session: Session, order: Order) -> str | None:
    return session.scalar(
        select(Product.title)
        .join(OrderItem, OrderItem.product_id == Product.id)
        .where(OrderItem.order_id == order.id, Product.shop_id == order.shop_id)
        .order_by(OrderItem.line_no)
        .limit(1)
    )


def reply_context(session: Session, conversation: Conversation) -> dict[str, object]:
    """The values canned replies are filled from; what is unknown is None (it becomes a prompt).

    - ``buyer_name``: the buyer's nickname;
    - ``shop``: the shop's name;
    - ``product``: the latest product card in the conversation, else the latest order's first item;
    - ``order``, ``amount``: the buyer's latest order at the shop;
    - ``date``: None: a date a reply promises is for the agent to type.
    """
    shop = session.get(Shop, conversation.shop_id)
    buyer = session.get(Buyer, conversation.buyer_id)
    order = latest_order(session, conversation.shop_id, conversation.buyer_id)
    product = product_under_discussion(session, conversation)
    product_title = product.title if product is not None else None
    if product_title is None and order is not None:
        product_title = _first_item_title(session, order)
    return {
        "buyer_name": buyer.nickname if buyer is not None else None,
        "shop": shop.name if shop is not None else None,
        "product": product_title,
        "order": order.id if order is not None else None,
        "amount": order.amount if order is not None else None,
        "date": None,
    }
