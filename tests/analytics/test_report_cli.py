"""`kefu report` as a lead runs it: formats a person opens, and bad input refused like an import."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from kefu.cli import main, write_demo_dataset

PERIOD = ["--from", "2026-10-26", "--to", "2026-11-09"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "data"
    write_demo_dataset(folder, seed=9, conversations=200, fmt="csv")
    return folder


def report(folder: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["report", "--data", str(folder), *PERIOD, "--out", str(out), *extra])


def test_json_follows_the_contract(folder, tmp_path):
    result = report(folder, tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["period"] == {"from": "2026-10-26T00:00:00+08:00", "to": "2026-11-09T00:00:00+08:00"}
    assert set(doc) == {"period", "agents", "shops", "products"}
    assert {"served_buyers", "satisfaction_new", "refund_rate"} <= set(doc["agents"][0])
    assert isinstance(doc["shops"][0]["refund_reasons"], dict)


def test_tz_moves_the_period_boundaries(folder, tmp_path):
    assert report(folder, tmp_path / "r.json", "--tz", "Europe/Berlin").exit_code == 0
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["period"]["from"] == "2026-10-26T00:00:00+01:00"


def test_xlsx_has_a_sheet_per_table_with_names_and_keys(folder, tmp_path):
    assert report(folder, tmp_path / "r.xlsx", "--format", "xlsx").exit_code == 0
    book = load_workbook(tmp_path / "r.xlsx", read_only=True)
    assert book.sheetnames[:3] == ["客服绩效", "店铺诊断", "商品退款"]
    rows = list(book["客服绩效"].iter_rows(values_only=True))
    assert rows[0][:3] == ("店铺", "客服", "接待轮次")
    assert rows[1][:3] == ("shop_id", "agent_id", "turns")
    assert len(rows) > 3


def test_csv_writes_one_file_per_table(folder, tmp_path):
    result = report(folder, tmp_path / "r.csv", "--format", "csv")
    assert result.exit_code == 0, result.output
    shops = (tmp_path / "r.shops.csv").read_bytes()
    assert shops.startswith(b"\xef\xbb\xbfshop_id,turns,")
    assert (tmp_path / "r.agents.csv").exists() and (tmp_path / "r.products.csv").exists()


def test_html_is_one_self_contained_page(folder, tmp_path):
    assert report(folder, tmp_path / "r.html", "--format", "html").exit_code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<table>" in page and "询单转化率" in page and "class='card'" in page
    assert "<script src" not in page and "<link" not in page  # nothing to fetch: it can be mailed
    assert "echarts.init" in page  # the charts' library is inside the page


def test_a_bad_timestamp_is_refused_with_file_line_and_field(folder, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for part in folder.iterdir():
        (bad / part.name).write_bytes(part.read_bytes())
    with (bad / "messages.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[5][rows[0].index("sent_at")] = "yesterday noon"
    with (bad / "messages.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    result = report(bad, tmp_path / "r.json")
    assert result.exit_code == 2
    assert "messages.csv line 6" in result.output and "sent_at" in result.output
    assert not (tmp_path / "r.json").exists()


def test_either_data_or_db(tmp_path):
    result = CliRunner().invoke(main, ["report", *PERIOD, "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 2 and "--data" in result.output


def test_an_empty_period_is_refused(folder, tmp_path):
    result = CliRunner().invoke(
        main, ["report", "--data", str(folder), "--from", "2026-11-09", "--to", "2026-11-09", "--out", "x"]
    )
    assert result.exit_code == 2 and "must end after it starts" in result.output


def test_the_default_zone_may_be_asked_for_once_the_files_are_read(tmp_path):
    from kefu.analytics.folders import read_folder

    folder = tmp_path / "data"
    write_demo_dataset(folder, seed=2, conversations=30)
    shops = [json.loads(line) for line in (folder / "shops.jsonl").read_text().splitlines()]
    # No shop names its zone: every one takes the default.
    (folder / "shops.jsonl").write_text("".join(json.dumps({**s, "timezone": ""}) + "\n" for s in shops))
    asked = []

    def default_zone() -> str:
        asked.append("zone")
        return "Europe/Berlin"

    facts = read_folder(folder, None, default_zone)
    assert asked == ["zone"]
    assert facts.shops and {info.zone for info in facts.shops.values()} == {"Europe/Berlin"}


def _run_with_stderr(folder: Path, out: Path, stderr: int) -> None:
    kefu = Path(sys.executable).with_name("kefu")
    command = [str(kefu), "report", "--data", str(folder), *PERIOD, "--out", str(out)]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=stderr, check=True, timeout=120)


def test_a_terminal_sees_the_progress_and_a_pipe_does_not(folder, tmp_path):
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        _run_with_stderr(folder, tmp_path / "tty.json", follower)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert b"report" in shown and b"30/30" in shown  # the bar, drawn on stderr
    piped = tmp_path / "stderr.txt"
    with piped.open("wb") as sink:
        _run_with_stderr(folder, tmp_path / "pipe.json", sink.fileno())
    assert piped.read_bytes() == b""
    assert (tmp_path / "tty.json").read_bytes() == (tmp_path / "pipe.json").read_bytes()
