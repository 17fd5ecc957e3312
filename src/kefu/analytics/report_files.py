"""Writing a report as JSON (the contract's document), CSV, an Excel/WPS workbook or one HTML file."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from kefu.analytics.catalogue import BY_KEY, Unit
from kefu.analytics.reporting import AGENT_KEYS, PRODUCT_KEYS, SHOP_KEYS, Report

FORMATS = ("json", "csv", "xlsx", "html")
TABLES = (
    ("agents", ("shop_id", "agent_id", *AGENT_KEYS)),
    ("shops", ("shop_id", *SHOP_KEYS)),
    ("products", ("shop_id", "product_id", *PRODUCT_KEYS)),
)
ID_LABELS = {"shop_id": "店铺", "agent_id": "客服", "product_id": "商品"}
TABLE_LABELS = {"agents": "客服绩效", "shops": "店铺诊断", "products": "商品退款"}


def write_report(report: Report, fmt: str, out: Path) -> list[Path]:
    """Write `report` to `out`; returns the files written (csv writes one file per table)."""
    if fmt == "json":
        out.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return [out]
    if fmt == "csv":
        return _write_csv(report, out)
    if fmt == "xlsx":
        _write_xlsx(report, out)
        return [out]
    if fmt == "html":
        out.write_text(render_html(report), encoding="utf-8")
        return [out]
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _cell(value: object) -> object:
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _rows(report: Report, name: str) -> list[dict]:
    return getattr(report, name)


def _write_csv(report: Report, out: Path) -> list[Path]:
    """Three files beside each other: <out>.agents.csv, .shops.csv, .products.csv (BOM for Excel)."""
    stem = out.with_suffix("") if out.suffix.lower() == ".csv" else out
    written = []
    for name, keys in TABLES:
        path = stem.parent / f"{stem.name}.{name}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(keys)
            for row in _rows(report, name):
                writer.writerow(["" if row.get(k) is None else _cell(row.get(k)) for k in keys])
        written.append(path)
    return written


def label(key: str) -> str:
    if key in ID_LABELS:
        return ID_LABELS[key]
    return BY_KEY[key].zh if key in BY_KEY else key


def _write_xlsx(report: Report, out: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(out))
    try:
        header = book.add_format({"bold": True, "bg_color": "#EEF2F7", "border": 1, "text_wrap": True})
        formats = {
            Unit.RATE: book.add_format({"num_format": "0.0%"}),
            Unit.RATIO: book.add_format({"num_format": "0.0%"}),
            Unit.SECONDS: book.add_format({"num_format": "0.0"}),
            Unit.MONEY: book.add_format({"num_format": "#,##0.00"}),
            Unit.SCORE: book.add_format({"num_format": "0.00"}),
        }
        for name, keys in TABLES:
            sheet = book.add_worksheet(TABLE_LABELS[name])
            sheet.freeze_panes(2, 0)
            for col, key in enumerate(keys):
                sheet.write(0, col, label(key), header)
                sheet.write(1, col, key)  # the JSON key, so that a workbook can be read back by machine
                sheet.set_column(col, col, 14 if key not in ("refund_reasons",) else 40)
            for r, row in enumerate(_rows(report, name), start=2):
                for col, key in enumerate(keys):
                    value = row.get(key)
                    if value is None:
                        continue
                    unit = BY_KEY[key].unit if key in BY_KEY else None
                    sheet.write(r, col, _cell(value), formats.get(unit))
        about = book.add_worksheet("说明")
        about.write(0, 0, "period")
        about.write(0, 1, f"{report.period['from']} — {report.period['to']}")
        for r, (key, metric) in enumerate(BY_KEY.items(), start=2):
            about.write(r, 0, key)
            about.write(r, 1, metric.zh)
            about.write(r, 2, metric.en)
    finally:
        book.close()


def display(key: str, value: object) -> str:
    """A value as a person reads it: percentages, seconds, yuan."""
    if value is None:
        return "—"
    unit = BY_KEY[key].unit if key in BY_KEY else None
    if unit in (Unit.RATE, Unit.RATIO):
        return f"{value * 100:.1f}%"
    if unit is Unit.SECONDS:
        return f"{value:.1f}"
    if unit is Unit.MONEY:
        return f"¥{value:,.2f}"
    if unit is Unit.SCORE:
        return f"{value:.2f}"
    if unit is Unit.MAPPING:
        return "，".join(f"{k} {v}" for k, v in value.items()) or "—"
    return str(value)


def render_html(report: Report) -> str:
    """One self-contained page (no external files) a lead can mail: the report's three tables."""
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>客服报表 {html.escape(report.period['from'][:10])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>客服报表</h1>",
        f"<p class='period'>{html.escape(report.period['from'])} — {html.escape(report.period['to'])}</p>",
    ]
    for name, keys in TABLES:
        rows = _rows(report, name)
        parts.append(f"<h2>{TABLE_LABELS[name]}</h2>")
        if not rows:
            parts.append("<p class='empty'>本期没有数据。</p>")
            continue
        parts.append("<div class='scroll'><table><thead><tr>")
        parts.extend(f"<th title='{html.escape(k)}'>{html.escape(label(k))}</th>" for k in keys)
        parts.append("</tr></thead><tbody>")
        for row in rows:
            cells = (html.escape(display(k, row.get(k))) for k in keys)
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table></div>")
    parts.append("</body></html>")
    return "".join(parts)


_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:24px;color:#1f2937}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .period{color:#6b7280;margin:0}
.scroll{overflow-x:auto} table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:right} th{background:#f3f4f6;position:sticky;top:0}
td:first-child,td:nth-child(2){text-align:left} .empty{color:#6b7280}
"""
