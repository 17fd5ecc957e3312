"""The tables of a shop's service operation (SQLAlchemy 2 declarative models).

Interchange ids are kept as the primary keys of the rows they name (a shop's `order_id`
is the order's key), so an import can upsert by them and an export gives them back.
References that imported history may leave dangling (a refund of an order outside the
dataset) are indexed columns, not foreign keys: kefu stores what the shop's platform gave.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kefu.store.types import UTCDateTime

Money = Numeric(12, 2)
EMPTY_OBJECT = text("'{}'")
EMPTY_LIST = text("'[]'")

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Shop(Base):
    """A shop on a marketplace, with the rules its service follows."""

    __tablename__ = "shops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), default="other", server_default="other")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai", server_default="Asia/Shanghai")
    # "09:00-23:00"; several ranges separated by commas.
    business_hours: Mapped[str | None] = mapped_column(String(100))
    welcome: Mapped[str | None] = mapped_column(Text)
    # Shop rules: return window days, free-shipping threshold, couriers, timer thresholds...
    policies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=EMPTY_OBJECT)
    # Signs the tokens buyers arrive with (kefu.desk.buyer_tokens); never shown in logs.
    buyer_token_secret: Mapped[str | None] = mapped_column(String(128))


class Staff(Base):
    """Someone on a shop's staff who can log in: admin, supervisor or agent."""

    __tablename__ = "staff"
    __table_args__ = (Index(None, "shop_id", "agent_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"), index=True)
    # The agent's id in chat logs; (shop_id, agent_id) identifies an agent in metrics.
    agent_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(130), unique=True)
    nickname: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="agent", server_default="agent")
    skill_group: Mapped[str | None] = mapped_column(String(16))
    # None: imported from logs, cannot log in until an admin sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    presence: Mapped[str] = mapped_column(String(16), default="away", server_default="away")
    max_concurrent: Mapped[int] = mapped_column(Integer, default=8, server_default="8")
    # Ties in automatic assignment go to whoever has waited longest (kefu.desk.routing).
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Buyer(Base):
    """A marketplace account that shops at one or more kefu shops."""

    __tablename__ = "buyers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nickname: Mapped[str | None] = mapped_column(String(100))
    # Stored whole; shown to agents only through kefu.crm masking.
    phone: Mapped[str | None] = mapped_column(String(32))
    # Flagged at every shop (a buyers row with an empty shop_id in the interchange).
    risk_flag: Mapped[str | None] = mapped_column(String(64))


class ShopBuyer(Base):
    """What one shop knows about one buyer: its own flags, tags, notes and attributes."""

    __tablename__ = "shop_buyers"

    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("buyers.id"), primary_key=True, index=True)
    risk_flag: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=EMPTY_LIST)
    notes: Mapped[str | None] = mapped_column(Text)
    # What agents learned: size, preferences... (custom attributes, shop-defined keys)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=EMPTY_OBJECT)


class Product(Base):
    """An item a shop sells."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_id: Mapped[str | None] = mapped_column(ForeignKey("shops.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    price: Mapped[Decimal | None] = mapped_column(Money)
    stock: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(64))


class Sku(Base):
    """A variant of a product (colour, size, capacity) with its own price and stock."""

    __tablename__ = "skus"
    __table_args__ = (Index(None, "product_id", "code", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    code: Mapped[str] = mapped_column(String(120))
    price: Mapped[Decimal | None] = mapped_column(Money)
    stock: Mapped[int | None] = mapped_column(Integer)


class Order(Base):
    """An order placed (拍下) by a buyer at a shop, through its lifecycle."""

    __tablename__ = "orders"
    __table_args__ = (Index(None, "shop_id", "buyer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(Text)


class OrderItem(Base):
    """One line of an order."""

    __tablename__ = "order_items"
    __table_args__ = (Index(None, "order_id", "line_no", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Lookups by order use the unique (order_id, line_no) index.
    order_id: Mapped[str] = mapped_column(String(64))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    sku: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)


class LogisticsEvent(Base):
    """A courier's tracking event for an order."""

    __tablename__ = "logistics_events"
    __table_args__ = (Index(None, "order_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Lookups by order use the unique (order_id, seq) index.
    order_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32))
    courier: Mapped[str | None] = mapped_column(String(64))
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)


