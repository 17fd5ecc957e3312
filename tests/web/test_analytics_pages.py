"""服务诊断 in the web app: a supervisor's dashboard over a small demo store, its drill-downs, transcripts."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from kefu.accounts.actions import do_set_demo_passwords
from kefu.analytics import segments
from kefu.analytics.access import MASK, mask_phone_numbers
from kefu.analytics.diagnosis import diagnose
from kefu.analytics.drilldown import DRILLS, conversations_behind
from kefu.analytics.engines import DuckDBEngine
from kefu.analytics.period import Period
from kefu.analytics.reporting import build_report
from kefu.analytics.runs import report_on
from kefu.analytics.snapshots import SNAPSHOTS, Snapshot, SnapshotEngine, Snapshots
from kefu.analytics.sources import bind_tables, read_store
from kefu.demo.generator import generate
from kefu.interchange.importing import do_import
from kefu.interchange.writing import table_from_rows, write_table
from kefu.settings import Settings
from kefu.store.engine import make_engine
from kefu.store.migrate import upgrade
from kefu.vocabularies import RATING_SCORES, SENDERS
from kefu.web.app import create_app
from kefu.web.i18n import MESSAGES
from kefu.web.routers.analytics import AGENT_COLUMNS, RANGES, formatter

from .conftest import PASSWORD as SEEDED_PASSWORD
from .conftest import SUPERVISOR, csrf_from

HTML = {"Accept": "text/html"}
PASSWORD = "kefu-demo"
SHOP, OTHER_SHOP = "s1", "s2"
ZONE = "Asia/Shanghai"
SUPERVISOR_LOGIN, AGENT_LOGIN = "s1-a02", "s1-a03"  # the demo's supervisor and first agent of s1
HOSTILE = '<script>alert("x")</script> 我的电话 138-1234-5678'
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kefu" / "web" / "templates" / "analytics"


def write_demo(folder: Path) -> dict[str, list[dict]]:
    """A small demo dataset (four shops), plus a buyer message a page must not run or reveal."""
    dataset = generate(3, 400)
    chat = next(m for m in dataset["messages"] if m["shop_id"] == SHOP and m["sender"] == "buyer")
    dataset["messages"].append(dict(chat, text=HOSTILE, sent_at=chat["sent_at"] + timedelta(seconds=1)))
    for name, rows in dataset.items():
        write_table(table_from_rows(name, rows), folder, name, "jsonl")
    return dataset


def fill_store(url: str, folder: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    do_import(engine, folder, actor="test")
    do_set_demo_passwords(engine, PASSWORD)
    engine.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    folder = tmp_path_factory.mktemp("analytics-demo")
    dataset = write_demo(folder)
    url = f"sqlite:///{folder / 'kefu.db'}"
    fill_store(url, folder)
    yield url, dataset
    SNAPSHOTS.forget(url)


@pytest.fixture(scope="module")
def demo_app(demo, tmp_path_factory):
    url, _ = demo
    settings = Settings(
        database_url=url,
        secret_key="test-secret-not-for-production",
        data_dir=tmp_path_factory.mktemp("data"),
    )
    return create_app(settings)


@pytest.fixture
def client(demo_app) -> Iterator[TestClient]:
    with TestClient(demo_app) as client:
        yield client


def test_with_preload_the_server_reads_the_snapshot_at_start_before_any_visit(demo, tmp_path):
    url, _ = demo
    SNAPSHOTS.forget(url)
    settings = Settings(
        database_url=url,
        secret_key="test-secret-not-for-production",
        data_dir=tmp_path,
        analytics_preload=True,
    )
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 60
        while not SNAPSHOTS.loaded(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert SNAPSHOTS.loaded(url), "the snapshot was not read at start-up"


def log_in(client: TestClient, username: str) -> None:
    page = client.get("/login", headers=HTML)
    form = {"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    answer = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def supervisor(client) -> TestClient:
    log_in(client, SUPERVISOR_LOGIN)
    return client


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def agent_cells(page: str) -> dict[str, list[str]]:
    """The agent table as agent_id -> the text of each number cell, in column order."""
    rows = re.findall(r'<tr data-agent="([^"]+)">(.*?)</tr>', page, re.S)
    return {
        agent: [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)] for agent, cells in rows
    }


def period_of(dataset: dict) -> Period:
    """Seven days that hold the demo's data (it lies in Oct-Nov 2026)."""
    last = max(m["sent_at"] for m in dataset["messages"] if m["shop_id"] == SHOP).astimezone(ZoneInfo(ZONE))
    return Period(last.date() - timedelta(days=6), last.date() + timedelta(days=1))


