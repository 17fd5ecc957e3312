"""`kefu import`: a validated dataset written to the store in one transaction, all or nothing.

Rows are upserted by their interchange ids, so importing the same dataset again leaves the
store as the first import left it. Shops, buyers, agents and products that the history
names but does not describe are created as stubs, to be described later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, select

from kefu.interchange.validation import Context, Dataset, first_rows, load_dataset
from kefu.store import bulk
from kefu.store.models import AuditEntry, Order, Shop, Staff

Progress = Callable[[str], None]


@dataclass
class ImportSummary:
    rows: dict[str, int]
    digest: str
    repeated: bool  # the same files were imported before
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def do_import(
    engine: Engine,
    folder: Path,
    *,
    actor: str = "cli",
    default_zone: str = "Asia/Shanghai",
    progress: Progress | None = None,
) -> ImportSummary:
    """Validate the dataset in `folder`, then store all of it in one transaction (or nothing)."""
    started = time.perf_counter()
    with engine.connect() as conn:
        # The context looks up orders outside the dataset as it reads: keep its connection open.
        context = store_context(conn, default_zone)
        dataset = load_dataset(folder, context, progress)
    validated = time.perf_counter()
    with engine.begin() as conn, bulk.bulk_load(conn):
        repeated = _seen_before(conn, dataset.digest)
        rows = write_dataset(conn, dataset, progress)
        if not repeated:
            _record(conn, dataset, rows, actor, folder)
    done = time.perf_counter()
    return ImportSummary(
        rows,
        dataset.digest,
        repeated,
        done - started,
        {"read_and_check_s": validated - started, "store_s": done - validated},
    )


def store_context(conn: Connection, default_zone: str) -> Context:
    """Time zones of known shops and the shops of known orders, for reading naive timestamps."""
    zones = {row[0]: row[1] for row in conn.execute(select(Shop.id, Shop.timezone))}

    def order_shops(ids: set[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        pending = sorted(ids)
        for start in range(0, len(pending), 500):
            chunk = pending[start : start + 500]
            found.update(
                (row[0], row[1])
                for row in conn.execute(select(Order.id, Order.shop_id).where(Order.id.in_(chunk)))
            )
        return found

    return Context(zones=zones, default_zone=default_zone, order_shops=order_shops)


def _seen_before(conn: Connection, digest: str) -> bool:
    entries = conn.execute(select(AuditEntry.detail).where(AuditEntry.action == "dataset_imported")).scalars()
    return any(detail.get("digest") == digest for detail in entries)


def _record(conn: Connection, dataset: Dataset, rows: dict[str, int], actor: str, folder: Path) -> None:
    conn.execute(
        AuditEntry.__table__.insert().values(
            at=datetime.now(UTC),
            shop_id=None,
            actor=actor,
            action="dataset_imported",
            target=folder.name,
            detail={"digest": dataset.digest, "rows": rows},
        )
    )


def write_dataset(conn: Connection, dataset: Dataset, progress: Progress | None = None) -> dict[str, int]:
    """Upsert every table of the dataset; the caller owns the transaction."""
    t = dataset.tables
    step = progress or (lambda _m: None)
    messages = with_positions(t["messages"])
    step("storing shops, staff and buyers")
    _write_shops(conn, t, dataset.zones)
    _write_buyers(conn, t)
    _write_staff(conn, t)
    _write_products(conn, t)
    step("storing conversations")
    bulk.upsert(conn, "conversations", conversations_of(messages), ["id"])
    step("storing messages")
    bulk.upsert(
        conn,
        "messages",
        messages.select(
            ["message_id", "conversation_id", "seq", "ordinal", "sender", "agent_id", "sent_at", "text"]
        ),
        ["conversation_id", "seq"],
        keep=["ordinal"],
    )
    step("storing orders, refunds, ratings and reviews")
    if "orders" in t:
        bulk.upsert(conn, "orders", _rename(t["orders"], order_id="id"), ["id"])
    if "order_items" in t:
        items = t["order_items"].append_column("line_no", positions_within(t["order_items"]["order_id"]))
        bulk.upsert(conn, "order_items", items, ["order_id", "line_no"])
    if "logistics" in t:
        events = t["logistics"].append_column("seq", positions_within(t["logistics"]["order_id"]))
        bulk.upsert(conn, "logistics_events", events, ["order_id", "seq"])
    if "refunds" in t:
        bulk.upsert(conn, "refunds", _rename(t["refunds"], refund_id="id"), ["id"])
    if "ratings" in t:
        ratings = _rename(t["ratings"], rating_id="id")
        ratings = ratings.append_column("ordinal", pa.array(np.arange(ratings.num_rows), pa.int64()))
        ratings = ratings.set_column(
            ratings.schema.get_field_index("robot"), "robot", ratings["robot"].fill_null(False)
        )
        bulk.upsert(conn, "ratings", ratings, ["id"], keep=["ordinal"])
    if "reviews" in t:
        bulk.upsert(conn, "reviews", _rename(t["reviews"], review_id="id"), ["id"])
    return {name: table.num_rows for name, table in t.items()}


def _rename(table: pa.Table, **names: str) -> pa.Table:
    return table.rename_columns([names.get(c, c) for c in table.column_names])


def positions_within(group: pa.ChunkedArray | pa.Array) -> pa.Array:
    """For each row, how many rows of the same group come before it (file order)."""
    codes, _first = first_rows(group)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    positions = np.empty(len(codes), dtype=np.int64)
    positions[order] = np.arange(len(codes)) - run_start
    return pa.array(positions, pa.int64())


def with_positions(messages: pa.Table) -> pa.Table:
    """Messages with their seq in the conversation and their ordinal in the dataset."""
    seq = positions_within(messages["conversation_id"])
    ordinal = pa.array(np.arange(messages.num_rows), pa.int64())
    return messages.append_column("seq", seq).append_column("ordinal", ordinal)


def conversations_of(messages: pa.Table) -> pa.Table:
    """One row per conversation: its shop, buyer, first and last message, and the last agent."""
    codes, first = first_rows(messages["conversation_id"])
    first = first[first >= 0]
    sent = messages["sent_at"].combine_chunks().cast(pa.int64()).to_numpy()
    count = len(first)
    earliest = np.full(count, np.iinfo(np.int64).max)
    latest = np.full(count, np.iinfo(np.int64).min)
    np.minimum.at(earliest, codes, sent)
    np.maximum.at(latest, codes, sent)
    agents = messages["agent_id"].combine_chunks()
    is_agent = pc.equal(messages["sender"], "agent").to_numpy(zero_copy_only=False)
    last_agent_row = np.full(count, -1, dtype=np.int64)
    agent_rows = np.flatnonzero(is_agent)
    last_agent_row[codes[agent_rows]] = agent_rows  # later rows overwrite earlier ones
    has_agent = last_agent_row >= 0
    assigned = agents.take(pa.array(np.where(has_agent, last_agent_row, 0)))
    assigned = pc.if_else(pa.array(has_agent), assigned, pa.scalar(None, pa.string()))
    take = pa.array(first)
    return pa.table(
        {
            "id": messages["conversation_id"].combine_chunks().take(take),
            "shop_id": messages["shop_id"].combine_chunks().take(take),
            "buyer_id": messages["buyer_id"].combine_chunks().take(take),
            "started_at": pa.array(earliest).cast(pa.timestamp("us", "UTC")),
            "last_message_at": pa.array(latest).cast(pa.timestamp("us", "UTC")),
            "assigned_agent_id": assigned,
        }
    )


def _distinct(*columns: pa.ChunkedArray | pa.Array) -> list:
    values: set = set()
    for column in columns:
        values.update(
            v
            for v in pc.unique(
                column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            ).to_pylist()
            if v is not None
        )
    return sorted(values)


def _pairs(tables: dict[str, pa.Table], names: tuple[str, ...], a: str, b: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for name in names:
        if name in tables:
            grouped = tables[name].select([a, b]).group_by([a, b]).aggregate([])
            pairs.update(zip(grouped[a].to_pylist(), grouped[b].to_pylist(), strict=True))
    return {p for p in pairs if p[0] is not None and p[1] is not None}


WITH_SHOP = ("messages", "orders", "ratings", "reviews", "buyers", "agents", "products", "shops")


def _write_shops(conn: Connection, t: dict[str, pa.Table], zones: dict[str, str]) -> None:
    if "shops" in t:
        shops = t["shops"]
        ids = shops["shop_id"]
        described = pa.table(
            {
                "id": ids,
                "name": pc.coalesce(shops["name"], ids),
                "category": shops["category"].fill_null("other"),
                "timezone": pa.array([zones.get(s, "Asia/Shanghai") for s in ids.to_pylist()], pa.string()),
                "business_hours": shops["business_hours"],
                "welcome": shops["welcome"],
            }
        )
        bulk.upsert(conn, "shops", described, ["id"])
    ids = _distinct(*[t[n]["shop_id"] for n in WITH_SHOP if n in t])
    stubs = pa.table({"id": pa.array(ids, pa.string()), "name": pa.array(ids, pa.string())})
    bulk.upsert(conn, "shops", stubs, ["id"], insert_only=True)


def _write_buyers(conn: Connection, t: dict[str, pa.Table]) -> None:
    names = ("messages", "orders", "ratings", "reviews", "buyers")
    ids = _distinct(*[t[n]["buyer_id"] for n in names if n in t])
    bulk.upsert(conn, "buyers", pa.table({"id": pa.array(ids, pa.string())}), ["id"], insert_only=True)
    pairs = _pairs(t, names, "shop_id", "buyer_id")
    described: dict[tuple[str, str], tuple[str | None, str]] = {}
    if "buyers" in t:
        people: dict[str, dict[str, str | None]] = {}
        for row in t["buyers"].to_pylist():
            person = people.setdefault(
                row["buyer_id"], {"id": row["buyer_id"], "nickname": None, "phone": None, "risk_flag": None}
            )
            person["nickname"] = person["nickname"] or row["nickname"]
            person["phone"] = person["phone"] or row["phone"]
            if row["shop_id"] is None:
                person["risk_flag"] = row["risk_flag"]
            else:
                tags = [tag for tag in (row["tags"] or "").split("|") if tag]
                described[(row["shop_id"], row["buyer_id"])] = (
                    row["risk_flag"],
                    json.dumps(tags, ensure_ascii=False),
                )
        bulk.upsert(conn, "buyers", pa.Table.from_pylist(list(people.values())), ["id"])
    ordered = sorted(pairs)
    bulk.upsert(
        conn,
        "shop_buyers",
        pa.table(_shop_buyer_columns(ordered)),
        ["shop_id", "buyer_id"],
        insert_only=True,
    )
    if described:
        keys = sorted(described)
        bulk.upsert(
            conn,
            "shop_buyers",
            pa.table(
                {
                    **_shop_buyer_columns(keys),
                    "risk_flag": pa.array([described[k][0] for k in keys], pa.string()),
                    "tags": pa.array([described[k][1] for k in keys], pa.string()),
                }
            ),
            ["shop_id", "buyer_id"],
        )


def _shop_buyer_columns(pairs: list[tuple[str, str]]) -> dict[str, pa.Array]:
    return {
        "shop_id": pa.array([p[0] for p in pairs], pa.string()),
        "buyer_id": pa.array([p[1] for p in pairs], pa.string()),
    }


def _write_staff(conn: Connection, t: dict[str, pa.Table]) -> None:
    pairs: set[tuple[str, str]] = set()
    messages = t["messages"]
    agent_rows = messages.filter(pc.equal(messages["sender"], "agent"))
    pairs |= _pairs({"m": agent_rows}, ("m",), "shop_id", "agent_id")
    pairs |= _pairs(t, ("ratings", "agents"), "shop_id", "agent_id")
    described = {(r["shop_id"], r["agent_id"]): r for r in t["agents"].to_pylist()} if "agents" in t else {}
    existing = {(s, a): u for s, a, u in conn.execute(select(Staff.shop_id, Staff.agent_id, Staff.username))}
    taken = set(existing.values())
    counts: dict[str, int] = {}
    for _shop, agent in pairs:
        counts[agent] = counts.get(agent, 0) + 1
    rows = []
    for shop, agent in sorted(pairs):
        username = existing.get((shop, agent))
        if username is None:
            username = _free_login(shop, agent, counts[agent] == 1, taken)
            taken.add(username)
        info = described.get((shop, agent), {})
        rows.append(
            {
                "shop_id": shop,
                "agent_id": agent,
                "username": username,
                "nickname": info.get("nickname") or agent,
                "role": info.get("role") or "agent",
                "skill_group": info.get("skill_group"),
            }
        )
    if rows:
        table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in rows[0]]))
        described_rows = pa.array([(r["shop_id"], r["agent_id"]) in described for r in rows])
        stubs = table.filter(pc.invert(described_rows)).select(
            ["shop_id", "agent_id", "username", "nickname"]
        )
        bulk.upsert(conn, "staff", stubs, ["shop_id", "agent_id"], insert_only=True)
        # A login, once given, stays: re-imports describe the agent but never rename the account.
        bulk.upsert(conn, "staff", table.filter(described_rows), ["shop_id", "agent_id"], keep=["username"])


def _free_login(shop: str, agent: str, unique_id: bool, taken: set[str]) -> str:
    """The agent id as login when no one has it; else prefixed by the shop (and numbered if need be)."""
    if unique_id and agent not in taken:
        return agent
    candidate, number = f"{shop}.{agent}", 1
    while candidate in taken:
        number += 1
        candidate = f"{shop}.{agent}.{number}"
    return candidate


def _write_products(conn: Connection, t: dict[str, pa.Table]) -> None:
    if "products" in t:
        products = t["products"]
        bulk.upsert(
            conn,
            "products",
            pa.table(
                {
                    "id": products["product_id"],
                    "shop_id": products["shop_id"],
                    "title": pc.coalesce(products["title"], products["product_id"]),
                    "price": products["price"],
                    "stock": products["stock"],
                    "category": products["category"],
                }
            ),
            ["id"],
        )
    named = [t[n]["product_id"] for n in ("order_items", "refunds", "reviews", "skus") if n in t]
    if named:
        ids = _distinct(*named)
        shop_of = _product_shops(t)
        bulk.upsert(
            conn,
            "products",
            pa.table(
                {
                    "id": pa.array(ids, pa.string()),
                    "shop_id": pa.array([shop_of.get(i) for i in ids], pa.string()),
                    "title": pa.array(ids, pa.string()),
                }
            ),
            ["id"],
            insert_only=True,
        )
    if "skus" in t:
        skus = t["skus"]
        bulk.upsert(
            conn,
            "skus",
            pa.table(
                {
                    "product_id": skus["product_id"],
                    "code": skus["sku"],
                    "price": skus["price"],
                    "stock": skus["stock"],
                }
            ),
            ["product_id", "code"],
        )


def _product_shops(t: dict[str, pa.Table]) -> dict[str, str]:
    """The shop selling each product, where the dataset tells (reviews carry it; lines through orders)."""
    shop_of: dict[str, str] = {}
    if "reviews" in t:
        shop_of.update(
            zip(t["reviews"]["product_id"].to_pylist(), t["reviews"]["shop_id"].to_pylist(), strict=True)
        )
    if "order_items" in t and "orders" in t:
        order_shop = dict(
            zip(t["orders"]["order_id"].to_pylist(), t["orders"]["shop_id"].to_pylist(), strict=True)
        )
        for order, product in zip(
            t["order_items"]["order_id"].to_pylist(), t["order_items"]["product_id"].to_pylist(), strict=True
        ):
            if order in order_shop:
                shop_of.setdefault(product, order_shop[order])
    shop_of.pop(None, None)
    return shop_of
