"""Reading a dataset folder for a report: checked like an import, shaped into fact tables.

Nothing here imports Ibis or the metric modules: the command line starts reading the files in a
thread first and loads those (half a second of imports) while the files are read.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from kefu.analytics.facts import NEEDED_FIELDS, FactTables, ShopInfo, encode_ids, facts_from_dataset
from kefu.interchange.files import release_unused_memory
from kefu.interchange.validation import Context, check_dataset, read_dataset

Progress = Callable[[str], None]


def read_folder(
    folder: Path, zone: str | None, default_zone: str | Callable[[], str], progress: Progress | None = None
) -> FactTables:
    """Read and check a dataset folder (bad input raises DatasetError, as an import would).

    `zone` (the report's --tz) is every shop's zone when given; otherwise a shop's zone comes
    from the dataset's `shops` table, else `default_zone`. That may be a function, called once
    the files are read: the command line loads its settings (0.2 s of imports) meanwhile.
    """
    raw = read_dataset(folder, progress, fields=NEEDED_FIELDS, dictionaries=True)
    if callable(default_zone):
        default_zone = default_zone()
    context = Context(default_zone=zone or default_zone, only_zone=zone)
    dataset = check_dataset(raw, context, progress)
    listed = dataset.get("shops")
    shops = shop_infos(listed, zone, default_zone) if listed is not None else {}
    for shop, shop_zone in dataset.zones.items():
        shops.setdefault(shop, ShopInfo(zone or shop_zone))
    tables, dictionaries = encode_ids(facts_from_dataset(dataset.tables))
    release_unused_memory()  # the shaping's temporaries
    return FactTables(tables, shops, agent_groups(dataset.get("agents")), dictionaries)


def shop_infos(shops: pa.Table, zone: str | None, default_zone: str) -> dict[str, ShopInfo]:
    """Each listed shop's zone (`zone`, the report's --tz, wins over its own), category and name."""
    return {
        row["shop_id"]: ShopInfo(zone or row["timezone"] or default_zone, row["category"], row["name"])
        for row in shops.to_pylist()
    }


def agent_groups(agents: pa.Table | None) -> dict[tuple[str, str], str]:
    if agents is None:
        return {}
    return {(r["shop_id"], r["agent_id"]): r["skill_group"] for r in agents.to_pylist() if r["skill_group"]}


def arrow_without_pandas() -> None:
    """Let pyarrow run as if pandas were not installed, unless something has imported it already.

    pyarrow looks for pandas on its first conversion, to recognise pandas objects, and imports
    it (0.3–0.5 s) whenever it is installed; a report over files never gives pyarrow pandas
    objects, and an install of kefu without the dev extras has no pandas at all. Asking pyarrow
    for pandas later (`to_pandas()`) still works: pyarrow imports it then and recognises pandas
    objects from then on. Call it before any thread uses pyarrow.
    """
    if "pandas" in sys.modules:
        return

    class NoPandas(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "pandas":
                raise ImportError("pandas is not needed here")
            return None

    finder = NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's one look for pandas
    finally:
        sys.meta_path.remove(finder)
