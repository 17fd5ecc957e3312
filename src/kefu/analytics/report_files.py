"""Writing a report as JSON (the contract's document), CSV, an Excel/WPS workbook or one HTML file."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from kefu.analytics.catalogue import BY_KEY, Unit
from kefu.analytics.reporting import (
    AGENT_EXTRAS,
    AGENT_KEYS,
    PRODUCT_EXTRAS,
    PRODUCT_KEYS,
    SHOP_EXTRAS,
    SHOP_KEYS,
    Report,
)

FORMATS = ("json", "csv", "xlsx", "html")
TABLES = (
    ("agents", ("shop_id", "agent_id", *AGENT_KEYS, *AGENT_EXTRAS)),
    ("shops", ("shop_id", *SHOP_KEYS, *SHOP_EXTRAS)),
    ("products", ("shop_id", "product_id", *PRODUCT_KEYS, *PRODUCT_EXTRAS)),
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
    if isinstance(value, float):  # a count's peer mean
        return f"{value:,.1f}"
    return str(value)


def render_html(report: Report) -> str:
    """One self-contained page (nothing to fetch) a lead can mail: per shop its KPI cards (with 环比
    and peers when the report has them), charts of the agents and refund reasons, then the tables."""
    compared = {c["shop_id"]: c for c in report.sections.get("comparison", [])}  # type: ignore[union-attr]
    charts: list[dict] = []
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>客服报表 {html.escape(report.period['from'][:10])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>客服报表 · 服务诊断</h1>",
        f"<p class='period'>{html.escape(report.period['from'])} — {html.escape(report.period['to'])}</p>",
    ]
    for shop in report.shops:
        shop_id = shop["shop_id"]
        parts.append(f"<section><h2>店铺 {html.escape(shop_id)}</h2><div class='cards'>")
        for key in CARD_KEYS:
            parts.append(_card(key, shop.get(key), compared.get(shop_id, {}).get(key)))
        parts.append("</div>")
        agents = [a for a in report.agents if a["shop_id"] == shop_id]
        if agents:
            charts.append(_agent_chart(f"agents-{len(charts)}", agents))
            parts.append(f"<div class='chart' id='{charts[-1]['id']}'></div>")
        reasons = shop.get("refund_reasons") or {}
        if reasons:
            charts.append(
                {"id": f"reasons-{len(charts)}", "kind": "pie", "data": reasons, "title": "退款原因"}
            )
            parts.append(f"<div class='chart' id='{charts[-1]['id']}'></div>")
        parts.append("</section>")
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
    script = _echarts_source()
    if charts and script:
        # </script> inside the JSON would end the element: escape the slash.
        data = json.dumps(charts, ensure_ascii=False).replace("</", "<\\/")
        parts.append(f"<script>{script}</script><script>var KEFU_CHARTS = {data};{_CHART_JS}</script>")
    parts.append("</body></html>")
    return "".join(parts)


CARD_KEYS = (
    "served_buyers",
    "inquiry_conversion_rate",
    "sales",
    "aov",
    "first_response_s",
    "avg_response_s",
    "reply_within_30s_rate",
    "satisfaction_old",
    "satisfaction_new",
    "refund_rate",
    "dsr_service",
    "positive_review_rate",
)


def _card(key: str, value: object, compared: dict | None) -> str:
    lines = [f"<div class='card'><div class='label'>{html.escape(label(key))}</div>"]
    lines.append(f"<div class='value'>{html.escape(display(key, value))}</div>")
    if compared:
        change = compared.get("change")
        if change is not None:
            better = (change > 0) == BY_KEY[key].higher_is_better if change else None
            tone = "up" if better else "down" if better is False else ""
            lines.append(f"<div class='change {tone}'>环比 {change * 100:+.1f}%</div>")
        if compared.get("peer_mean") is not None:
            mean = display(key, compared["peer_mean"])
            top = display(key, compared.get("peer_excellent"))
            lines.append(f"<div class='peers'>同行均值 {html.escape(mean)} · 优秀 {html.escape(top)}</div>")
    lines.append("</div>")
    return "".join(lines)


def _agent_chart(chart_id: str, agents: list[dict]) -> dict:
    return {
        "id": chart_id,
        "kind": "bars",
        "title": "客服：询单转化率与平均响应时间",
        "names": [a["agent_id"] for a in agents],
        "conversion": [
            None if a.get("inquiry_conversion_rate") is None else round(a["inquiry_conversion_rate"] * 100, 1)
            for a in agents
        ],
        "response": [
            None if a.get("avg_response_s") is None else round(a["avg_response_s"], 1) for a in agents
        ],
    }


def _echarts_source() -> str | None:
    """ECharts from the npm install (node_modules); a report without it keeps its tables."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        path = root / "node_modules" / "echarts" / "dist" / "echarts.min.js"
        if path.is_file():
            return path.read_text(encoding="utf-8").replace("</script", "<\\/script")
    return None


_CHART_JS = """
KEFU_CHARTS.forEach(function (c) {
  var chart = echarts.init(document.getElementById(c.id));
  if (c.kind === "pie") {
    chart.setOption({title: {text: c.title, textStyle: {fontSize: 14}}, tooltip: {},
      series: [{type: "pie", radius: ["35%", "65%"], center: ["50%", "58%"],
        data: Object.keys(c.data).map(function (k) { return {name: k, value: c.data[k]}; })}]});
  } else {
    chart.setOption({title: {text: c.title, textStyle: {fontSize: 14}}, tooltip: {trigger: "axis"},
      legend: {right: 0, data: ["询单转化率(%)", "平均响应(秒)"]}, grid: {top: 60},
      xAxis: {type: "category", data: c.names}, yAxis: [{type: "value"}, {type: "value"}],
      series: [{name: "询单转化率(%)", type: "bar", data: c.conversion, itemStyle: {color: "#0f766e"}},
               {name: "平均响应(秒)", type: "line", yAxisIndex: 1, data: c.response}]});
  }
});
"""


_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:24px;color:#1f2937}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .period{color:#6b7280;margin:0}
.scroll{overflow-x:auto} table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:right} th{background:#f3f4f6;position:sticky;top:0}
td:first-child,td:nth-child(2){text-align:left} .empty{color:#6b7280}
section{margin:8px 0 24px} .cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;min-width:150px}
.card .label{color:#6b7280;font-size:12px} .card .value{font-size:22px;font-weight:600;margin:2px 0}
.change,.peers{font-size:12px;color:#6b7280} .change.up{color:#15803d} .change.down{color:#b91c1c}
.chart{width:100%;max-width:900px;height:300px;margin-top:12px}
"""
