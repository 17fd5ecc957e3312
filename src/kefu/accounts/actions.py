"""Changes to staff accounts; each one stores its audit entry in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.accounts.passwords import check_password_strength, hash_password
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import AuditEntry, Shop, Staff

PASSWORD_SET = "password_set"


@dataclass(frozen=True)
class DemoLogin:
    """A login that has the demo password, for printing."""

    shop_name: str
    username: str
    nickname: str
    role: str


def _staff_target(staff: Staff) -> str:
    return f"staff:{staff.id}"


def _audit_password_set(session: Session, staff: Staff, actor: str, *, demo: bool) -> None:
    # The hash never goes into the audit log; only the fact that it changed.
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            shop_id=staff.shop_id,
            actor=actor,
            action=PASSWORD_SET,
            target=_staff_target(staff),
            detail={"username": staff.username, "demo": demo},
        )
    )


def do_set_password(session: Session, staff: Staff, password: str, actor: str) -> None:
    """Give `staff` a new password (it also ends their other sessions); the caller commits."""
    check_password_strength(password)
    staff.password_hash = hash_password(password)
    _audit_password_set(session, staff, actor, demo=False)
    session.flush()


def do_set_demo_passwords(engine: Engine, password: str, actor: str = "demo") -> list[DemoLogin]:
    """Give every staff member without a password `password`; list every demo login.

    The list holds the staff given the demo password now and on earlier runs (unless
    someone changed it since), so running the demo twice prints the same logins.
    """
    check_password_strength(password)
    with session_scope(make_sessionmaker(engine)) as session:
        without = session.scalars(select(Staff).where(Staff.password_hash.is_(None)).order_by(Staff.id)).all()
        if without:
            # One hash for all: every demo login shares this password by design, and one
            # Argon2 run instead of one per agent keeps `kefu demo` quick on big datasets.
            encoded = hash_password(password)
            for staff in without:
                staff.password_hash = encoded
                _audit_password_set(session, staff, actor, demo=True)
            session.flush()
        demo_targets = _targets_whose_last_password_was_demo(session)
        rows = session.execute(
            select(Shop.name, Staff.username, Staff.nickname, Staff.role, Staff.id)
            .join(Shop, Shop.id == Staff.shop_id)
            .order_by(Shop.name, Staff.username)
        ).all()
        return [
            DemoLogin(shop_name, username, nickname, role)
            for shop_name, username, nickname, role, staff_id in rows
            if f"staff:{staff_id}" in demo_targets
        ]


def _targets_whose_last_password_was_demo(session: Session) -> set[str]:
    entries = session.execute(
        select(AuditEntry.target, AuditEntry.detail)
        .where(AuditEntry.action == PASSWORD_SET)
        .order_by(AuditEntry.id)
    )
    last: dict[str, bool] = {}
    for target, detail in entries:
        if target is not None:
            last[target] = bool((detail or {}).get("demo"))
    return {target for target, demo in last.items() if demo}
