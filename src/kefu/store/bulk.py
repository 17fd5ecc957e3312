"""Moving Arrow tables in and out of the store in bulk, the fast way for each dialect.

SQLite takes each batch of rows as one `INSERT ... SELECT` over a few bound blobs (each
column's values side by side), so SQLite cuts the rows apart in C instead of Python binding
them one value at a time. PostgreSQL takes binary `COPY` built from the Arrow buffers, into
the table when it is empty and through a staging table (then INSERT ... ON CONFLICT) when
rows may already exist. Both run inside the caller's transaction, and the next batch is packed
in a second thread while the database stores the current one. Reads come back as typed Arrow
tables.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import JSON, Boolean, Connection, Integer, Numeric, SmallInteger, String, Table
from sqlalchemy import BigInteger as SaBigInteger
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import AddConstraint, DropConstraint

from kefu.store.models import Base
from kefu.store.types import UTCDateTime

BATCH = 100_000
BATCH_BYTES = 64 << 20
FEW_VALUES = 32  # distinct values up to which SQLite gets a text column as CASE over codes
UTC_US = pa.timestamp("us", "UTC")
_T = TypeVar("_T")


@contextmanager
def bulk_load(conn: Connection) -> Iterator[None]:
    """Settings for a large load on this connection, restored afterwards.

    Enter it before the load's transaction begins and leave it after that ends:
        with engine.connect() as conn, bulk_load(conn), conn.begin(): ...

    SQLite builds indexes by sorting in its page cache: 256 MB of cache for the load makes
    the index builds after a first load much faster (temp_store is MEMORY on every connection).
    SQLite also checks a foreign key by opening the parent's index for every row written;
    during the load, upsert() instead looks up each distinct key it wrote in the parent table,
    once, in the same transaction (as the PostgreSQL load re-adds its constraints after the
    rows), and raises IntegrityError if one is missing. That needs SQLite's own checks off, a
    setting SQLite only changes outside a transaction; they are back on when the load ends.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    enforced = raw.execute("PRAGMA foreign_keys").fetchone()[0]
    raw.execute("PRAGMA cache_size = -262144")
    deferred = bool(enforced) and not raw.in_transaction
    if deferred:
        raw.execute("PRAGMA foreign_keys = OFF")
        conn.info[_CHECK_REFERENCES] = True
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(before)}")
        if deferred:
            conn.info.pop(_CHECK_REFERENCES, None)
            if raw.in_transaction:
                # SQLite's checks cannot be turned back on inside a transaction: drop the connection.
                conn.invalidate()
            else:
                raw.execute("PRAGMA foreign_keys = ON")


_CHECK_REFERENCES = "kefu.bulk.check_references"


def table_of(name: str) -> Table:
    return Base.metadata.tables[name]


def is_empty(conn: Connection, name: str) -> bool:
    return conn.exec_driver_sql(f"SELECT 1 FROM {name} LIMIT 1").first() is None


def upsert(
    conn: Connection,
    name: str,
    data: pa.Table,
    key: Sequence[str],
    *,
    keep: Sequence[str] = (),
    insert_only: bool = False,
) -> None:
    """Insert `data` into table `name`; rows whose `key` exists are updated (or left, if insert_only).

    Columns in `keep` are written for new rows only: an existing row keeps its value.
    """
    if data.num_rows == 0:
        return
    columns = list(data.column_names)
    empty = is_empty(conn, name)
    # Into an empty table, building the secondary indexes once after the load is several
    # times faster than updating them row by row (both dialects; DDL is transactional).
    big_first_load = empty and data.num_rows >= 10_000
    indexes = list(table_of(name).indexes) if big_first_load else []
    # PostgreSQL checks a foreign key with a trigger per row; re-adding the constraint
    # after the load checks all rows in one join instead.
    foreign_keys = (
        list(table_of(name).foreign_key_constraints) if big_first_load and _is_postgres(conn) else []
    )
    for constraint in foreign_keys:
        conn.execute(DropConstraint(constraint))
    for index in indexes:
        index.drop(conn)
    if _is_postgres(conn):
        _upsert_postgres(conn, name, data, columns, key, keep, insert_only, empty)
    else:
        _upsert_sqlite(conn, name, data, columns, key, keep, insert_only, empty)
        if conn.info.get(_CHECK_REFERENCES):
            _check_references(conn, name, data)
    for index in indexes:
        index.create(conn)
    for constraint in foreign_keys:
        conn.execute(AddConstraint(constraint))


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _conflict_clause(
    columns: Sequence[str], key: Sequence[str], keep: Sequence[str], insert_only: bool
) -> str:
    updates = [c for c in columns if c not in key and c not in keep]
    if insert_only or not updates:
        return f"ON CONFLICT ({', '.join(key)}) DO NOTHING"
    sets = ", ".join(f"{c} = excluded.{c}" for c in updates)
    return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"


