"""Export → import is the identity: random datasets survive the trip byte for byte, in every format.

The property runs on SQLite stores copied from one migrated template (fast); one fixed
dataset runs through the `engine` fixture, so PostgreSQL is held to the same promise.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop_dataset import dump_store
from sqlalchemy import Engine, select

from kefu.interchange.exporting import do_export
from kefu.interchange.importing import do_import
from kefu.interchange.schema import TABLES_BY_NAME, Kind
from kefu.interchange.writing import FORMATS, table_from_rows, write_table
from kefu.store.engine import make_engine
from kefu.store.migrate import upgrade
from kefu.store.models import Base, Message, Order, Rating, Refund
from kefu.vocabularies import ORDER_STATUSES, RATING_SCORES, REFUND_STATUSES, REVIEW_RATINGS, SENDERS

DEFAULT_ZONE = "Asia/Shanghai"
ZONES = ("Asia/Shanghai", "America/New_York", "Asia/Kolkata", "UTC", "Europe/London")
OFFSETS = ("+08:00", "Z", "-05:00", "+05:30", "+00:00", "-03:30", "")  # "": no offset, the shop's zone


@dataclass(frozen=True)
class Stamp:
    """A time as a file gives it: a wall clock, and an offset or none (then read in the shop's zone)."""

    wall: datetime  # naive on purpose: the date and time as written
    offset: str
    sep: str = "T"
    timespec: str = "seconds"

    @classmethod
    def of(cls, text: str) -> Stamp:
        """'2026-11-20T10:15:02.500+08:00' as a Stamp."""
        m = re.fullmatch(r"(\d{4}-\d\d-\d\d)([T ])(\d\d:\d\d:\d\d)(\.\d{3}|\.\d{6})?(Z|[+-]\d\d:\d\d)?", text)
        assert m, text
        timespec = {0: "seconds", 4: "milliseconds", 7: "microseconds"}[len(m[4] or "")]
        return cls(datetime.fromisoformat(f"{m[1]}T{m[3]}{m[4] or ''}"), m[5] or "", m[2], timespec)

    def text(self) -> str:
        return self.wall.isoformat(sep=self.sep, timespec=self.timespec) + self.offset

    def aware(self, zone: str) -> datetime:
        """The instant for a typed column: no offset, the wall time in `zone` (in a DST fold, the first)."""
        if self.offset:
            return datetime.fromisoformat(self.text())
        return self.wall.replace(tzinfo=ZoneInfo(zone))

    def instant(self, zone: str) -> datetime | None:
        """The UTC instant the text names; None for a wall time that DST skips or repeats in `zone`."""
        if self.offset:
            return datetime.fromisoformat(self.text()).astimezone(UTC)
        local = self.wall.replace(tzinfo=ZoneInfo(zone))
        skipped = local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != self.wall
        repeated = local.replace(fold=1).utcoffset() != local.utcoffset()
        return None if skipped or repeated else local.astimezone(UTC)


@dataclass
class Generated:
    """A dataset: rows per table (times as Stamps), and how each table goes to disk."""

    rows: dict[str, list[dict]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    typed_times: dict[str, str | None] = field(default_factory=dict)  # table -> zone of typed timestamps
    zones: dict[str, str] = field(default_factory=dict)  # shop -> zone
    order_shops: dict[str, str] = field(default_factory=dict)

    def zone_of(self, table: str, row: dict) -> str:
        """The zone a time without offset is read in: the row's shop, or its order's (refunds)."""
        shop = row["shop_id"] if "shop_id" in row else self.order_shops.get(row["order_id"])
        return self.zones.get(shop, DEFAULT_ZONE)


# ---- strategies -------------------------------------------------------------------------------------------

ids = st.one_of(
    st.from_regex(r"0[0-9]{1,6}", fullmatch=True),  # digits with leading zeros: "000123" stays "000123"
    st.from_regex(r"[a-z]{1,3}-?[0-9]{0,4}", fullmatch=True),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=3),  # 店铺
    st.sampled_from(["null", "NA", "NaN", "true", "0", "1e3"]),
)
TOKENS = ['"', "'", ",", "，", "。", "\n", "\r\n", "|", "\\", " ", "\t", "😅", "🍵", "👍🏻", "在吗", "亲",
          "ok", "000123", "null", "NA", "12.5"]
hanzi = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
texts = st.lists(st.sampled_from(TOKENS) | hanzi, max_size=8).map("".join)
non_empty_texts = texts.filter(lambda t: t != "")
walls = st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2029, 12, 31))  # noqa: DTZ001 (wall clock)
money = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2)


