"""Step 3 and 4 of the 2022 rule (satisfaction.counted) against a plain walk over each buyer's ratings."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from kefu.analytics.satisfaction import BURST_US, MAX_PER_BUYER, counted

MINUTE = 60 * 1_000_000


def walked(table: pa.Table) -> np.ndarray:
    """Each (shop, buyer)'s eligible ratings in time order; a rating without a buyer stands alone."""
    rows = table.to_pylist()
    keep = np.zeros(len(rows), dtype=bool)
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        if r["eligible"]:
            groups.setdefault(
                (r["shop_id"], r["buyer_id"] if r["buyer_id"] is not None else ("alone", i)), []
            ).append(i)
    for members in groups.values():
        kept, last = 0, None
        for i in sorted(members, key=lambda i: (rows[i]["at"], rows[i]["ord"])):
            if last is not None and rows[i]["at"] - last < BURST_US:
                continue
            last = rows[i]["at"]
            kept += 1
            keep[i] = kept <= MAX_PER_BUYER
    return keep


@pytest.mark.parametrize("seed", range(40))
def test_counted_keeps_what_a_walk_keeps(seed):
    generator = np.random.default_rng(seed)
    count = int(generator.integers(0, 300))
    step = MINUTE * (1 if seed % 2 else 7)  # often within 10 minutes of each other, or not
    table = pa.table(
        {
            "shop_id": pa.array(generator.choice(["s1", "s2", "s3"], count), pa.string()),
            "buyer_id": pa.array(
                generator.integers(0, count // 5 + 1, count).astype(np.int32),
                mask=generator.random(count) < (0.05 if seed % 3 else 0),
            ),
            "at": pa.array(generator.integers(0, 40, count) * step, pa.int64()),
            "ord": pa.array(generator.permutation(count), pa.int64()),
            "eligible": pa.array(generator.random(count) < 0.8),
        }
    )
    assert np.array_equal(counted(table), walked(table))
