"""The SQL that DuckDB runs for each expression, remembered in memory and on disk between runs.

Ibis needs about as long to compile a report's ~25 queries (0.3–0.5 s) as DuckDB needs to run
them on a small dataset, and every run compiles the same ones: a query names its tables and
their columns, never their rows, and a period is data (the `bounds` table), not a literal. So
the SQL is stored under a digest of the expression (every operation, name, type and literal in
it, tables by name and schema) and of the Ibis, sqlglot and DuckDB versions. Any change to a
definition or a version gives another digest: nothing is ever invalidated by hand. Expressions
whose SQL depends on more than that (in-memory tables, UDFs) are compiled every time.

Each statement is one file, written under a temporary name and renamed into place, and read
back only when its checksum matches: concurrent runs see a whole statement or none. A folder
that cannot be written leaves the cache in memory only. Stale files (older versions) are only
disk space, a few KB per statement; delete the folder at will.
"""

from __future__ import annotations

import datetime as dt_
import decimal
import enum
import hashlib
import os
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

import ibis
import ibis.expr.operations as ops
from ibis.backends import BaseBackend

FORMAT = "1"  # bump when the digest or the file layout changes
_MAX_REMEMBERED = 4096  # statements (and digests) kept in memory before they are cleared
_PLAIN = (type(None), bool, int, float, str, bytes)
_VALUES = (dt_.datetime, dt_.date, dt_.time, dt_.timedelta, decimal.Decimal, uuid.UUID)


class NotCacheable(Exception):
    """The expression's SQL depends on more than its digest shows."""


def default_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kefu" / "compiled-sql"


def versions() -> str:
    import duckdb
    import sqlglot

    return f"ibis-{ibis.__version__}-sqlglot-{sqlglot.__version__}-duckdb-{duckdb.__version__}"


class CompiledSQL:
    """SQL text by expression for one dialect; `folder=None` keeps it in memory only."""

    def __init__(self, dialect: str, folder: Path | None = None):
        self.dialect = dialect
        self.folder = folder / versions() if folder is not None else None
        self._sql: dict[ops.Node, str] = {}
        self._digests: dict[ops.Node, str] = {}
        self.compiled = 0  # statements compiled by this instance (the rest came from the cache)

    def sql(self, node: ops.Node, compile_) -> str:
        """The SQL of `node`: remembered, read from disk, or `compile_()` (and then stored)."""
        found = self._sql.get(node)
        if found is not None:
            return found
        if len(self._sql) >= _MAX_REMEMBERED:
            self._sql.clear()
        try:
            key = self.key(node)
        except NotCacheable:
            self.compiled += 1
            return compile_()
        sql = self._read(key)
        if sql is None:
            sql = compile_()
            self.compiled += 1
            self._write(key, sql)
        self._sql[node] = sql
        return sql

    def key(self, node: ops.Node) -> str:
        """The file name of `node`'s SQL: a digest of the expression, the dialect and the format."""
        if len(self._digests) >= _MAX_REMEMBERED:
            self._digests.clear()
        return hashlib.sha256(f"{FORMAT}:{self.dialect}:{digest(node, self._digests)}".encode()).hexdigest()

    def _read(self, key: str) -> str | None:
        if self.folder is None:
            return None
        try:
            text = (self.folder / f"{key}.sql").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        sql, _, check = text.rpartition("\n-- sha256 ")
        if check != hashlib.sha256(sql.encode()).hexdigest():
            return None
        return sql

    def _write(self, key: str, sql: str) -> None:
        if self.folder is None:
            return
        check = hashlib.sha256(sql.encode()).hexdigest()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(f"{sql}\n-- sha256 {check}")
                os.replace(temporary, self.folder / f"{key}.sql")
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            self.folder = None  # read-only or full: remember in memory only


def digest(node: ops.Node, memo: dict[ops.Node, str]) -> str:
    """A digest of the expression below `node` that is the same in every process (no hash() of str).

    It spells out each operation's class and every argument by name: operations by their digest,
    tables by name, schema and namespace (not the backend holding them), literals by type and
    value. Raises NotCacheable for in-memory tables and UDFs.
    """
    found = memo.get(node)
    if found is not None:
        return found
    if isinstance(node, (ops.InMemoryTable, ops.ScalarUDF, ops.AggUDF)):
        raise NotCacheable(type(node).__name__)
    kind = type(node)
    parts = [f"{kind.__module__}.{kind.__qualname__}"]
    for name, value in zip(node.__argnames__, node.__args__, strict=True):
        parts.append(f"{name}={_token(value, memo)}")
    found = memo[node] = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return found


def _token(value: object, memo: dict[ops.Node, str]) -> str:
    if isinstance(value, ops.Node):
        return digest(value, memo)
    if isinstance(value, _PLAIN):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, BaseBackend):
        return "backend"  # a table's backend: the dialect is part of the key already
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, _VALUES):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, (tuple, list)):
        return "[" + ",".join(_token(v, memo) for v in value) + "]"
    if isinstance(value, (frozenset, set)):
        return "{" + ",".join(sorted(_token(v, memo) for v in value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_token(k, memo)}:{_token(v, memo)}" for k, v in value.items()) + "}"
    names = getattr(value, "__argnames__", None)
    if names is not None:  # Ibis value objects: data types, schemas, namespaces
        kind = type(value)
        inner = ",".join(f"{n}={_token(v, memo)}" for n, v in zip(names, value.__args__, strict=True))
        return f"{kind.__module__}.{kind.__qualname__}({inner})"
    raise NotCacheable(type(value).__qualname__)
