"""Imports point down: web -> domains -> store, read from the source so a wrong new import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "kefu"
DOMAINS = (
    "accounts",
    "desk",
    "bot",
    "orders",
    "aftersales",
    "coach",
    "crm",
    "analytics",
    "interchange",
    "demo",
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def package_files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def test_store_imports_no_domain_and_no_web():
    for path in package_files("store"):
        for name in imported_modules(path):
            assert not name.startswith(tuple(f"kefu.{d}" for d in (*DOMAINS, "web"))), (
                f"{path}: imports {name}"
            )


def test_domains_never_import_web():
    for domain in DOMAINS:
        for path in package_files(domain):
            for name in imported_modules(path):
                assert not name.startswith("kefu.web"), f"{path}: imports {name}"


def test_only_the_store_names_sql_dialects():
    # Dialect-specific code (sqlite3, psycopg, dialect modules) lives in kefu.store alone.
    forbidden = ("sqlite3", "psycopg", "sqlalchemy.dialects")
    for path in SRC.rglob("*.py"):
        if "store" in path.relative_to(SRC).parts:
            continue
        for name in imported_modules(path):
            assert not name.startswith(forbidden), f"{path}: imports {name}"


def test_no_module_named_for_nothing():
    vague = {"utils.py", "helpers.py", "misc.py", "services.py", "manager.py", "common.py"}
    assert not [p for p in SRC.rglob("*.py") if p.name in vague]