class Conversation(Base):
    """One chat session between a buyer and a shop."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "shop_id", "started_at"),
        Index(None, "buyer_id", "shop_id"),
        Index(None, "shop_id", "status", "assigned_agent_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    buyer_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="closed", server_default="closed")
    assigned_agent_id: Mapped[str | None] = mapped_column(String(64))
    skill_group: Mapped[str | None] = mapped_column(String(16))
    # The live desk's state; imported history leaves these empty.
    # The highest seq used; None: not yet counted (imported), read as max(seq).
    last_seq: Mapped[int | None] = mapped_column(Integer)
    # sender of the last buyer-visible message: "buyer" means the buyer has the last word.
    last_sender: Mapped[str | None] = mapped_column(String(8))
    # Since when the buyer has waited for a person's answer (None: nobody is waiting).
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The highest seq each side has seen (read receipts).
    buyer_read_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    agent_read_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Where the buyer writes from: "web" (kefu's chat page) or a connector's name.
    channel: Mapped[str] = mapped_column(String(32), default="web", server_default="web")


class Message(Base):
    """A message in a conversation.

    A message is identified by its conversation and `seq`, its position there as the file
    gave it (or by the interchange's optional `message_id`); `ordinal` is its position in
    the whole dataset, which the metrics need to order equal times across conversations.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "conversation_id", "seq", unique=True),
        Index(None, "sent_at"),
        # Most imported messages have no message_id: index only those that do.
        Index(
            None,
            "message_id",
            unique=True,
            sqlite_where=text("message_id IS NOT NULL"),
            postgresql_where=text("message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    message_id: Mapped[str | None] = mapped_column(String(160))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    ordinal: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # text, image, product (a card), order (a card); vocabularies.MESSAGE_KINDS.
    kind: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    # What a card or an image shows: {"upload_id"}, {"product_id"}, {"order_id"}...
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ConversationNote(Base):
    """An internal note on a conversation: seen by the shop's staff, never by the buyer."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    author_agent_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)


class Transfer(Base):
    """A conversation handed to a colleague or a skill group, with the hand-over note."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_agent_id: Mapped[str | None] = mapped_column(String(64))
    to_agent_id: Mapped[str | None] = mapped_column(String(64))
    to_group: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


class RatingInvitation(Base):
    """The desk asked the buyer to rate a conversation; the rating, if any, answers it.

    Also the interchange extension table `rating_invitations`, identified by conversation and
    time; like ratings, an imported invitation may name a conversation the store does not hold.
    """

    __tablename__ = "rating_invitations"
    __table_args__ = (
        Index(None, "shop_id", "invited_at"),
        Index(None, "conversation_id", "invited_at", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    buyer_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rating_id: Mapped[str | None] = mapped_column(String(64))


class FollowUp(Base):
    """A task in an agent's list: follow up a buyer who asked but did not order, remind to pay..."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index(None, "shop_id", "agent_id", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    buyer_id: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    # vocabularies.FOLLOW_UP_KINDS
    kind: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


class CannedReplyRow(Base):
    """A shop's own canned reply (快捷短语); a shop without any uses the default library."""

    __tablename__ = "canned_replies"
    __table_args__ = (Index(None, "shop_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    key: Mapped[str] = mapped_column(String(32))
    scene: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Upload(Base):
    """A file a buyer or agent sent (an image), checked by content; the bytes live in the data folder."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Webhook(Base):
    """A shop's subscription: kefu posts the named events to `url`, signed with `secret`."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    # vocabularies.WEBHOOK_EVENTS; empty: all of them.
    events: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=EMPTY_LIST)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A key a connector presents (Authorization: Bearer) to use a shop's REST API; only its hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """An event waiting to be posted to one webhook (an outbox row, written with the change itself)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Rating(Base):
    """A buyer's rating of a chat (服务评价)."""

    __tablename__ = "ratings"
    __table_args__ = (Index(None, "shop_id", "rated_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ordinal: Mapped[int] = mapped_column(BigInteger)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    buyer_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[str] = mapped_column(String(20))
    robot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    tags: Mapped[str | None] = mapped_column(Text)


class Review(Base):
    """A product review after delivery, with the three DSR scores."""

    __tablename__ = "reviews"
    __table_args__ = (Index(None, "shop_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"))
    buyer_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rating: Mapped[str] = mapped_column(String(8))
    dsr_description: Mapped[int | None] = mapped_column(Integer)
    dsr_service: Mapped[int | None] = mapped_column(Integer)
    dsr_shipping: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)


class Refund(Base):
    """A refund request on an order and what became of it."""

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    product_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))


class AuditEntry(Base):
    """Who changed what, when: written by every do_* action."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "shop_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    shop_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(130))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=EMPTY_OBJECT)