@st.composite
def stamps(draw) -> Stamp:
    wall = draw(walls).replace(microsecond=draw(st.just(0) | st.integers(1, 999_999)))
    timespec = "seconds" if wall.microsecond == 0 else draw(st.sampled_from(["milliseconds", "microseconds"]))
    if timespec == "milliseconds":
        wall = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
    return Stamp(wall, draw(st.sampled_from(OFFSETS)), draw(st.sampled_from(["T", " "])), timespec)


@st.composite
def datasets(draw) -> Generated:
    g = Generated()
    shop_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    buyer_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    agent_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    product_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    maybe = st.none

    if draw(st.sampled_from([True, True, False])):  # most datasets describe their shops
        g.rows["shops"] = []
        for shop in shop_ids:
            zone = draw(maybe() | st.sampled_from(ZONES))
            if zone:
                g.zones[shop] = zone
            g.rows["shops"].append({
                "shop_id": shop, "timezone": zone, "name": draw(maybe() | non_empty_texts),
                "category": draw(maybe() | st.sampled_from(["food", "clothing", "other"])),
            })

    conversations = draw(st.lists(st.tuples(ids, st.sampled_from(shop_ids), st.sampled_from(buyer_ids)),
                                  min_size=1, max_size=4, unique_by=lambda c: c[0]))
    g.rows["messages"] = []
    for _ in range(draw(st.integers(1, 10))):
        conversation, shop, buyer = draw(st.sampled_from(conversations))
        sender = draw(st.sampled_from(SENDERS))
        g.rows["messages"].append({
            "conversation_id": conversation, "shop_id": shop, "buyer_id": buyer, "sender": sender,
            "agent_id": draw(st.sampled_from(agent_ids)) if sender == "agent" else None,
            "sent_at": draw(stamps()), "text": draw(texts),
        })
    chats = {c[0]: c for c in conversations if any(m["conversation_id"] == c[0] for m in g.rows["messages"])}

    orders = draw(st.lists(ids, max_size=4, unique=True))
    g.rows["orders"] = [
        {"order_id": order, "shop_id": draw(st.sampled_from(shop_ids)),
         "buyer_id": draw(st.sampled_from(buyer_ids)), "created_at": draw(stamps()),
         "paid_at": draw(maybe() | stamps()), "amount": draw(money),
         "status": draw(maybe() | st.sampled_from(ORDER_STATUSES)),
         "address": draw(maybe() | non_empty_texts)}
        for order in orders
    ]
    g.order_shops = {o["order_id"]: o["shop_id"] for o in g.rows["orders"]}
    some_order = st.sampled_from(orders) | ids if orders else ids  # may be an order outside the dataset
    g.rows["refunds"] = [
        {"refund_id": refund, "order_id": draw(some_order),
         "product_id": draw(maybe() | st.sampled_from(product_ids)), "reason": draw(non_empty_texts),
         "amount": draw(money), "requested_at": draw(stamps()),
         "completed_at": draw(maybe() | stamps()), "status": draw(st.sampled_from(REFUND_STATUSES))}
        for refund in draw(st.lists(ids, max_size=3, unique=True))
    ]
    tag_lists = st.lists(non_empty_texts.filter(lambda t: "|" not in t), min_size=1, max_size=3).map("|".join)
    g.rows["ratings"] = []
    for rating in draw(st.lists(ids, max_size=3, unique=True)):
        conversation, shop, buyer = chats[draw(st.sampled_from(sorted(chats)))]
        g.rows["ratings"].append({
            "rating_id": rating, "conversation_id": conversation, "shop_id": shop, "buyer_id": buyer,
            "agent_id": draw(maybe() | st.sampled_from(agent_ids)), "rated_at": draw(stamps()),
            "score": draw(st.sampled_from(RATING_SCORES)),
            "robot": draw(st.sampled_from([None, True, False])), "tags": draw(maybe() | tag_lists),
        })
    dsr = maybe() | st.integers(1, 5)
    g.rows["reviews"] = [
        {"review_id": review, "order_id": draw(some_order), "shop_id": draw(st.sampled_from(shop_ids)),
         "buyer_id": draw(st.sampled_from(buyer_ids)),
         "product_id": draw(maybe() | st.sampled_from(product_ids)), "created_at": draw(stamps()),
         "rating": draw(st.sampled_from(REVIEW_RATINGS)),
         "dsr_description": draw(dsr), "dsr_service": draw(dsr), "dsr_shipping": draw(dsr),
         "text": draw(maybe() | texts)}
        for review in draw(st.lists(ids, max_size=2, unique=True))
    ]
    pairs = draw(st.lists(st.tuples(st.sampled_from(buyer_ids), maybe() | st.sampled_from(shop_ids)),
                          max_size=2, unique=True))
    flags = st.sampled_from(["fake_reviews", "刷单"])
    g.rows["buyers"] = [
        # A row without shop flags the buyer everywhere; one without a flag too is not kept by the export
        # (see test_a_buyer_described_only_by_a_row_without_shop_survives_the_round_trip).
        {"buyer_id": buyer, "shop_id": shop, "risk_flag": draw(flags if shop is None else maybe() | flags),
         "nickname": draw(maybe() | non_empty_texts),
         "tags": draw(maybe() | st.sampled_from(["老客户", "VIP|退货多"]))}
        for buyer, shop in pairs
    ]
    g.rows = {name: rows for name, rows in g.rows.items() if rows}
    for name in g.rows:
        g.formats[name] = draw(st.sampled_from(FORMATS))
        # Now and then a table comes with typed timestamps in one zone (table_from_rows), not text.
        g.typed_times[name] = draw(maybe() | st.sampled_from(ZONES))
    return g


