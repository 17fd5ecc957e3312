"""A shop's canned-reply library in the store: the default until the first edit, then the shop's own copy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.desk.canned_replies import CannedReplyError, TemplateError
from kefu.desk.default_replies import DEFAULT_REPLIES
from kefu.desk.library import (
    do_delete_reply,
    do_reset_library,
    do_save_reply,
    has_own_library,
    shop_library,
)
from kefu.store.engine import make_sessionmaker
from kefu.store.models import AuditEntry, CannedReplyRow, Shop, Staff


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session, session.begin():
        session.add_all([Shop(id="s1", name="悦衣坊"), Shop(id="s2", name="别家店")])
        session.flush()
        session.add(Staff(shop_id="s1", agent_id="sup", username="azhe", nickname="阿哲", role="supervisor"))
        session.flush()
        yield session
        session.rollback()


@pytest.fixture
def staff(session) -> Staff:
    return session.scalars(select(Staff)).one()


def _rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CannedReplyRow)) or 0


def test_a_shop_without_replies_uses_the_default_library(session):
    assert shop_library(session, "s1") == DEFAULT_REPLIES
    assert not has_own_library(session, "s1")


def test_the_first_edit_copies_the_defaults_and_a_new_reply_sits_with_its_scene(session, staff):
    do_save_reply(
        session, staff, key="dy1", scene="welcome", title="大衣上新", text="{buyer_name}您好，大衣到了"
    )

    library = shop_library(session, "s1")
    keys = [reply.key for reply in library]
    assert len(library) == len(DEFAULT_REPLIES) + 1
    assert keys.index("dy1") < keys.index(next(r.key for r in DEFAULT_REPLIES if r.scene == "product"))
    assert shop_library(session, "s2") == DEFAULT_REPLIES  # another shop is untouched
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["canned_library_copied", "canned_reply_saved"]


def test_a_reply_is_changed_under_its_key_or_a_new_one(session, staff):
    hy1 = next(r for r in DEFAULT_REPLIES if r.key == "hy1")

    do_save_reply(
        session,
        staff,
        key="hi",
        scene="welcome",
        title="新欢迎",
        text="您好，{shop}欢迎您",
        original_key="hy1",
    )

    library = {reply.key: reply for reply in shop_library(session, "s1")}
    assert "hy1" not in library and library["hi"].text == "您好，{shop}欢迎您"
    saved = session.scalars(select(AuditEntry).where(AuditEntry.action == "canned_reply_saved")).one()
    assert saved.detail["before"]["text"] == hy1.text


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"key": "hy2"}, CannedReplyError, "already used"),
        ({"text": "您好，{产品}到了"}, TemplateError, "unknown variable"),
        ({"key": "Bad Key"}, CannedReplyError, "lowercase"),
        ({"scene": "nowhere"}, CannedReplyError, "unknown scene"),
        ({"title": "标" * 41}, CannedReplyError, "title is longer"),
        ({"original_key": "gone"}, CannedReplyError, "does not exist"),
    ],
)
def test_a_refused_edit_leaves_the_default_library_uncopied(session, staff, fields, error, match):
    reply = {"key": "new1", "scene": "product", "title": "标题", "text": "内容", **fields}

    with pytest.raises(error, match=match):
        do_save_reply(session, staff, **reply)

    assert _rows(session) == 0
    assert session.scalars(select(AuditEntry)).all() == []


def test_replies_are_deleted_but_never_the_last(session, staff):
    do_delete_reply(session, staff, "hy1")
    assert "hy1" not in {reply.key for reply in shop_library(session, "s1")}

    for reply in shop_library(session, "s1")[:-1]:
        do_delete_reply(session, staff, reply.key)
    (last,) = shop_library(session, "s1")
    with pytest.raises(CannedReplyError, match="last reply"):
        do_delete_reply(session, staff, last.key)
    with pytest.raises(CannedReplyError, match="does not exist"):
        do_delete_reply(session, staff, "hy1")


def test_a_reset_brings_the_default_library_back(session, staff):
    do_delete_reply(session, staff, "hy1")

    do_reset_library(session, staff)

    assert shop_library(session, "s1") == DEFAULT_REPLIES
    reset = session.scalars(select(AuditEntry).where(AuditEntry.action == "canned_library_reset")).one()
    assert reset.detail == {"removed": len(DEFAULT_REPLIES) - 1}


def test_a_stored_row_that_no_longer_parses_is_left_out(session, staff):
    do_save_reply(session, staff, key="ok1", scene="product", title="好的", text="有货")
    session.add(
        CannedReplyRow(shop_id="s1", key="bad1", scene="product", title="坏的", text="{oops}", position=99)
    )
    session.flush()

    keys = {reply.key for reply in shop_library(session, "s1")}

    assert "ok1" in keys and "bad1" not in keys