def test_a_supervisor_sees_the_numbers_report_on_gives_for_their_shop(supervisor, demo):
    url, dataset = demo
    period = period_of(dataset)
    expected = report_on(DuckDBEngine(), read_store(url), period, ZONE, shop_id=SHOP)

    page = supervisor.get("/analytics", params={"from": period.date_from, "to": period.date_to}, headers=HTML)

    assert page.status_code == 200
    assert "服务诊断" in page.text
    fmt = formatter("zh-CN")
    cells = agent_cells(page.text)
    assert set(cells) == {row["agent_id"] for row in expected.agents}
    for row in expected.agents:
        assert cells[row["agent_id"]] == [fmt(key, row[key]) for key in AGENT_COLUMNS], row["agent_id"]
    shop = expected.shops[0]
    served = re.search(r'data-key="served_buyers">.*?class="kpi-value">(.*?)</p>', page.text, re.S)
    assert text_of(served.group(1)) == fmt("served_buyers", shop["served_buyers"])
    assert OTHER_SHOP not in cells and all(a.startswith(SHOP) for a in cells)


def assert_same_rows(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, float):
                assert mine[key] == pytest.approx(value), key
            else:
                assert mine[key] == value, key


def test_the_shop_rows_of_the_snapshot_are_the_report_of_the_shop(demo):
    url, dataset = demo
    period = period_of(dataset)
    facts = read_store(url)
    snapshot = Snapshot.over(SnapshotEngine(), facts, ZONE)
    for segment, channel in (("all", "all"), ("presale", "human"), ("aftersale", "all"), ("all", "bot")):
        alone = DuckDBEngine()
        expected = build_report(
            alone,
            bind_tables(alone, facts),
            facts.shops,
            period,
            ZONE,
            SHOP,
            segment=segment,
            channel=channel,
        )
        got = snapshot.shop_report(SHOP, period, segment, channel)
        for table in ("agents", "shops", "products"):
            assert_same_rows(getattr(got, table), getattr(expected, table))
        # Another period on the same snapshot reuses what the engine kept, and still agrees.
        earlier = period.previous()
        expected = build_report(
            alone,
            bind_tables(alone, facts),
            facts.shops,
            earlier,
            ZONE,
            SHOP,
            segment=segment,
            channel=channel,
        )
        assert_same_rows(snapshot.shop_report(SHOP, earlier, segment, channel).agents, expected.agents)


def test_an_agent_is_refused_every_analytics_page(client, demo):
    _, dataset = demo
    log_in(client, AGENT_LOGIN)
    conversation = next(m["conversation_id"] for m in dataset["messages"] if m["shop_id"] == SHOP)

    for path in (
        "/analytics",
        "/analytics/drill?metric=turns&from=2026-11-01&to=2026-11-08",
        f"/analytics/conversations/{conversation}",
    ):
        answer = client.get(path, headers=HTML)
        assert answer.status_code == 403, path
        assert "你的角色无权查看这个页面" in answer.text


def test_the_nav_shows_the_dashboard_to_supervisors_only(client):
    log_in(client, AGENT_LOGIN)
    assert 'href="/analytics"' not in client.get("/home", headers=HTML).text
    client.cookies.clear()
    log_in(client, SUPERVISOR_LOGIN)
    assert 'href="/analytics"' in client.get("/home", headers=HTML).text


def test_another_shops_transcript_is_not_found_like_a_missing_one(supervisor, demo):
    _, dataset = demo
    theirs = next(m["conversation_id"] for m in dataset["messages"] if m["shop_id"] == OTHER_SHOP)
    ours = next(m["conversation_id"] for m in dataset["messages"] if m["shop_id"] == SHOP)

    other = supervisor.get(f"/analytics/conversations/{theirs}", headers=HTML)
    missing = supervisor.get("/analytics/conversations/no-such-conversation", headers=HTML)

    assert supervisor.get(f"/analytics/conversations/{ours}", headers=HTML).status_code == 200
    assert other.status_code == missing.status_code == 404
    # The same page, apart from the language switcher's way back to the address asked for.
    assert other.text.replace(theirs, "ID") == missing.text.replace("no-such-conversation", "ID")