def _ahead(count: int, make: Callable[[int], _T]) -> Iterator[_T]:
    """make(0) ... make(count - 1), each made in a worker thread while the caller uses the one before.

    Arrow's kernels and both database drivers release the GIL while they work, so packing the
    next batch runs on the second core while the database stores the current one.
    """
    if count <= 1:
        yield from (make(i) for i in range(count))
        return
    with ThreadPoolExecutor(1, thread_name_prefix="kefu-bulk") as pool:
        pending = pool.submit(make, 0)
        try:
            for i in range(count):
                item = pending.result()
                if i + 1 < count:
                    pending = pool.submit(make, i + 1)
                yield item
        finally:
            pending.cancel()


def _slices(data: pa.Table) -> list[tuple[int, int]]:
    """(start, length) of each batch: BATCH rows, or fewer where long values would make one
    batch's text more than BATCH_BYTES (SQLite refuses a blob over 1 GB)."""
    sizes = np.zeros(data.num_rows, np.int64)
    for column in data.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            sizes += pc.binary_length(column).fill_null(0).to_numpy().astype(np.int64)
    if data.num_rows == 0:
        return []
    if int(sizes.max()) * BATCH <= BATCH_BYTES:
        # A small first batch: the database waits while it is packed; later ones are packed
        # while it stores the one before.
        first = min(data.num_rows, BATCH // 8)
        rest = range(first, data.num_rows, BATCH)
        return [(0, first)] + [(start, min(BATCH, data.num_rows - start)) for start in rest]
    ends = np.cumsum(sizes)
    slices, start = [], 0
    while start < data.num_rows:
        before = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, before + BATCH_BYTES, side="right"))
        stop = min(start + BATCH, max(start + 1, stop))
        slices.append((start, stop - start))
        start = stop
    return slices


def _offsets(array: pa.Array) -> np.ndarray:
    """The value offsets of a string or binary array (int32 offsets), as numpy, without copying."""
    return np.frombuffer(array.buffers()[1], np.int32)[array.offset : array.offset + len(array) + 1]


def _values(array: pa.Array) -> pa.Buffer | bytes:
    """The bytes of a string or binary array's values, first to last, without copying."""
    offsets = _offsets(array)
    data = array.buffers()[2]
    if data is None:
        return b""
    return data[int(offsets[0]) : int(offsets[-1])]


def _unscaled(array: pa.Array) -> np.ndarray | None:
    """A decimal128 array's unscaled values as int64 (nulls as 0), or None if one does not fit."""
    words = np.frombuffer(array.buffers()[1], np.int64)[2 * array.offset : 2 * (array.offset + len(array))]
    low, high = words[0::2], words[1::2]
    fits = high == (low >> 63)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        fits |= ~valid
        low = np.where(valid, low, 0)
    return low.copy() if fits.all() else None


# SQLite --------------------------------------------------------------------------------------


