"""Comparing two report documents value by value, floats within a relative tolerance."""

from __future__ import annotations

import math

KEYS = {"agents": ("shop_id", "agent_id"), "shops": ("shop_id",), "products": ("shop_id", "product_id")}


def differences(expected: dict, actual: dict, rel: float = 1e-9, keys_of_expected: bool = False) -> list[str]:
    """Every value that differs, as "agents[s1/a1].turns: 3 != 4"; empty when the documents agree.

    With `keys_of_expected`, only the keys the expected rows have are compared (kefu's rows carry
    more than the contract's keys).
    """
    found = []
    if expected.get("period") != actual.get("period"):
        found.append(f"period: {expected.get('period')} != {actual.get('period')}")
    for table, key in KEYS.items():
        left = {tuple(r[k] for k in key): r for r in expected[table]}
        right = {tuple(r[k] for k in key): r for r in actual[table]}
        for missing in sorted(set(left) - set(right)):
            found.append(f"{table}[{'/'.join(missing)}]: missing")
        for extra in sorted(set(right) - set(left)):
            found.append(f"{table}[{'/'.join(extra)}]: not expected")
        for row_key in sorted(set(left) & set(right)):
            a, b = left[row_key], right[row_key]
            for name in sorted(set(a) if keys_of_expected else set(a) | set(b)):
                if not same(a.get(name, "<absent>"), b.get(name, "<absent>"), rel):
                    found.append(f"{table}[{'/'.join(row_key)}].{name}: {a.get(name)!r} != {b.get(name)!r}")
    return found


def same(a, b, rel: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, str) or isinstance(b, str):
            return False
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a == b
    return a == b and type(a) is type(b)