def test_a_buyer_message_is_shown_as_text_and_without_phone_numbers(supervisor, demo):
    _, dataset = demo
    hostile = next(m for m in dataset["messages"] if m["text"] == HOSTILE)
    buyer = next(b for b in dataset["buyers"] if b["buyer_id"] == hostile["buyer_id"])

    page = supervisor.get(f"/analytics/conversations/{hostile['conversation_id']}", headers=HTML)

    assert page.status_code == 200
    assert "&lt;script&gt;alert(" in page.text
    assert '<script>alert("x")' not in page.text
    assert "138-1234-5678" not in page.text and MASK in page.text
    if buyer.get("phone"):
        assert buyer["phone"] not in page.text


def test_phone_numbers_are_masked_however_they_are_written():
    for text in ("13812345678", "+86 138 1234 5678", "call 86-138-1234-5678 now", "号码138 1234 5678。"):
        assert not re.search(r"\d{4}", mask_phone_numbers(text)), text
    assert mask_phone_numbers("订单号 202611170001 共 3 件") == "订单号 202611170001 共 3 件"
    assert mask_phone_numbers("我的座机 0571-8888 6666", known=("0571-88886666",)) == f"我的座机 {MASK}"


def test_a_number_links_to_the_conversations_behind_it(supervisor, demo):
    _, dataset = demo
    period = period_of(dataset)
    page = supervisor.get("/analytics", params={"from": period.date_from, "to": period.date_to}, headers=HTML)
    agent, served = next(
        (a, cells[AGENT_COLUMNS.index("served_buyers")]) for a, cells in agent_cells(page.text).items()
    )
    link = html.unescape(
        re.search(
            rf'href="(/analytics/drill\?[^"]*metric=served_buyers&amp;agent={agent})"', page.text
        ).group(1)
    )

    drill = supervisor.get(link, headers=HTML)

    assert drill.status_code == 200
    buyers = {
        text_of(b) for b in re.findall(r"<tr>\s*<td><a[^>]*>.*?</a></td>\s*<td>(.*?)</td>", drill.text, re.S)
    }
    assert str(len(buyers)) == served
    transcript = html.unescape(re.search(r'href="(/analytics/conversations/[^"]+)"', drill.text).group(1))
    opened = supervisor.get(transcript, headers=HTML)
    assert opened.status_code == 200 and "会话记录" in opened.text
    assert 'href="/analytics/drill?' in opened.text  # the way back leads to the list


@pytest.fixture(scope="module")
def snapshot(demo) -> Snapshot:
    url, _ = demo
    return Snapshot.over(SnapshotEngine(), read_store(url), ZONE)


def figure_from(metric: str, rows: list[dict]) -> float | int | None:
    """The number a drill-down's rows add up to, for the numbers that are sums or distinct counts."""
    if metric in ("turns", "ratings"):
        return sum(r["items"] for r in rows)
    if metric in ("served_buyers", "ordered_buyers", "paid_buyers"):
        return len({r["buyer_id"] for r in rows})
    if metric == "sales":
        return round(sum(r["value"] for r in rows), 2)
    if metric == "invited_conversations":
        return len(rows)
    return None


@pytest.mark.parametrize("metric", sorted(DRILLS))
def test_every_drill_down_adds_up_to_its_number(demo, snapshot, metric):
    _, dataset = demo
    period = period_of(dataset)
    report = snapshot.shop_report(SHOP, period)
    for row in report.agents:
        rows = conversations_behind(snapshot, SHOP, period, metric, row["agent_id"])
        expected = figure_from(metric, rows)
        if expected is not None:
            assert row[metric] == expected, (metric, row["agent_id"])
        if metric == "first_response_s" and rows:
            mean = sum(r["value"] for r in rows) / len(rows)
            assert row[metric] == pytest.approx(mean)
        assert all(r["started_at"].tzinfo is not None for r in rows)


def test_the_default_period_is_the_last_seven_days_that_hold_data(supervisor, demo):
    _, dataset = demo
    today = datetime.now(ZoneInfo(ZONE)).date()
    times = [m["sent_at"] for m in dataset["messages"] if m["shop_id"] == SHOP]
    times += [o["created_at"] for o in dataset["orders"] if o["shop_id"] == SHOP]
    last = min(max(times).astimezone(ZoneInfo(ZONE)).date(), today)

    page = supervisor.get("/analytics", headers=HTML)

    shown = text_of(re.search(r'id="period-shown">(.*?)</p>', page.text, re.S).group(1))
    assert shown.startswith(f"{(last - timedelta(days=6)).isoformat()} 至 {last.isoformat()}（7 天）")


