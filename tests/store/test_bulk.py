"""Bulk loads of Arrow tables into the store and typed reads back out, on every dialect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy import Engine, event, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from kefu.store import bulk
from kefu.store.models import Buyer, Conversation, Message, Rating, Shop, ShopBuyer

T0 = datetime(2026, 11, 20, 2, 15, 2, tzinfo=UTC)
UTC_US = pa.timestamp("us", "UTC")


def _shops(*rows: tuple[str, str, str]) -> pa.Table:
    return pa.table({
        "id": pa.array([r[0] for r in rows], pa.string()),
        "name": pa.array([r[1] for r in rows], pa.string()),
        "timezone": pa.array([r[2] for r in rows], pa.string()),
    })


def _stored_shops(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(select(Shop.id, Shop.name, Shop.timezone).order_by(Shop.id)).all()


def _load(engine: Engine, name: str, data: pa.Table, key: list[str], **options) -> None:
    with engine.begin() as conn:
        bulk.upsert(conn, name, data, key, **options)


def test_upsert_into_an_empty_table_inserts_every_row(engine):
    shops = [("000123", "小米旗舰店", "Asia/Shanghai"), ("s2", "NY", "America/New_York")]

    _load(engine, "shops", _shops(*shops), ["id"])

    assert _stored_shops(engine) == shops


def test_upsert_updates_existing_rows_and_inserts_new_ones(engine):
    _load(engine, "shops", _shops(("000123", "old", "Asia/Shanghai"), ("s2", "two", "Asia/Shanghai")), ["id"])

    _load(engine, "shops", _shops(("000123", "new", "America/New_York"), ("s3", "three", "UTC")), ["id"])

    assert _stored_shops(engine) == [
        ("000123", "new", "America/New_York"),
        ("s2", "two", "Asia/Shanghai"),
        ("s3", "three", "UTC"),
    ]


def test_insert_only_leaves_existing_rows_alone(engine):
    _load(engine, "shops", _shops(("000123", "described", "America/New_York")), ["id"])

    stubs = _shops(("000123", "stub", "Asia/Shanghai"), ("s2", "stub", "Asia/Shanghai"))

    _load(engine, "shops", stubs, ["id"], insert_only=True)

    assert _stored_shops(engine) == [
        ("000123", "described", "America/New_York"),
        ("s2", "stub", "Asia/Shanghai"),
    ]


def _ratings(rows: list[tuple[str, int, str]]) -> pa.Table:
    return pa.table({
        "id": pa.array([r[0] for r in rows], pa.string()),
        "ordinal": pa.array([r[1] for r in rows], pa.int64()),
        "conversation_id": pa.array(["c1"] * len(rows), pa.string()),
        "shop_id": pa.array(["s1"] * len(rows), pa.string()),
        "buyer_id": pa.array(["b1"] * len(rows), pa.string()),
        "rated_at": pa.array([T0] * len(rows), UTC_US),
        "score": pa.array([r[2] for r in rows], pa.string()),
    })


def test_keep_columns_keep_their_old_value_on_update(engine):
    _load(engine, "shops", _shops(("s1", "s1", "Asia/Shanghai")), ["id"])
    first = _ratings([("r1", 0, "satisfied"), ("r2", 1, "neutral")])
    _load(engine, "ratings", first, ["id"], keep=["ordinal"])

    _load(engine, "ratings", _ratings([("r2", 70, "very_dissatisfied"), ("r3", 71, "satisfied")]), ["id"],
          keep=["ordinal"])

    with engine.connect() as conn:
        stored = conn.execute(select(Rating.id, Rating.ordinal, Rating.score).order_by(Rating.id)).all()
    assert stored == [("r1", 0, "satisfied"), ("r2", 1, "very_dissatisfied"), ("r3", 71, "satisfied")]


BIG = 10_000  # the size from which a first load drops the indexes and builds them afterwards


def _conversations(count: int) -> pa.Table:
    return pa.table({
        "id": pa.array([f"c{i:04d}" for i in range(count)], pa.string()),
        "shop_id": pa.array(["s1"] * count, pa.string()),
        "buyer_id": pa.array([f"b{i}" for i in range(count)], pa.string()),
    })


def _messages(count: int, conversations: int, first_seq: int = 0) -> pa.Table:
    rows = range(count)
    return pa.table({
        "conversation_id": pa.array([f"c{i % conversations:04d}" for i in rows], pa.string()),
        "seq": pa.array([first_seq + i // conversations for i in rows], pa.int64()),
        "ordinal": pa.array(list(rows), pa.int64()),
        "sender": pa.array(["buyer" if i % 2 else "agent" for i in rows], pa.string()),
        "agent_id": pa.array([None if i % 2 else "a1" for i in rows], pa.string()),
        "sent_at": pa.array([T0 + timedelta(seconds=i) for i in rows], UTC_US),
        "text": pa.array([f"第{i}条" for i in rows], pa.string()),
    })


MESSAGE_KEY = ["conversation_id", "seq"]


def _load_messages(engine: Engine, data: pa.Table) -> None:
    """Load messages as the import does: keyed by conversation and seq, keeping the first ordinal."""
    _load(engine, "messages", data, MESSAGE_KEY, keep=["ordinal"])


def _structure(engine: Engine, name: str) -> tuple:
    found = inspect(engine)
    indexes = sorted(
        (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(name)
    )
    keys = sorted((k["name"], tuple(k["constrained_columns"])) for k in found.get_foreign_keys(name))
    return indexes, keys


@pytest.fixture
def big_first_load(engine):
    """The store before a first load of BIG messages: shops and conversations in place."""
    _load(engine, "shops", _shops(("s1", "s1", "Asia/Shanghai")), ["id"])
    _load(engine, "conversations", _conversations(100), ["id"])
    return engine


@contextmanager
def ddl_statements(engine: Engine) -> Iterator[list[str]]:
    """The DROP/CREATE/ALTER statements the block sends (observed, not mocked)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith(("DROP", "CREATE", "ALTER")):
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_big_first_load_stores_every_row_and_rebuilds_the_indexes(big_first_load):
    engine = big_first_load
    before = _structure(engine, "messages")

    with ddl_statements(engine) as ddl:
        _load_messages(engine, _messages(BIG, 100))

    assert _structure(engine, "messages") == before
    names = sorted(i.name for i in Message.__table__.indexes)
    assert sorted(s.split()[-1] for s in ddl if s.startswith("DROP INDEX")) == names
    assert len([s for s in ddl if s.startswith("CREATE") and "INDEX" in s]) == len(names)
    if engine.dialect.name == "postgresql":
        assert [s for s in ddl if s.startswith("ALTER")] == [
            "ALTER TABLE messages DROP CONSTRAINT fk_messages_conversation_id_conversations",
            "ALTER TABLE messages ADD CONSTRAINT fk_messages_conversation_id_conversations FOREIGN KEY"
            "(conversation_id) REFERENCES conversations (id)",
        ]
    with engine.connect() as conn:
        assert conn.execute(select(Message.id).order_by(Message.id.desc()).limit(1)).scalar_one() == BIG
        last = conn.execute(select(Message.conversation_id, Message.seq, Message.sent_at, Message.text)
                            .where(Message.ordinal == BIG - 1)).one()
    assert tuple(last) == ("c0099", 99, T0 + timedelta(seconds=BIG - 1), f"第{BIG - 1}条")


