"""`kefu import`: a dataset in mixed encodings is stored whole and once, or refused with file, line, field."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from shop_dataset import Rows, assert_store_empty, dump_store, line_of
from sqlalchemy import Engine, inspect, select, text

from kefu.cli import main
from kefu.interchange.errors import DatasetError
from kefu.interchange.importing import do_import
from kefu.store.models import (
    Buyer,
    Conversation,
    Message,
    Order,
    Product,
    Rating,
    Refund,
    Review,
    Shop,
    ShopBuyer,
    Staff,
)


def utc(stamp: str) -> datetime:
    """An instant written in UTC, e.g. "2026-11-20 02:15:02"."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def rows_of(engine: Engine, model, columns: str, order_by: str | None = None) -> list[tuple]:
    """The named columns of a model's table, ordered by `order_by` (default: all of them, in turn)."""
    table = model.__table__
    selected = [table.c[name] for name in columns.split()]
    order = [table.c[name] for name in order_by.split()] if order_by else selected
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*selected).order_by(*order))]


def test_every_row_is_stored_with_its_values(engine, good_dataset):
    summary = do_import(engine, good_dataset)

    assert summary.rows == {"shops": 2, "messages": 8, "orders": 2, "refunds": 3, "ratings": 3, "reviews": 2}
    assert rows_of(engine, Shop, "id name category timezone") == [
        ("000123", "小米旗舰店", "electronics", "Asia/Shanghai"),
        ("ny01", "Brooklyn Tea", "food", "America/New_York"),
    ]
    # Equal instants keep the file's order, whatever offset each was written with.
    message = "conversation_id seq ordinal sender agent_id sent_at text"
    assert rows_of(engine, Message, message, "ordinal") == [
        ("c-0001", 0, 0, "buyer", None, utc("2026-11-20 02:15:02"), "你好，这个耳机有货吗？"),
        ("c-0001", 1, 1, "bot", None, utc("2026-11-20 02:15:02"), "亲，在的哦～"),
        ("c-0001", 2, 2, "agent", "a01", utc("2026-11-20 02:15:05"), '他说"好的，马上发"\n然后就下线了 😅'),
        ("c-0001", 3, 3, "system", None, utc("2026-11-20 02:16:00"), ""),
        ("c-0002", 0, 4, "buyer", None, utc("2026-11-20 14:00:00"), "Hi, is the oolong fresh? 🍵"),
        ("c-0002", 1, 5, "agent", "a01", utc("2026-11-20 14:00:00"), "Hello! Picked last week."),
        ("c-0002", 2, 6, "buyer", None, utc("2026-11-20 14:00:00"), "订单号 000789, thanks"),
        ("c-0003", 0, 7, "buyer", None, utc("2026-11-21 00:00:00"), "我要退款"),
    ]
    conversation = "id shop_id buyer_id started_at last_message_at assigned_agent_id"
    assert rows_of(engine, Conversation, conversation, "id") == [
        ("c-0001", "000123", "000456", utc("2026-11-20 02:15:02"), utc("2026-11-20 02:16:00"), "a01"),
        ("c-0002", "ny01", "b-77", utc("2026-11-20 14:00:00"), utc("2026-11-20 14:00:00"), "a01"),
        ("c-0003", "000123", "000456", utc("2026-11-21 00:00:00"), utc("2026-11-21 00:00:00"), None),
    ]
    assert rows_of(engine, Order, "id shop_id buyer_id created_at paid_at amount status address", "id") == [
        ("000789", "000123", "000456", utc("2026-11-20 02:20:00"), utc("2026-11-20 02:21:30.250"),
         Decimal("0.10"), "completed", None),
        ("o-ny-1", "ny01", "b-77", utc("2026-11-20 14:30:00"), None, Decimal("12345678.99"), "unpaid",
         "Brooklyn, NY"),
    ]
    refund = "id order_id product_id reason amount requested_at completed_at status"
    assert rows_of(engine, Refund, refund, "id") == [
        ("rf-1", "000789", "p-01", "质量问题", Decimal("0.10"), utc("2026-11-22 01:00:00"),
         utc("2026-11-23 01:00:00"), "completed"),
        # The GB18030 part. Times without offset: in the zone of the order's shop, or the default one.
        ("rf-2", "o-ny-1", None, "不想要了，拍错了", Decimal("12.00"), utc("2026-11-22 14:00:00"), None,
         "cancelled"),
        ("rf-3", "x-999", None, "七天无理由", Decimal("5.00"), utc("2026-11-22 01:00:00"), None, "requested"),
    ]
    rating = "id ordinal conversation_id shop_id buyer_id agent_id rated_at score robot tags"
    assert rows_of(engine, Rating, rating, "id") == [
        ("000001", 0, "c-0001", "000123", "000456", "a01", utc("2026-11-20 02:30:00"), "very_satisfied",
         False, "回复快|专业"),
        ("000002", 1, "c-0002", "ny01", "b-77", None, utc("2026-11-20 15:05:00"), "dissatisfied", True, None),
        ("000003", 2, "c-0003", "000123", "000456", None, utc("2026-11-21 00:01:00"), "satisfied", False,
         None),
    ]
    review = "id order_id shop_id buyer_id product_id created_at rating"
    review += " dsr_description dsr_service dsr_shipping text"
    assert rows_of(engine, Review, review, "id") == [
        ("rv-1", "000789", "000123", "000456", "p-01", utc("2026-11-25 12:00:00"), "good", 5, 5, 4,
         "音质很好，物流也快"),
        ("rv-2", "o-ny-1", "ny01", "b-77", None, utc("2026-11-26 13:00:00"), "bad", None, None, None, None),
    ]
    # Named but not described: stubs. The agent id a01 works at both shops, so logins get the shop.
    assert rows_of(engine, Staff, "shop_id agent_id username role") == [
        ("000123", "a01", "000123.a01", "agent"),
        ("ny01", "a01", "ny01.a01", "agent"),
    ]
    assert rows_of(engine, Buyer, "id") == [("000456",), ("b-77",)]
    assert rows_of(engine, ShopBuyer, "shop_id buyer_id") == [("000123", "000456"), ("ny01", "b-77")]
    assert rows_of(engine, Product, "id shop_id") == [("p-01", "000123")]