def _upsert_sqlite(conn, name, data, columns, key, keep, insert_only, empty) -> None:
    suffix = "" if empty else " " + _conflict_clause(columns, key, keep, insert_only)
    plain = {c: _sqlite_column(data.column(c)) for c in columns}
    slices = _slices(data)
    if not all(_packable(column) for column in plain.values()):
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks}){suffix}"
        for start, length in slices:
            values = [plain[c].slice(start, length).to_pylist() for c in columns]
            conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
        return
    head = f"INSERT INTO {name} ({', '.join(columns)}) "

    def pack(i: int) -> tuple[str, tuple]:
        return _packed_insert(head, suffix, [plain[c].slice(*slices[i]) for c in columns])

    for sql, params in _ahead(len(slices), pack):
        conn.exec_driver_sql(sql, params)


def _check_references(conn: Connection, name: str, data: pa.Table) -> None:
    """Raise IntegrityError, as SQLite would have, if a row written names a parent that does not exist.

    Every value written to a foreign key column comes from `data`, so checking its distinct
    values (NULLs are never checked) covers every row written. An upsert may skip a row
    (insert_only, or a `keep` column): a missing parent is confirmed on the table itself.
    """
    for constraint in table_of(name).foreign_key_constraints:
        pairs = [(element.parent.name, element.column.name) for element in constraint.elements]
        columns = [child for child, _ in pairs]
        if not all(c in data.column_names for c in columns):
            continue
        keys = data.select(columns).drop_null().group_by(columns).aggregate([])
        if keys.num_rows == 0:
            continue
        values = [_sqlite_column(keys.column(c)) for c in columns]
        missing = True  # keys of a type the packed form does not take: check the whole table
        if all(_packable(v) for v in values):
            params: list = []
            exprs = [f"{_packed_column(v.combine_chunks(), params)} AS k{i}" for i, v in enumerate(values)]
            params.append("[" + "0," * (keys.num_rows - 1) + "0]")
            match = " AND ".join(f"p.{parent} = v.k{i}" for i, (_, parent) in enumerate(pairs))
            missing = conn.exec_driver_sql(
                f"SELECT 1 FROM (SELECT {', '.join(exprs)} FROM json_each(?{len(params)})) AS v WHERE "
                f"NOT EXISTS (SELECT 1 FROM {constraint.referred_table.name} AS p WHERE {match}) LIMIT 1",
                tuple(params),
            ).first()
        if missing and conn.exec_driver_sql(f"PRAGMA foreign_key_check({name})").first():
            raise IntegrityError(
                f"foreign key {constraint.name} of {name}",
                None,
                sqlite3.IntegrityError("FOREIGN KEY constraint failed"),
            )


def _sqlite_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        # The text form SQLAlchemy's SQLite DateTime reads back: UTC, microseconds.
        return _utc_text(column)
    if pa.types.is_boolean(kind):
        return column.cast(pa.int8())
    if pa.types.is_large_string(kind):
        return column.cast(pa.string())
    return column


def _packable(column: pa.ChunkedArray) -> bool:
    """Whether the packed insert stores this column exactly as binding its Python values would."""
    kind = column.type
    if pa.types.is_decimal128(kind):
        return all(_unscaled(chunk) is not None for chunk in column.chunks)
    return (
        pa.types.is_null(kind)
        or pa.types.is_string(kind)
        or (pa.types.is_integer(kind) and kind != pa.uint64())
    )


def _packed_insert(head: str, suffix: str, columns: list[pa.ChunkedArray]) -> tuple[str, tuple]:
    """One INSERT ... SELECT storing a batch of rows, and the blobs it binds.

    The rows come from json_each over a list of zeros (`key` is the row number); each column
    is one bound blob cut apart with substr(): values padded to one width, or, when widths
    differ, a second blob of fixed-width start and length tokens.
    """
    params: list = []
    exprs = [_packed_column(column.combine_chunks(), params) for column in columns]
    count = len(columns[0])
    params.append("[" + "0," * (count - 1) + "0]")
    return f"{head}SELECT {', '.join(exprs)} FROM json_each(?{len(params)}) WHERE true{suffix}", tuple(params)


def _bind(params: list, blob) -> str:
    params.append(blob)
    return f"?{len(params)}"


