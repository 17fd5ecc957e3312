"""Small building blocks the metric definitions share, written so every engine accepts them."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def count_where(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy `condition` (PostgreSQL cannot cast a boolean to a number)."""
    return ibis.ifelse(condition, 1, 0).sum()
