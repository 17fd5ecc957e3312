"""Turning a column of strings into the typed column its field declares, a million rows at a time.

Each conversion runs vectorised in Arrow. When Arrow refuses a column, the slow path looks
for the first bad row only then, so valid data never pays for the error report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kefu.interchange.dictionaries import is_dictionary, map_values, rows_where
from kefu.interchange.schema import Field, Kind

UTC_US = pa.timestamp("us", "UTC")
MONEY = pa.decimal128(12, 2)
OFFSET_AT_END = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
TRUE_WORDS = ("true", "1", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "no", "n", "f", "")


@dataclass(frozen=True)
class BadValue:
    """The first row of a column that cannot be converted, and how many rows are bad."""

    row: int
    message: str
    count: int = 1


def blank_to_null(column: pa.Array) -> pa.Array:
    """Empty strings (CSV, Excel) and nulls (JSON, Parquet) mean the same: no value."""
    if is_dictionary(column):
        blank = rows_where(column, pc.equal(column.dictionary, "").to_numpy(zero_copy_only=False))
        if not len(blank):
            return column
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        valid[blank] = False
        indices = pa.array(column.indices.fill_null(0).to_numpy(zero_copy_only=False), mask=~valid)
        return pa.DictionaryArray.from_arrays(indices, column.dictionary)
    if not pa.types.is_string(column.type):
        return column
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def missing_rows(column: pa.Array) -> np.ndarray:
    """Indices of rows with no value."""
    if not column.null_count:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))


def convert(
    column: pa.Array, field: Field, zone_of: Callable[[np.ndarray], list[str]]
) -> pa.Array | BadValue:
    """The typed column for `field`, or the first bad value. Nulls stay null."""
    kind = field.kind
    if kind in (Kind.ID, Kind.TEXT):
        return column
    if kind is Kind.ENUM:
        return _enum(column, field)
    if kind is Kind.TIMESTAMP:
        return to_instants(column, zone_of)
    if kind is Kind.MONEY:
        return _cast_or_find(column, MONEY, "is not an amount in yuan with at most 2 decimal places")
    if kind is Kind.INT:
        result = _cast_or_find(column, pa.int64(), "is not a whole number")
        if isinstance(result, pa.Array) and (field.min_value is not None or field.max_value is not None):
            return _check_range(result, field)
        return result
    if kind is Kind.BOOL:
        return _bool(column)
    raise AssertionError(kind)


def _enum(column: pa.Array, field: Field) -> pa.Array | BadValue:
    if is_dictionary(column):  # each distinct value checked once
        column = map_values(column, pc.utf8_trim_whitespace)
        known = pc.is_in(column.dictionary, pa.array(field.choices)).to_numpy(zero_copy_only=False)
        bad = rows_where(column, ~known)
    else:
        column = pc.utf8_trim_whitespace(column)
        ok = pc.or_(pc.is_in(column, pa.array(field.choices)), column.is_null())
        bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    if len(bad):
        value = column[int(bad[0])].as_py()
        allowed = ", ".join(field.choices)
        return BadValue(int(bad[0]), f"{value!r} is not one of: {allowed}", len(bad))
    return column


def _bool(column: pa.Array) -> pa.Array | BadValue:
    words = pc.utf8_lower(pc.utf8_trim_whitespace(column.fill_null("")))
    true = pc.is_in(words, pa.array(TRUE_WORDS))
    known = pc.or_(true, pc.is_in(words, pa.array(FALSE_WORDS)))
    bad = np.flatnonzero(~known.to_numpy(zero_copy_only=False))
    if len(bad):
        value = column[int(bad[0])].as_py()
        return BadValue(int(bad[0]), f"{value!r} is not true/false, 1/0 or empty", len(bad))
    return true


def _check_range(column: pa.Array, field: Field) -> pa.Array | BadValue:
    ok = column.is_null()
    inside = pa.array(np.ones(len(column), dtype=bool))
    if field.min_value is not None:
        inside = pc.and_(inside, pc.greater_equal(column, field.min_value))
    if field.max_value is not None:
        inside = pc.and_(inside, pc.less_equal(column, field.max_value))
    ok = pc.or_(ok, inside.fill_null(False))
    bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    if len(bad):
        low = "" if field.min_value is None else f"{field.min_value}"
        high = "" if field.max_value is None else f"{field.max_value}"
        value = column[int(bad[0])].as_py()
        return BadValue(int(bad[0]), f"{value} is outside {low}..{high}", len(bad))
    return column


def _cast_or_find(column: pa.Array, target: pa.DataType, why: str) -> pa.Array | BadValue:
    trimmed = pc.utf8_trim_whitespace(column) if pa.types.is_string(column.type) else column
    try:
        return trimmed.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _first_uncastable(trimmed, target, why)


def _first_uncastable(column: pa.Array, target: pa.DataType, why: str) -> BadValue:
    first, count = None, 0
    for index, value in enumerate(column.to_pylist()):
        if value is None:
            continue
        try:
            pa.array([value], column.type).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            count += 1
            if first is None:
                first = index
    return BadValue(first if first is not None else 0, f"{column[first or 0].as_py()!r} {why}", max(count, 1))


def to_instants(column: pa.Array, zone_of: Callable[[np.ndarray], list[str]]) -> pa.Array | BadValue:
    """RFC 3339 strings (or typed timestamps) as UTC instants; values without offset use `zone_of`.

    `zone_of(rows)` names the time zone (the shop's) for each of the given row indices.
    """
    why = "is not an RFC 3339 timestamp (e.g. 2026-11-20T10:15:02+08:00)"
    if pa.types.is_timestamp(column.type):
        if column.type.tz is not None:
            return column.cast(UTC_US)
        return _localise(column.cast(pa.timestamp("us")), np.arange(len(column)), zone_of, len(column))
    column = pc.utf8_trim_whitespace(column)
    with_offset = (
        pc.match_substring_regex(column, OFFSET_AT_END).fill_null(False).to_numpy(zero_copy_only=False)
    )
    present = column.is_valid().to_numpy(zero_copy_only=False)
    aware_rows = np.flatnonzero(with_offset)
    naive_rows = np.flatnonzero(present & ~with_offset)
    micros = np.zeros(len(column), dtype=np.int64)
    if len(aware_rows):
        part = column.take(pa.array(aware_rows))
        try:
            micros[aware_rows] = part.cast(UTC_US).cast(pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = _first_uncastable(part, UTC_US, why)
            return BadValue(int(aware_rows[bad.row]), bad.message, bad.count)
    if len(naive_rows):
        part = column.take(pa.array(naive_rows))
        try:
            naive = part.cast(pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = _first_uncastable(part, pa.timestamp("us"), why)
            return BadValue(int(naive_rows[bad.row]), bad.message, bad.count)
        local = _localise(naive, naive_rows, zone_of, len(column))
        if isinstance(local, BadValue):
            return local
        micros[naive_rows] = local.cast(pa.int64()).fill_null(0).to_numpy()[naive_rows]
    return pa.array(micros, pa.int64(), mask=~present).cast(UTC_US)


def _localise(naive: pa.Array, rows: np.ndarray, zone_of: Callable[[np.ndarray], list[str]], size: int):
    """Wall-clock times of `rows` read in each row's zone, placed into a column of `size` rows."""
    zones = np.array(zone_of(rows), dtype=object)
    micros = np.zeros(size, dtype=np.int64)
    for zone in sorted(set(zones.tolist())):
        mine = np.flatnonzero(zones == zone)
        try:
            local = pc.assume_timezone(
                naive.take(pa.array(mine)), timezone=zone, ambiguous="earliest", nonexistent="earliest"
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            return BadValue(int(rows[mine[0]]), f"time zone {zone!r} cannot be used: {exc}")
        micros[rows[mine]] = local.cast(pa.int64()).fill_null(0).to_numpy()
    mask = np.ones(size, dtype=bool)
    mask[rows] = ~naive.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(micros, pa.int64(), mask=mask).cast(UTC_US)
