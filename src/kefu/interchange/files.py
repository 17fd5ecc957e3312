"""Finding a dataset's tables on disk and reading them into Arrow, whatever their encoding.

A table is `<name>.jsonl|.csv|.parquet|.xlsx` or a folder `<name>/` of such parts. Every
column comes back as strings (or as timestamps, when Parquet or Excel typed them), so that
one validator serves all encodings. Each table remembers its parts, so that an error found
at row i can be reported as the file and line a person can open.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from kefu.interchange.dictionaries import is_dictionary, unify
from kefu.interchange.errors import DatasetError, Problem
from kefu.interchange.schema import Kind, TableSpec

# Columns read as dictionaries when asked: few distinct values (senders, shops) or repeated ones (ids).
CODED_KINDS = (Kind.ID, Kind.ENUM)
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}


@dataclass
class Part:
    """One file of a table, with where its rows start in the table."""

    path: Path
    label: str  # path shown in messages, relative to the dataset folder
    fmt: str
    first_row: int = 0
    rows: int = 0
    encoding: str = "utf-8"
    sheet_rows: list[int] = field(default_factory=list)  # xlsx: the sheet row of each data row


@dataclass
class RawTable:
    spec: TableSpec
    data: pa.Table
    parts: list[Part]

    def locate(self, row: int) -> str:
        """Where row `row` of the table is, as "messages.csv line 17"."""
        for part in self.parts:
            if part.first_row <= row < part.first_row + part.rows:
                return locate_in_part(part, row - part.first_row)
        return f"{self.spec.name} row {row + 1}"


def find_tables(folder: Path, specs: tuple[TableSpec, ...]) -> dict[str, list[Part]]:
    """Map each table present in `folder` to its parts, refusing ambiguous layouts."""
    if not folder.is_dir():
        raise DatasetError([Problem(str(folder), None, "is not a folder")])
    found: dict[str, list[Part]] = {}
    problems = []
    for spec in specs:
        candidates = [
            folder / f"{spec.name}{ext}" for ext in EXTENSIONS if (folder / f"{spec.name}{ext}").is_file()
        ]
        sub = folder / spec.name
        if sub.is_dir():
            candidates.append(sub)
        if len(candidates) > 1:
            names = ", ".join(sorted(c.name for c in candidates))
            problems.append(Problem(spec.name, None, f"table given more than once ({names})"))
            continue
        if not candidates:
            continue
        target = candidates[0]
        files = (
            sorted(p for p in target.iterdir() if p.suffix.lower() in EXTENSIONS)
            if target.is_dir()
            else [target]
        )
        if not files:
            problems.append(
                Problem(f"{spec.name}/", None, "folder holds no .jsonl, .csv, .parquet or .xlsx part")
            )
            continue
        found[spec.name] = [Part(p, str(p.relative_to(folder)), EXTENSIONS[p.suffix.lower()]) for p in files]
    if problems:
        raise DatasetError(problems)
    return found


def read_table(spec: TableSpec, parts: list[Part], dictionaries: bool = False) -> RawTable:
    """Read every part of a table and stack them into one Arrow table of the spec's fields.

    With `dictionaries`, id and enum columns of Parquet parts stay dictionary-encoded, each
    chunk with its own dictionary (validation.load_dataset puts them on one, see
    dictionaries.py); other columns and formats come as strings.
    """
    return read_tables([(spec, parts)], dictionaries)[spec.name]


def read_tables(
    tables: Sequence[tuple[TableSpec, list[Part]]],
    dictionaries: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, RawTable]:
    """read_table for several tables, read side by side by a thread per core.

    Each file, and each row group of a Parquet file, is one task, the largest first so that
    no core is left alone with a big one at the end. Arrow's own threads would decode one
    file's columns at a time: a few columns of very unequal cost, so a core idled, and small
    tables waited for the large one (messages at 10 M: 0.65 -> 0.52 s alone).
    """
    planned = [
        (spec, parts, [_plan_reading(part, spec, dictionaries) for part in parts]) for spec, parts in tables
    ]
    tasks = sorted(
        (task for _, _, plans in planned for plan in plans for task in plan), key=lambda t: -t.size
    )
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        done = {task: pool.submit(task.read) for task in tasks}
        read = {}
        try:
            for spec, parts, plans in planned:
                if progress:
                    progress(f"reading {spec.name}")
                pieces = [pa.concat_tables([done[task].result() for task in plan]) for plan in plans]
                read[spec.name] = _stacked(spec, parts, pieces, dictionaries)
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a refused file: the rest is not read for nothing
            raise
    return read


@dataclass(eq=False)  # told apart by identity: each is one future in read_tables
class _Task:
    read: Callable[[], pa.Table]
    size: int  # bytes on disk: which task goes first


def _plan_reading(part: Part, spec: TableSpec, dictionaries: bool) -> list[_Task]:
    """The tasks that read one file; their tables, in order, stacked make the file's table."""
    if part.fmt == "parquet":
        return _plan_parquet(part, spec, dictionaries)
    reader = {"jsonl": _read_jsonl, "csv": _read_csv, "xlsx": _read_xlsx}[part.fmt]
    return [_Task(lambda: reader(part, spec), part.path.stat().st_size)]


