"""`kefu export`: the store written back as an interchange dataset.

Export then import then export gives the same files: rows come out in a fixed order
(messages and ratings in the order they were imported), times in each shop's zone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from kefu.interchange.schema import SHOP_VIA_ORDER, TABLES_BY_NAME
from kefu.interchange.writing import format_instants, write_table
from kefu.store.bulk import read_table


@dataclass(frozen=True)
class Source:
    """Where an interchange table comes from in the store, and in what order."""

    table: str
    columns: dict[str, str]  # interchange field -> store column
    order_by: tuple[str, ...]


SOURCES = {
    "shops": Source(
        "shops",
        {
            "shop_id": "id",
            "name": "name",
            "category": "category",
            "timezone": "timezone",
            "business_hours": "business_hours",
            "welcome": "welcome",
        },
        ("id",),
    ),
    "agents": Source(
        "staff",
        {
            "shop_id": "shop_id",
            "agent_id": "agent_id",
            "nickname": "nickname",
            "role": "role",
            "skill_group": "skill_group",
        },
        ("shop_id", "agent_id"),
    ),
    "products": Source(
        "products",
        {
            "shop_id": "shop_id",
            "product_id": "id",
            "title": "title",
            "price": "price",
            "stock": "stock",
            "category": "category",
        },
        ("id",),
    ),
    "skus": Source(
        "skus",
        {"product_id": "product_id", "sku": "code", "price": "price", "stock": "stock"},
        ("product_id", "code"),
    ),
    "orders": Source(
        "orders",
        {
            "order_id": "id",
            "shop_id": "shop_id",
            "buyer_id": "buyer_id",
            "created_at": "created_at",
            "paid_at": "paid_at",
            "amount": "amount",
            "status": "status",
            "address": "address",
        },
        ("created_at", "id"),
    ),
    "order_items": Source(
        "order_items",
        {
            "order_id": "order_id",
            "product_id": "product_id",
            "sku": "sku",
            "quantity": "quantity",
            "unit_price": "unit_price",
        },
        ("order_id", "line_no"),
    ),
    "logistics": Source(
        "logistics_events",
        {
            "order_id": "order_id",
            "event_at": "event_at",
            "status": "status",
            "courier": "courier",
            "tracking_no": "tracking_no",
            "description": "description",
        },
        ("order_id", "seq"),
    ),
    "refunds": Source(
        "refunds",
        {
            "refund_id": "id",
            "order_id": "order_id",
            "product_id": "product_id",
            "reason": "reason",
            "amount": "amount",
            "requested_at": "requested_at",
            "completed_at": "completed_at",
            "status": "status",
        },
        ("requested_at", "id"),
    ),
    "ratings": Source(
        "ratings",
        {
            "rating_id": "id",
            "conversation_id": "conversation_id",
            "shop_id": "shop_id",
            "buyer_id": "buyer_id",
            "agent_id": "agent_id",
            "rated_at": "rated_at",
            "score": "score",
            "robot": "robot",
            "tags": "tags",
        },
        ("ordinal", "id"),
    ),
    "reviews": Source(
        "reviews",
        {
            "review_id": "id",
            "order_id": "order_id",
            "shop_id": "shop_id",
            "buyer_id": "buyer_id",
            "product_id": "product_id",
            "created_at": "created_at",
            "rating": "rating",
            "dsr_description": "dsr_description",
            "dsr_service": "dsr_service",
            "dsr_shipping": "dsr_shipping",
            "text": "text",
        },
        ("created_at", "id"),
    ),
    "rating_invitations": Source(
        "rating_invitations",
        {
            "conversation_id": "conversation_id",
            "shop_id": "shop_id",
            "buyer_id": "buyer_id",
            "agent_id": "agent_id",
            "invited_at": "invited_at",
        },
        ("invited_at", "conversation_id"),
    ),
}
ORDER = (
    "shops",
    "agents",
    "products",
    "skus",
    "buyers",
    "messages",
    "orders",
    "order_items",
    "logistics",
    "refunds",
    "ratings",
    "reviews",
    "rating_invitations",
)


def do_export(
    engine: Engine, folder: Path, fmt: str = "jsonl", progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Write every non-empty table of the store to `folder` in `fmt`; return rows per table."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        zones = dict(zip(*_columns(read_table(conn, "shops", ["id", "timezone"], ["id"])), strict=True))
        orders = read_table(conn, "orders", ["id", "shop_id"], ["id"])
        order_zone = {o: zones.get(s, "Asia/Shanghai") for o, s in zip(*_columns(orders), strict=True)}
        for name in ORDER:
            if progress:
                progress(f"exporting {name}")
            if name == "messages":
                table = _messages(conn)
            elif name == "buyers":
                table = _buyers(conn)
            else:
                source = SOURCES[name]
                stored = read_table(conn, source.table, list(source.columns.values()), list(source.order_by))
                table = stored.rename_columns(list(source.columns))
            if table.num_rows == 0 and name != "messages":
                continue
            if fmt != "parquet":
                table = _localised(table, name, zones, order_zone)
            write_table(table, folder, name, fmt)
            counts[name] = table.num_rows
    return counts


def _columns(table: pa.Table) -> list[list]:
    return [table.column(i).to_pylist() for i in range(table.num_columns)]


def _messages(conn) -> pa.Table:
    stored = read_table(
        conn,
        "messages",
        ["message_id", "conversation_id", "sender", "agent_id", "sent_at", "text"],
        ["ordinal", "conversation_id", "seq"],
    )
    conversations = read_table(conn, "conversations", ["id", "shop_id", "buyer_id"], ["id"])
    where = pc.index_in(stored["conversation_id"], conversations["id"])
    return pa.table(
        {
            "message_id": stored["message_id"],
            "conversation_id": stored["conversation_id"],
            "shop_id": conversations["shop_id"].take(where),
            "buyer_id": conversations["buyer_id"].take(where),
            "sender": stored["sender"],
            "agent_id": stored["agent_id"],
            "sent_at": stored["sent_at"],
            "text": stored["text"],
        }
    )


def _buyers(conn) -> pa.Table:
    people = read_table(conn, "buyers", ["id", "nickname", "phone", "risk_flag"], ["id"]).to_pylist()
    by_id = {p["id"]: p for p in people}
    links = read_table(
        conn, "shop_buyers", ["shop_id", "buyer_id", "risk_flag", "tags"], ["shop_id", "buyer_id"]
    )
    linked = set(links["buyer_id"].to_pylist())
    rows = []
    for p in people:
        # A shop-less row carries a flag for every shop, or a buyer no shop has met yet.
        if p["risk_flag"] or p["id"] not in linked:
            rows.append(
                {
                    "buyer_id": p["id"],
                    "shop_id": None,
                    "risk_flag": p["risk_flag"],
                    "nickname": p["nickname"],
                    "phone": p["phone"],
                    "tags": None,
                }
            )
    for link in links.to_pylist():
        person = by_id.get(link["buyer_id"], {})
        tags = json.loads(link["tags"]) if isinstance(link["tags"], str) else (link["tags"] or [])
        rows.append(
            {
                "buyer_id": link["buyer_id"],
                "shop_id": link["shop_id"],
                "risk_flag": link["risk_flag"],
                "nickname": person.get("nickname"),
                "phone": person.get("phone"),
                "tags": "|".join(tags) or None,
            }
        )
    names = TABLES_BY_NAME["buyers"].names
    return pa.table({n: pa.array([r[n] for r in rows], pa.string()) for n in names})


def _localised(table: pa.Table, name: str, zones: dict[str, str], order_zone: dict[str, str]) -> pa.Table:
    """Timestamps as text in each row's shop zone (the shop of the row, or of its order)."""
    stamp_columns = [c for c in table.column_names if pa.types.is_timestamp(table.schema.field(c).type)]
    if not stamp_columns:
        return table
    if name in SHOP_VIA_ORDER:
        row_zones = [order_zone.get(o, "Asia/Shanghai") for o in table["order_id"].to_pylist()]
    else:
        row_zones = [zones.get(s, "Asia/Shanghai") for s in table["shop_id"].to_pylist()]
    zone_array = np.array(row_zones, dtype=object)
    for column_name in stamp_columns:
        column = table[column_name].combine_chunks()
        text = np.empty(len(column), dtype=object)
        for zone in sorted(set(row_zones)):
            rows = np.flatnonzero(zone_array == zone)
            part = column.take(pa.array(rows)).cast(pa.timestamp("us", zone))
            text[rows] = np.array(format_instants(part).to_pylist(), dtype=object)
        table = table.set_column(
            table.schema.get_field_index(column_name), column_name, pa.array(text.tolist(), pa.string())
        )
    return table
