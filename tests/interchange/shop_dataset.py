"""A small, realistic shop dataset written in every encoding the reader accepts, and a way to dump a store.

Two shops (one in Shanghai's zone by default, one in New York's), three chats, two orders,
three refunds, three ratings and two reviews. Each table goes to disk in a different
encoding, the way sellers' exports arrive: messages as CSV with a BOM, orders as JSON
Lines, ratings as Parquet, reviews as an Excel sheet, refunds as a folder of two CSV parts
(the second GB18030, as Chinese Excel saves it). Failure tests spoil a copy of the rows,
so they share every other byte with the good dataset (see conftest.py for the fixtures).
"""

from __future__ import annotations

import copy
import csv
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from sqlalchemy import Engine, select

from kefu.store.models import Base

Rows = dict[str, list[dict]]
SHANGHAI = ZoneInfo("Asia/Shanghai")

MESSAGE_FIELDS = ["conversation_id", "shop_id", "buyer_id", "sender", "agent_id", "sent_at", "text"]
REFUND_FIELDS = ["refund_id", "order_id", "product_id", "reason", "amount", "requested_at", "completed_at",
                 "status"]
REVIEW_FIELDS = ["review_id", "order_id", "shop_id", "buyer_id", "product_id", "created_at", "rating",
                 "dsr_description", "dsr_service", "dsr_shipping", "text"]

GOOD: Rows = {
    "shops": [
        {"shop_id": "000123", "name": "小米旗舰店", "category": "electronics"},  # no timezone: Asia/Shanghai
        {"shop_id": "ny01", "name": "Brooklyn Tea", "category": "food", "timezone": "America/New_York"},
    ],
    "messages": [
        {"conversation_id": "c-0001", "shop_id": "000123", "buyer_id": "000456", "sender": "buyer",
         "agent_id": "", "sent_at": "2026-11-20T10:15:02+08:00", "text": "你好，这个耳机有货吗？"},
        # Same instant as the line above: stays after it.
        {"conversation_id": "c-0001", "shop_id": "000123", "buyer_id": "000456", "sender": "bot",
         "agent_id": "", "sent_at": "2026-11-20T10:15:02+08:00", "text": "亲，在的哦～"},
        {"conversation_id": "c-0001", "shop_id": "000123", "buyer_id": "000456", "sender": "agent",
         "agent_id": "a01", "sent_at": "2026-11-20T02:15:05Z", "text": '他说"好的，马上发"\n然后就下线了 😅'},
        # No offset: the shop's zone (Asia/Shanghai). Empty text: a product card.
        {"conversation_id": "c-0001", "shop_id": "000123", "buyer_id": "000456", "sender": "system",
         "agent_id": "", "sent_at": "2026-11-20 10:16:00", "text": ""},
        {"conversation_id": "c-0002", "shop_id": "ny01", "buyer_id": "b-77", "sender": "buyer",
         "agent_id": "", "sent_at": "2026-11-20T09:00:00-05:00", "text": "Hi, is the oolong fresh? 🍵"},
        # No offset, in New York: the same instant as the line above, and the one below.
        {"conversation_id": "c-0002", "shop_id": "ny01", "buyer_id": "b-77", "sender": "agent",
         "agent_id": "a01", "sent_at": "2026-11-20 09:00:00", "text": "Hello! Picked last week."},
        {"conversation_id": "c-0002", "shop_id": "ny01", "buyer_id": "b-77", "sender": "buyer",
         "agent_id": "", "sent_at": "2026-11-20T14:00:00Z", "text": "订单号 000789, thanks"},
        {"conversation_id": "c-0003", "shop_id": "000123", "buyer_id": "000456", "sender": "buyer",
         "agent_id": "", "sent_at": "2026-11-21T08:00:00+08:00", "text": "我要退款"},
    ],
    "orders": [
        {"order_id": "000789", "shop_id": "000123", "buyer_id": "000456",
         "created_at": "2026-11-20T10:20:00+08:00", "paid_at": "2026-11-20T10:21:30.250+08:00",
         "amount": 0.10, "status": "completed"},
        {"order_id": "o-ny-1", "shop_id": "ny01", "buyer_id": "b-77", "created_at": "2026-11-20 09:30:00",
         "paid_at": None, "amount": 12345678.99, "status": "unpaid", "address": "Brooklyn, NY"},
    ],
    "ratings": [
        {"rating_id": "000001", "conversation_id": "c-0001", "shop_id": "000123", "buyer_id": "000456",
         "agent_id": "a01", "rated_at": datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI),
         "score": "very_satisfied", "robot": False, "tags": "回复快|专业"},
        {"rating_id": "000002", "conversation_id": "c-0002", "shop_id": "ny01", "buyer_id": "b-77",
         "agent_id": None, "rated_at": datetime(2026, 11, 20, 23, 5, tzinfo=SHANGHAI),
         "score": "dissatisfied", "robot": True, "tags": None},
        {"rating_id": "000003", "conversation_id": "c-0003", "shop_id": "000123", "buyer_id": "000456",
         "agent_id": None, "rated_at": datetime(2026, 11, 21, 8, 1, tzinfo=SHANGHAI), "score": "satisfied",
         "robot": None, "tags": ""},
    ],
    "reviews": [
        # An Excel date cell holds wall-clock time: read in the shop's zone.
        {"review_id": "rv-1", "order_id": "000789", "shop_id": "000123", "buyer_id": "000456",
         "product_id": "p-01", "created_at": datetime(2026, 11, 25, 20, 0, tzinfo=SHANGHAI), "rating": "good",
         "dsr_description": 5, "dsr_service": 5, "dsr_shipping": 4, "text": "音质很好，物流也快"},
        {"review_id": "rv-2", "order_id": "o-ny-1", "shop_id": "ny01", "buyer_id": "b-77", "product_id": None,
         "created_at": "2026-11-26T08:00:00-05:00", "rating": "bad",
         "dsr_description": None, "dsr_service": None, "dsr_shipping": None, "text": None},
    ],
    "refunds/part-1": [
        {"refund_id": "rf-1", "order_id": "000789", "product_id": "p-01", "reason": "质量问题",
         "amount": "0.10", "requested_at": "2026-11-22 09:00:00", "completed_at": "2026-11-23T09:00:00+08:00",
         "status": "completed"},
    ],
    "refunds/part-2": [  # GB18030
        {"refund_id": "rf-2", "order_id": "o-ny-1", "product_id": "", "reason": "不想要了，拍错了",
         "amount": "12.00", "requested_at": "2026-11-22 09:00:00", "completed_at": "", "status": "cancelled"},
        # An order outside the dataset: no shop known, so the default zone (Asia/Shanghai).
        {"refund_id": "rf-3", "order_id": "x-999", "product_id": "", "reason": "七天无理由", "amount": "5",
         "requested_at": "2026-11-22 09:00:00", "completed_at": "", "status": "requested"},
    ],
}


