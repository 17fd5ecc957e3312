"""Canned replies (快捷短语): templates parse or say where they fail, render never shows "None",
search finds by key and by traditional characters, and the default library is ours and complete."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.chinese_text import to_simplified
from kefu.desk.canned_replies import (
    SCENES,
    VARIABLES,
    CannedReply,
    CannedReplyError,
    Prompt,
    TemplateError,
    library_from,
    render,
    repeated_in_conversation,
    search,
)
from kefu.desk.default_replies import DEFAULT_REPLIES

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
COPIED_RUN = 14  # characters in a row that count as copied wording

FULL_CONTEXT = {
    "buyer_name": "小林",
    "shop": "山禾家居",
    "product": "亚麻四件套",
    "order": "2026112012345",
    "amount": Decimal("268.00"),
    "date": date(2026, 11, 25),
}


def reply(text: str, key: str = "t1") -> CannedReply:
    return CannedReply(key, "shipping", "测试", text)


# --- templates ----------------------------------------------------------------------------


def test_a_template_fills_its_variables_from_the_context():
    rendered = render(reply("{buyer_name}，订单{order}共{amount}元，{date}前发出。"), FULL_CONTEXT)
    assert rendered.text == "小林，订单2026112012345共268.00元，11月25日前发出。"
    assert rendered.prompts == ()
    assert rendered.complete


def test_a_missing_value_becomes_a_prompt_never_none():
    template = reply("{buyer_name}，订单{order}预计{date}发出。")
    rendered = render(template, {"buyer_name": "小林", "order": None})
    assert "None" not in rendered.text
    assert rendered.text == "小林，订单【订单号】预计【日期】发出。"
    assert rendered.prompts == (Prompt("订单号", "order"), Prompt("日期", "date"))
    assert not rendered.complete


def test_a_blank_value_is_missing_too():
    assert render(reply("{buyer_name}您好"), {"buyer_name": "  "}).prompts == (Prompt("买家", "buyer_name"),)


def test_a_prompt_is_typed_once_and_filled_everywhere():
    rendered = render(reply("建议选{?尺码}，{?尺码}偏大的话换小一码，订单{order}"), {})
    assert [p.label for p in rendered.prompts] == ["尺码", "订单号"]
    assert rendered.fill({"尺码": "M", "订单号": "A1"}) == "建议选M，M偏大的话换小一码，订单A1"


def test_sending_with_a_prompt_left_is_refused():
    rendered = render(reply("单号是{?运单号}"), FULL_CONTEXT)
    with pytest.raises(CannedReplyError, match="运单号"):
        rendered.fill({"运单号": " "})


def test_a_context_value_is_inserted_as_written_not_parsed():
    assert render(reply("{buyer_name}您好"), {"buyer_name": "{shop}"}).text == "{shop}您好"


def test_a_naive_datetime_in_the_context_is_refused():
    with pytest.raises(CannedReplyError, match="naive"):
        render(reply("{date}发出"), {"date": datetime(2026, 11, 25, 10)})  # noqa: DTZ001
    aware = datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert render(reply("{date}发出"), {"date": aware}).text == "11月25日发出"


def test_doubled_braces_are_literal():
    assert render(reply("请回复{{1}}确认"), {}).text == "请回复{1}确认"


def test_an_unknown_variable_is_refused_naming_the_key_and_position():
    with pytest.raises(TemplateError, match=r"'fh9'.*\{buyer\}.*character 3") as caught:
        reply("您好{buyer}，", key="fh9")
    assert (caught.value.key, caught.value.position) == ("fh9", 2)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("订单{order", 2, "never closed"),
        ("订单{order{amount}", 2, "never closed"),
        ("订单order}", 7, "without a matching"),
        ("请输入{?}", 3, "needs a label"),
        ("您好｛buyer_name｝", 2, "full-width"),
    ],
)
def test_unbalanced_braces_are_refused_with_the_position(text, position, reason):
    with pytest.raises(TemplateError, match=reason) as caught:
        reply(text, key="bad1")
    assert caught.value.position == position
    assert "'bad1'" in str(caught.value) and f"character {position + 1}" in str(caught.value)


def test_an_edit_is_checked_like_a_new_reply():
    with pytest.raises(TemplateError, match="hy1"):
        replace(DEFAULT_REPLIES[0], text="欢迎{shopname}")


@pytest.mark.parametrize("key", ["", "HY1", "欢迎", "hy 1", "a" * 13])
def test_a_key_is_short_lowercase_ascii(key):
    with pytest.raises(CannedReplyError, match="key"):
        reply("好的", key=key)


def test_a_scene_must_be_declared():
    with pytest.raises(CannedReplyError, match="unknown scene"):
        CannedReply("x1", "smalltalk", "闲聊", "好的")


def test_a_library_refuses_one_key_twice():
    with pytest.raises(CannedReplyError, match="'t1' is used twice"):
        library_from([reply("一"), reply("二")])


@given(st.text().filter(lambda s: not set(s) & set("｛｝") and s.strip()))
def test_escaped_text_renders_back_to_itself(text):
    escaped = text.replace("{", "{{").replace("}", "}}")
    assert render(reply(escaped), FULL_CONTEXT).text == text


# --- search -------------------------------------------------------------------------------


def test_search_by_key_prefix_comes_first():
    found = search(DEFAULT_REPLIES, "fh")
    assert [r.key for r in found[:7]] == [f"fh{n}" for n in range(1, 8)]
    assert search(DEFAULT_REPLIES, "fh3")[0].key == "fh3"


def test_search_by_key_ignores_case_and_full_width_input():
    assert search(DEFAULT_REPLIES, "ＳＨ１")[0].key == "sh1"


def test_search_by_title_then_text():
    library = [reply("快递今天发出", key="b1"), CannedReply("a1", "shipping", "快递说明", "好的")]
    assert [r.key for r in search(library, "快递")] == ["a1", "b1"]


def test_search_a_traditional_query_finds_simplified_text():
    found = search(DEFAULT_REPLIES, "發貨")
    assert found and all("发货" in r.title + r.text for r in found)
    assert "fh1" in [r.key for r in found]


def test_search_finds_a_variable_by_its_chinese_label():
    assert "fk7" in [r.key for r in search(DEFAULT_REPLIES, "订单号")]


def test_an_empty_query_lists_the_library():
    assert search(DEFAULT_REPLIES, "  ") == list(DEFAULT_REPLIES)


# --- repeat warning -----------------------------------------------------------------------


def test_the_same_reply_twice_in_a_conversation_warns():
    assert not repeated_in_conversation([], "hy1")
    assert not repeated_in_conversation(["hy1", "sp3"], "fk2")
    assert repeated_in_conversation(["hy1", "sp3"], "sp3")


# --- the default library ------------------------------------------------------------------


@pytest.mark.parametrize("canned", DEFAULT_REPLIES, ids=lambda r: r.key)
def test_every_default_reply_renders_with_a_full_context(canned):
    rendered = render(canned, FULL_CONTEXT)
    assert not re.search(r"[{}]", rendered.text), rendered.text
    assert "None" not in rendered.text
    assert all(p.variable is None for p in rendered.prompts)  # only what the agent alone knows
    assert rendered.fill({p.label: "某值" for p in rendered.prompts})


def test_each_scene_has_at_least_six_replies():
    counts = {scene.name: sum(r.scene == scene.name for r in DEFAULT_REPLIES) for scene in SCENES}
    assert all(n >= 6 for n in counts.values()), counts
    assert len(DEFAULT_REPLIES) >= 45


def test_every_variable_is_used_by_some_default_reply():
    used = {part.variable for r in DEFAULT_REPLIES for part in r.parts if hasattr(part, "variable")}
    assert {v.name for v in VARIABLES} <= used


def test_default_replies_say_you_not_dear():
    assert [r.key for r in DEFAULT_REPLIES if r.text.count("亲") > 1] == []
    assert sum("您" in r.text for r in DEFAULT_REPLIES) >= len(DEFAULT_REPLIES) * 0.8


def test_default_replies_do_not_all_open_alike():
    openings = [r.text[:2] for r in DEFAULT_REPLIES]
    assert openings.count("您好") <= 3
    assert len(set(openings)) >= len(openings) * 0.6


def _comparable(text: str) -> list[str]:
    """The text as written and without spacing or punctuation, both in simplified characters."""
    folded = to_simplified(unicodedata.normalize("NFKC", text))
    return [folded, "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")]


def _copied_runs(text: str, seed: str) -> list[str]:
    runs = (text[start : start + COPIED_RUN] for start in range(len(text) - COPIED_RUN + 1))
    return [run for run in runs if run in seed]


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the seed articles are not at {SEEDS}")
def test_no_default_reply_copies_a_seed_article():
    seeds = [(path.name, _comparable(path.read_text(encoding="utf-8"))) for path in sorted(SEEDS.iterdir())]
    assert seeds, f"no seed articles in {SEEDS}"
    copied = []
    for canned in DEFAULT_REPLIES:
        for text in (canned.text, render(canned, FULL_CONTEXT).text):
            for name, seed_forms in seeds:
                for mine, seed in zip(_comparable(text), seed_forms, strict=True):
                    copied += [(canned.key, name, run) for run in _copied_runs(mine, seed)]
    assert copied == []