# ---- writing a generated dataset --------------------------------------------------------------------

def _arrow(g: Generated, name: str) -> pa.Table:
    spec = TABLES_BY_NAME[name]
    rows = g.rows[name]
    times = [f.name for f in spec.fields if f.kind is Kind.TIMESTAMP]
    if zone := g.typed_times[name]:
        typed = [
            {**row, **{t: row[t].aware(g.zone_of(name, row)).astimezone(ZoneInfo(zone))
                       for t in times if row.get(t)}}
            for row in rows
        ]
        return table_from_rows(name, typed)
    arrow_types = {Kind.MONEY: pa.decimal128(12, 2), Kind.INT: pa.int64(), Kind.BOOL: pa.bool_()}
    columns = {}
    for f in spec.fields:
        if not any(f.name in row for row in rows):
            continue
        values = [row.get(f.name) for row in rows]
        if f.kind is Kind.TIMESTAMP:
            values = [v.text() if v else None for v in values]
        columns[f.name] = pa.array(values, arrow_types.get(f.kind, pa.string()))
    return pa.table(columns)


def write_generated(g: Generated, folder: Path) -> Path:
    for name in g.rows:
        write_table(_arrow(g, name), folder, name, g.formats[name])
    return folder


# ---- checks -----------------------------------------------------------------------------------------

def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def without_audit(dump: dict) -> dict:
    return {name: rows for name, rows in dump.items() if name != "audit_log"}


def assert_reimport_changes_nothing(store: Engine, exports: list[Path]) -> None:
    """Importing the store's own export again changes no row; the audit log only records the import."""
    before = dump_store(store)
    for folder in exports:
        do_import(store, folder)
        after = dump_store(store)
        assert without_audit(after) == without_audit(before), f"re-importing {folder.name} changed the store"
        assert after["audit_log"][: len(before["audit_log"])] == before["audit_log"]