def test_a_smaller_first_load_keeps_the_indexes(big_first_load):
    with ddl_statements(big_first_load) as ddl:
        _load_messages(big_first_load, _messages(BIG - 1, 100))

    assert ddl == []


def test_after_a_big_first_load_the_unique_index_refuses_a_duplicate(big_first_load):
    engine = big_first_load
    _load_messages(engine, _messages(BIG, 100))

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(Message).values(conversation_id="c0007", seq=3, ordinal=BIG, sender="buyer",
                                            sent_at=T0, text="again"))

    # An upsert of existing keys updates them in place (ON CONFLICT needs the rebuilt index).
    _load_messages(engine, _messages(200, 100, first_seq=99))
    with engine.connect() as conn:
        assert conn.execute(select(Message.id).order_by(Message.id.desc()).limit(1)).scalar_one() > BIG
        row = conn.execute(select(Message.ordinal, Message.text).where(Message.conversation_id == "c0000",
                                                                       Message.seq == 99)).one()
    assert tuple(row) == (9900, "第0条")  # ordinal kept from the first load, text updated


def test_big_first_load_with_a_repeated_key_stores_nothing(big_first_load):
    engine = big_first_load
    before = _structure(engine, "messages")
    data = _messages(BIG, 100)
    repeated = pa.concat_tables([data, data.slice(17, 1)])

    with pytest.raises(IntegrityError):
        _load_messages(engine, repeated)

    with engine.connect() as conn:
        assert conn.execute(select(Message.id)).first() is None
    assert _structure(engine, "messages") == before  # the dropped indexes came back with the rollback


