"""The HTML report a lead mails opens alone in a browser and draws its charts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kefu.cli import main, write_demo_dataset

pytestmark = pytest.mark.browser


def test_the_mailed_report_draws_its_charts_offline(browser, tmp_path):
    data = tmp_path / "data"
    write_demo_dataset(data, seed=4, conversations=200)
    out = tmp_path / "report.html"
    args = ["report", "--data", str(data), "--from", "2026-10-26", "--to", "2026-11-09", "--compare"]
    result = CliRunner().invoke(main, [*args, "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    context = browser.new_context(offline=True)  # nothing may be fetched
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(out.as_uri())
    page.wait_for_selector(".chart canvas")
    assert errors == []
    assert page.locator(".chart canvas").count() >= 4  # agents and refund reasons, per shop
    assert page.get_by_text("询单转化率").first.is_visible()
    context.close()