def assert_stored_as_generated(store: Engine, g: Generated) -> None:
    """The first import stored the generated values (instants in UTC; DST-ambiguous wall times skipped)."""

    def instant(table: str, row: dict, name: str) -> datetime | None:
        if g.typed_times[table]:
            return row[name].aware(g.zone_of(table, row)).astimezone(UTC)
        return row[name].instant(g.zone_of(table, row))

    with store.connect() as conn:
        messages = conn.execute(select(Message.__table__).order_by(Message.ordinal)).all()
        orders = {r.id: r for r in conn.execute(select(Order.__table__))}
        refunds = {r.id: r for r in conn.execute(select(Refund.__table__))}
        ratings = {r.id: r for r in conn.execute(select(Rating.__table__))}

    assert len(messages) == len(g.rows["messages"])
    for stored, row in zip(messages, g.rows["messages"], strict=True):
        assert (stored.conversation_id, stored.sender, stored.agent_id, stored.text) == (
            row["conversation_id"], row["sender"], row["agent_id"], row["text"])
        expected = instant("messages", row, "sent_at")
        assert expected in (None, stored.sent_at), row["sent_at"]
    for row in g.rows.get("orders", []):
        stored = orders[row["order_id"]]
        assert (stored.shop_id, stored.buyer_id, stored.amount, stored.status, stored.address) == (
            row["shop_id"], row["buyer_id"], row["amount"], row["status"], row["address"])
        assert instant("orders", row, "created_at") in (None, stored.created_at), row["created_at"]
        assert (row["paid_at"] is None) == (stored.paid_at is None)
    for row in g.rows.get("refunds", []):
        stored = refunds[row["refund_id"]]
        assert (stored.order_id, stored.product_id, stored.reason, stored.amount, stored.status) == (
            row["order_id"], row["product_id"], row["reason"], row["amount"], row["status"])
        assert instant("refunds", row, "requested_at") in (None, stored.requested_at), row["requested_at"]
    for row in g.rows.get("ratings", []):
        stored = ratings[row["rating_id"]]
        assert (stored.conversation_id, stored.agent_id, stored.score, stored.robot, stored.tags) == (
            row["conversation_id"], row["agent_id"], row["score"], bool(row["robot"]), row["tags"])


# ---- the property: SQLite stores copied from a template --------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A migrated SQLite store; each store of the property is a copy of it."""
    path = tmp_path_factory.mktemp("template") / "kefu.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=datasets())
def test_export_import_export_gives_the_same_files(template, tmp_path_factory, generated):
    work = tmp_path_factory.mktemp("roundtrip")
    stores: list[Engine] = []

    def new_store() -> Engine:
        path = work / f"store-{len(stores)}.db"
        shutil.copyfile(template, path)
        stores.append(make_engine(f"sqlite:///{path}"))
        return stores[-1]

    try:
        first = new_store()
        do_import(first, write_generated(generated, work / "source"))
        assert_stored_as_generated(first, generated)
        exports = []
        for fmt in FORMATS:
            exported = work / f"export-1-{fmt}"
            do_export(first, exported, fmt)
            second = new_store()
            do_import(second, exported)
            assert without_audit(dump_store(second)) == without_audit(dump_store(first)), fmt
            do_export(second, work / f"export-2-{fmt}", fmt)
            assert files_of(work / f"export-2-{fmt}") == files_of(exported), fmt
            exports.append(exported)
        assert_reimport_changes_nothing(first, exports)
    finally:
        for store in stores:
            store.dispose()


# ---- one fixed dataset, on every database -----------------------------------------------------------