def _packed_column(column: pa.Array, params: list) -> str:
    if column.null_count == len(column):
        return "NULL"
    kind = column.type
    if pa.types.is_decimal(kind):
        # Exact cents divided in IEEE doubles: the same REAL as binding float(Decimal).
        unscaled = _unscaled(column)
        assert unscaled is not None  # checked by _packable
        ints = pa.array(unscaled, pa.int64(), mask=column.is_null().to_numpy(zero_copy_only=False))
        return f"({_packed_integer(ints, params)} / {10**kind.scale}.0)"
    if pa.types.is_integer(kind):
        return _packed_integer(column, params)
    return _packed_text(column, params)


def _packed_integer(column: pa.Array, params: list) -> str:
    count = len(column)
    if column.null_count == 0:
        values = column.to_numpy()
        low, high = int(values.min()), int(values.max())
        if low == high:
            return str(low)
        if high - low == count - 1 and bool((np.diff(values) == 1).all()):
            return f"(key + {low})"  # a running number, like the dataset's ordinals
    text = column.cast(pa.string())
    width = pc.max(pc.binary_length(text)).as_py()
    padded = pc.utf8_lpad(text.fill_null(""), width=width, padding=" ")
    cut = f"substr({_bind(params, _values(padded))}, key * {width} + 1, {width})"
    if column.null_count:
        cut = f"nullif({cut}, x'{'20' * width}')"
    return f"CAST({cut} AS INTEGER)"


def _packed_text(column: pa.Array, params: list) -> str:
    few = _packed_choice(column, params)
    if few is not None:
        return few
    lengths = pc.binary_length(column)
    bounds = pc.min_max(lengths)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low == high and column.null_count == 0:
        if high == 0:
            return "''"
        return f"CAST(substr({_bind(params, _values(column))}, key * {high} + 1, {high}) AS TEXT)"
    if low == high and high > 0 and not pc.any(pc.equal(column, " " * high)).as_py():
        # Same width, some nulls: a null is a run of spaces no value has.
        data = _bind(params, _values(column.fill_null(" " * high)))
        return f"CAST(nullif(substr({data}, key * {high} + 1, {high}), x'{'20' * high}') AS TEXT)"
    offsets = _offsets(column).astype(np.int64)
    starts = offsets[:-1] - offsets[0]
    sizes = np.diff(offsets)
    start_width = len(str(int(starts[-1])))
    size_width = len(str(int(sizes.max())))
    step = start_width + size_width
    tokens = np.concatenate([_digits(starts, start_width), _digits(sizes, size_width)], axis=1)
    if column.null_count:
        tokens[column.is_null().to_numpy(zero_copy_only=False), start_width:] = ord("-")
    # substr() of an empty blob is NULL, even for a length of 0: never bind an empty one.
    data = _bind(params, _values(column) if offsets[-1] > offsets[0] else b" ")
    ref = _bind(params, tokens.reshape(-1))
    start = f"substr({ref}, key * {step} + 1, {start_width}) + 1"
    size = f"substr({ref}, key * {step} + {start_width + 1}, {size_width})"
    if column.null_count:
        size = f"nullif({size}, x'{'2d' * size_width}')"  # and substr(x, y, NULL) is NULL
    return f"CAST(substr({data}, {start}, {size}) AS TEXT)"


