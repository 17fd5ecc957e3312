"""Reading with dictionaries (`kefu report` over files) gives the values, and the refusals, of plain reading.

A report reads the id and enum columns of Parquet files as dictionaries, puts the pieces on one
dictionary shared across tables and checks rows by their codes (interchange/dictionaries.py,
validation.py); an import reads the same files as plain strings. Both must read the same values,
with many row groups and with formats mixed, and refuse a bad dataset with the same file, line
and field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shop_dataset import Rows

from kefu.interchange.dictionaries import PARTED, encode, is_dictionary, shared_dictionary
from kefu.interchange.errors import DatasetError, Problem
from kefu.interchange.files import find_tables, read_table
from kefu.interchange.schema import TABLES
from kefu.interchange.validation import Context, load_dataset

# Ids as sellers' files have them: short, with shared prefixes and endings, some blank or missing.
IDS = st.one_of(
    st.none(), st.sampled_from(["", "c-01", "c-10", "000123", "b-77", "é", "c-0001"]), st.text(max_size=6)
)


@settings(max_examples=40, deadline=None)
@given(pool=st.lists(IDS, min_size=1, max_size=30), seed=st.integers(0, 2**32 - 1))
def test_encoding_many_strings_in_parts_is_arrows_dictionary_encode(pool, seed):
    rows = np.random.default_rng(seed).integers(0, len(pool), PARTED + 1000)
    values = pa.array(pool, pa.string()).take(pa.array(rows)).slice(7)  # an offset, as a slice has
    dictionary, codes = encode(values)
    expected = pc.dictionary_encode(values)
    assert dictionary.equals(expected.dictionary)  # distinct values, in the order they first appear
    assert np.array_equal(codes, expected.indices.fill_null(-1).to_numpy())


def test_encoding_a_million_distinct_ids_keeps_their_first_order():
    generator = np.random.default_rng(1)
    ids = pa.array([f"c{i:07d}" for i in generator.permutation(400_000)])
    values = ids.take(pa.array(generator.integers(0, len(ids), 1_000_000)))
    dictionary, codes = encode(values)
    expected = pc.dictionary_encode(values)
    assert dictionary.equals(expected.dictionary)
    assert np.array_equal(codes, expected.indices.to_numpy())


@st.composite
def chunks(draw, shared: list[pa.Array]) -> pa.Array:
    """A piece of a column as a reader may give it: plain or dictionary-encoded, sliced, with nulls,
    or a dictionary another piece uses too (the same buffers)."""
    values = pa.array(draw(st.lists(IDS, max_size=12)), pa.string())
    kind = draw(st.sampled_from(["plain", "coded", "again", "repeats"]))
    if kind == "coded":
        values = pc.dictionary_encode(values)
        shared.append(values.dictionary)
    elif kind == "again" and shared:  # rows of a dictionary already used by another piece
        dictionary = draw(st.sampled_from(shared))
        picks = draw(st.lists(st.one_of(st.none(), st.integers(0, max(len(dictionary) - 1, 0))), max_size=8))
        indices = pa.array(picks if len(dictionary) else [None] * len(picks), pa.int32())
        values = pa.DictionaryArray.from_arrays(indices, dictionary)
    elif kind == "repeats":  # a dictionary with a value twice and one unused, int8 indices
        indices = pa.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=8)), pa.int8())
        values = pa.DictionaryArray.from_arrays(indices, pa.array(["a", "b", "a", "unused"]))
    start = draw(st.integers(0, len(values)))
    return values.slice(start)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_shared_dictionary_holds_each_value_once_and_every_row_reads_back(data):
    shared: list[pa.Array] = []
    columns = data.draw(st.lists(st.lists(chunks(shared), max_size=4), min_size=1, max_size=4))
    dictionary, indices = shared_dictionary(columns)
    listed = [v for column in columns for chunk in column for v in _listed(chunk)]
    assert dictionary.to_pylist() == list(dict.fromkeys(v for v in listed if v is not None))
    for column, coded in zip(columns, indices, strict=True):
        coded.validate(full=True)
        assert coded.type == pa.int32()
        rows = [v for chunk in column for v in _decoded(chunk)]
        assert [None if i is None else dictionary[i].as_py() for i in coded.to_pylist()] == rows


def _listed(chunk: pa.Array) -> list:
    return (chunk.dictionary if is_dictionary(chunk) else chunk).to_pylist()


def _decoded(chunk: pa.Array) -> list:
    return (chunk.dictionary_decode() if is_dictionary(chunk) else chunk).to_pylist()


def as_parquet(folder: Path, target: Path) -> Path:
    """The dataset with every part written as Parquet (strings as read), two rows a row group: each
    row group has a dictionary of its own."""
    for name, parts in find_tables(folder, TABLES).items():
        for part in parts:
            table = read_table(next(s for s in TABLES if s.name == name), [part]).data
            path = target / Path(part.label).with_suffix(".parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path, row_group_size=2)
    return target


def plain_and_coded(folder: Path) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    return (
        load_dataset(folder, Context(), dictionaries=False).tables,
        load_dataset(folder, Context(), dictionaries=True).tables,
    )


def problems(folder: Path, dictionaries: bool) -> list[Problem]:
    with pytest.raises(DatasetError) as refused:
        load_dataset(folder, Context(), dictionaries=dictionaries)
    return refused.value.problems


@pytest.mark.parametrize("layout", ["mixed formats", "parquet, many row groups"])
def test_dictionaries_read_the_values_plain_reading_does(good_dataset, tmp_path, layout):
    folder = good_dataset if layout == "mixed formats" else as_parquet(good_dataset, tmp_path / "parquet")
    plain, coded = plain_and_coded(folder)
    assert pa.types.is_dictionary(coded["ratings"].schema.field("conversation_id").type)
    for name, table in plain.items():
        assert _plain(coded[name]).to_pylist() == table.to_pylist(), name


def _plain(table: pa.Table) -> pa.Table:
    """The table with dictionary columns written out as strings."""
    return pa.table(
        {
            n: c.cast(c.type.value_type) if is_dictionary(c) else c
            for n, c in zip(table.column_names, table.columns, strict=True)
        }
    )


def _set(table: str, index: int, **values) -> Callable[[Rows], None]:
    def spoil(rows: Rows) -> None:
        rows[table][index].update(values)

    return spoil


# Each spoils the good dataset (shop_dataset.py) in one place that the coded checks look at.
SPOILS = {
    "a conversation changes shop": (_set("messages", 3, shop_id="ny01"), "shop_id"),
    "a conversation changes buyer": (_set("messages", 6, buyer_id="b-78"), "buyer_id"),
    "an agent message without agent_id": (_set("messages", 5, agent_id=""), "agent_id"),
    "an unknown sender": (_set("messages", 4, sender="customer"), "sender"),
    "an unknown score": (_set("ratings", 1, score="great"), "score"),
    "a repeated order_id": (_set("orders", 1, order_id="000789"), "order_id"),
    "a repeated rating_id": (_set("ratings", 2, rating_id="000001"), "rating_id"),
}


@pytest.mark.parametrize("layout", ["mixed formats", "parquet, many row groups"])
@pytest.mark.parametrize("spoil", SPOILS, ids=list(SPOILS))
def test_dictionaries_refuse_a_bad_dataset_as_plain_reading_does(spoilt_dataset, tmp_path, spoil, layout):
    change, field = SPOILS[spoil]
    folder = spoilt_dataset(change)
    if layout != "mixed formats":
        folder = as_parquet(folder, tmp_path / "parquet")
    plain = problems(folder, dictionaries=False)
    assert plain[0].field == field
    assert problems(folder, dictionaries=True) == plain


def write_parquet(folder: Path, name: str, rows: dict[str, list], row_group_size: int = 2) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), folder / f"{name}.parquet", row_group_size=row_group_size)


MESSAGES = {
    "message_id": ["m1", "m2", None, "m3", None],
    "conversation_id": ["c1", "c1", "c2", "c2", "c3"],
    "shop_id": ["s1", "s1", "s2", "s2", "s1"],
    "buyer_id": ["b1", "b1", "b1", "b1", "b2"],
    "sender": ["buyer", "agent", "buyer", "bot", "buyer"],
    "agent_id": [None, "a1", None, None, None],
    "sent_at": [f"2026-11-02T10:0{i}:00+08:00" for i in range(5)],
}


def test_a_buyer_listed_twice_for_one_shop_is_refused_by_both_readings(tmp_path):
    # The buyers' key has two columns, both read as dictionaries (a buyer repeats across shops).
    buyers = {"buyer_id": ["b1", "b1", "b2", "b1"], "shop_id": ["s1", "s2", "s1", "s2"]}
    write_parquet(tmp_path, "messages", MESSAGES)
    write_parquet(tmp_path, "buyers", buyers)
    plain = problems(tmp_path, dictionaries=False)
    assert [(p.where, p.field) for p in plain] == [("buyers.parquet row 4 (row group 1)", "buyer_id")]
    assert "buyer_id + shop_id repeats the row at buyers.parquet row 2 (row group 0)" in plain[0].message
    assert problems(tmp_path, dictionaries=True) == plain


def test_messages_without_ids_repeat_nothing_and_a_repeated_id_is_refused(tmp_path):
    write_parquet(tmp_path / "good", "messages", MESSAGES)
    plain, coded = plain_and_coded(tmp_path / "good")
    assert _plain(coded["messages"]).to_pylist() == plain["messages"].to_pylist()
    write_parquet(tmp_path / "bad", "messages", {**MESSAGES, "message_id": ["m1", "m2", None, "m1", None]})
    plain = problems(tmp_path / "bad", dictionaries=False)
    assert [(p.where, p.field) for p in plain] == [("messages.parquet row 4 (row group 1)", "message_id")]
    assert problems(tmp_path / "bad", dictionaries=True) == plain


def test_repeats_among_few_or_far_apart_codes():
    from kefu.interchange.validation import repeats

    assert not repeats(np.array([-1, 0, 3, 2]))  # counted
    assert repeats(np.array([-1, 3, 0, 3]))
    assert not repeats(np.array([5, 10**12, 7]))  # sorted
    assert repeats(np.array([10**12, 5, 10**12]))
    assert not repeats(np.array([], dtype=np.int64))


def test_key_codes_of_several_columns_are_equal_exactly_when_every_column_is():
    from kefu.interchange.validation import dense, key_codes

    times = pa.chunked_array([pa.array(np.array([0, 2**40, 0, 2**40, 0], dtype=np.int64))])
    names = pa.chunked_array([pa.array(["a", "b", "a", "a", None])])
    codes = key_codes([times, names, times])
    assert codes[0] == codes[2] and len(set(codes.tolist())) == 4
    assert sorted(set(dense(codes).tolist())) == [0, 1, 2, 3]