def _stacked(spec: TableSpec, parts: list[Part], tables: list[pa.Table], dictionaries: bool) -> RawTable:
    """The parts' tables conformed to the spec and stacked, each part knowing its rows."""
    pieces = []
    offset = 0
    for part, table in zip(parts, tables, strict=True):
        table = _conform(table, spec, dictionaries)
        part.first_row, part.rows = offset, table.num_rows
        offset += table.num_rows
        pieces.append(table)
    if dictionaries and any(is_dictionary(c) for p in pieces for c in p.columns):
        data = _stack_coded(pieces)
    else:
        data = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces, promote_options="permissive")
    return RawTable(spec, data, parts)


def release_unused_memory() -> None:
    """Give back to the system the memory Arrow's allocator keeps after it is freed.

    The Parquet reader's buffers and freed columns stay with Arrow's allocator for its own reuse
    (mimalloc's pool; glibc's heap inside kefu.batch_process, where this is malloc_trim), while
    DuckDB allocates elsewhere and would take fresh pages, which a VM may charge for (~2.8 ms per
    MB here, docs/benchmarks.md); pages given back are taken again cheaply. On glibc's heap
    (inside kefu.batch_process) it is left alone: numpy allocates there too and reuses what
    Arrow freed, at no cost at all (a trim would hand it back to be faulted in again).
    """
    pool = pa.default_memory_pool()
    if pool.backend_name != "system":
        pool.release_unused()


def _stack_coded(pieces: list[pa.Table]) -> pa.Table:
    """Parts stacked; a column that some parts give as plain strings is put on one dictionary."""
    names = pieces[0].column_names
    coded = [n for n in names if any(is_dictionary(p.column(n)) for p in pieces)]
    plain = [p.drop_columns(coded) for p in pieces]
    rest = plain[0] if len(plain) == 1 else pa.concat_tables(plain, promote_options="permissive")
    columns = {}
    for name in coded:
        chunks = [k for p in pieces for k in p.column(name).chunks]
        mixed = not all(is_dictionary(k) for k in chunks)
        columns[name] = unify(chunks) if mixed else pa.chunked_array(chunks, chunks[0].type)
    return pa.table({n: columns[n] if n in columns else rest.column(n) for n in names})


def _conform(table: pa.Table, spec: TableSpec, dictionaries: bool = False) -> pa.Table:
    """Keep the spec's columns (absent ones as nulls), as strings unless already timestamps
    (or, with `dictionaries`, dictionaries of strings: the chunks keep their own dictionaries)."""
    columns = {}
    for f in spec.fields:
        if f.name not in table.column_names:
            columns[f.name] = pa.nulls(table.num_rows, pa.string())
            continue
        if dictionaries and f.kind in CODED_KINDS and table.num_rows and is_dictionary(table.column(f.name)):
            columns[f.name] = pa.chunked_array(
                [_coded_strings(c) for c in table.column(f.name).chunks],
                pa.dictionary(pa.int32(), pa.string()),
            )
            continue
        column = table.column(f.name).combine_chunks() if table.num_rows else pa.array([], pa.string())
        if f.kind is Kind.TIMESTAMP and pa.types.is_timestamp(column.type):
            columns[f.name] = column.cast(pa.timestamp("us", column.type.tz))
        elif pa.types.is_null(column.type):
            columns[f.name] = pa.nulls(table.num_rows, pa.string())
        else:
            columns[f.name] = _as_strings(column)
    return pa.table(columns)


def _coded_strings(chunk: pa.DictionaryArray) -> pa.DictionaryArray:
    """A dictionary chunk with int32 indices and string values (numbers in the dictionary as text)."""
    values = chunk.dictionary
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = _as_strings(values)
    # Not checked again (safe=False): the Parquet reader made the indices for this dictionary.
    return pa.DictionaryArray.from_arrays(
        chunk.indices.cast(pa.int32()), values.cast(pa.string()), safe=False
    )


