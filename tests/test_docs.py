"""The docs stay true: every setting and every interchange extension is documented."""

from __future__ import annotations

from pathlib import Path

from kefu.interchange.schema import TABLES
from kefu.settings import list_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented():
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in list_settings():
        assert f"`{setting.name}`" in page, f"{setting.name} missing from docs/settings.md"


def test_every_extension_table_is_documented():
    page = (DOCS / "interchange.md").read_text(encoding="utf-8")
    for table in TABLES:
        if table.extension:
            assert f"| {table.name} | {', '.join(table.names)} |" in page, table.name