def _packed_choice(column: pa.Array, params: list) -> str | None:
    """A column of a few distinct values (a sender, a status) as a CASE over one code byte per row.

    The values are bound once each; the most frequent is tested first. None when the column
    has too many distinct values for that to be cheaper than cutting each value out.
    """
    if len(column) < 4 * FEW_VALUES:
        return None
    encoded = pc.dictionary_encode(column)
    if len(encoded.dictionary) > FEW_VALUES:
        return None
    codes = encoded.indices.fill_null(255).to_numpy().astype(np.uint8)
    counts = np.bincount(codes, minlength=256)
    values = encoded.dictionary.to_pylist()
    branches = [
        f"WHEN x'{code:02x}' THEN {'NULL' if code == 255 else _bind(params, values[code])}"
        for code in np.argsort(-counts, kind="stable")
        if counts[code]
    ]
    return f"CASE substr({_bind(params, codes)}, key + 1, 1) {' '.join(branches)} END"


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded ASCII decimals, one row of `width` bytes each."""
    out = np.empty((len(values), width), np.uint8)
    rest = values.astype(np.int64)
    for place in range(width - 1, -1, -1):
        out[:, place] = rest % 10 + ord("0")
        rest //= 10
    return out


# PostgreSQL ----------------------------------------------------------------------------------

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC, where binary timestamps count from
PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
PG_COPY_TRAILER = b"\xff\xff"


def _upsert_postgres(conn, name, data, columns, key, keep, insert_only, empty) -> None:
    raw = conn.connection.driver_connection
    table = table_of(name)
    with raw.cursor() as cursor:
        target = name
        if not empty:
            target = f"stage_{name}"
            column_list = ", ".join(columns)
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(f"CREATE TEMP TABLE {target} AS SELECT {column_list} FROM {name} WITH NO DATA")
        # Sorting for the index builds after a first load needs more than the default 64 MB.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        if empty:
            data = _with_ids(cursor, name, table, data)
        _copy_postgres(cursor, target, data, [table.c[c].type for c in data.column_names])
        if not empty:
            column_list = ", ".join(columns)
            cursor.execute(
                f"INSERT INTO {name} ({column_list}) SELECT {column_list} FROM {target} "
                + _conflict_clause(columns, key, keep, insert_only)
            )
            cursor.execute(f"DROP TABLE {target}")


def _copy_postgres(cursor, target: str, data: pa.Table, sa_types: list) -> None:
    """COPY `data` into `target`: binary when every column allows, else CSV."""
    column_list = ", ".join(data.column_names)
    slices = _slices(data)
    if all(_binary_ok(data.column(c), t) for c, t in zip(data.column_names, sa_types, strict=True)):
        with cursor.copy(f"COPY {target} ({column_list}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(PG_COPY_HEADER)
            for body in _ahead(len(slices), lambda i: _pg_binary(data.slice(*slices[i]), sa_types)):
                copy.write(body)
            copy.write(PG_COPY_TRAILER)
        return
    text = _postgres_text(data)
    with cursor.copy(f"COPY {target} ({column_list}) FROM STDIN (FORMAT csv)") as copy:
        for start, length in slices:
            buffer = io.BytesIO()
            pacsv.write_csv(text.slice(start, length), buffer, pacsv.WriteOptions(include_header=False))
            copy.write(buffer.getvalue())


def _with_ids(cursor, name: str, table: Table, data: pa.Table) -> pa.Table:
    """`data` with its serial ids taken from the sequence in one step, as the column default would.

    Evaluating the default (nextval) for every row costs PostgreSQL more than the row itself.
    """
    serial = table.autoincrement_column
    if serial is None or serial.name in data.column_names:
        return data
    found = cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", (name, serial.name)).fetchone()
    if found is None or found[0] is None:
        return data
    count = data.num_rows
    last = cursor.execute(
        "SELECT setval(%s::regclass, nextval(%s::regclass) + %s - 1)", (found[0], found[0], count)
    ).fetchone()[0]
    return data.append_column(serial.name, pa.array(np.arange(last - count + 1, last + 1), pa.int64()))


def _pg_binary(data: pa.Table, sa_types: list) -> memoryview:
    """Rows of `data` in PostgreSQL's binary COPY format (without the file header and trailer)."""
    count = data.num_rows
    pieces = [_fixed_piece(np.full(count, len(sa_types), ">i2").view(np.uint8), 2, count)]
    for name, sa_type in zip(data.column_names, sa_types, strict=True):
        pieces.extend(_pg_fields(data.column(name).combine_chunks(), sa_type))
    rows = pc.binary_join_element_wise(*pieces, b"")
    return memoryview(_values(rows))