def test_importing_the_same_dataset_twice_leaves_the_store_as_the_first_import_did(engine, good_dataset):
    first = do_import(engine, good_dataset)
    after_first = dump_store(engine)

    second = do_import(engine, good_dataset)

    assert dump_store(engine) == after_first
    assert (first.repeated, second.repeated) == (False, True)
    assert [row[4] for row in after_first["audit_log"]] == ["dataset_imported"]


def test_the_same_rows_from_other_files_change_nothing_but_the_audit_log(engine, good_dataset, tmp_path):
    do_import(engine, good_dataset)
    before = dump_store(engine)
    copy = shutil.copytree(good_dataset, tmp_path / "copy")
    (copy / "orders.jsonl").write_text((copy / "orders.jsonl").read_text() + "\n", encoding="utf-8")

    do_import(engine, copy)

    after = dump_store(engine)
    audit = after.pop("audit_log")
    assert after == {k: v for k, v in before.items() if k != "audit_log"}
    assert audit[:1] == before["audit_log"]
    assert len(audit) == 2


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_import_then_export(db_url, good_dataset, tmp_path):
    result = invoke("import", str(good_dataset), "--db", db_url)

    assert result.exit_code == 0, result.output
    assert "imported 20 rows" in result.output
    result = invoke("export", str(tmp_path / "out"), "--format", "csv", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "agents.csv", "buyers.csv", "messages.csv", "orders.csv", "products.csv", "ratings.csv",
        "refunds.csv", "reviews.csv", "shops.csv",
    ]


