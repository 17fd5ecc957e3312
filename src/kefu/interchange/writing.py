"""Writing Arrow tables as interchange files: JSON Lines, CSV (with a BOM, for Excel) or Parquet."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("jsonl", "csv", "parquet")
BATCH = 100_000


def format_instants(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """RFC 3339 text in the column's own time zone; whole seconds unless a value has a fraction."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    zone = column.type.tz or "UTC"
    micros = column.cast(pa.int64()).fill_null(0).to_numpy()
    unit = "us" if np.any(micros % 1_000_000) else "s"
    local = column.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp(unit, zone), safe=False)
    return pc.strftime(local, format="%Y-%m-%dT%H:%M:%S%Ez")


def as_text_columns(table: pa.Table) -> pa.Table:
    """Timestamps as RFC 3339 text (for JSON Lines and CSV); other columns unchanged."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        columns[name] = format_instants(column) if pa.types.is_timestamp(column.type) else column
    return pa.table(columns)


def write_table(table: pa.Table, folder: Path, name: str, fmt: str) -> Path:
    """Write `table` as `<folder>/<name>.<fmt>` and return the path."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        with path.open("wb") as fh:
            fh.write("\ufeff".encode())  # Excel and WPS take the file as UTF-8 only with the BOM
            pacsv.write_csv(as_text_columns(table), fh)
    else:
        _write_jsonl(as_text_columns(table), path)
    return path


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _write_jsonl(table: pa.Table, path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for start in range(0, table.num_rows, BATCH):
            for row in table.slice(start, BATCH).to_pylist():
                fh.write(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False))
                fh.write("\n")


def table_from_rows(name: str, rows: list[dict]) -> pa.Table:
    """Python rows (tz-aware datetimes, Decimals) as an Arrow table typed by the table's spec.

    Fields the spec does not name are dropped; fields a row lacks are empty.
    """
    from kefu.interchange.schema import TABLES_BY_NAME, Kind

    spec = TABLES_BY_NAME[name]
    columns = {}
    for f in spec.fields:
        values = [row.get(f.name) for row in rows]
        if f.kind is Kind.TIMESTAMP:
            sample = next((v for v in values if v is not None), None)
            zone = getattr(getattr(sample, "tzinfo", None), "key", "UTC")
            columns[f.name] = pa.array(values, pa.timestamp("us", zone))
        elif f.kind is Kind.MONEY:
            columns[f.name] = pa.array(values, pa.decimal128(12, 2))
        elif f.kind is Kind.INT:
            columns[f.name] = pa.array(values, pa.int64())
        elif f.kind is Kind.BOOL:
            columns[f.name] = pa.array(values, pa.bool_())
        else:
            columns[f.name] = pa.array(values, pa.string())
    if name == "messages" and all(v is None for v in (row.get("message_id") for row in rows[:1])):
        columns.pop("message_id")
    return pa.table(columns)
