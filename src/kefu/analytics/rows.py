"""The report's rows while they are being filled: one dict per agent, shop and product."""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis.expr.types as ir

from kefu.analytics.engines import Engine


@dataclass
class Rows:
    shop_ids: list[str]
    agents: dict[tuple[str, str], dict] = field(default_factory=dict)
    shops: dict[str, dict] = field(default_factory=dict)
    products: dict[tuple[str, str], dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shops = {s: {} for s in self.shop_ids}

    def agent(self, key: tuple[str, str]) -> dict:
        return self.agents.setdefault(key, {})

    def shop(self, key: str) -> dict:
        return self.shops.setdefault(key, {})

    def product(self, key: tuple[str, str]) -> dict:
        return self.products.setdefault(key, {})

    def merge(self, other: Rows) -> None:
        """Add what `other` holds, filled by steps of their own (no metric is in both)."""
        for key, values in other.agents.items():
            self.agent(key).update(values)
        for key, values in other.shops.items():
            self.shop(key).update(values)
        for key, values in other.products.items():
            self.product(key).update(values)

    def put(self, group: list[str], row: dict) -> dict:
        """The row for the group keys found in a result row (agent, shop or product)."""
        key = tuple(row[g] for g in group)
        if group == ["shop_id"]:
            return self.shop(key[0])
        if group[1] == "agent_id":
            return self.agent(key)
        return self.product(key)


def fetch_rows(engine: Engine, expr: ir.Table) -> list[dict]:
    return engine.fetch(expr).to_pylist()


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """A rate; null, never 0 or an error, when there is nothing to divide by."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
