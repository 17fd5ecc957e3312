"""DSR over the rolling 180 days and the positive review rate of the period."""

from __future__ import annotations

import ibis.expr.types as ir

from kefu.analytics.engines import Engine
from kefu.analytics.expressions import count_where, within
from kefu.analytics.rows import Rows, fetch_rows, ratio

DSR_KEYS = ("dsr_description", "dsr_service", "dsr_shipping")


def review_metrics(engine: Engine, reviews: ir.Table, bounds: ir.Table, rows: Rows) -> None:
    recent = within(reviews, "created", bounds, start="dsr_from")
    dsr = recent.group_by("shop_id").aggregate(
        **{key: recent[key].cast("float64").mean() for key in DSR_KEYS}  # empty scores are skipped
    )
    for r in fetch_rows(engine, dsr):
        rows.shop(r.pop("shop_id")).update(r)
    current = within(reviews, "created", bounds)
    good = current.group_by("shop_id").aggregate(
        n=current.count(), good=count_where(current.rating == "good")
    )
    for r in fetch_rows(engine, good):
        rows.shop(r["shop_id"])["positive_review_rate"] = ratio(r["good"], r["n"])
