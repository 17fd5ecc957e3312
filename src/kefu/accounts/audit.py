"""The audit log of what staff change: one entry per action, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from kefu.store.models import AuditEntry, Staff


def record_staff_action(
    session: Session, staff: Staff, action: str, target: str | None, detail: dict[str, Any]
) -> None:
    """Note that `staff` did `action` to `target` (e.g. ``buyer:b1``) at their shop, now."""
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            shop_id=staff.shop_id,
            actor=staff.username,
            action=action,
            target=target,
            detail=detail,
        )
    )
