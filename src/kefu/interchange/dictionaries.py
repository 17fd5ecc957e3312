"""Dictionary-encoded string columns: each distinct value stored once, rows as integer indices.

Parquet keeps id and enum columns as a dictionary page per row group plus indices. Reading them
that way (rather than as one string per row) lets the checks look at each distinct value once,
and gives analytics the integer codes it wants without hashing ten million strings again.
Every row group has its own dictionary, so the pieces are first put on one dictionary; the
dictionaries made here always hold distinct values, so equal indices mean equal values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_dictionary(column: pa.Array | pa.ChunkedArray) -> bool:
    return pa.types.is_dictionary(column.type)


def whole(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as one array; a single chunk is returned as it is (combine_chunks copies it)."""
    if isinstance(column, pa.Array):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def equal_to(column: pa.Array | pa.ChunkedArray, value: str) -> np.ndarray:
    """Per row: is the value `value` (never for null); a dictionary column compares indices."""
    column = whole(column)
    if is_dictionary(column):
        place = pc.index_in(pa.scalar(value, column.dictionary.type), value_set=column.dictionary).as_py()
        if place is None:
            return np.zeros(len(column), dtype=bool)
        hit = column.indices.fill_null(-1).to_numpy(zero_copy_only=False) == place
        return hit
    return np.asarray(pc.equal(column, value).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def places(column: pa.Array | pa.ChunkedArray, values: pa.Array) -> np.ndarray:
    """Per row, where its value is in `values` (int64); -1 for null or a value not there."""
    column = whole(column)
    if is_dictionary(column):
        found = np.append(_filled(pc.index_in(column.dictionary, value_set=values), -1), -1).astype(np.int64)
        return found[_filled(column.indices, -1)]  # a null index reads the -1 appended
    return _filled(pc.index_in(column, value_set=values), -1).astype(np.int64)


def plain(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The column with dictionary values written out (strings)."""
    return column.cast(column.type.value_type) if is_dictionary(column) else column


def _filled(values: pa.Array, null: int) -> np.ndarray:
    if values.null_count:
        values = values.fill_null(null)
    return values.to_numpy(zero_copy_only=False)


Column = pa.ChunkedArray | pa.Array | list[pa.Array]  # a list: chunks, dictionary-encoded or not


def unify(column: Column) -> pa.DictionaryArray:
    """One dictionary array of distinct string values (int32 indices) for a column of dictionary chunks.

    Arrow's own unification is several times slower for a million distinct values over ten chunks.
    """
    dictionary, (indices,) = shared_dictionary([column])
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def shared_dictionary(columns: list[Column]) -> tuple[pa.Array, list[pa.Array]]:
    """One dictionary of distinct strings for several columns, and each column's int32 indices into it.

    Columns may be dictionary-encoded or plain strings, chunked or not; nulls stay null. The
    dictionary holds the values in the order the pieces first list them.
    """
    chunked = [
        c.chunks if isinstance(c, pa.ChunkedArray) else c if isinstance(c, list) else [c] for c in columns
    ]
    if len(chunked) > 1 and all(len(chunks) == 1 for chunks in chunked):
        alike = _on_one_dictionary([chunks[0] for chunks in chunked])
        if alike is not None:  # already shared (validation.share_dictionaries did it)
            return alike, [chunks[0].indices.cast(pa.int32()) for chunks in chunked]
    # Every distinct dictionary and plain chunk listed once, one after another; a dictionary that
    # several chunks share (the same buffers) is listed, and hashed, once.
    listed: list[pa.Array] = []
    placed: dict[tuple, int] = {}
    total = 0
    for chunks in chunked:
        for chunk in chunks:
            values = chunk.dictionary if is_dictionary(chunk) else chunk
            key = _identity(values) if is_dictionary(chunk) else (id(chunk),)
            if key not in placed:
                placed[key] = total
                listed.append(_strings(values))
                total += len(values)
    encoded = pc.dictionary_encode(pa.concat_arrays(listed) if listed else pa.array([], pa.string()))
    # Where each listed value went in the shared dictionary (-1: a plain chunk's null).
    transpose = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    first = listed[0] if listed else None
    kept_first = first is not None and bool(np.array_equal(transpose[: len(first)], np.arange(len(first))))
    results: list[pa.Array] = []
    for chunks in chunked:
        size = sum(len(c) for c in chunks)
        codes = np.empty(size, dtype=np.int32)
        valid = None  # where a row has a value, once a null is seen
        row = 0
        for chunk in chunks:
            count = len(chunk)
            if is_dictionary(chunk):
                start = placed[_identity(chunk.dictionary)]
                mine = transpose[start : start + len(chunk.dictionary)]
                local = chunk.indices
                if local.null_count:
                    valid = np.ones(size, dtype=bool) if valid is None else valid
                    valid[row : row + count] = local.is_valid().to_numpy(zero_copy_only=False)
                    local = local.fill_null(0)
                local = local.to_numpy(zero_copy_only=False)
                if start == 0 and kept_first:  # the values listed first keep their places
                    codes[row : row + count] = local
                elif len(mine):
                    np.take(mine, local, out=codes[row : row + count])
                else:  # every row null
                    codes[row : row + count] = 0
            else:
                start = placed[(id(chunk),)]
                mine = transpose[start : start + count]
                codes[row : row + count] = mine
                if chunk.null_count:
                    valid = np.ones(size, dtype=bool) if valid is None else valid
                    valid[row : row + count] = mine >= 0
            row += count
        if valid is not None:
            codes[~valid] = 0
        results.append(pa.array(codes, pa.int32(), mask=None if valid is None else ~valid))
    return encoded.dictionary, results


def _on_one_dictionary(arrays: list[pa.Array]) -> pa.Array | None:
    """The dictionary several `arrays` share, the very same buffers, or None.

    Only shared_dictionary gives several columns one dictionary, and its values are distinct.
    """
    if not all(is_dictionary(a) for a in arrays):
        return None
    first = arrays[0].dictionary
    if any(_identity(other.dictionary) != _identity(first) for other in arrays[1:]):
        return None
    return first


def _identity(values: pa.Array) -> tuple:
    """The same for two arrays exactly when they are views of the same buffers."""
    buffers = tuple((b.address, b.size) if b is not None else None for b in values.buffers())
    return (len(values), values.offset, *buffers)


def codes(column: pa.Array) -> np.ndarray:
    """Per row, a code that is equal exactly when the values are equal; -1 for null (int32).

    A dictionary column's indices are the codes: the dictionaries made here hold distinct values.
    """
    column = whole(column)
    found = column.indices if is_dictionary(column) else pc.dictionary_encode(column).indices
    if found.null_count:
        found = found.fill_null(-1)
    return found.to_numpy(zero_copy_only=False)


def map_values(column: pa.DictionaryArray, function) -> pa.DictionaryArray:
    """`function` applied to each distinct value (a trim, say), values that became equal merged."""
    changed = function(column.dictionary)
    if changed.equals(column.dictionary):
        return column
    return unify([pa.DictionaryArray.from_arrays(column.indices, changed)])


def rows_where(column: pa.DictionaryArray, on_values: np.ndarray) -> np.ndarray:
    """Rows whose value is marked in `on_values` (one flag per dictionary entry); null rows never are."""
    if not on_values.any():
        return np.empty(0, dtype=np.int64)
    indices = column.indices.fill_null(0).to_numpy(zero_copy_only=False)
    hit = on_values[indices]
    if column.null_count:
        hit &= column.is_valid().to_numpy(zero_copy_only=False)
    return np.flatnonzero(hit)


def _strings(values: pa.Array) -> pa.Array:
    return values if values.type == pa.string() else values.cast(pa.string())
