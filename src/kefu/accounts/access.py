"""Reads of staff and shops that check who is asking; the only way a request id becomes a row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.accounts.passwords import decoy_hash, verify_password
from kefu.store.models import Shop, Staff


class NotFound(LookupError):
    """The row is missing or belongs to another shop: callers cannot tell which, on purpose."""


def access_staff_by_login(session: Session, username: str, password: str) -> Staff | None:
    """The staff member whose username and password these are, else None.

    Unknown users, users without a password and wrong passwords all cost one Argon2
    verification and give the same None, so neither the answer nor its timing says
    which usernames exist.
    """
    staff = session.scalars(select(Staff).where(Staff.username == username.strip())).one_or_none()
    if staff is None or staff.password_hash is None:
        verify_password(decoy_hash(), password)
        return None
    if not verify_password(staff.password_hash, password):
        return None
    return staff


def access_staff_by_id(session: Session, staff_id: int) -> Staff | None:
    """The staff member a session names, or None when the row is gone or cannot log in."""
    staff = session.get(Staff, staff_id)
    if staff is None or staff.password_hash is None:
        return None
    return staff


def access_shop(session: Session, staff: Staff, shop_id: str | None = None) -> Shop:
    """The shop `staff` works for; with `shop_id`, that shop only if it is theirs.

    Raises NotFound for a missing shop and for another shop alike.
    """
    if shop_id is not None and shop_id != staff.shop_id:
        raise NotFound("shop")
    shop = session.get(Shop, staff.shop_id)
    if shop is None:
        raise NotFound("shop")
    return shop