@pytest.mark.parametrize(
    ("params", "first", "last"),
    [
        ({"range": "day", "date": "2026-11-10"}, date(2026, 11, 10), date(2026, 11, 10)),
        ({"range": "week", "date": "2026-11-12"}, date(2026, 11, 9), date(2026, 11, 15)),
        ({"range": "month", "date": "2026-10-20"}, date(2026, 10, 1), date(2026, 10, 31)),
        (
            {"range": "custom", "from": "2026-11-01", "until": "2026-11-03"},
            date(2026, 11, 1),
            date(2026, 11, 3),
        ),
        ({"from": "2026-11-01", "to": "2026-11-03"}, date(2026, 11, 1), date(2026, 11, 2)),
    ],
)
def test_the_period_picker(supervisor, params, first, last):
    page = supervisor.get("/analytics", params=params, headers=HTML)

    shown = text_of(re.search(r'id="period-shown">(.*?)</p>', page.text, re.S).group(1))
    assert shown.startswith(f"{first.isoformat()} 至 {last.isoformat()}")


def test_a_filter_narrows_the_numbers_as_the_report_does(supervisor, demo):
    url, dataset = demo
    period = period_of(dataset)
    facts = read_store(url)
    engine = DuckDBEngine()
    presale = build_report(
        engine, bind_tables(engine, facts), facts.shops, period, ZONE, SHOP, segment="presale"
    )

    page = supervisor.get(
        "/analytics",
        params={"from": period.date_from, "to": period.date_to, "segment": "presale"},
        headers=HTML,
    )

    fmt = formatter("zh-CN")
    cells = agent_cells(page.text)
    for row in presale.agents:
        assert cells[row["agent_id"]][AGENT_COLUMNS.index("turns")] == fmt("turns", row["turns"])
    assert '<option value="presale" selected>' in page.text


def test_the_change_against_the_previous_period_comes_after_the_page(supervisor, demo):
    url, _ = demo
    period = Period(date(2026, 10, 21), date(2026, 10, 24))  # asked for by no other test
    params = {"from": period.date_from, "to": period.date_to}
    before = report_on(DuckDBEngine(), read_store(url), period.previous(), ZONE, shop_id=SHOP).shops[0]

    page = supervisor.get("/analytics", params=params, headers=HTML)
    changes = supervisor.get("/analytics/changes", params=params, headers=HTML | {"HX-Request": "true"})
    again = supervisor.get("/analytics", params=params, headers=HTML)

    assert "计算中" in page.text and 'hx-get="/analytics/changes?' in page.text
    line = re.search(r'<p [^>]*id="change-served_buyers" hx-swap-oob="true">(.*?)</p>', changes.text, re.S)
    assert f"上期 {formatter('zh-CN')('served_buyers', before['served_buyers'])}" in text_of(line.group(1))
    assert "计算中" not in again.text and "hx-get" not in again.text  # now the snapshot has it


def test_sorting_the_agent_table(supervisor, demo):
    _, dataset = demo
    period = period_of(dataset)
    params = {"from": period.date_from, "to": period.date_to, "sort": "turns"}
    column = AGENT_COLUMNS.index("turns")

    down = [
        int(c[column].replace(",", ""))
        for c in agent_cells(
            supervisor.get("/analytics", params=params | {"order": "desc"}, headers=HTML).text
        ).values()
    ]
    up = [
        int(c[column].replace(",", ""))
        for c in agent_cells(
            supervisor.get("/analytics", params=params | {"order": "asc"}, headers=HTML).text
        ).values()
    ]

    assert down == sorted(down, reverse=True) and up == sorted(up) and len(up) > 1


def test_something_not_understood_shows_the_defaults_with_a_note(supervisor):
    page = supervisor.get("/analytics", params={"range": "fortnight", "segment": "vip"}, headers=HTML)
    drill = supervisor.get(
        "/analytics/drill",
        params={"metric": "nonsense", "from": "2026-11-01", "to": "2026-11-02"},
        headers=HTML,
    )

    assert page.status_code == 200 and "已按默认显示" in page.text
    assert drill.status_code == 400


def test_the_pages_run_no_inline_script(supervisor, demo):
    _, dataset = demo
    ours = next(m["conversation_id"] for m in dataset["messages"] if m["shop_id"] == SHOP)
    for path in ("/analytics", f"/analytics/conversations/{ours}"):
        page = supervisor.get(path, headers=HTML)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), path
        assert re.search(r"<[^>]+\son\w+=", page.text) is None, path  # no event handler attributes


