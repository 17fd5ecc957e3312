"""The tables and fields of the interchange format (shared/spec/interchange.md), declared once.

The contract's tables come first; the ones marked `extension` are kefu's own additions
(the contract allows more fields and tables, never fewer), documented in docs/interchange.md.
Reader, validator, writer, the docs and the tests all walk `TABLES`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from kefu.vocabularies import (
    LOGISTICS_STATUSES,
    ORDER_STATUSES,
    RATING_SCORES,
    REFUND_STATUSES,
    REVIEW_RATINGS,
    SENDERS,
    SHOP_CATEGORIES,
    SKILL_GROUPS,
    STAFF_ROLES,
)


class Kind(Enum):
    ID = "id"  # a string kept exactly (CSV 000123 stays 000123)
    TEXT = "text"  # free text; empty allowed
    TIMESTAMP = "timestamp"  # RFC 3339; without offset: the shop's time zone
    MONEY = "money"  # CNY yuan, at most 2 decimal places
    INT = "int"
    BOOL = "bool"  # true/false, 1/0, empty = false
    ENUM = "enum"  # one of `choices`


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = True  # False: may be absent or empty
    choices: tuple[str, ...] = ()
    min_value: int | None = None
    max_value: int | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # what identifies a row; repeated keys in one dataset are refused
    required: bool = False  # must the dataset have this table?
    extension: bool = False  # kefu's addition to the contract

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def only(self, names: tuple[str, ...]) -> TableSpec:
        """The same table read for some of its fields (a report needs no message text)."""
        fields = tuple(f for f in self.fields if f.name in names)
        key = self.key if all(k in names for k in self.key) else ()
        return replace(self, fields=fields, key=key)


def _id(name: str, required: bool = True) -> Field:
    return Field(name, Kind.ID, required)


def _ts(name: str, required: bool = True) -> Field:
    return Field(name, Kind.TIMESTAMP, required)


def _enum(name: str, choices: tuple[str, ...], required: bool = True) -> Field:
    return Field(name, Kind.ENUM, required, choices)


def _dsr(name: str) -> Field:
    return Field(name, Kind.INT, False, min_value=1, max_value=5)


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "shops",
        (
            _id("shop_id"),
            Field("name", Kind.TEXT, False),
            _enum("category", SHOP_CATEGORIES, False),
            Field("timezone", Kind.TEXT, False),
            Field("business_hours", Kind.TEXT, False),
            Field("welcome", Kind.TEXT, False),
        ),
        key=("shop_id",),
        extension=True,
    ),
    TableSpec(
        "agents",
        (
            _id("shop_id"),
            _id("agent_id"),
            Field("nickname", Kind.TEXT, False),
            _enum("role", STAFF_ROLES, False),
            _enum("skill_group", SKILL_GROUPS, False),
        ),
        key=("shop_id", "agent_id"),
        extension=True,
    ),
    TableSpec(
        "products",
        (
            # Empty for a product known only from a refund: the store keeps it without a shop.
            _id("shop_id", required=False),
            _id("product_id"),
            Field("title", Kind.TEXT, False),
            Field("price", Kind.MONEY, False),
            Field("stock", Kind.INT, False),
            Field("category", Kind.TEXT, False),
        ),
        key=("product_id",),
        extension=True,
    ),
    TableSpec(
        "skus",
        (
            _id("product_id"),
            _id("sku"),
            Field("price", Kind.MONEY, False),
            Field("stock", Kind.INT, False),
        ),
        key=("product_id", "sku"),
        extension=True,
    ),
    TableSpec(
        "buyers",
        (
            _id("buyer_id"),
            _id("shop_id", required=False),
            Field("risk_flag", Kind.TEXT, False),
            Field("nickname", Kind.TEXT, False),
            Field("phone", Kind.TEXT, False),
            Field("tags", Kind.TEXT, False),
        ),
        key=("buyer_id", "shop_id"),
    ),
    TableSpec(
        "messages",
        (
            _id("message_id", required=False),
            _id("conversation_id"),
            _id("shop_id"),
            _id("buyer_id"),
            _enum("sender", SENDERS),
            _id("agent_id", required=False),
            _ts("sent_at"),
            Field("text", Kind.TEXT, False),
        ),
        key=("message_id",),
        required=True,
    ),
    TableSpec(
        "orders",
        (
            _id("order_id"),
            _id("shop_id"),
            _id("buyer_id"),
            _ts("created_at"),
            _ts("paid_at", required=False),
            Field("amount", Kind.MONEY),
            _enum("status", ORDER_STATUSES, False),
            Field("address", Kind.TEXT, False),
        ),
        key=("order_id",),
    ),
    TableSpec(
        "order_items",
        (
            _id("order_id"),
            _id("product_id"),
            _id("sku", required=False),
            Field("quantity", Kind.INT, min_value=0),
            Field("unit_price", Kind.MONEY),
        ),
        key=(),
    ),
    TableSpec(
        "logistics",
        (
            _id("order_id"),
            _ts("event_at"),
            _enum("status", LOGISTICS_STATUSES),
            Field("courier", Kind.TEXT, False),
            Field("tracking_no", Kind.TEXT, False),
            Field("description", Kind.TEXT, False),
        ),
        key=(),
        extension=True,
    ),
    TableSpec(
        "refunds",
        (
            _id("refund_id"),
            _id("order_id"),
            _id("product_id", required=False),
            Field("reason", Kind.TEXT),
            Field("amount", Kind.MONEY),
            _ts("requested_at"),
            _ts("completed_at", required=False),
            _enum("status", REFUND_STATUSES),
        ),
        key=("refund_id",),
    ),
    TableSpec(
        "ratings",
        (
            _id("rating_id"),
            _id("conversation_id"),
            _id("shop_id"),
            _id("buyer_id"),
            _id("agent_id", required=False),
            _ts("rated_at"),
            _enum("score", RATING_SCORES),
            Field("robot", Kind.BOOL, False),
            Field("tags", Kind.TEXT, False),
        ),
        key=("rating_id",),
    ),
    TableSpec(
        "reviews",
        (
            _id("review_id"),
            _id("order_id"),
            _id("shop_id"),
            _id("buyer_id"),
            _id("product_id", required=False),
            _ts("created_at"),
            _enum("rating", REVIEW_RATINGS),
            _dsr("dsr_description"),
            _dsr("dsr_service"),
            _dsr("dsr_shipping"),
            Field("text", Kind.TEXT, False),
        ),
        key=("review_id",),
    ),
    TableSpec(
        "rating_invitations",
        (
            _id("conversation_id"),
            _id("shop_id"),
            _id("buyer_id"),
            _id("agent_id", required=False),
            _ts("invited_at"),
        ),
        key=("conversation_id", "invited_at"),
        extension=True,
    ),
)

TABLES_BY_NAME = {t.name: t for t in TABLES}

# Which column gives a table's shop, directly or through its order, for time zones.
SHOP_VIA_ORDER = ("refunds", "logistics", "order_items")
