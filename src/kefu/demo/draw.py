"""Weighted draws from a seeded random.Random, cheap enough to call a million times."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence


def cumulative(weights: Sequence[float]) -> list[float]:
    """Running totals of weights, for pick()."""
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def pick(rng: random.Random, cum: list[float]) -> int:
    """Index drawn with probability proportional to its weight, given cumulative weights."""
    return bisect_right(cum, rng.random() * cum[-1])


def between(rng: random.Random, low: float, high: float) -> int:
    """Whole seconds drawn uniformly from [low, high]."""
    return int(low + (high - low) * rng.random())


def skewed(rng: random.Random, low: float, high: float) -> int:
    """Whole seconds in [low, high], most of them near low (short waits are the common case)."""
    r = rng.random()
    return int(low + (high - low) * r * r)