def _as_strings(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    if pa.types.is_dictionary(column.type):
        return _as_strings(column.dictionary_decode())
    kind = column.type
    if pa.types.is_floating(kind) or pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pa.array([text_of(v) for v in column.to_pylist()], pa.string())
    return column.cast(pa.string())


def _read_jsonl(part: Part, spec: TableSpec) -> pa.Table:
    # Ids, text and timestamps are read as strings: Arrow's inference would turn
    # "2026-11-20T10:15:02+08:00" into a naive timestamp, losing the offset.
    as_text = {Kind.ID, Kind.TEXT, Kind.TIMESTAMP, Kind.ENUM}
    schema = pa.schema([(f.name, pa.string()) for f in spec.fields if f.kind in as_text])
    # Other fields (money, ints, bools) are inferred: "ignore" would drop them, not only unknown ones.
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        return pajson.read_json(part.path, parse_options=options)
    except pa.ArrowInvalid:
        return _read_jsonl_slowly(part, spec)


def _read_jsonl_slowly(part: Part, spec: TableSpec) -> pa.Table:
    """Line by line, for files Arrow refuses (mixed types, odd values): finds the bad line too."""
    columns: dict[str, list[str | None]] = {name: [] for name in spec.names}
    with part.path.open(encoding="utf-8-sig", errors="strict") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    [Problem(f"{part.label} line {number}", None, f"not valid JSON ({exc.msg})")]
                ) from None
            if not isinstance(record, dict):
                raise DatasetError(
                    [Problem(f"{part.label} line {number}", None, "a line must be a JSON object")]
                )
            for name, values in columns.items():
                values.append(text_of(record.get(name)))
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def text_of(value: object) -> str | None:
    """A cell's value as the text the validator reads; None for no value.

    One rule for JSON values, spreadsheet cells and typed Parquet columns: 12.0 is the
    integer 12, booleans are true/false, naive dates and times stay naive (read later in the
    shop's time zone), nested JSON is kept as JSON text.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _read_csv(part: Part, spec: TableSpec) -> pa.Table:
    for encoding in ("utf-8", "gb18030"):
        try:
            header = _csv_header(part.path, encoding)
            types = {name: pa.string() for name in header}
            wanted = [name for name in header if name in spec.names]
            table = pacsv.read_csv(
                part.path,
                read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 24),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    include_columns=wanted,
                ),
            )
            part.encoding = encoding
            return table
        except UnicodeDecodeError:
            continue
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) and encoding == "utf-8":
                continue  # seller exports from Chinese Excel are often GB18030
            raise DatasetError([Problem(part.label, None, f"cannot be read as CSV: {exc}")]) from None
    raise DatasetError([Problem(part.label, None, "is neither UTF-8 nor GB18030 text")])


def _csv_header(path: Path, encoding: str) -> list[str]:
    with path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        return next(csv.reader(fh), [])


def _plan_parquet(part: Part, spec: TableSpec, dictionaries: bool) -> list[_Task]:
    """A task per row group (the file's footer is read here: a broken file is refused at once)."""
    # ParquetFile rather than read_table: the latter imports pandas (0.4 s) on first use.
    # A one-column key's values are all different: a dictionary of them would only cost
    # hashing. A column of a longer key repeats (a buyer in several shops) and is coded.
    coded = [f.name for f in spec.fields if f.kind in CODED_KINDS and spec.key != (f.name,)]
    coded = coded if dictionaries else []
    try:
        parquet = pq.ParquetFile(part.path, read_dictionary=coded)
        present = set(parquet.schema_arrow.names)
        columns = [name for name in spec.names if name in present]
        if parquet.metadata.num_row_groups == 0:
            empty = parquet.read(columns=columns)
            return [_Task(lambda: empty, 0)]
    except (pa.ArrowInvalid, OSError) as exc:
        raise _not_parquet(part, exc) from None
    metadata = parquet.metadata

    def row_group(index: int) -> pa.Table:
        try:  # a file object per thread; the footer is parsed once
            group = pq.ParquetFile(part.path, metadata=metadata, read_dictionary=coded)
            return group.read_row_group(index, columns=columns, use_threads=False)
        except (pa.ArrowInvalid, OSError) as exc:
            raise _not_parquet(part, exc) from None

    return [
        _Task(partial(row_group, index), metadata.row_group(index).total_byte_size)
        for index in range(metadata.num_row_groups)
    ]


def _not_parquet(part: Part, exc: Exception) -> DatasetError:
    return DatasetError([Problem(part.label, None, f"cannot be read as Parquet: {exc}")])


def _read_xlsx(part: Part, spec: TableSpec) -> pa.Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(part.path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise DatasetError([Problem(part.label, None, f"cannot be read as .xlsx: {exc}")]) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(v).strip() if v is not None else "" for v in next(rows, ())]
        columns: dict[str, list[str | None]] = {name: [] for name in header if name}
        for number, row in enumerate(rows, start=2):
            if all(v is None or v == "" for v in row):
                continue
            part.sheet_rows.append(number)
            for name, value in zip(header, row, strict=False):
                if name:
                    columns[name].append(text_of(value))
            for name in header[len(row) :]:
                if name:
                    columns[name].append(None)
    finally:
        book.close()
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def locate_in_part(part: Part, row: int) -> str:
    """The line (or row group, or sheet row) of data row `row` of one file."""
    if part.fmt == "jsonl":
        seen = -1
        with part.path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    seen += 1
                    if seen == row:
                        return f"{part.label} line {number}"
    elif part.fmt == "csv":
        opener = "utf-8-sig" if part.encoding == "utf-8" else part.encoding
        with part.path.open(encoding=opener, newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            start = reader.line_num + 1
            for index, _record in enumerate(reader):
                if index == row:
                    return f"{part.label} line {start}"
                start = reader.line_num + 1
    elif part.fmt == "parquet":
        meta = pq.ParquetFile(part.path).metadata
        first = 0
        for group in range(meta.num_row_groups):
            count = meta.row_group(group).num_rows
            if row < first + count:
                return f"{part.label} row {row + 1} (row group {group})"
            first += count
    elif part.fmt == "xlsx" and row < len(part.sheet_rows):
        return f"{part.label} row {part.sheet_rows[row]}"
    return f"{part.label} row {row + 1}"