def _fixed_piece(raw: np.ndarray, width: int, count: int) -> pa.Array:
    """`count` records of `width` bytes as a binary array, without copying them."""
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(raw)])


def _binary_ok(column: pa.ChunkedArray, sa_type) -> bool:
    """Whether _pg_fields writes this column as PostgreSQL reads its type (else CSV lets PostgreSQL judge)."""
    kind = column.type
    if pa.types.is_null(kind) or column.null_count == len(column):
        return True
    if isinstance(sa_type, UTCDateTime):
        return pa.types.is_timestamp(kind)
    if isinstance(sa_type, Boolean):
        return pa.types.is_boolean(kind)
    if isinstance(sa_type, Integer):
        if not pa.types.is_integer(kind) or kind == pa.uint64():
            return False
        limit = 1 << (8 * _integer_size(sa_type) - 1)
        bounds = pc.min_max(column)
        return -limit <= bounds["min"].as_py() and bounds["max"].as_py() < limit
    if isinstance(sa_type, Numeric):
        return pa.types.is_decimal128(kind) and all(
            _numeric_magnitude(chunk) is not None for chunk in column.chunks
        )
    if isinstance(sa_type, String | JSON):
        return pa.types.is_string(kind) or pa.types.is_large_string(kind)
    return False


def _integer_size(sa_type) -> int:
    return 8 if isinstance(sa_type, SaBigInteger) else 2 if isinstance(sa_type, SmallInteger) else 4


def _pg_fields(column: pa.Array, sa_type) -> list[pa.Array]:
    """One column's fields: the 4-byte length (-1 for NULL) and the value in binary form."""
    count = len(column)
    kind = column.type
    valid = None if column.null_count == 0 else column.is_valid().to_numpy(zero_copy_only=False)
    if column.null_count == count:
        return [_fixed_piece(np.full(count, -1, ">i4").view(np.uint8), 4, count)]
    if isinstance(sa_type, UTCDateTime) and pa.types.is_timestamp(kind):
        micros = column.cast(UTC_US).cast(pa.int64()).fill_null(0).to_numpy() - PG_EPOCH_US
        return _fixed_fields(micros.astype(">i8"), valid)
    if isinstance(sa_type, Boolean) and pa.types.is_boolean(kind):
        return _fixed_fields(column.cast(pa.int8()).fill_null(0).to_numpy().astype(">i1"), valid)
    if isinstance(sa_type, Integer) and pa.types.is_integer(kind):
        size = _integer_size(sa_type)
        return _fixed_fields(column.fill_null(0).to_numpy().astype(f">i{size}"), valid)
    if isinstance(sa_type, Numeric) and pa.types.is_decimal128(kind):
        return _pg_numeric(column, valid)
    if pa.types.is_large_string(kind):
        column = column.cast(pa.string())
    lengths = pc.binary_length(column).fill_null(-1).to_numpy().astype(">i4")
    return [_fixed_piece(lengths.view(np.uint8), 4, count), column.cast(pa.binary()).fill_null(b"")]


def _fixed_fields(values: np.ndarray, valid: np.ndarray | None) -> list[pa.Array]:
    """Fields of one fixed width (`values` already big-endian, one record per row)."""
    count = len(values)
    width = values.dtype.itemsize
    lengths = np.full(count, width, ">i4")
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(-1)
    if valid is None:
        return [_fixed_piece(lengths.view(np.uint8), 4, count), _fixed_piece(raw, width, count)]
    lengths[~valid] = -1
    offsets = np.zeros(count + 1, np.int32)
    np.cumsum(valid * width, out=offsets[1:])
    kept = raw.reshape(count, width)[valid].reshape(-1)
    return [
        _fixed_piece(lengths.view(np.uint8), 4, count),
        pa.Array.from_buffers(pa.binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(kept)]),
    ]