def test_cli_import_of_a_bad_timestamp_exits_2_and_stores_nothing(db_url, engine, spoilt_dataset):
    def spoil(rows: Rows) -> None:
        rows["messages"][5]["sent_at"] = "2026-11-20 09:00:00 EST"

    folder = spoilt_dataset(spoil)
    line = line_of(folder / "messages.csv", "09:00:00 EST")

    result = invoke("import", str(folder), "--db", db_url)

    assert result.exit_code == 2
    problem = f"messages.csv line {line}, field sent_at: '2026-11-20 09:00:00 EST' is not an RFC 3339"
    assert problem in result.output
    assert "nothing was stored" in result.output
    assert line == 8  # the quoted text of line 4 spans two lines
    assert_store_empty(engine)
    assert set(inspect(engine).get_table_names()) - set(dump_store(engine)) == {"alembic_version"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


@dataclass(frozen=True)
class Bad:
    """A way to spoil the good dataset and the problem the import must report first."""

    name: str
    spoil: object  # (rows) -> None, or (folder) -> None when `after_writing`
    file: str  # path of the file in the dataset
    marker: str | None  # text on the reported line; None: the location is `where`
    field: str | None
    message: str
    where: str | None = None
    after_writing: bool = False


def _set(table: str, index: int, **values):
    def spoil(rows: Rows) -> None:
        rows[table][index].update(values)

    return spoil


def _drop(table: str, index: int, name: str):
    def spoil(rows: Rows) -> None:
        del rows[table][index][name]

    return spoil


def _drop_column(table: str, name: str):
    def spoil(rows: Rows) -> None:
        for row in rows[table]:
            del row[name]

    return spoil


def _not_json(folder: Path) -> None:
    path = folder / "orders.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, '{"order_id": "o-3", "shop_id": "000123",')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _messages_twice(folder: Path) -> None:
    (folder / "messages.jsonl").write_text(json.dumps({"conversation_id": "c-9"}) + "\n", encoding="utf-8")


BAD = [
    Bad("order without buyer_id", _drop("orders", 1, "buyer_id"),
        "orders.jsonl", '"o-ny-1"', "buyer_id", "is required but empty or missing"),
    Bad("messages without a sender column", _drop_column("messages", "sender"),
        "messages.csv", "你好", "sender", "is required but empty or missing (and 7 more rows like it)"),
    Bad("unparseable timestamp", _set("messages", 6, sent_at="2026-11-31T14:00:00Z"),
        "messages.csv", "2026-11-31", "sent_at", "'2026-11-31T14:00:00Z' is not an RFC 3339 timestamp"),
    Bad("unknown sender", _set("messages", 4, sender="customer"),
        "messages.csv", "oolong", "sender", "'customer' is not one of: buyer, agent, bot, system"),
    Bad("unknown score", _set("ratings", 1, score="great"),
        "ratings.parquet", None, "score", "'great' is not one of: very_satisfied",
        where="ratings.parquet row 2 (row group 0)"),
    Bad("agent message without agent_id", _set("messages", 5, agent_id=""),
        "messages.csv", "Picked last week", "agent_id", "an agent message needs the agent's id"),
    Bad("conversation changes shop", _set("messages", 3, shop_id="ny01"),
        "messages.csv", "10:16:00", "shop_id",
        "conversation 'c-0001' already has shop_id '000123' (at messages.csv line 2), here 'ny01'"),
    Bad("conversation changes buyer", _set("messages", 6, buyer_id="b-78"),
        "messages.csv", "thanks", "buyer_id",
        "conversation 'c-0002' already has buyer_id 'b-77' (at messages.csv line 7), here 'b-78'"),
    Bad("money with 3 decimals", _set("orders", 0, amount=12.345),
        "orders.jsonl", '"000789"', "amount", "'12.345' is not an amount in yuan with at most 2 decimal"),
    Bad("money with 3 decimals in a GB18030 part", _set("refunds/part-2", 1, amount="1.005"),
        "refunds/part-2.csv", "x-999", "amount", "'1.005' is not an amount in yuan"),
    Bad("duplicate order_id", _set("orders", 1, order_id="000789"),
        "orders.jsonl", "Brooklyn", "order_id", "order_id repeats the row at orders.jsonl line 1"),
    Bad("bad time in an Excel sheet", _set("reviews", 1, created_at="next Tuesday"),
        "reviews.xlsx", None, "created_at", "'next Tuesday' is not an RFC 3339 timestamp",
        where="reviews.xlsx row 4"),
    Bad("a line that is not JSON", _not_json,
        "orders.jsonl", '"o-3"', None, "not valid JSON", after_writing=True),
    Bad("messages given twice", _messages_twice,
        "messages.csv", None, None, "table given more than once (messages.csv, messages.jsonl)",
        where="messages", after_writing=True),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_is_refused_with_file_line_and_field(engine, spoilt_dataset, bad):
    folder = spoilt_dataset((lambda rows: None) if bad.after_writing else bad.spoil)
    if bad.after_writing:
        bad.spoil(folder)
    encoding = "gb18030" if bad.file.endswith("part-2.csv") else "utf-8-sig"
    where = bad.where or f"{bad.file} line {line_of(folder / bad.file, bad.marker, encoding)}"

    with pytest.raises(DatasetError) as refused:
        do_import(engine, folder)

    problem = refused.value.problems[0]
    assert (problem.where, problem.field) == (where, bad.field)
    assert bad.message in problem.message
    assert str(problem).startswith(f"{where}{f', field {bad.field}' if bad.field else ''}: ")
    assert_store_empty(engine)


def test_the_good_twin_of_the_bad_inputs_is_accepted(engine, spoilt_dataset):
    """The failure tests above start from this dataset: each fails for its own spoilt value only."""
    folder = spoilt_dataset(lambda rows: None)

    summary = do_import(engine, folder)

    assert sum(summary.rows.values()) == 20


# PostgreSQL's COPY path raises psycopg's own error (bulk uses the raw cursor), SQLite SQLAlchemy's.
def test_agent_ids_that_look_like_prefixed_logins_get_logins_of_their_own(engine, spoilt_dataset):
    def spoil(rows: Rows) -> None:
        rows["messages"][2]["agent_id"] = "ny01.a01"  # at shop 000123, next to a01 (who rated there)

    do_import(engine, spoilt_dataset(spoil))

    logins = rows_of(engine, Staff, "shop_id agent_id username")
    assert [login[:2] for login in logins] == [("000123", "a01"), ("000123", "ny01.a01"), ("ny01", "a01")]
    assert len({login[2] for login in logins}) == 3
