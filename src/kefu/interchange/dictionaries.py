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

BLOCK = 1 << 20  # rows a column-long pass takes at a time: its temporaries stay in the cache
PARTS = 8  # a power of two: many strings are hashed in this many parts (see encode)
PARTED = 1 << 17  # from this many strings on


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
        place = _place(column, value)
        if place is None:
            return np.zeros(len(column), dtype=bool)
        return column.indices.fill_null(-1).to_numpy(zero_copy_only=False) == place
    return np.asarray(pc.equal(column, value).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def is_value(column: pa.Array | pa.ChunkedArray, value: str) -> pa.BooleanArray:
    """equal_to as Arrow booleans (a bit per row, no nulls), for counting before any row is wanted."""
    column = whole(column)
    if is_dictionary(column):
        place = _place(column, value)
        if place is None:
            return pa.array(np.zeros(len(column), dtype=bool))
        found = pc.equal(column.indices, pa.scalar(place, column.indices.type))
    else:
        found = pc.equal(column, value)
    return found.fill_null(False) if found.null_count else found


def _place(column: pa.DictionaryArray, value: str) -> int | None:
    """Where `value` is in the column's dictionary."""
    return pc.index_in(pa.scalar(value, column.dictionary.type), value_set=column.dictionary).as_py()


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
            key = _key(chunk)
            if key not in placed:
                placed[key] = total
                listed.append(_strings(chunk.dictionary if is_dictionary(chunk) else chunk))
                total += len(listed[-1])
    # Where each listed value went in the shared dictionary (-1: a plain chunk's null).
    dictionary, moved = encode(pa.concat_arrays(listed) if listed else pa.array([], pa.string()))
    # The piece listed first keeps its places when its values are distinct (a dictionary's are).
    head = len(listed[0]) if listed else 0
    kept = next(iter(placed)) if listed and np.array_equal(moved[:head], np.arange(head)) else None
    return dictionary, [_recoded(chunks, moved, placed, kept) for chunks in chunked]


def encode(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct values in the order they first appear, and per value its index there (int32,
    -1 for null): Arrow's dictionary_encode, in parts for many strings."""
    if len(values) < PARTED or not pa.types.is_string(values.type):
        encoded = pc.dictionary_encode(values)
        return encoded.dictionary, _filled(encoded.indices, -1).astype(np.int32, copy=False)
    return _encode_in_parts(values)


def _encode_in_parts(values: pa.StringArray) -> tuple[pa.Array, np.ndarray]:
    """encode, hashing PARTS parts one after another, each the strings with the same last bytes.

    Arrow's hash table for a million distinct ids grows by doubling to ~200 MB of fresh memory,
    which this VM charges for; a table of an eighth of them stays in the cache, and each part
    reuses the memory of the one before (1.05 M conversation ids: 0.4-0.6 s and +195 MB -> 0.2 s
    and +100 MB). Equal strings fall in one part; ids that all end alike fall in one part too,
    which is as slow as one table, never wrong.
    """
    part = _part_of(values)
    by_part = np.argsort(part, kind="stable")  # a radix sort of bytes: in a part, rows keep their order
    ends = np.cumsum(np.bincount(part, minlength=PARTS))
    codes = np.empty(len(values), dtype=np.int32)
    dictionaries: list[pa.Array] = []
    firsts: list[np.ndarray] = []  # per part, the first row of each of its values
    size = 0
    for start, stop in zip(np.r_[0, ends[:-1]], ends, strict=True):
        rows = by_part[start:stop]
        encoded = pc.dictionary_encode(values.take(pa.array(rows)))
        local = _filled(encoded.indices, -1)
        codes[rows] = np.where(local >= 0, local + size, -1)
        firsts.append(rows[first_of(local)[:-1]])
        dictionaries.append(encoded.dictionary)
        size += len(encoded.dictionary)
    # The values put back in the order they first appear, as one hash table lists them.
    order = np.argsort(np.concatenate(firsts), kind="stable")
    rank = np.empty(size + 1, dtype=np.int32)
    rank[order] = np.arange(size, dtype=np.int32)
    rank[size] = -1  # where a null's code (-1) reads
    return pa.concat_arrays(dictionaries).take(pa.array(order)), rank[codes]


def _part_of(values: pa.Array) -> np.ndarray:
    """Per string, its part (0 to PARTS - 1) from its length and last two bytes."""
    offsets = np.frombuffer(values.buffers()[1], np.int32, count=len(values) + 1, offset=4 * values.offset)
    data = values.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None and data.size else np.zeros(1, np.uint8)
    length = np.diff(offsets)
    last = np.take(data, offsets[1:] - 1, mode="clip") * (length > 0)
    before = np.take(data, offsets[1:] - 2, mode="clip") * (length > 1)
    mixed = last.astype(np.int64) * 31 + before.astype(np.int64) * 7 + length
    return (mixed & (PARTS - 1)).astype(np.uint8)


def first_of(codes: np.ndarray) -> np.ndarray:
    """For each code the first row holding it (int32 where it fits); the last place is for -1 (null)."""
    size = int(codes.max()) + 1 if len(codes) else 0
    index = np.int32 if len(codes) < 1 << 31 else np.int64  # half the fresh memory of int64
    first = np.full(size + 1, -1, dtype=index)
    # Each block assigned in reverse, the last block first: every code keeps its smallest row.
    # Blocks keep the row numbers in the cache and allocate no column-long array.
    for start in reversed(range(0, len(codes), BLOCK)):
        stop = min(start + BLOCK, len(codes))
        first[codes[start:stop][::-1]] = np.arange(stop - 1, start - 1, -1, dtype=index)
    return first


def _key(chunk: pa.Array) -> tuple:
    return _identity(chunk.dictionary) if is_dictionary(chunk) else (id(chunk),)


def _recoded(
    chunks: list[pa.Array], moved: np.ndarray, placed: dict[tuple, int], kept: tuple | None
) -> pa.Array:
    """A column's rows as int32 indices into the shared dictionary, written into one buffer.

    numpy's take on the raw indices is several times faster than Arrow's take of indices with
    nulls; the nulls come back as the chunks' validity bitmaps, joined.
    """
    if len(chunks) == 1 and is_dictionary(chunks[0]) and _key(chunks[0]) == kept:
        return chunks[0].indices.cast(pa.int32())  # no copy: its places are the shared ones
    memory = pa.allocate_buffer(4 * sum(len(chunk) for chunk in chunks))
    codes = np.frombuffer(memory, dtype=np.int32)
    valid: list[pa.Array | None] = []  # per chunk, its rows' validity where some row has no value
    row = 0
    for chunk in chunks:
        start, part = placed[_key(chunk)], codes[row : row + len(chunk)]
        row += len(chunk)
        if not is_dictionary(chunk):
            part[:] = moved[start : start + len(chunk)]
            valid.append(pc.is_valid(chunk) if chunk.null_count else None)
            continue
        mine = moved[start : start + len(chunk.dictionary)]
        local = _raw(chunk.indices)  # a null row's slot holds any number: clipped, then masked
        if _key(chunk) == kept and not chunk.null_count:
            part[:] = local
        elif len(mine):
            np.take(mine, local, out=part, mode="clip")
        else:  # every row null
            part[:] = 0
        holes = bool((mine < 0).any())  # a null among the dictionary's values
        valid.append(_valid(chunk, part) if chunk.null_count or holes else None)
    if all(v is None for v in valid):
        return pa.Array.from_buffers(pa.int32(), len(codes), [None, memory])
    # A new array, offset 0 like the codes (even for one piece).
    bits = pa.concat_arrays([pc.is_valid(c) if v is None else v for c, v in zip(chunks, valid, strict=True)])
    return pa.Array.from_buffers(pa.int32(), len(codes), [bits.buffers()[1], memory])


def _valid(chunk: pa.DictionaryArray, part: np.ndarray) -> pa.Array:
    """Rows of a dictionary chunk with a value: the row is not null, nor the value it points to."""
    return pc.and_(pc.is_valid(chunk), pa.array(part >= 0))


def _raw(indices: pa.Array) -> np.ndarray:
    """Integer values as numpy without a copy, nulls or not (to_numpy would copy and make floats)."""
    width = indices.type.bit_width // 8
    data = indices.buffers()[1]
    dtype = np.dtype(f"i{width}") if pa.types.is_signed_integer(indices.type) else np.dtype(f"u{width}")
    if data is None:  # no rows, or a reader that left out the values of an all-null array
        return np.zeros(len(indices), dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=len(indices), offset=indices.offset * width)


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
    if not is_dictionary(column):
        return encode(column)[1]
    return _filled(column.indices, -1).astype(np.int32, copy=False)


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