def _pg_numeric(column: pa.Array, valid: np.ndarray | None) -> list[pa.Array]:
    """Decimals as PostgreSQL's binary numeric: base-10000 digits, weight, sign and scale.

    Every row gets the same number of digits; PostgreSQL strips the leading and trailing
    zero digits, checks the column's precision and keeps the scale, as for text input.
    """
    unscaled = _unscaled(column)
    magnitude = _numeric_magnitude(column)
    assert unscaled is not None and magnitude is not None  # checked by _binary_ok
    scale = column.type.scale
    fraction_digits = -(-scale // 4)
    digits, largest = fraction_digits + 1, int(magnitude.max())
    while largest >= 10000**digits:
        digits += 1
    record = np.zeros(
        len(column),
        [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"), ("d", ">i2", (digits,))],
    )
    record["ndigits"] = digits
    record["weight"] = digits - fraction_digits - 1
    record["sign"] = np.where(unscaled < 0, 0x4000, 0)
    record["dscale"] = scale
    rest = magnitude
    for place in range(digits - 1, -1, -1):
        record["d"][:, place] = rest % 10000
        rest = rest // 10000
    return _fixed_fields(record, valid)


def _numeric_magnitude(column: pa.Array) -> np.ndarray | None:
    """|value| * 10000**(fraction digits), as int64: what the base-10000 digits are cut from."""
    unscaled = _unscaled(column)
    shift = 10 ** (-column.type.scale % 4)
    if unscaled is None or (len(unscaled) and int(np.abs(unscaled).max()) >= (1 << 62) // shift):
        return None
    return np.abs(unscaled) * shift


def _utc_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Instants as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC: Arrow's cast is ten times faster than strftime."""
    return column.cast(UTC_US).cast(pa.timestamp("us")).cast(pa.string())


def _postgres_text(data: pa.Table) -> pa.Table:
    """Timestamps as UTC text, which Arrow's CAST writes far faster than its CSV writer formats them."""
    columns = {}
    for name in data.column_names:
        column = data.column(name)
        if pa.types.is_timestamp(column.type):
            column = _utc_text(column)
        columns[name] = column
    return pa.table(columns)


def read_table(conn: Connection, name: str, columns: Sequence[str], order_by: Sequence[str]) -> pa.Table:
    """Columns of a store table as a typed Arrow table (instants in UTC, money as decimals)."""
    table = table_of(name)
    selected = []
    for c in columns:
        if isinstance(table.c[c].type, UTCDateTime) and conn.dialect.name == "postgresql":
            # Whole microseconds since the epoch: exact and free of session time zone settings.
            selected.append(f"(EXTRACT(EPOCH FROM {c}) * 1000000)::bigint AS {c}")
        else:
            selected.append(c)
    sql = f"SELECT {', '.join(selected)} FROM {name} ORDER BY {', '.join(order_by)}"
    rows = conn.exec_driver_sql(sql).fetchall()
    arrays = {}
    for index, c in enumerate(columns):
        values = [row[index] for row in rows]
        arrays[c] = _typed_from_store(values, table.c[c].type, conn.dialect.name)
    return pa.table(arrays) if arrays else pa.table({})


def _typed_from_store(values: list, sa_type, dialect: str) -> pa.Array:
    if isinstance(sa_type, UTCDateTime):
        if dialect == "postgresql":
            return pa.array(values, pa.int64()).cast(UTC_US)
        return pc.assume_timezone(pa.array(values, pa.string()).cast(pa.timestamp("us")), timezone="UTC")
    if isinstance(sa_type, Numeric):
        # SQLite keeps money as REAL: round to cents before making exact decimals again.
        floats = pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pc.round(floats, 2).cast(pa.decimal128(12, 2), safe=False)
    if isinstance(sa_type, Boolean):
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    if isinstance(sa_type, (Integer, SaBigInteger)):
        return pa.array(values, pa.int64())
    if isinstance(sa_type, JSON) and dialect == "postgresql":
        # psycopg hands back parsed lists and dicts; SQLite the stored text. JSON text on both.
        text = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        return pa.array(text, pa.string())
    return pa.array(values, pa.string())