def test_a_rollback_after_a_big_first_load_leaves_the_table_as_it_was(big_first_load):
    """The whole import is one transaction: a later failure takes the load and its index work back."""
    engine = big_first_load
    before = _structure(engine, "messages")

    with pytest.raises(RuntimeError), engine.begin() as conn:
        bulk.upsert(conn, "messages", _messages(BIG, 100), MESSAGE_KEY, keep=["ordinal"])
        raise RuntimeError("a later table of the same import fails")

    assert _structure(engine, "messages") == before
    with engine.connect() as conn:
        assert conn.execute(select(Message.id)).first() is None
    _load_messages(engine, _messages(BIG, 100))  # loads again


def test_big_first_load_refuses_a_message_of_an_unknown_conversation(big_first_load):
    engine = big_first_load
    data = _messages(BIG, 100)
    stray = data.slice(0, 1).set_column(0, "conversation_id", pa.array(["nowhere"], pa.string()))

    with pytest.raises(IntegrityError):
        _load_messages(engine, pa.concat_tables([data, stray]))

    with engine.connect() as conn:
        assert conn.execute(select(Message.id)).first() is None


def test_read_table_returns_typed_columns(engine):
    _load(engine, "shops", _shops(("s1", "s1", "Asia/Shanghai")), ["id"])
    _load(engine, "conversations", _conversations(1), ["id"])
    with engine.begin() as conn:
        conn.execute(insert(Rating).values([
            {"id": "000123", "ordinal": 0, "conversation_id": "c0000", "shop_id": "s1", "buyer_id": "b0",
             "agent_id": None, "rated_at": T0 + timedelta(microseconds=654321), "score": "satisfied",
             "robot": True, "tags": "回复快|态度好"},
            {"id": "000124", "ordinal": 1, "conversation_id": "c0000", "shop_id": "s1", "buyer_id": "b0",
             "agent_id": "a1", "rated_at": T0, "score": "neutral", "robot": False, "tags": None},
        ]))
        conn.execute(insert(Conversation.__table__).values(id="c0001", shop_id="s1", buyer_id="b1"))
        conn.execute(insert(Buyer).values(id="b1"))
        conn.execute(insert(ShopBuyer).values(shop_id="s1", buyer_id="b1", tags=["老客户", "VIP"]))

    with engine.connect() as conn:
        ratings = bulk.read_table(conn, "ratings", ["id", "ordinal", "agent_id", "rated_at", "robot", "tags"],
                                  ["ordinal"])
        conversations = bulk.read_table(conn, "conversations", ["id", "started_at"], ["id"])
        links = bulk.read_table(conn, "shop_buyers", ["buyer_id", "tags", "attributes"], ["buyer_id"])

    assert ratings.schema == pa.schema([
        ("id", pa.string()), ("ordinal", pa.int64()), ("agent_id", pa.string()), ("rated_at", UTC_US),
        ("robot", pa.bool_()), ("tags", pa.string()),
    ])
    assert ratings.to_pylist() == [
        {"id": "000123", "ordinal": 0, "agent_id": None, "rated_at": T0 + timedelta(microseconds=654321),
         "robot": True, "tags": "回复快|态度好"},
        {"id": "000124", "ordinal": 1, "agent_id": "a1", "rated_at": T0, "robot": False, "tags": None},
    ]
    assert conversations.schema.field("started_at").type == UTC_US
    assert conversations["started_at"].to_pylist() == [None, None]
    # JSON columns come back as JSON text on every dialect.
    assert links.schema.field("tags").type == pa.string()
    assert [json.loads(t) for t in links["tags"].to_pylist()] == [["老客户", "VIP"]]
    assert [json.loads(t) for t in links["attributes"].to_pylist()] == [{}]


def test_money_goes_through_bulk_load_and_read_exactly(engine):
    amounts = [Decimal(a) for a in ("0.10", "0.07", "1.15", "12345678.99", "9999999999.99")]
    _load(engine, "shops", _shops(("s1", "s1", "Asia/Shanghai")), ["id"])
    orders = pa.table({
        "id": pa.array([f"{i:06d}" for i in range(len(amounts))]),
        "shop_id": pa.array(["s1"] * len(amounts)),
        "buyer_id": pa.array(["b1"] * len(amounts)),
        "created_at": pa.array([T0] * len(amounts), UTC_US),
        "amount": pa.array(amounts, pa.decimal128(12, 2)),
    })
    _load(engine, "orders", orders, ["id"])

    with engine.connect() as conn:
        stored = bulk.read_table(conn, "orders", ["id", "amount", "paid_at"], ["id"])

    assert stored.schema.field("amount").type == pa.decimal128(12, 2)
    assert stored["amount"].to_pylist() == amounts
    assert [str(a) for a in stored["amount"].to_pylist()] == [str(a) for a in amounts]
    assert stored["paid_at"].to_pylist() == [None] * len(amounts)
