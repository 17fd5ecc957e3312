"""The store's schema comes from the Alembic migrations; its column types behave alike on every dialect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import StatementError

from kefu.store.migrate import alembic_config, upgrade
from kefu.store.models import AuditEntry, Base, Order, Shop

MODEL_TABLES = set(Base.metadata.tables)
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _wipe(engine: Engine) -> None:
    """Turn the migrated store of the fixture back into an empty database."""
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert inspect(engine).get_table_names() == []


def _schema(engine: Engine) -> dict[str, tuple]:
    """Tables with their columns and index names, as the database reports them."""
    found = inspect(engine)
    return {
        name: (
            tuple(c["name"] for c in found.get_columns(name)),
            tuple(sorted(i["name"] for i in found.get_indexes(name))),
        )
        for name in found.get_table_names()
    }


def test_upgrade_on_an_empty_store_creates_every_model_table(engine):
    _wipe(engine)

    upgrade(engine)

    assert set(inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]


def test_migrations_build_what_the_models_declare(engine):
    _wipe(engine)
    upgrade(engine)

    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    assert differences == []


def test_upgrade_twice_is_harmless(engine):
    with engine.begin() as conn:
        conn.execute(insert(Shop).values(id="000123", name="小店"))
    before = _schema(engine)

    upgrade(engine)

    assert _schema(engine) == before
    with engine.connect() as conn:
        shops = conn.execute(select(Shop.id, Shop.name, Shop.timezone)).all()
        versions = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
    assert shops == [("000123", "小店", "Asia/Shanghai")]
    assert versions == 1


def _audit(engine: Engine, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(at=at, actor="test", action="tested"))


def test_utc_datetime_returns_aware_utc_instants(engine):
    shanghai = datetime(2026, 11, 20, 10, 15, 2, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    new_york = datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo("America/New_York"))  # just after the DST jump
    fixed = datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    for at in (shanghai, new_york, fixed):
        _audit(engine, at)

    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TimeZone = 'Asia/Tokyo'"))  # the session zone must not leak into values
        stored = conn.execute(select(AuditEntry.at).order_by(AuditEntry.id)).scalars().all()

    assert stored == [shanghai, new_york, fixed]
    assert all(v.utcoffset() == timedelta(0) for v in stored)
    assert stored[0] == datetime(2026, 11, 20, 2, 15, 2, 123456, tzinfo=UTC)


def test_utc_datetime_refuses_naive_datetimes(engine):
    naive = datetime(2026, 11, 20, 10, 15, 2)  # noqa: DTZ001 (the value under test)

    with pytest.raises(StatementError, match="naive datetime"):
        _audit(engine, naive)

    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry)).all() == []


MONEY = [Decimal(a) for a in ("0.10", "0.01", "0.07", "1.15", "2.67", "12345678.99", "9999999999.99", "0.00")]


def test_money_round_trips_exactly(engine):
    with engine.begin() as conn:
        conn.execute(insert(Shop).values(id="s1", name="s1"))
        conn.execute(insert(Order), [
            {"id": f"{i:06d}", "shop_id": "s1", "buyer_id": "b1", "amount": amount,
             "created_at": datetime(2026, 11, 20, tzinfo=UTC)}
            for i, amount in enumerate(MONEY)
        ])

    with engine.connect() as conn:
        stored = conn.execute(select(Order.amount).order_by(Order.id)).scalars().all()

    assert stored == MONEY
    assert all(isinstance(v, Decimal) for v in stored)
    # 0.10 stays 0.10, not 0.1 or 0.1000000000000000055511151231257827
    assert [str(v) for v in stored] == [str(v) for v in MONEY]
