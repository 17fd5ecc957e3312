"""Where the metric expressions run: the one module that picks and drives an engine.

- `duckdb`: embedded, for reports over files and for the dashboard's snapshot of the store;
- `store`: inside the store's own database (SQLite or PostgreSQL), through Ibis;
- `spark`: PySpark, for data that outgrows one machine (local or a cluster via `KEFU_SPARK_MASTER`).

The definitions never know which one runs them: they see Ibis tables, and the engine turns
Arrow tables (or store queries) into such tables, keeps intermediate results, and fetches.
"""

from __future__ import annotations

import copy
import itertools
import os
from abc import ABC, abstractmethod
from functools import cache

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from kefu.analytics.compiled_sql import CompiledSQL, NotCacheable, default_folder

ENGINES = ("duckdb", "store", "spark")
_names = itertools.count()


class Engine(ABC):
    name: str
    dialect: str
    # Whether turns, the bot's conversations and attributed orders come with the facts, computed
    # on Arrow arrays (timelines.py), rather than from their Ibis definitions on the engine.
    timelines: bool = False

    @abstractmethod
    def load(self, name: str, data: pa.Table) -> ir.Table:
        """Make an Arrow table available to expressions."""

    @abstractmethod
    def _create(self, name: str, sql: str) -> None:
        """Store the result of `sql` as a temporary table called `name`."""

    @abstractmethod
    def _table(self, name: str, schema: ibis.Schema) -> ir.Table:
        """The table `_create` made, read back with the types `schema` gives."""

    def keep(self, expr: ir.Table, hint: str = "kept") -> ir.Table:
        """Compute `expr` once, so that several later expressions read the result instead of redoing it."""
        name = self._name_for(expr, hint)
        self._create(name, self.compile(expr))
        return self._table(name, expr.schema())

    def _name_for(self, expr: ir.Table, hint: str) -> str:
        return f"{hint}_{next(_names)}"

    def compile(self, expr: ir.Table) -> str:
        return ibis.to_sql(expr, dialect=self.dialect)

    def fetch(self, expr: ir.Table) -> pa.Table:
        return expr.to_pyarrow()

    def loaded(self, table: ir.Table) -> pa.Table | None:
        """The Arrow table `table` is, when it was loaded as it is (not filtered or joined) and the
        engine keeps it (DuckDB reads Arrow tables in place); else None."""
        return None

    def beside(self) -> Engine | None:
        """An engine over the same tables whose queries may run on another thread while this one's
        do (close it when done), or None where a connection cannot be shared so."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the engine's connections."""


class DuckDBEngine(Engine):
    name = dialect = "duckdb"

    def __init__(
        self,
        threads: int | None = None,
        memory_limit: str | None = None,
        timelines: bool = True,
        compiled: CompiledSQL | None = None,
    ):
        self.timelines = timelines  # False: the Ibis definitions run on DuckDB too (tests compare)
        # The SQL of each expression, kept between runs (compiled_sql.py).
        self.compiled = compiled or CompiledSQL(self.dialect, default_folder())
        self._kept_names: dict[str, int] = {}
        self._loaded: dict[str, pa.Table] = {}
        self._backend: BaseBackend | None = None
        import duckdb

        # Settings given at connection: a later SET threads starts the workers again, and DuckDB
        # trims glibc's heap each time it does (see kefu.batch_process).
        config = {"threads": int(threads)} if threads else {}
        self.raw = duckdb.connect(":memory:", config=config)
        # What Ibis's backend sets on a connection it opens (times in UTC, no Python variables
        # read as tables), set here as the backend is made only when first wanted (con).
        self.raw.execute("SET TimeZone = 'UTC'")
        self.raw.execute("SET python_enable_replacements = false")
        if memory_limit:
            self.raw.execute(f"SET memory_limit = '{memory_limit}'")
        # Row order is never relied on within a query result; letting DuckDB drop it saves memory.
        self.raw.execute("SET preserve_insertion_order = false")

    @property
    def con(self) -> BaseBackend:
        """Ibis's DuckDB backend over this connection, made when an expression must be compiled or
        run by Ibis itself: its modules take 0.1 s to import, which a report over cached SQL skips."""
        if self._backend is None:
            self._backend = ibis.duckdb.from_connection(self.raw)
        return self._backend

    def load(self, name: str, data: pa.Table) -> ir.Table:
        self.raw.register(name, data)
        self._loaded[name] = data
        return _named_table(name, ibis.Schema.from_pyarrow(data.schema))

    def loaded(self, table: ir.Table) -> pa.Table | None:
        node = table.op()
        return self._loaded.get(node.name) if isinstance(node, ops.UnboundTable) else None

    def _name_for(self, expr: ir.Table, hint: str) -> str:
        """A name from the expression and how often this engine kept it before, not from a counter
        shared by all engines: the queries that read the kept table then compile to the same SQL
        (and find it in the cache) in every run, whatever ran before in the process."""
        try:
            key = self.compiled.key(expr.as_table().op())[:16]
        except NotCacheable:
            return super()._name_for(expr, hint)
        seen = self._kept_names[key] = self._kept_names.get(key, -1) + 1
        return f"{hint}_{key}_{seen}"

    def compile(self, expr: ir.Table) -> str:
        table = expr.as_table()
        return self.compiled.sql(table.op(), lambda: str(ibis.to_sql(table, dialect=self.dialect)))

    def fetch(self, expr: ir.Table) -> pa.Table:
        """What `expr.to_pyarrow()` gives, with the SQL from the cache when it is there."""
        node = expr.op()
        if node.find((ops.InMemoryTable, ops.ScalarUDF, ops.AggUDF)) or expr.as_table().schema().geospatial:
            return self.con.to_pyarrow(expr)  # Ibis registers these (or loads an extension) as it runs them
        result = self.raw.sql(self.compile(expr)).to_arrow_table()
        return expr.__pyarrow_result__(result, data_mapper=_result_mapper())

    def _create(self, name: str, sql: str) -> None:
        # A table of the (in-memory) database, not a temporary one: connections beside see it.
        self.raw.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}')

    def _table(self, name: str, schema: ibis.Schema) -> ir.Table:
        return _named_table(name, schema)  # DuckDB keeps every type as it is

    def beside(self) -> DuckDBEngine:
        """A second connection to the same database. It sees the kept tables and is given the loaded
        ones (DuckDB registers Arrow tables per connection); what it loads itself is its own."""
        twin = copy.copy(self)
        twin.raw = self.raw.cursor()
        twin._loaded = dict(self._loaded)
        twin._backend = None  # its own, over its own connection, if ever wanted
        for name, data in twin._loaded.items():
            twin.raw.register(name, data)
        return twin

    def close(self) -> None:
        self.raw.close()  # a twin's closes its cursor only


