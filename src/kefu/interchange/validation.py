"""Reading a dataset folder into typed, checked tables: every problem found before anything is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kefu.interchange.conversions import BadValue, blank_to_null, convert, missing_rows
from kefu.interchange.dictionaries import BLOCK, first_of, is_dictionary, is_value, shared_dictionary, whole
from kefu.interchange.dictionaries import codes as value_codes_of
from kefu.interchange.errors import DatasetError, Problem
from kefu.interchange.files import Part, RawTable, find_tables, read_tables, release_unused_memory
from kefu.interchange.schema import SHOP_VIA_ORDER, TABLES

MAX_PROBLEMS = 50
Found = tuple[str, int | None, str | None, str, int]  # a problem's table, row, field, message, rows like it


@dataclass
class Dataset:
    """A validated dataset: typed Arrow tables named as in the contract."""

    tables: dict[str, pa.Table]
    parts: dict[str, list[Part]]  # the files each table was read from
    zones: dict[str, str] = field(default_factory=dict)  # shop_id -> time zone used

    def get(self, name: str) -> pa.Table | None:
        return self.tables.get(name)

    @cached_property
    def digest(self) -> str:
        """Identifies the files' contents, so a repeated import is recognised (a report never asks)."""
        return _digest(self.parts)


@dataclass
class Context:
    """What the store already knows, needed to read a dataset right."""

    zones: dict[str, str] = field(default_factory=dict)  # shop_id -> time zone
    default_zone: str = "Asia/Shanghai"
    order_shops: Callable[[set[str]], dict[str, str]] = lambda ids: {}  # orders outside the dataset
    only_zone: str | None = None  # every shop is read in this zone (a report's --tz), whatever it lists


def load_dataset(
    folder: Path,
    context: Context | None = None,
    progress: Callable[[str], None] | None = None,
    fields: Mapping[str, tuple[str, ...]] | None = None,
    dictionaries: bool = False,
) -> Dataset:
    """Read and check every table of the dataset in `folder`; raise DatasetError listing what is wrong.

    `fields` narrows the reading to some tables and fields (what a report needs); the checks
    of what is read stay the same. With `dictionaries`, id and enum columns of Parquet files
    come back dictionary-encoded (files.read_table), checked once per distinct value.
    """
    return check_dataset(read_dataset(folder, progress, fields, dictionaries), context, progress)


@dataclass
class RawDataset:
    """A dataset's tables as read, not yet checked (load_dataset's first half)."""

    tables: dict[str, RawTable]
    parts: dict[str, list[Part]]


def read_dataset(
    folder: Path,
    progress: Callable[[str], None] | None = None,
    fields: Mapping[str, tuple[str, ...]] | None = None,
    dictionaries: bool = False,
) -> RawDataset:
    """Read the tables of the dataset in `folder` (see load_dataset); a missing messages table or an
    unreadable file raises DatasetError already."""
    specs = TABLES if fields is None else tuple(s.only(fields[s.name]) for s in TABLES if s.name in fields)
    parts = find_tables(folder, specs)
    if "messages" not in parts:
        raise DatasetError(
            [
                Problem(
                    str(folder),
                    None,
                    "has no messages table (messages.jsonl, .csv, .parquet, .xlsx or messages/)",
                )
            ]
        )
    raw = read_tables([(s, parts[s.name]) for s in specs if s.name in parts], dictionaries, progress)
    release_unused_memory()
    if dictionaries:
        share_dictionaries(raw)
        release_unused_memory()
    return RawDataset(raw, parts)


def check_dataset(
    raw: RawDataset, context: Context | None = None, progress: Callable[[str], None] | None = None
) -> Dataset:
    """Type and check the tables as read (load_dataset's second half); DatasetError lists what is wrong."""
    checker = _Checker(raw.tables, context or Context())
    tables = checker.run(progress)
    return Dataset(tables, raw.parts, checker.zones)


def share_dictionaries(raw: dict[str, RawTable]) -> None:
    """Put every dictionary column on one dictionary of distinct values, shared by the columns of that
    name in all tables: a buyer's id then has one code in messages, orders and ratings alike."""
    holders: dict[str, list[str]] = {}
    for table, read in raw.items():
        for name in read.data.column_names:
            if is_dictionary(read.data.column(name)):
                holders.setdefault(name, []).append(table)
    # Two at a time: hashing and remapping let go of the GIL, and the other core is idle here
    # (reading the files used both). Columns with the most distinct values first.
    names = sorted(holders, key=lambda n: -sum(_dictionary_sizes(raw[t].data.column(n)) for t in holders[n]))
    with ThreadPoolExecutor(2) as pool:
        coded = pool.map(lambda n: shared_dictionary([raw[t].data.column(n) for t in holders[n]]), names)
        # Each column is replaced as soon as it is coded: its chunks are freed while others are.
        for name, (dictionary, indices) in zip(names, coded, strict=True):
            for table, codes in zip(holders[name], indices, strict=True):
                data = raw[table].data
                column = pa.DictionaryArray.from_arrays(codes, dictionary, safe=False)  # in range: made so
                raw[table].data = data.set_column(data.schema.get_field_index(name), name, column)


