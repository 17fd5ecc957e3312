"""The team's scorecard (绩效): targets and weights per KPI, a grade for every agent, a ranking.

Pre-sale and after-sale agents are judged on their own KPIs: conversion matters for the one
who sells, satisfaction and speed for the one who solves problems. A shop may set its own
targets (JSON, see docs/metrics.md); these defaults follow what sellers commonly ask of agents.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kefu.analytics.reporting import Report

GROUPS = ("presale", "aftersale")


@dataclass(frozen=True)
class Target:
    key: str
    at_least: float | None = None  # the value must reach this ...
    at_most: float | None = None  # ... or stay under this (times)
    weight: float = 1.0

    def points(self, value: float | None) -> float | None:
        """Share of the weight earned: all of it when met, in proportion to how close otherwise."""
        if value is None:
            return None
        if self.at_least is not None:
            if value >= self.at_least:
                return self.weight
            return self.weight * max(value, 0) / self.at_least if self.at_least else 0.0
        assert self.at_most is not None
        if value <= self.at_most:
            return self.weight
        return self.weight * self.at_most / value if value else 0.0

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.at_least if self.at_least is not None else value <= self.at_most


DEFAULT_TARGETS: dict[str, tuple[Target, ...]] = {
    "presale": (
        Target("inquiry_conversion_rate", at_least=0.50, weight=30),
        Target("first_response_s", at_most=15, weight=20),
        Target("avg_response_s", at_most=30, weight=15),
        Target("reply_within_30s_rate", at_least=0.90, weight=10),
        Target("payment_rate", at_least=0.80, weight=10),
        Target("satisfaction_new", at_least=0.95, weight=15),
    ),
    "aftersale": (
        Target("first_response_s", at_most=15, weight=20),
        Target("avg_response_s", at_most=30, weight=20),
        Target("reply_within_30s_rate", at_least=0.90, weight=15),
        Target("reply_within_3min_rate", at_least=0.98, weight=15),
        Target("satisfaction_new", at_least=0.95, weight=30),
    ),
}


def load_targets(path: Path) -> dict[str, tuple[Target, ...]]:
    """Targets from JSON: {"presale": [{"key": ..., "at_least"|"at_most": ..., "weight": ...}], ...}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    targets = dict(DEFAULT_TARGETS)
    for group, items in data.items():
        if group not in GROUPS:
            raise ValueError(f"{path}: unknown group {group!r}; use {', '.join(GROUPS)}")
        parsed = []
        for item in items:
            if ("at_least" in item) == ("at_most" in item):
                raise ValueError(f"{path}: target {item.get('key')!r} needs exactly one of at_least, at_most")
            parsed.append(Target(**item))
        targets[group] = tuple(parsed)
    return targets


@dataclass
class Grade:
    shop_id: str
    agent_id: str
    group: str
    score: float | None  # 0-100 over the KPIs that have a value
    rank: int | None  # within the shop and group, 1 = best
    kpis: list[dict]


def grade(
    report: Report,
    groups: dict[tuple[str, str], str],
    targets: dict[str, tuple[Target, ...]] = DEFAULT_TARGETS,
) -> list[Grade]:
    """Grade every agent of the report against their group's targets and rank them per shop and group."""
    grades = []
    for row in report.agents:
        key = (row["shop_id"], row["agent_id"])
        group = groups.get(key) or "presale"
        kpis, earned, possible = [], 0.0, 0.0
        for target in targets[group]:
            value = row.get(target.key)
            points = target.points(value)
            kpis.append({**asdict(target), "value": value, "met": target.met(value), "points": points})
            if points is not None:
                earned += points
                possible += target.weight
        score = round(100 * earned / possible, 1) if possible else None
        grades.append(Grade(row["shop_id"], row["agent_id"], group, score, None, kpis))
    for shop_group in {(g.shop_id, g.group) for g in grades}:
        ranked = sorted(
            (g for g in grades if (g.shop_id, g.group) == shop_group and g.score is not None),
            key=lambda g: (-g.score, g.agent_id),
        )
        for position, g in enumerate(ranked, start=1):
            g.rank = position
    return sorted(grades, key=lambda g: (g.shop_id, g.group, g.rank or 10**9, g.agent_id))


def scorecard_json(grades: list[Grade]) -> list[dict]:
    return [asdict(g) for g in grades]
