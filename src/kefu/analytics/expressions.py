"""Small building blocks the metric definitions share, written so every engine accepts them."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def count_where(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy `condition` (PostgreSQL cannot cast a boolean to a number)."""
    return ibis.ifelse(condition, 1, 0).sum()


def within(table: ir.Table, column: str, bounds: ir.Table, start: str = "p_from") -> ir.Table:
    """Rows of `table` whose `column` lies in [start, p_to) of their shop (bounds per shop)."""
    joined = table.inner_join(bounds, "shop_id")
    return joined.filter((joined[column] >= joined[start]) & (joined[column] < joined.p_to))
