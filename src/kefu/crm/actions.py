"""Changes to a buyer's profile at a shop (tags, notes, attributes); each writes its audit entry.

The caller has the conversation through `kefu.desk.access.conversation_for_staff`, which ties
the buyer to the staff member's shop; these functions never take a shop id from a request.
They flush and leave the commit to the caller (the request's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kefu.accounts.audit import record_staff_action
from kefu.chinese_text import folded
from kefu.crm.profiles import check_attribute_changes, check_notes, check_tags
from kefu.store.models import Buyer, Conversation, ShopBuyer, Staff

TAGS_SET = "buyer_tags_set"
NOTES_SET = "buyer_notes_set"
ATTRIBUTES_SET = "buyer_attributes_set"


def _record(session: Session, shop_id: str, buyer_id: str) -> ShopBuyer:
    """The shop's record of the buyer, made on the first edit (imported buyers may have none)."""
    record = session.get(ShopBuyer, (shop_id, buyer_id))
    if record is None:
        record = ShopBuyer(shop_id=shop_id, buyer_id=buyer_id, tags=[], attributes={})
        session.add(record)
    return record


def _audit(session: Session, staff: Staff, buyer_id: str, action: str, detail: dict[str, Any]) -> None:
    record_staff_action(session, staff, action, f"buyer:{buyer_id}", detail)


def _ensure_buyer_row(session: Session, buyer_id: str) -> None:
    # shop_buyers.buyer_id references buyers.id; a buyer who only chatted (an anonymous
    # visitor, a connector's new account) may have no buyers row yet.
    if session.get(Buyer, buyer_id) is None:
        session.add(Buyer(id=buyer_id))
        session.flush()


def do_set_buyer_tags(
    session: Session, staff: Staff, conversation: Conversation, tags: list[str]
) -> list[str]:
    """Replace the buyer's tags at the conversation's shop; returns what was stored."""
    kept = check_tags(tags)
    _ensure_buyer_row(session, conversation.buyer_id)
    record = _record(session, conversation.shop_id, conversation.buyer_id)
    before = list(record.tags or [])
    # The same tags typed in the other script are the same tags: keep the stored spelling.
    if [folded(tag) for tag in before] == [folded(tag) for tag in kept]:
        return before
    record.tags = kept
    _audit(session, staff, conversation.buyer_id, TAGS_SET, {"before": before, "after": kept})
    session.flush()
    return kept


def do_set_buyer_notes(
    session: Session, staff: Staff, conversation: Conversation, notes: str | None
) -> str | None:
    """Replace the buyer's notes at the conversation's shop; returns what was stored."""
    text = check_notes(notes)
    _ensure_buyer_row(session, conversation.buyer_id)
    record = _record(session, conversation.shop_id, conversation.buyer_id)
    if record.notes != text:
        # Notes are free text about a person: the audit log records that they changed, not what they say.
        detail = {"chars_before": len(record.notes or ""), "chars_after": len(text or "")}
        record.notes = text
        _audit(session, staff, conversation.buyer_id, NOTES_SET, detail)
    session.flush()
    return text


def do_update_buyer_attributes(
    session: Session, staff: Staff, conversation: Conversation, changes: Mapping[str, str | None]
) -> dict[str, str]:
    """Set (a value) or remove (None, empty) the named attributes; the others stay as they are."""
    _ensure_buyer_row(session, conversation.buyer_id)
    record = _record(session, conversation.shop_id, conversation.buyer_id)
    before = {str(k): str(v) for k, v in (record.attributes or {}).items()}
    after = check_attribute_changes(before, changes)
    if after != before:
        record.attributes = after
        changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        _audit(
            session,
            staff,
            conversation.buyer_id,
            ATTRIBUTES_SET,
            {"changed": {key: {"before": before.get(key), "after": after.get(key)} for key in changed}},
        )
    session.flush()
    return after