def test_english_through_the_language_switch(supervisor):
    supervisor.get("/lang", params={"to": "en", "next": "/analytics"})

    page = supervisor.get("/analytics", headers=HTML)

    assert '<html lang="en">' in page.text
    assert "Service diagnosis" in page.text and "Inquiry conversion" in page.text


def test_the_diagnosis_explains_the_ratings_the_new_rule_left_out(snapshot):
    period = Period(date(2026, 10, 1), date(2026, 12, 1))

    diagnosis = diagnose(snapshot, SHOP, period)

    ex, row = diagnosis.exclusions, diagnosis.shop
    assert (ex.ratings, ex.counted) == (row["ratings"], row["ratings_counted"])
    assert ex.flagged + ex.robot + ex.repeated == ex.ratings - ex.counted
    assert sum(p["served_buyers"] for p in diagnosis.trend) >= row["served_buyers"]  # a buyer may come back
    assert sum(p["turns"] for p in diagnosis.trend) == row["turns"]
    assert round(sum(p["sales"] for p in diagnosis.trend), 2) == row["sales"]


def test_a_shop_without_data_is_told_how_to_import_it(client_without_data):
    page = client_without_data.get("/analytics", headers=HTML)

    assert page.status_code == 200
    assert "还没有可分析的数据" in page.text and "kefu import" in page.text


@pytest.fixture
def client_without_data(app, settings) -> Iterator[TestClient]:
    """The web suite's seeded store (two shops with staff, no chats), on SQLite and PostgreSQL."""
    with TestClient(app) as client:
        page = client.get("/login", headers=HTML)
        form = {
            "username": SUPERVISOR.username,
            "password": SEEDED_PASSWORD,
            "csrf_token": csrf_from(page.text),
        }
        client.post("/login", data=form, headers=HTML, follow_redirects=False)
        yield client
    SNAPSHOTS.forget(settings.resolved_database_url())


def test_the_page_shows_the_same_numbers_over_each_kind_of_store(db_url, tmp_path, demo):
    _, dataset = demo
    write_demo(tmp_path / "data")
    fill_store(db_url, tmp_path / "data")
    period = period_of(dataset)
    expected = report_on(DuckDBEngine(), read_store(db_url), period, ZONE, shop_id=SHOP)
    app = create_app(
        Settings(database_url=db_url, secret_key="test-secret-not-for-production", data_dir=tmp_path)
    )

    with TestClient(app) as client:
        log_in(client, SUPERVISOR_LOGIN)
        page = client.get("/analytics", params={"from": period.date_from, "to": period.date_to}, headers=HTML)

    fmt = formatter("zh-CN")
    cells = agent_cells(page.text)
    for row in expected.agents:
        assert cells[row["agent_id"]] == [fmt(key, row[key]) for key in AGENT_COLUMNS], row["agent_id"]
    SNAPSHOTS.forget(db_url)


def test_the_snapshot_follows_the_store(tmp_path, demo):
    _, dataset = demo
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    snapshots = Snapshots(check_interval_s=0, background=False)
    period = period_of(dataset)

    before = snapshots.get(url, ZONE).shop_report(SHOP, period)
    write_demo(tmp_path / "data")
    fill_store(url, tmp_path / "data")
    after = snapshots.get(url, ZONE).shop_report(SHOP, period)

    assert before.shops == [] and after.shops[0]["served_buyers"] > 0
    assert snapshots.get(url, ZONE) is snapshots.get(url, ZONE)  # unchanged store: the same snapshot
    snapshots.forget(url)


def test_every_key_the_analytics_templates_use_exists():
    used = {
        key
        for template in TEMPLATES.glob("*.html")
        for key in re.findall(r"""\bt\(\s*["']([\w.\-]+)["']""", template.read_text(encoding="utf-8"))
    }
    fixed = {key for key in used if not key.endswith(".")}
    assert fixed and fixed <= set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])
    # Keys built from a value: every value of each vocabulary has its message.
    built = {
        "analytics.range.": RANGES,
        "analytics.segment.": segments.SEGMENTS,
        "analytics.channel.": segments.CHANNELS,
        "analytics.tone.": ("better", "worse"),
        "analytics.drill.": set(DRILLS.values()),
        "analytics.drill_items.": set(DRILLS.values()),
        "analytics.drill_value.": set(DRILLS.values()) - {"served", "invited"},
        "analytics.score.": RATING_SCORES,
        "analytics.sender.": SENDERS,
    }
    assert {key for key in used if key.endswith(".")} <= set(built)
    for prefix, values in built.items():
        for value in values:
            assert prefix + value in MESSAGES["zh-CN"], prefix + value
