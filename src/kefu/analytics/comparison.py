"""Each shop figure beside the previous period (环比) and beside its peers (同行同层).

Peers are the other shops of the same category in the data (or the rows of a peer file); an
instance without such a shop compares with all its other shops, and says so. The
peers' mean is 同行同层均值; their "excellent" level (同行同层优秀) is the 90th percentile, or the
10th for times, where less is better (linear interpolation between the peers' values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from kefu.analytics.catalogue import METRICS, Unit
from kefu.analytics.facts import ShopInfo
from kefu.analytics.reporting import Report
from kefu.analytics.rows import ratio

COMPARED = tuple(m.key for m in METRICS if "shop" in m.scopes and m.unit is not Unit.MAPPING)


@dataclass
class Compared:
    value: float | int | None
    previous: float | int | None
    change: float | None  # (current - previous) / previous
    peer_mean: float | None
    peer_excellent: float | None
    peers: int
    peer_basis: str  # "category": same-category shops; "instance": no such shop, so every other shop

    def better_than_before(self, higher_is_better: bool | None) -> bool | None:
        if self.change is None or higher_is_better is None or self.change == 0:
            return None
        return (self.change > 0) == higher_is_better


def change(current: float | int | None, previous: float | int | None) -> float | None:
    if current is None or previous is None:
        return None
    return ratio(current - previous, previous)


def excellent(key: str, values: list[float]) -> float | None:
    if not values:
        return None
    unit = next(m.unit for m in METRICS if m.key == key)
    return float(np.percentile(values, 10 if unit is Unit.SECONDS else 90))


def compare_shops(
    current: Report,
    previous: Report | None,
    shops: dict[str, ShopInfo],
    peer_rows: list[dict] | None = None,
) -> dict[str, dict[str, Compared]]:
    """For every shop of `current`: each comparable key beside the previous period and the peers."""
    before = {r["shop_id"]: r for r in previous.shops} if previous else {}
    result: dict[str, dict[str, Compared]] = {}
    for row in current.shops:
        shop = row["shop_id"]
        category = shops.get(shop, ShopInfo("")).category
        if peer_rows is not None:
            peers = [
                p for p in peer_rows if p.get("category") in (None, category) and p.get("shop_id") != shop
            ]
        else:
            peers = [
                r
                for r in current.shops
                if r["shop_id"] != shop and shops.get(r["shop_id"], ShopInfo("")).category == category
            ]
        basis = "category"
        if not peers and peer_rows is None:
            peers, basis = [r for r in current.shops if r["shop_id"] != shop], "instance"
        compared = {}
        for key in COMPARED:
            values = [float(p[key]) for p in peers if p.get(key) is not None]
            old = before.get(shop, {}).get(key)
            compared[key] = Compared(
                value=row.get(key),
                previous=old,
                change=change(row.get(key), old),
                peer_mean=float(np.mean(values)) if values else None,
                peer_excellent=excellent(key, values),
                peers=len(values),
                peer_basis=basis,
            )
        result[shop] = compared
    return result


def comparison_json(compared: dict[str, dict[str, Compared]]) -> list[dict]:
    return [
        {"shop_id": shop, **{key: asdict(c) for key, c in values.items()}}
        for shop, values in compared.items()
    ]