def _dictionary_sizes(column: pa.ChunkedArray) -> int:
    return sum(len(chunk.dictionary) for chunk in column.chunks if is_dictionary(chunk))


def _digest(parts) -> str:
    sha = hashlib.sha256()
    for name in sorted(parts):
        for part in parts[name]:
            sha.update(part.label.encode())
            with part.path.open("rb") as fh:
                sha.update(hashlib.file_digest(fh, "sha256").digest())
    return sha.hexdigest()


class _Checker:
    def __init__(self, raw: dict[str, RawTable], context: Context):
        self.raw = raw
        self.context = context
        self.problems: list[Problem] = []
        self.zones = dict(context.zones)
        self._order_shop: dict[str, str] = {}

    def problem(
        self, table: str, row: int | None, field_name: str | None, message: str, count: int = 1
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            return
        raw = self.raw[table]
        where = raw.locate(row) if row is not None else raw.parts[0].label
        more = f" (and {count - 1} more rows like it)" if count > 1 else ""
        self.problems.append(Problem(where, field_name, message + more))

    def run(self, progress) -> dict[str, pa.Table]:
        self._read_zones()
        typed: dict[str, pa.Table] = {}
        for spec in TABLES:
            if spec.name not in self.raw:
                continue
            if progress:
                progress(f"checking {spec.name}")
            typed[spec.name] = self._typed(spec.name)
        if not self.problems:
            # Side by side: the checks are numpy and Arrow passes that let go of the GIL. Their
            # problems are listed in a fixed order all the same.
            with ThreadPoolExecutor(2) as pool:
                checks = [pool.submit(self._check_messages, typed["messages"])]
                checks += [pool.submit(self._check_unique_keys, name, table) for name, table in typed.items()]
                for check in checks:
                    for found in check.result():
                        self.problem(*found)
        if self.problems:
            raise DatasetError(self.problems)
        return typed

    def _read_zones(self) -> None:
        shops = self.raw.get("shops")
        if shops is None:
            return
        ids = shops.data.column("shop_id").to_pylist()
        for row, (shop, zone) in enumerate(zip(ids, shops.data.column("timezone").to_pylist(), strict=True)):
            if not zone or not shop:
                continue
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                self.problem(
                    "shops", row, "timezone", f"{zone!r} is not an IANA time zone such as Asia/Shanghai"
                )
                continue
            if self.context.only_zone is None:
                self.zones[shop] = zone

    def _zone_lookup(self, table: str) -> Callable[[np.ndarray], list[str]]:
        data = self.raw[table].data
        default = self.context.default_zone
        if "shop_id" in data.column_names and table not in SHOP_VIA_ORDER:
            shops = data.column("shop_id")
            return lambda rows: [self.zones.get(s, default) for s in shops.take(pa.array(rows)).to_pylist()]
        if "order_id" not in data.column_names:
            return lambda rows: [default] * len(rows)
        orders = data.column("order_id")

        def by_order(rows: np.ndarray) -> list[str]:
            ids = orders.take(pa.array(rows)).to_pylist()
            shop_of = self._order_shops(set(ids))
            return [self.zones.get(shop_of.get(i, ""), default) for i in ids]

        return by_order

    def _order_shops(self, ids: set[str]) -> dict[str, str]:
        if not self._order_shop and "orders" in self.raw:
            data = self.raw["orders"].data
            self._order_shop = dict(
                zip(data.column("order_id").to_pylist(), data.column("shop_id").to_pylist(), strict=True)
            )
        missing = {i for i in ids if i not in self._order_shop}
        if missing:
            self._order_shop.update(self.context.order_shops(missing))
        return self._order_shop

    def _typed(self, name: str) -> pa.Table:
        spec = self.raw[name].spec
        data = self.raw[name].data
        zone_of = self._zone_lookup(name)
        columns = {}
        for f in spec.fields:
            column = blank_to_null(whole(data.column(f.name)))
            if f.required:
                gaps = missing_rows(column)
                if len(gaps):
                    self.problem(name, int(gaps[0]), f.name, "is required but empty or missing", len(gaps))
                    columns[f.name] = column
                    continue
            result = convert(column, f, zone_of)
            if isinstance(result, BadValue):
                self.problem(name, result.row, f.name, result.message, result.count)
                columns[f.name] = column
            else:
                columns[f.name] = result
        if name == "messages" and "text" in columns:
            columns["text"] = columns["text"].fill_null("")
        return pa.table(columns)

    def _check_messages(self, messages: pa.Table) -> list[Found]:
        found: list[Found] = []
        rows = agent_rows_without_agent(messages["sender"], messages["agent_id"])
        if len(rows):
            found.append(
                ("messages", int(rows[0]), "agent_id", "an agent message needs the agent's id", len(rows))
            )
        conversations, first = first_rows(messages["conversation_id"])
        for column in ("shop_id", "buyer_id"):
            values = whole(messages[column])
            differs = rows_unlike_the_first(conversations, first, value_codes_of(values))
            if len(differs):
                row = int(differs[0])
                conversation = messages["conversation_id"][row].as_py()
                earlier_row = int(first[conversations[row]])
                earlier = self.raw["messages"].locate(earlier_row)
                found.append(
                    (
                        "messages",
                        row,
                        column,
                        f"conversation {conversation!r} already has {column} {values[earlier_row].as_py()!r} "
                        f"(at {earlier}), here {values[row].as_py()!r}",
                        len(differs),
                    )
                )
        return found

    def _check_unique_keys(self, name: str, table: pa.Table) -> list[Found]:
        spec = self.raw[name].spec
        if not spec.key or table.num_rows == 0:
            return []
        codes = key_codes([table[k] for k in spec.key])
        # messages' key (message_id) may be left out: rows without one repeat nothing.
        present = codes >= 0 if name == "messages" else None
        if not repeats(codes if present is None or present.all() else codes[present]):
            return []  # the usual case: the rows below are looked for only in a file that is refused
        if len(spec.key) > 1:
            codes = dense(codes)
        first = first_of(codes)
        repeated = np.flatnonzero(first[codes] != np.arange(len(codes)))
        if present is not None:
            repeated = repeated[present[repeated]]
        row = int(repeated[0])
        original = self.raw[name].locate(int(first[codes[row]]))
        label = " + ".join(spec.key)
        return [(name, row, spec.key[0], f"{label} repeats the row at {original}", len(repeated))]


def agent_rows_without_agent(senders: pa.ChunkedArray, agent_ids: pa.ChunkedArray) -> np.ndarray:
    """Rows sent by an agent that do not say which agent; counted on Arrow's bitmaps first."""
    if not agent_ids.null_count:
        return np.empty(0, dtype=np.int64)
    missing = pc.and_(is_value(whole(senders), "agent"), pc.is_null(whole(agent_ids)))
    if not pc.any(missing).as_py():
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(missing.to_numpy(zero_copy_only=False))


def key_codes(columns: list[pa.ChunkedArray]) -> np.ndarray:
    """Per row, a code that is equal exactly when every key column is: one column's codes (-1: no
    value), or the columns' codes combined (a time compares as the instant), where a null is a value
    of its own. Combined codes are not dense (dense() numbers them), which saves hashing them."""
    codes = value_codes_of(columns[0])
    for column in columns[1:]:
        more = value_codes_of(column).astype(np.int64) + 1
        width = int(more.max()) + 1
        if int(codes.max()) + 2 > np.iinfo(np.int64).max // width:
            codes = dense(codes)  # numbered from 0 again, so that the product fits
        codes = (codes.astype(np.int64) + 1) * width + more
    return codes


def dense(codes: np.ndarray) -> np.ndarray:
    """The same equalities, numbered from 0 in the order the codes first appear (int32)."""
    return value_codes_of(pa.array(codes))


def repeats(codes: np.ndarray) -> bool:
    """Does a code occur twice? Codes are -1 (null) or more: counted when they are few, else sorted."""
    if not len(codes):
        return False
    if int(codes.max()) < 4 * len(codes):
        return bool(np.bincount(codes + 1).max() > 1)
    ordered = np.sort(codes)
    return bool((ordered[1:] == ordered[:-1]).any())


def first_rows(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """For each row the code of its value, and for each code the first row holding it."""
    codes = value_codes_of(column)
    return codes, first_of(codes)


def rows_unlike_the_first(groups: np.ndarray, first: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows whose value (code) differs from the value of their group's first row (`first_of(groups)`)."""
    at_first = values[first]
    found = [
        start + np.flatnonzero(at_first[groups[start : start + BLOCK]] != values[start : start + BLOCK])
        for start in range(0, len(groups), BLOCK)
    ]
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)
