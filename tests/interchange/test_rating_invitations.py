"""The rating_invitations extension table: imported, kept once, exported again, refused when repeated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kefu.interchange.errors import DatasetError
from kefu.interchange.exporting import do_export
from kefu.interchange.importing import do_import
from kefu.store.models import RatingInvitation

MESSAGES = [
    {
        "conversation_id": "c1",
        "shop_id": "s1",
        "buyer_id": "b1",
        "sender": "buyer",
        "sent_at": "2026-11-02T10:00:00+08:00",
        "text": "在吗",
    },
    {
        "conversation_id": "c1",
        "shop_id": "s1",
        "buyer_id": "b1",
        "sender": "agent",
        "agent_id": "a1",
        "sent_at": "2026-11-02T10:00:20+08:00",
        "text": "您好",
    },
]
INVITATIONS = [
    {
        "conversation_id": "c1",
        "shop_id": "s1",
        "buyer_id": "b1",
        "agent_id": "a1",
        "invited_at": "2026-11-02T10:05:00+08:00",
    },
    # No offset: the shop's zone (Asia/Shanghai). A conversation the dataset does not hold is
    # kept, as a rating's would be.
    {
        "conversation_id": "c-elsewhere",
        "shop_id": "s1",
        "buyer_id": "b9",
        "invited_at": "2026-11-02 11:00:00",
    },
]


def write(folder: Path, invitations: list[dict]) -> Path:
    folder.mkdir(parents=True)
    for name, rows in (("messages", MESSAGES), ("rating_invitations", invitations)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (folder / f"{name}.jsonl").write_text(text, encoding="utf-8")
    return folder


def stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                RatingInvitation.conversation_id, RatingInvitation.agent_id, RatingInvitation.invited_at
            ).order_by(RatingInvitation.invited_at)
        ).all()
    return [(c, a, at.isoformat()) for c, a, at in rows]


def test_invitations_are_imported_once_and_exported_as_they_came(engine, tmp_path):
    source = write(tmp_path / "source", INVITATIONS)
    do_import(engine, source)
    do_import(engine, source)  # the same dataset again changes nothing
    expected = [("c1", "a1", "2026-11-02T02:05:00+00:00"), ("c-elsewhere", None, "2026-11-02T03:00:00+00:00")]
    assert stored(engine) == expected

    do_export(engine, tmp_path / "out")
    lines = (tmp_path / "out" / "rating_invitations.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["invited_at"] for line in lines] == [
        "2026-11-02T10:05:00+08:00",
        "2026-11-02T11:00:00+08:00",
    ]
    with engine.begin() as conn:
        conn.execute(RatingInvitation.__table__.delete())
    do_import(engine, tmp_path / "out")
    assert stored(engine) == expected


def test_one_conversation_invited_twice_at_one_instant_is_refused_with_its_line(engine, tmp_path):
    same = {**INVITATIONS[0], "invited_at": "2026-11-02T02:05:00Z"}  # the first row's instant, another offset
    source = write(tmp_path / "source", [INVITATIONS[0], same])
    with pytest.raises(DatasetError) as refused:
        do_import(engine, source)
    message = str(refused.value)
    assert "rating_invitations.jsonl" in message and "line 2" in message and "repeats" in message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RatingInvitation)).scalar_one() == 0