def _named_table(name: str, schema: ibis.Schema) -> ir.Table:
    """A table that expressions name in their SQL, as DuckDB holds it (compiled without a backend)."""
    return ibis.table(schema, name=name)


class StoreEngine(Engine):
    """Runs the expressions as SQL inside the store (SQLite or PostgreSQL)."""

    name = "store"

    def __init__(self, url: str):
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            self.dialect = "sqlite"
            self.con = ibis.sqlite.connect(parsed.database or ":memory:")
        elif parsed.get_backend_name() == "postgresql":
            self.dialect = "postgres"
            self.con = ibis.postgres.connect(
                host=parsed.host or "localhost",
                port=parsed.port or 5432,
                user=parsed.username,
                password=parsed.password,
                database=parsed.database,
            )
        else:
            raise ValueError(f"no analytics engine for a {parsed.get_backend_name()} store")
        self.store_dialect = "postgresql" if self.dialect == "postgres" else "sqlite"

    def facts(self, queries: dict[str, str]) -> dict[str, ir.Table]:
        """The store's fact queries as tables of the fact types.

        The types are given, not guessed: Ibis would read a SQLite query's computed columns from
        its first row, which an empty table does not have.
        """
        from kefu.analytics.facts import FACT_COLUMNS, SIDE_COLUMNS

        schemas = FACT_COLUMNS | SIDE_COLUMNS
        return {
            name: self.con.sql(sql, schema=ibis.Schema.from_pyarrow(schemas[name]), dialect=self.dialect)
            for name, sql in queries.items()
        }

    def load(self, name: str, data: pa.Table) -> ir.Table:
        table = f"{name}_{next(_names)}"
        return self.con.create_table(table, written_out(data), temp=True)

    def _create(self, name: str, sql: str) -> None:
        with self.con._safe_raw_sql(f'CREATE TEMP TABLE "{name}" AS {sql}'):
            pass

    def _table(self, name: str, schema: ibis.Schema) -> ir.Table:
        table = self.con.table(name, database="temp") if self.dialect == "sqlite" else self.con.table(name)
        return table.cast(schema)  # SQLite has no boolean type: the expression's types, read back

    def close(self) -> None:
        self.con.disconnect()


class SparkEngine(Engine):
    name = "spark"
    dialect = "pyspark"

    def __init__(self, master: str | None = None):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        master = master or os.environ.get("KEFU_SPARK_MASTER", "local[2]")
        builder = SparkSession.builder.master(master).appName("kefu-report")
        if master.startswith("local"):
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1"
            )
        self.session = (
            builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", os.environ.get("KEFU_SPARK_PARTITIONS", "8"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")
        self.con = ibis.pyspark.connect(self.session)

    def load(self, name: str, data: pa.Table) -> ir.Table:
        frame = self.session.createDataFrame(written_out(data))
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    def _create(self, name: str, sql: str) -> None:
        frame = self.session.sql(sql)
        frame.cache()
        frame.createOrReplaceTempView(name)

    def _table(self, name: str, schema: ibis.Schema) -> ir.Table:
        return self.con.table(name).cast(schema)

    def close(self) -> None:
        self.session.stop()


@cache
def _result_mapper():
    """Ibis's DuckDBPyArrowData (Arrow results in the expression's types), without its module: that
    imports pandas (0.3–0.5 s) whenever pandas is installed, and a report never uses it."""
    from ibis.formats.pyarrow import PyArrowData

    class DuckDBResults(PyArrowData):
        @classmethod
        def convert_scalar(cls, scalar: pa.Scalar, dtype) -> pa.Scalar:
            return pa.scalar(None) if dtype.is_null() else super().convert_scalar(scalar, dtype)

        @classmethod
        def convert_column(cls, column: pa.Array, dtype) -> pa.Array:
            return pa.nulls(len(column)) if dtype.is_null() else super().convert_column(column, dtype)

    return DuckDBResults


def written_out(data: pa.Table) -> pa.Table:
    """The table with dictionary-encoded columns (ids read from Parquet) as plain values, for engines
    that take plain types only (DuckDB reads dictionaries as they are)."""
    if not any(pa.types.is_dictionary(t) for t in data.schema.types):
        return data
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in data.columns]
    return pa.table(columns, names=data.column_names)


def make_engine(name: str, store_url: str | None = None, *, duckdb_threads: int | None = None) -> Engine:
    """The engine called `name`; `duckdb_threads` caps DuckDB's threads (default: one per core)."""
    if name == "duckdb":
        return DuckDBEngine(threads=duckdb_threads)
    if name == "spark":
        return SparkEngine()
    if name == "store":
        if not store_url:
            raise ValueError("the store engine needs a store URL (--db)")
        return StoreEngine(store_url)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
