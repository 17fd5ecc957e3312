"""Reading a table whatever its encoding, and saying where a bad row is in the file a person opens."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from kefu.interchange.dictionaries import plain
from kefu.interchange.errors import DatasetError
from kefu.interchange.files import RawTable, find_tables, read_table, read_tables
from kefu.interchange.schema import TABLES, TABLES_BY_NAME
from kefu.interchange.validation import load_dataset

FIELDS = ["conversation_id", "shop_id", "buyer_id", "sender", "agent_id", "sent_at", "text"]
ROWS = [
    ["c1", "000123", "000456", "buyer", "", "2026-11-20T10:15:02+08:00", '在吗？有"现货"吗，急用'],
    ["c1", "000123", "000456", "agent", "a01", "2026-11-20T02:15:05Z", "有的亲～ 😊\n今天下单今天发"],
    ["c2", "000123", "b-77", "system", "", "2026-11-20 10:16:00", ""],
]


def _as_read(rows: list[list[str]]) -> list[dict]:
    """What a reader gives back: every field, as text, empty cells as empty or missing."""
    return [dict(zip(FIELDS, row, strict=True)) | {"message_id": None} for row in rows]


def _normalised(raw: RawTable) -> list[dict]:
    # CSV keeps an empty cell as "", JSON and Excel leave it out: both mean "no value".
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in raw.data.to_pylist()]


def _expected(rows: list[list[str]]) -> list[dict]:
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in _as_read(rows)]


def write_csv(
    path: Path, rows: list[list[str]], encoding: str = "utf-8", bom: bool = False, fields: list[str] = FIELDS
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        if bom:
            fh.write("\ufeff")
        writer = csv.writer(fh)
        writer.writerow(fields)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[list[str]], blank_after: tuple[int, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for index, row in enumerate(rows):
            record = {k: v for k, v in zip(FIELDS, row, strict=True) if v != ""}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            if index in blank_after:
                fh.write("\n   \n")
    return path


def write_parquet(path: Path, rows: list[list[str]], row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {name: pa.array([row[i] or None for row in rows], pa.string()) for i, name in enumerate(FIELDS)}
    table = pa.table(columns)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_xlsx(path: Path, rows: list[list[object]], blank_rows_before: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.append(FIELDS)
    for _ in range(blank_rows_before):
        sheet.append([])
    for row in rows:
        sheet.append([v if v != "" else None for v in row])
    book.save(path)
    return path


def read(folder: Path, name: str = "messages") -> RawTable:
    parts = find_tables(folder, TABLES)
    return read_table(TABLES_BY_NAME[name], parts[name])


GB_ROWS = [[*r[:6], r[6].replace("😊", "")] for r in ROWS]  # GB18030 has no emoji in Excel's eyes
WRITERS = {
    "csv utf-8": lambda folder: write_csv(folder / "messages.csv", ROWS),
    "csv utf-8 with BOM": lambda folder: write_csv(folder / "messages.csv", ROWS, bom=True),
    "csv gb18030": lambda folder: write_csv(folder / "messages.csv", GB_ROWS, encoding="gb18030"),
    "jsonl": lambda folder: write_jsonl(folder / "messages.jsonl", ROWS),
    "parquet": lambda folder: write_parquet(folder / "messages.parquet", ROWS),
    "xlsx": lambda folder: write_xlsx(folder / "messages.xlsx", ROWS),
}


@pytest.mark.parametrize("encoding", list(WRITERS))
def test_every_encoding_reads_as_the_same_text(tmp_path, encoding):
    WRITERS[encoding](tmp_path)
    expected = GB_ROWS if encoding == "csv gb18030" else ROWS

    raw = read(tmp_path)

    assert raw.data.schema == pa.schema([(f.name, pa.string()) for f in TABLES_BY_NAME["messages"].fields])
    assert _normalised(raw) == _expected(expected)


def test_a_gb18030_csv_is_recognised_as_such(tmp_path):
    row = ["c1", "s1", "b1", "buyer", "", "2026-11-20T10:15:02+08:00", "不想要了，拍错了"]
    write_csv(tmp_path / "messages.csv", [row], encoding="gb18030")

    raw = read(tmp_path)

    assert raw.parts[0].encoding == "gb18030"
    assert raw.data["text"].to_pylist() == ["不想要了，拍错了"]


def test_ids_with_leading_zeros_stay_text_in_every_encoding(tmp_path):
    rows = [["000123", "000456", "0007", "buyer", "", "2026-11-20T10:15:02+08:00", "0.10"]]
    writers = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet, "xlsx": write_xlsx}
    for fmt, writer in writers.items():
        writer(tmp_path / fmt / f"messages.{fmt}", rows)

        raw = read(tmp_path / fmt)

        assert raw.data.select(["conversation_id", "shop_id", "buyer_id", "text"]).to_pylist() == [
            {"conversation_id": "000123", "shop_id": "000456", "buyer_id": "0007", "text": "0.10"}
        ], fmt


def test_json_numbers_and_booleans_are_read_as_their_text(tmp_path):
    rating = {"conversation_id": "c1", "shop_id": "s1", "buyer_id": "b1", "rated_at": "2026-11-20T10:15:02Z"}
    lines = [
        {"rating_id": "r1", **rating, "score": "satisfied", "robot": True},
        {"rating_id": "r2", **rating, "score": "neutral", "robot": False, "unknown_field": {"kept": "out"}},
    ]
    (tmp_path / "ratings.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    orders = [
        {"order_id": "000789", "amount": 0.10},
        {"order_id": "o2", "amount": 12345678.99},
        {"order_id": "o3", "amount": 199},
    ]
    (tmp_path / "orders.jsonl").write_text("".join(json.dumps(x) + "\n" for x in orders), encoding="utf-8")

    ratings, read_orders = read(tmp_path, "ratings"), read(tmp_path, "orders")

    assert ratings.data["robot"].to_pylist() == ["true", "false"]
    assert read_orders.data["order_id"].to_pylist() == ["000789", "o2", "o3"]
    assert read_orders.data["amount"].to_pylist() == ["0.1", "12345678.99", "199"]


def test_json_values_of_mixed_types_are_read_line_by_line(tmp_path):
    orders = [{"order_id": 789, "amount": "0.10"}, {"order_id": "o2", "amount": 12.5}, {"order_id": "o3"}]
    (tmp_path / "orders.jsonl").write_text("".join(json.dumps(x) + "\n" for x in orders), encoding="utf-8")

    raw = read(tmp_path, "orders")

    assert raw.data.select(["order_id", "amount"]).to_pylist() == [
        {"order_id": "789", "amount": "0.10"},
        {"order_id": "o2", "amount": "12.5"},
        {"order_id": "o3", "amount": None},
    ]


def test_excel_cells_read_as_text(tmp_path):
    wall = datetime(2026, 11, 20, 10, 15, 2, tzinfo=UTC).replace(tzinfo=None)  # Excel keeps wall-clock time
    rows = [["c1", "s1", 7, "buyer", None, wall, 12.5], ["c1", "s1", 7.0, "bot", "", "x", 3]]
    write_xlsx(tmp_path / "messages.xlsx", rows)

    raw = read(tmp_path)

    assert raw.data.select(["buyer_id", "sent_at", "text"]).to_pylist() == [
        {"buyer_id": "7", "sent_at": "2026-11-20T10:15:02", "text": "12.5"},
        {"buyer_id": "7", "sent_at": "x", "text": "3"},
    ]


def test_a_folder_of_parts_reads_as_one_table_in_name_order(tmp_path):
    folder = tmp_path / "messages"
    write_parquet(folder / "part-0003.parquet", ROWS[2:])
    write_csv(folder / "part-0001.csv", ROWS[:1], bom=True)
    write_jsonl(folder / "part-0002.jsonl", ROWS[1:2])
    (folder / "README.txt").write_text("not a part", encoding="utf-8")

    raw = read(tmp_path)

    assert _normalised(raw) == _expected(ROWS)
    assert [(p.label, p.first_row, p.rows) for p in raw.parts] == [
        ("messages/part-0001.csv", 0, 1),
        ("messages/part-0002.jsonl", 1, 1),
        ("messages/part-0003.parquet", 2, 1),
    ]
    assert [raw.locate(i) for i in range(3)] == [
        "messages/part-0001.csv line 2",
        "messages/part-0002.jsonl line 1",
        "messages/part-0003.parquet row 1 (row group 0)",
    ]


@pytest.mark.parametrize("dictionaries", [False, True])
def test_tables_read_side_by_side_keep_their_rows_in_order(tmp_path, dictionaries):
    """Every row group is its own task, the largest first: the rows still come back in file order."""
    many = [
        [f"c{i % 7}", "000123", f"b{i % 5}", "buyer", "", f"2026-11-20T10:{i % 60:02d}:00Z", ""]
        for i in range(50)
    ]
    write_parquet(tmp_path / "messages" / "part-1.parquet", many[:30], row_group_size=4)
    write_parquet(tmp_path / "messages" / "part-2.parquet", many[30:], row_group_size=7)
    (tmp_path / "buyers.jsonl").write_text('{"buyer_id": "b1", "shop_id": "000123"}\n', encoding="utf-8")
    parts = find_tables(tmp_path, TABLES)
    specs = [TABLES_BY_NAME["buyers"], TABLES_BY_NAME["messages"]]
    seen = []

    read = read_tables([(spec, parts[spec.name]) for spec in specs], dictionaries, seen.append)

    assert seen == ["reading buyers", "reading messages"]
    messages = read["messages"]
    columns = {
        name: plain(messages.data.column(name)).to_pylist() for name in ("conversation_id", "buyer_id")
    }
    assert columns == {"conversation_id": [r[0] for r in many], "buyer_id": [r[2] for r in many]}
    assert [(p.first_row, p.rows) for p in messages.parts] == [(0, 30), (30, 20)]
    assert read["buyers"].data.column("buyer_id").to_pylist() == ["b1"]


def test_a_damaged_parquet_part_is_refused_by_name(tmp_path):
    (tmp_path / "messages.parquet").write_bytes(b"PAR1 not really")

    with pytest.raises(DatasetError) as refused:
        read(tmp_path)

    assert str(refused.value.problems[0]).startswith("messages.parquet: cannot be read as Parquet")


def test_a_table_given_as_a_file_and_a_folder_is_refused(tmp_path):
    write_csv(tmp_path / "messages.csv", ROWS)
    write_jsonl(tmp_path / "messages" / "part-1.jsonl", ROWS)

    with pytest.raises(DatasetError) as refused:
        find_tables(tmp_path, TABLES)

    assert str(refused.value) == "messages: table given more than once (messages, messages.csv)"


def test_a_folder_without_parts_is_refused(tmp_path):
    (tmp_path / "refunds").mkdir()
    (tmp_path / "refunds" / "notes.txt").write_text("empty", encoding="utf-8")

    with pytest.raises(DatasetError, match=r"refunds/: folder holds no \.jsonl, \.csv, \.parquet or \.xlsx"):
        find_tables(tmp_path, TABLES)


# Where a bad row is: each test writes good rows around one bad `sender`, and reads what load_dataset says.
BAD = ["c9", "000123", "000456", "customer", "", "2026-11-20T10:20:00+08:00", "bad sender"]


def _refused_at(folder: Path) -> str:
    with pytest.raises(DatasetError) as refused:
        load_dataset(folder)
    problem = refused.value.problems[0]
    assert problem.field == "sender"
    assert problem.message == "'customer' is not one of: buyer, agent, bot, system"
    return problem.where


def test_the_good_rows_of_the_location_tests_are_accepted(tmp_path):
    write_csv(tmp_path / "messages.csv", ROWS)

    dataset = load_dataset(tmp_path)

    assert dataset.tables["messages"].num_rows == 3


@pytest.mark.parametrize("line_end", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_csv_location_counts_the_lines_of_quoted_multi_line_fields(tmp_path, line_end):
    text_lines = "第一行\n第二行\n第三行"
    rows = [ROWS[0], ROWS[1], [*ROWS[0][:6], text_lines], BAD]
    path = tmp_path / "messages.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")
        writer = csv.writer(fh, lineterminator=line_end)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    # header 1, row 1 on line 2, row 2 on lines 3-4, row 3 on lines 5-7, the bad row on line 8
    assert path.read_text(encoding="utf-8-sig").split("\n")[7].startswith("c9,")

    assert _refused_at(tmp_path) == "messages.csv line 8"


def test_csv_location_in_a_gb18030_part(tmp_path):
    write_csv(tmp_path / "messages" / "part-1.csv", ROWS[:2])
    rows = [ROWS[2], [*ROWS[0][:6], "第一行\n第二行"], BAD]
    write_csv(tmp_path / "messages" / "part-2.csv", rows, encoding="gb18030")

    assert _refused_at(tmp_path) == "messages/part-2.csv line 5"


def test_jsonl_location_counts_blank_lines(tmp_path):
    write_jsonl(tmp_path / "messages.jsonl", [*ROWS, BAD], blank_after=(0, 2))
    # row 1 on line 1, blank lines 2-3, row 2 on 4, row 3 on 5, blank 6-7, the bad row on line 8
    line_8 = (tmp_path / "messages.jsonl").read_text(encoding="utf-8").split("\n")[7]
    assert json.loads(line_8)["sender"] == "customer"

    assert _refused_at(tmp_path) == "messages.jsonl line 8"


def test_jsonl_line_that_is_not_json_is_located_after_blank_lines(tmp_path):
    path = write_jsonl(tmp_path / "messages.jsonl", ROWS, blank_after=(0,))
    cut_off = '{"conversation_id": "c9", "text": "cut off\n'
    path.write_text(path.read_text(encoding="utf-8") + cut_off, encoding="utf-8")

    with pytest.raises(DatasetError) as refused:
        load_dataset(tmp_path)

    assert str(refused.value.problems[0]).startswith("messages.jsonl line 6: not valid JSON")


def test_jsonl_line_that_is_not_an_object_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "messages.jsonl", ROWS)
    path.write_text(path.read_text(encoding="utf-8") + '["c9", "000123"]\n', encoding="utf-8")

    with pytest.raises(DatasetError) as refused:
        load_dataset(tmp_path)

    assert str(refused.value.problems[0]) == "messages.jsonl line 4: a line must be a JSON object"


def test_parquet_location_names_the_row_and_its_row_group(tmp_path):
    write_parquet(tmp_path / "messages.parquet", [*ROWS, BAD, ROWS[0]], row_group_size=2)
    assert pq.ParquetFile(tmp_path / "messages.parquet").metadata.num_row_groups == 3

    assert _refused_at(tmp_path) == "messages.parquet row 4 (row group 1)"


def test_xlsx_location_is_the_sheet_row(tmp_path):
    write_xlsx(tmp_path / "messages.xlsx", [ROWS[0], [""] * 7, ROWS[1], BAD], blank_rows_before=2)
    # header 1, blank 2-3, row 1 on 4, an empty row 5, row 2 on 6, the bad row on 7

    assert _refused_at(tmp_path) == "messages.xlsx row 7"


def test_parquet_timestamps_keep_their_zone_and_naive_ones_take_the_shops(tmp_path):
    stamps = [datetime(2026, 11, 20, 10, 15, 2, tzinfo=ZoneInfo("Asia/Shanghai"))] * 2
    messages = pa.table(
        {
            "conversation_id": ["c1", "c2"],
            "shop_id": ["s1", "ny"],
            "buyer_id": ["b1", "b2"],
            "sender": ["buyer"] * 2,
            "sent_at": pa.array(stamps, pa.timestamp("ms", "Asia/Shanghai")),
        }
    )
    pq.write_table(messages, tmp_path / "messages.parquet")
    nine = pa.array([datetime(2026, 11, 20, 9, 0, tzinfo=UTC)] * 2, pa.timestamp("us", "UTC"))
    wall = nine.cast(pa.timestamp("us"))  # a Parquet timestamp without zone: 09:00 on the shop's clock
    orders = pa.table(
        {
            "order_id": ["o1", "o2"],
            "shop_id": ["s1", "ny"],
            "buyer_id": ["b1", "b2"],
            "created_at": wall,
            "amount": pa.array([1, 2], pa.int64()),
        }
    )
    pq.write_table(orders, tmp_path / "orders.parquet")
    shop = {"shop_id": "ny", "timezone": "America/New_York"}
    (tmp_path / "shops.jsonl").write_text(json.dumps(shop) + "\n", encoding="utf-8")

    dataset = load_dataset(tmp_path)

    sent = dataset.tables["messages"]["sent_at"].to_pylist()
    assert sent == [datetime(2026, 11, 20, 2, 15, 2, tzinfo=UTC)] * 2
    assert dataset.tables["orders"]["created_at"].to_pylist() == [
        datetime(2026, 11, 20, 1, 0, tzinfo=UTC),  # 09:00 in Shanghai
        datetime(2026, 11, 20, 14, 0, tzinfo=UTC),  # 09:00 in New York
    ]
