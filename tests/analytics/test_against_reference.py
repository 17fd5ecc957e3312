"""Every value of `kefu report --format json` equals an independent, plain-Python reading of the contract.

The datasets are messy on purpose (edge_dataset.py): mixed JSON Lines and CSV, parts, offsets
of every kind, equal times, bots and system notices between turns, proactive agents, transfers,
orders at the edges of the 24-hour window, rating bursts, flagged buyers.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from comparing import differences
from edge_dataset import write_edge_dataset
from reference import reference_report

from kefu.cli import main


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kefu_report_equals_the_reference(tmp_path, seed):
    folder = tmp_path / "data"
    date_from, date_to = write_edge_dataset(folder, seed)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["report", "--data", str(folder), "--from", str(date_from), "--to", str(date_to), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    actual = json.loads(out.read_text(encoding="utf-8"))
    expected = reference_report(folder, date_from, date_to)
    assert differences(expected, actual, keys_of_expected=True) == []


def test_one_shop_and_another_zone_equal_the_reference(tmp_path):
    folder = tmp_path / "data"
    date_from, date_to = write_edge_dataset(folder, 4)
    shop = json.loads(json.dumps(reference_report(folder, date_from, date_to)))["shops"][0]["shop_id"]
    out = tmp_path / "report.json"
    args = ["report", "--data", str(folder), "--from", str(date_from), "--to", str(date_to)]
    args += ["--tz", "Europe/Berlin", "--shop", shop, "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    expected = reference_report(folder, date_from, date_to, tz="Europe/Berlin", shop_id=shop)
    assert differences(expected, json.loads(out.read_text(encoding="utf-8")), keys_of_expected=True) == []


@pytest.mark.parametrize("left_out", [("orders", "order_items"), ("ratings", "reviews", "buyers", "refunds")])
def test_optional_tables_left_out_equal_the_reference(tmp_path, left_out):
    folder = tmp_path / "data"
    date_from, date_to = write_edge_dataset(folder, 5)
    for path in folder.iterdir():
        if path.name.split(".")[0] in left_out:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    out = tmp_path / "report.json"
    args = [
        "report",
        "--data",
        str(folder),
        "--from",
        str(date_from),
        "--to",
        str(date_to),
        "--out",
        str(out),
    ]
    assert CliRunner().invoke(main, args).exit_code == 0
    expected = reference_report(folder, date_from, date_to)
    actual = json.loads(out.read_text(encoding="utf-8"))
    assert differences(expected, actual, keys_of_expected=True) == []
    assert all(row["refund_rate"] is None for row in actual["shops"]) or "orders" not in left_out
