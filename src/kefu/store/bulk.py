"""Moving Arrow tables in and out of the store in bulk, the fast way for each dialect.

SQLite takes rows through `executemany` inside the caller's transaction; PostgreSQL takes
CSV through `COPY`, into the table when it is empty and through a staging table (then
INSERT ... ON CONFLICT) when rows may already exist. Reads come back as typed Arrow tables.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import JSON, Boolean, Connection, Integer, Numeric, Table
from sqlalchemy import BigInteger as SaBigInteger
from sqlalchemy.schema import AddConstraint, DropConstraint

from kefu.store.models import Base
from kefu.store.types import UTCDateTime

BATCH = 200_000
UTC_US = pa.timestamp("us", "UTC")


@contextmanager
def bulk_load(conn: Connection) -> Iterator[None]:
    """Settings for a large load on this connection, restored afterwards.

    SQLite builds indexes by sorting in its page cache: 256 MB of cache for the load makes
    the index builds after a first load much faster (temp_store is MEMORY on every connection).
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


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


def _upsert_sqlite(conn, name, data, columns, key, keep, insert_only, empty) -> None:
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})"
    if not empty:
        sql += " " + _conflict_clause(columns, key, keep, insert_only)
    for start in range(0, data.num_rows, BATCH):
        chunk = data.slice(start, BATCH)
        values = [_sqlite_column(chunk.column(c)).to_pylist() for c in columns]
        conn.exec_driver_sql(sql, list(zip(*values, strict=True)))


def _sqlite_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        # The text form SQLAlchemy's SQLite DateTime reads back: UTC, microseconds.
        return _utc_text(column)
    if pa.types.is_decimal(kind):
        return column.cast(pa.float64())
    if pa.types.is_boolean(kind):
        return column.cast(pa.int8())
    return column


def _upsert_postgres(conn, name, data, columns, key, keep, insert_only, empty) -> None:
    raw = conn.connection.driver_connection
    column_list = ", ".join(columns)
    with raw.cursor() as cursor:
        target = name
        if not empty:
            target = f"stage_{name}"
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(f"CREATE TEMP TABLE {target} AS SELECT {column_list} FROM {name} WITH NO DATA")
        # Sorting for the index builds after a first load needs more than the default 64 MB.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        text = _postgres_text(data)
        with cursor.copy(f"COPY {target} ({column_list}) FROM STDIN (FORMAT csv)") as copy:
            for start in range(0, data.num_rows, BATCH):
                buffer = io.BytesIO()
                pacsv.write_csv(text.slice(start, BATCH), buffer, pacsv.WriteOptions(include_header=False))
                copy.write(buffer.getvalue())
        if not empty:
            cursor.execute(
                f"INSERT INTO {name} ({column_list}) SELECT {column_list} FROM {target} "
                + _conflict_clause(columns, key, keep, insert_only)
            )
            cursor.execute(f"DROP TABLE {target}")


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
