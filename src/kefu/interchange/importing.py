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
    with engine.connect() as conn, bulk.bulk_load(conn), conn.begin():
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
    step("storing orders, refunds, ratings, reviews and rating invitations")
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
    if "rating_invitations" in t:
        bulk.upsert(conn, "rating_invitations", t["rating_invitations"], ["conversation_id", "invited_at"])
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


WITH_SHOP = (
    "messages",
    "orders",
    "ratings",
    "reviews",
    "buyers",
    "agents",
    "products",
    "shops",
    "rating_invitations",
)


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
    """Buyers and the shops they use: described ones first, then stubs for the ones only named.

    Stubs never change a row that exists, so writing them after the descriptions (and only
    for what the descriptions left out) ends as stubs-then-descriptions would, with one pass
    over each table instead of an insert and then an update of the same rows.
    """
    names = [n for n in ("messages", "orders", "ratings", "reviews", "buyers") if n in t]
    combinations = _distinct_rows(t, names, ["shop_id", "buyer_id"])
    pairs = combinations.drop_null()
    ids = pc.unique(combinations["buyer_id"].drop_null()).sort()
    people = pa.table({"id": pa.array([], pa.string())})
    described = pa.table({"shop_id": pa.array([], pa.string()), "buyer_id": pa.array([], pa.string())})
    if "buyers" in t:
        people, described = _buyer_descriptions(t["buyers"])
        bulk.upsert(conn, "buyers", people, ["id"])
    stubs = ids.filter(pc.invert(pc.is_in(ids, value_set=people["id"])))
    bulk.upsert(conn, "buyers", pa.table({"id": stubs}), ["id"], insert_only=True)
    bulk.upsert(conn, "shop_buyers", described, ["shop_id", "buyer_id"])
    undescribed = pairs.join(
        described.select(["shop_id", "buyer_id"]), ["shop_id", "buyer_id"], join_type="left anti"
    )
    bulk.upsert(conn, "shop_buyers", _sorted(undescribed), ["shop_id", "buyer_id"], insert_only=True)


def _buyer_descriptions(buyers: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The buyers file as rows of `buyers` and of `shop_buyers`.

    A buyer's nickname and phone are the first the file gives; its risk flag everywhere
    is on its last row without a shop. A shop's flag and tags for a buyer are on the last
    row of that shop and buyer (tags "a|b" stored as the JSON list ["a", "b"]). Checked
    tables hold no empty strings (blank cells are null), so "first" is the first non-null.
    """
    last = pc.ScalarAggregateOptions(skip_nulls=False)
    people = buyers.group_by("buyer_id", use_threads=False).aggregate(
        [("nickname", "first"), ("phone", "first")]
    )
    everywhere = buyers.filter(pc.is_null(buyers["shop_id"]))
    flags = everywhere.group_by("buyer_id", use_threads=False).aggregate([("risk_flag", "last", last)])
    found = pc.index_in(people["buyer_id"], value_set=flags["buyer_id"])
    people_rows = pa.table(
        {
            "id": people["buyer_id"],
            "nickname": people["nickname_first"],
            "phone": people["phone_first"],
            "risk_flag": flags["risk_flag_last"].take(found),
        }
    )
    at_shops = buyers.filter(pc.is_valid(buyers["shop_id"]))
    described = _sorted(
        at_shops.group_by(["shop_id", "buyer_id"], use_threads=False).aggregate(
            [("risk_flag", "last", last), ("tags", "last", last)]
        )
    )
    tags = described["tags_last"].fill_null("")
    lists = pc.unique(tags)
    as_json = [
        json.dumps([tag for tag in text.split("|") if tag], ensure_ascii=False) for text in lists.to_pylist()
    ]
    shop_rows = pa.table(
        {
            "shop_id": described["shop_id"],
            "buyer_id": described["buyer_id"],
            "risk_flag": described["risk_flag_last"],
            "tags": pa.array(as_json, pa.string()).take(pc.index_in(tags, value_set=lists)),
        }
    )
    return people_rows, shop_rows


def _distinct_rows(t: dict[str, pa.Table], names: list[str], columns: list[str]) -> pa.Table:
    """The distinct combinations of `columns` over the named tables, sorted (nulls last)."""
    schema = pa.schema([(c, pa.string()) for c in columns])
    parts = [t[n].select(columns).cast(schema).group_by(columns).aggregate([]) for n in names]
    if not parts:
        return schema.empty_table()
    return _sorted(pa.concat_tables(parts).group_by(columns).aggregate([]))


def _sorted(table: pa.Table) -> pa.Table:
    """Rows in order of their string columns, first to last (as Python sorts their tuples)."""
    return table.sort_by([(c, "ascending") for c in table.column_names])


def _write_staff(conn: Connection, t: dict[str, pa.Table]) -> None:
    pairs: set[tuple[str, str]] = set()
    messages = t["messages"]
    agent_rows = messages.filter(pc.equal(messages["sender"], "agent"))
    pairs |= _pairs({"m": agent_rows}, ("m",), "shop_id", "agent_id")
    pairs |= _pairs(t, ("ratings", "agents", "rating_invitations"), "shop_id", "agent_id")
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
    """The shop selling each product, where the dataset tells (reviews carry it; lines through orders).

    A product's last review names its shop; else the order of its first line in the file.
    """
    shop_of: dict[str, str] = {}
    last = pc.ScalarAggregateOptions(skip_nulls=False)
    if "order_items" in t and "orders" in t:
        orders, items = t["orders"], t["order_items"]
        found = pc.index_in(items["order_id"], value_set=orders["order_id"])
        lines = pa.table({"product_id": items["product_id"], "shop_id": orders["shop_id"].take(found)})
        lines = lines.filter(pc.is_valid(found))
        first = lines.group_by("product_id", use_threads=False).aggregate([("shop_id", "first", last)])
        shop_of.update(zip(first["product_id"].to_pylist(), first["shop_id_first"].to_pylist(), strict=True))
    if "reviews" in t:
        reviews = t["reviews"]
        latest = reviews.group_by("product_id", use_threads=False).aggregate([("shop_id", "last", last)])
        shop_of.update(zip(latest["product_id"].to_pylist(), latest["shop_id_last"].to_pylist(), strict=True))
    shop_of.pop(None, None)
    return shop_of