def fixed_example() -> Generated:
    at = Stamp.of
    g = Generated(zones={"000123": "Asia/Shanghai", "ny": "America/New_York"}, order_shops={"000789": "ny"})
    g.rows = {
        "shops": [{"shop_id": "000123", "timezone": None, "name": '小店, "旗舰"', "category": "other"},
                  {"shop_id": "ny", "timezone": "America/New_York", "name": None, "category": "food"}],
        "messages": [
            {"conversation_id": "0001", "shop_id": "000123", "buyer_id": "000456", "sender": "buyer",
             "agent_id": None, "sent_at": at("2026-11-20T10:15:02+08:00"), "text": '在吗？\n"急"，谢谢 😅'},
            {"conversation_id": "0001", "shop_id": "000123", "buyer_id": "000456", "sender": "bot",
             "agent_id": None, "sent_at": at("2026-11-20T02:15:02Z"), "text": ""},
            {"conversation_id": "0002", "shop_id": "ny", "buyer_id": "b", "sender": "agent",
             "agent_id": "007", "sent_at": at("2026-03-08 02:30:00"), "text": "in the DST gap"},
            {"conversation_id": "0002", "shop_id": "ny", "buyer_id": "b", "sender": "system",
             "agent_id": None, "sent_at": at("2026-11-01T01:30:00.123456"), "text": "in the DST fold"},
        ],
        "orders": [{"order_id": "000789", "shop_id": "ny", "buyer_id": "b",
                    "created_at": at("2026-11-20T09:00:00"), "paid_at": None, "amount": Decimal("0.10"),
                    "status": None, "address": "a,\r\nb"}],
        "refunds": [{"refund_id": "r", "order_id": "000789", "product_id": "p", "reason": "错拍",
                     "amount": Decimal("12.30"), "requested_at": at("2026-11-21T09:00:00"),
                     "completed_at": None, "status": "requested"}],
        "ratings": [{"rating_id": "01", "conversation_id": "0002", "shop_id": "ny", "buyer_id": "b",
                     "agent_id": "007", "rated_at": at("2026-11-21T09:00:00-05:00"), "score": "neutral",
                     "robot": True, "tags": "慢|差"}],
        "reviews": [{"review_id": "rv", "order_id": "000789", "shop_id": "ny", "buyer_id": "b",
                     "product_id": "p", "created_at": at("2026-11-22T09:00:00.500+00:00"), "rating": "good",
                     "dsr_description": 5, "dsr_service": None, "dsr_shipping": 1, "text": None}],
        "buyers": [{"buyer_id": "b", "shop_id": None, "risk_flag": "fake_reviews", "nickname": "小b",
                    "tags": None},
                   {"buyer_id": "000456", "shop_id": "000123", "risk_flag": None, "nickname": None,
                    "tags": "VIP|老客户"}],
    }
    g.formats = dict(zip(g.rows, ["jsonl", "csv", "parquet", "csv", "jsonl", "parquet", "csv"], strict=True))
    g.typed_times = {name: None for name in g.rows} | {"reviews": "Asia/Kolkata"}
    return g


def _empty(store: Engine) -> None:
    """Delete every row, so that the test's one database serves as the next fresh store."""
    with store.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def test_a_fixed_dataset_round_trips_on_every_database(engine, tmp_path):
    generated = fixed_example()
    do_import(engine, write_generated(generated, tmp_path / "source"))
    assert_stored_as_generated(engine, generated)
    with engine.connect() as conn:
        in_new_york = conn.execute(select(Message.sent_at).where(Message.conversation_id == "0002")
                                   .order_by(Message.seq)).scalars().all()
    # 02:30 on 8 March does not exist in New York: read as the last microsecond before the jump
    # (Arrow's nonexistent="earliest"). 01:30 on 1 November comes twice: the first (EDT) is taken.
    assert in_new_york == [datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=UTC),
                           datetime(2026, 11, 1, 5, 30, 0, 123456, tzinfo=UTC)]

    exports = {fmt: tmp_path / f"export-1-{fmt}" for fmt in FORMATS}
    for fmt, folder in exports.items():
        do_export(engine, folder, fmt)
    assert_reimport_changes_nothing(engine, list(exports.values()))

    for fmt, folder in exports.items():
        _empty(engine)
        do_import(engine, folder)
        do_export(engine, tmp_path / f"export-2-{fmt}", fmt)
        assert files_of(tmp_path / f"export-2-{fmt}") == files_of(folder), fmt


def test_a_buyer_described_only_by_a_row_without_shop_survives_the_round_trip(engine, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    message = {"conversation_id": "c1", "shop_id": "s1", "buyer_id": "b1", "sender": "buyer",
               "sent_at": "2026-11-20T10:15:02+08:00", "text": "在吗"}
    (source / "messages.jsonl").write_text(json.dumps(message, ensure_ascii=False) + "\n", encoding="utf-8")
    buyer = {"buyer_id": "b9", "nickname": "老王", "phone": "13800000000"}
    (source / "buyers.jsonl").write_text(json.dumps(buyer, ensure_ascii=False) + "\n", encoding="utf-8")
    do_import(engine, source)
    do_export(engine, tmp_path / "export", "jsonl")
    before = dump_store(engine)["buyers"]

    _empty(engine)
    do_import(engine, tmp_path / "export")

    assert dump_store(engine)["buyers"] == before