def good_rows() -> Rows:
    return copy.deepcopy(GOOD)


def _write_csv(path: Path, fields: list[str], rows: list[dict], encoding: str) -> None:
    present = [f for f in fields if any(f in row for row in rows)]
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, present, extrasaction="ignore")  # \r\n line ends, as Excel writes
        writer.writeheader()
        writer.writerows(rows)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_parquet(path: Path, rows: list[dict]) -> None:
    strings = [k for k in rows[0] if k not in ("rated_at", "robot")]
    table = pa.table({
        **{k: pa.array([r.get(k) for r in rows], pa.string()) for k in strings},
        "rated_at": pa.array([r["rated_at"] for r in rows], pa.timestamp("us", "Asia/Shanghai")),
        "robot": pa.array([r["robot"] for r in rows], pa.bool_()),
    })
    pq.write_table(table, path)


def _write_xlsx(path: Path, rows: list[dict]) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "评价"
    sheet.append(REVIEW_FIELDS)
    sheet.append([])  # sellers leave blank rows; the row numbers in messages must still be the sheet's
    for row in rows:
        values = []
        for name in REVIEW_FIELDS:
            value = row.get(name)
            if isinstance(value, datetime):
                value = value.replace(tzinfo=None)  # Excel keeps wall-clock time only
            values.append(value)
        sheet.append(values)
    book.save(path)


def write_dataset(folder: Path, rows: Rows) -> Path:
    """Write `rows` as the dataset folder described at the top of this module."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / "shops.jsonl", rows["shops"])
    with (folder / "messages.csv").open("wb") as fh:
        fh.write("\ufeff".encode())
    with (folder / "messages.csv").open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, [f for f in MESSAGE_FIELDS if any(f in r for r in rows["messages"])])
        writer.writeheader()
        writer.writerows(rows["messages"])
    _write_jsonl(folder / "orders.jsonl", rows["orders"])
    _write_parquet(folder / "ratings.parquet", rows["ratings"])
    _write_xlsx(folder / "reviews.xlsx", rows["reviews"])
    (folder / "refunds").mkdir(exist_ok=True)
    _write_csv(folder / "refunds" / "part-1.csv", REFUND_FIELDS, rows["refunds/part-1"], "utf-8")
    _write_csv(folder / "refunds" / "part-2.csv", REFUND_FIELDS, rows["refunds/part-2"], "gb18030")
    return folder


def line_of(path: Path, marker: str, encoding: str = "utf-8-sig") -> int:
    """The 1-based line of `path` where `marker` first appears (as an editor counts lines)."""
    for number, line in enumerate(path.read_text(encoding=encoding).split("\n"), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def dump_store(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary key order."""
    dump = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            dump[table.name] = [tuple(r) for r in rows]
    return dump


def assert_store_empty(engine: Engine) -> None:
    assert {name: rows for name, rows in dump_store(engine).items() if rows} == {}
