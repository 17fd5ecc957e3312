"""A shop's canned-reply library in the store: its own replies, or the default library while it has none.

The first edit copies the default library into the shop's rows, so a shop always edits its
own copy and later changes to kefu's defaults never rewrite what a shop has made its own.
The last reply cannot be deleted (a shop without rows would silently get the defaults back);
`do_reset_library` is the explicit way back to them.

Every reply is checked by `canned_replies.CannedReply` before it is stored (key, scene,
template), so a stored library always loads; a row that no longer parses (the rules
tightened since) is left out and logged rather than breaking the desk.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kefu.accounts.audit import record_staff_action
from kefu.desk.canned_replies import SCENES, CannedReply, CannedReplyError
from kefu.desk.default_replies import DEFAULT_REPLIES
from kefu.store.models import CannedReplyRow, Staff

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 40
MAX_TEXT_CHARS = 500
MAX_REPLIES = 500
_SCENE_ORDER = {scene.name: index for index, scene in enumerate(SCENES)}

REPLY_SAVED = "canned_reply_saved"
REPLY_DELETED = "canned_reply_deleted"
LIBRARY_COPIED = "canned_library_copied"
LIBRARY_RESET = "canned_library_reset"


def _rows(session: Session, shop_id: str) -> list[CannedReplyRow]:
    rows = session.scalars(select(CannedReplyRow).where(CannedReplyRow.shop_id == shop_id)).all()
    # Scene order first: a reply added later still sits with its scene in the picker.
    return sorted(rows, key=lambda row: (_SCENE_ORDER.get(row.scene, len(SCENES)), row.position, row.id))


def has_own_library(session: Session, shop_id: str) -> bool:
    return (
        session.scalar(select(CannedReplyRow.id).where(CannedReplyRow.shop_id == shop_id).limit(1))
        is not None
    )


def shop_library(session: Session, shop_id: str) -> tuple[CannedReply, ...]:
    """The replies the shop's agents use, in picker order."""
    rows = _rows(session, shop_id)
    if not rows:
        return DEFAULT_REPLIES
    library = []
    for row in rows:
        try:
            library.append(CannedReply(row.key, row.scene, row.title, row.text))
        except CannedReplyError as error:
            log.warning("shop %s: canned reply left out: %s", shop_id, error)
    return tuple(library)


def check_reply(key: str, scene: str, title: str, text: str) -> CannedReply:
    """The reply as it would be stored, or CannedReplyError saying what is wrong."""
    reply = CannedReply(
        key.strip(), scene.strip(), " ".join(title.split()), text.replace("\r\n", "\n").strip()
    )
    if len(reply.title) > MAX_TITLE_CHARS:
        raise CannedReplyError(
            f"canned reply {reply.key!r}: the title is longer than {MAX_TITLE_CHARS} characters"
        )
    if len(reply.text) > MAX_TEXT_CHARS:
        raise CannedReplyError(
            f"canned reply {reply.key!r}: the text is longer than {MAX_TEXT_CHARS} characters"
        )
    return reply


def _copy_defaults(session: Session, staff: Staff) -> list[CannedReplyRow]:
    rows = [
        CannedReplyRow(
            shop_id=staff.shop_id,
            key=reply.key,
            scene=reply.scene,
            title=reply.title,
            text=reply.text,
            position=index,
        )
        for index, reply in enumerate(DEFAULT_REPLIES)
    ]
    session.add_all(rows)
    record_staff_action(session, staff, LIBRARY_COPIED, None, {"replies": len(rows)})
    session.flush()
    return rows


def _check_save(
    library: tuple[CannedReply, ...], reply: CannedReply, original_key: str | None
) -> CannedReply | None:
    """The reply being changed (None: a new one); refuses before anything is written."""
    by_key = {existing.key: existing for existing in library}
    changed = by_key.get(original_key) if original_key else None
    if original_key and changed is None:
        raise CannedReplyError(f"canned reply {original_key!r} does not exist (deleted meanwhile?)")
    clash = by_key.get(reply.key)
    if clash is not None and clash is not changed:
        raise CannedReplyError(f"canned reply key {reply.key!r} is already used by {clash.title!r}")
    if changed is None and len(library) >= MAX_REPLIES:
        raise CannedReplyError(f"a library holds at most {MAX_REPLIES} replies")
    return changed


def do_save_reply(
    session: Session,
    staff: Staff,
    *,
    key: str,
    scene: str,
    title: str,
    text: str,
    original_key: str | None = None,
) -> CannedReply:
    """Add a reply, or change the one called `original_key` (its key may change too).

    Everything is checked against the library the shop uses now before the default library is
    copied, so a refused edit leaves no copy behind.
    """
    reply = check_reply(key, scene, title, text)
    changed = _check_save(shop_library(session, staff.shop_id), reply, original_key)
    rows = _rows(session, staff.shop_id) or _copy_defaults(session, staff)
    row = next((r for r in rows if changed is not None and r.key == changed.key), None)
    if row is None:
        row = CannedReplyRow(shop_id=staff.shop_id, position=max((r.position for r in rows), default=0) + 1)
        session.add(row)
        before = None
    else:
        before = {"key": row.key, "scene": row.scene, "title": row.title, "text": row.text}
    row.key, row.scene, row.title, row.text = reply.key, reply.scene, reply.title, reply.text
    record_staff_action(
        session,
        staff,
        REPLY_SAVED,
        f"canned_reply:{reply.key}",
        {
            "before": before,
            "after": {"key": reply.key, "scene": reply.scene, "title": reply.title, "text": reply.text},
        },
    )
    session.flush()
    return reply


def do_delete_reply(session: Session, staff: Staff, key: str) -> None:
    """Remove a reply from the shop's library; the last one stays (see the module docstring)."""
    library = shop_library(session, staff.shop_id)
    if all(reply.key != key for reply in library):
        raise CannedReplyError(f"canned reply {key!r} does not exist")
    if len(library) == 1:
        raise CannedReplyError(
            "the last reply cannot be deleted; reset the library to go back to the defaults"
        )
    rows = _rows(session, staff.shop_id) or _copy_defaults(session, staff)
    row = next(r for r in rows if r.key == key)
    session.delete(row)
    record_staff_action(
        session, staff, REPLY_DELETED, f"canned_reply:{key}", {"title": row.title, "text": row.text}
    )
    session.flush()


def do_reset_library(session: Session, staff: Staff) -> None:
    """Drop the shop's own replies: its agents use the default library again."""
    removed = session.execute(delete(CannedReplyRow).where(CannedReplyRow.shop_id == staff.shop_id)).rowcount
    record_staff_action(session, staff, LIBRARY_RESET, None, {"removed": removed})
    session.flush()
