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


def test_every_metric_is_in_the_catalogue_and_kefus_own_are_documented():
    from kefu.analytics.catalogue import BY_KEY
    from kefu.analytics.reporting import AGENT_EXTRAS, AGENT_KEYS, PRODUCT_EXTRAS, SHOP_EXTRAS, SHOP_KEYS

    page = (DOCS / "metrics.md").read_text(encoding="utf-8")
    for key in {*AGENT_KEYS, *SHOP_KEYS, *AGENT_EXTRAS, *SHOP_EXTRAS, *PRODUCT_EXTRAS}:
        assert key in BY_KEY, f"{key} missing from analytics/catalogue.py"
        if not BY_KEY[key].contract:
            assert f"`{key}`" in page, f"{key} missing from docs/metrics.md"
