"""The accounts domain on a real store: logging in, setting passwords, the demo logins.

(These test kefu.accounts directly; they sit here because they share the web fixtures.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.accounts import access
from kefu.accounts.access import NotFound, access_shop, access_staff_by_login
from kefu.accounts.actions import DemoLogin, do_set_demo_passwords, do_set_password
from kefu.accounts.passwords import PasswordTooShort, verify_password
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import AuditEntry, Staff

from .conftest import ADMIN, AGENT, NO_PASSWORD, PASSWORD, SHUMA, YIYI

DEMO_PASSWORD = "kefu-demo"


@pytest.fixture
def session(seeded):
    with session_scope(make_sessionmaker(seeded)) as session:
        yield session


def _staff(session, username: str) -> Staff:
    return session.scalars(select(Staff).where(Staff.username == username)).one()


def test_the_right_password_gives_the_staff_member(session):
    staff = access_staff_by_login(session, f"  {AGENT.username} ", PASSWORD)

    assert staff is not None
    assert staff.nickname == AGENT.nickname


@pytest.mark.parametrize(
    ("username", "password"),
    [(AGENT.username, "wrong-password"), ("nobody", PASSWORD), (NO_PASSWORD, PASSWORD), (AGENT.username, "")],
    ids=["wrong password", "unknown user", "no password yet", "empty password"],
)
def test_every_failed_login_costs_one_verification(session, monkeypatch, username, password):
    # Equal work whatever the reason, so timing does not reveal which usernames exist.
    calls = []

    def counting_verify(encoded: str, candidate: str) -> bool:
        calls.append(encoded)
        return verify_password(encoded, candidate)

    monkeypatch.setattr(access, "verify_password", counting_verify)

    assert access_staff_by_login(session, username, password) is None
    assert len(calls) == 1
    assert calls[0].startswith("$argon2id$")


def test_a_staff_member_gets_their_shop_and_no_other(session):
    agent = _staff(session, AGENT.username)

    assert access_shop(session, agent).name == YIYI[1]
    assert access_shop(session, agent, YIYI[0]).id == YIYI[0]
    with pytest.raises(NotFound):
        access_shop(session, agent, SHUMA[0])
    with pytest.raises(NotFound):
        access_shop(session, agent, "missing")


def test_setting_a_password_is_audited_without_the_hash(session):
    agent = _staff(session, AGENT.username)

    do_set_password(session, agent, "a-new-password", actor=ADMIN.username)

    assert access_staff_by_login(session, AGENT.username, "a-new-password") is agent
    assert access_staff_by_login(session, AGENT.username, PASSWORD) is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "password_set")).one()
    assert (entry.actor, entry.shop_id, entry.target) == (ADMIN.username, YIYI[0], f"staff:{agent.id}")
    assert entry.at.tzinfo is not None
    assert "a-new-password" not in str(entry.detail)
    assert agent.password_hash not in str(entry.detail)


def test_a_short_password_is_refused_and_nothing_changes(session):
    agent = _staff(session, AGENT.username)
    before = agent.password_hash

    with pytest.raises(PasswordTooShort):
        do_set_password(session, agent, "short", actor=ADMIN.username)

    assert agent.password_hash == before
    assert session.scalars(select(AuditEntry)).all() == []


def test_demo_passwords_go_to_staff_without_one(seeded):
    logins = do_set_demo_passwords(seeded, DEMO_PASSWORD)

    assert logins == [DemoLogin(YIYI[1], NO_PASSWORD, "小七", "agent")]
    with session_scope(make_sessionmaker(seeded)) as fresh:
        assert access_staff_by_login(fresh, NO_PASSWORD, DEMO_PASSWORD) is not None
        # Staff who had a password keep it.
        assert access_staff_by_login(fresh, AGENT.username, PASSWORD) is not None


def test_running_the_demo_again_lists_the_same_logins(seeded):
    first = do_set_demo_passwords(seeded, DEMO_PASSWORD)

    assert do_set_demo_passwords(seeded, DEMO_PASSWORD) == first


def test_a_demo_login_whose_password_was_changed_is_no_longer_listed(seeded):
    do_set_demo_passwords(seeded, DEMO_PASSWORD)
    with session_scope(make_sessionmaker(seeded)) as session:
        do_set_password(session, _staff(session, NO_PASSWORD), "chosen-by-the-agent", actor=ADMIN.username)

    assert do_set_demo_passwords(seeded, DEMO_PASSWORD) == []

