"""店铺设置: the form is checked as a whole, read back by the desk's own rules, and audited when saved."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.desk.followups import rules_from
from kefu.desk.notices import is_peak, parse_business_hours, wait_thresholds
from kefu.desk.reception import current_promotions
from kefu.desk.routing import WaitThresholds
from kefu.desk.shop_settings import (
    NUMBERS,
    SHOP_SETTINGS_SAVED,
    PromotionRow,
    ShopSettingsForm,
    ShopSettingsRefused,
    check_shop_settings,
    do_save_shop_settings,
    form_for,
)
from kefu.store.engine import make_sessionmaker
from kefu.store.models import AuditEntry, Shop, Staff

ZONE = "Asia/Shanghai"
GOOD = ShopSettingsForm(
    welcome="欢迎光临{shop}，我是{agent} {emoji}",
    business_hours="09:00-12:00, 13:30-22:00",
    wait_amber_s="45",
    wait_red_s="300",
    peak_queue_per_agent="4",
    follow_up_after_h="12",
    payment_reminder_after_min="0",
    promotions=(PromotionRow("满300减40", "全店通用", "2026-11-01", "2026-11-11"),),
    anonymous_chat=True,
    embed_origins="https://shop.example.com\nhttp://localhost:8080\n",
)


def problems_of(form: ShopSettingsForm, policies: dict | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ShopSettingsRefused) as refused:
        check_shop_settings(form, policies or {}, ZONE)
    return [(problem.field, problem.code) for problem in refused.value.problems]


# --- checking (pure) ----------------------------------------------------------------------


def test_good_values_become_policies_the_desk_reads_as_typed():
    settings = check_shop_settings(GOOD, {"return_days": 7, "couriers": ["顺丰"]}, ZONE)

    policies = settings.policies
    assert settings.welcome == GOOD.welcome
    assert parse_business_hours(settings.business_hours)
    assert wait_thresholds(policies) == WaitThresholds(45, 300)
    assert not is_peak(8, 2, policies) and is_peak(9, 2, policies)
    rules = rules_from(policies)
    assert rules.no_order_after == timedelta(hours=12)
    assert rules.unpaid_after is None  # 0 turns the payment reminder off
    assert policies["anonymous_chat"] is True
    assert policies["embed_origins"] == ["https://shop.example.com", "http://localhost:8080"]
    # Keys the form does not manage stay as they were.
    assert (policies["return_days"], policies["couriers"]) == (7, ["顺丰"])
    shop = Shop(id="s1", name="悦衣坊", timezone=ZONE, policies=policies)
    assert [p.title for p in current_promotions(shop, datetime(2026, 11, 11, 15, tzinfo=UTC))] == [
        "满300减40"
    ]


def test_an_empty_field_removes_its_key_so_the_desk_uses_its_default():
    form = replace(GOOD, welcome="  ", business_hours="", wait_amber_s="", wait_red_s="", embed_origins="")
    old = {"wait_amber_s": 5, "wait_red_s": 60, "embed_origins": ["https://old.example.com"]}

    settings = check_shop_settings(form, old, ZONE)

    assert settings.welcome is None and settings.business_hours is None
    assert "wait_amber_s" not in settings.policies and "wait_red_s" not in settings.policies
    assert "embed_origins" not in settings.policies
    assert wait_thresholds(settings.policies) == WaitThresholds()


def test_numbers_typed_on_a_chinese_keyboard_and_origins_with_a_trailing_slash_are_understood():
    form = replace(
        GOOD, wait_amber_s="６０", embed_origins="HTTPS://Shop.Example.com/\nhttps://*.example.com:8443"
    )

    policies = check_shop_settings(form, {}, ZONE).policies

    assert policies["wait_amber_s"] == 60
    assert policies["embed_origins"] == ["https://shop.example.com", "https://*.example.com:8443"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"wait_amber_s": "600", "wait_red_s": "600"}, ("wait_red_s", "red_not_after_amber")),
        # An empty red is the default 600 s: amber must still come first.
        ({"wait_amber_s": "900", "wait_red_s": ""}, ("wait_red_s", "red_not_after_amber")),
        ({"wait_amber_s": "三十"}, ("wait_amber_s", "not_a_number")),
        ({"wait_amber_s": "30.5"}, ("wait_amber_s", "not_whole")),
        ({"peak_queue_per_agent": "0"}, ("peak_queue_per_agent", "too_small")),
        ({"follow_up_after_h": "-1"}, ("follow_up_after_h", "too_small")),
        ({"payment_reminder_after_min": "999999"}, ("payment_reminder_after_min", "too_large")),
        ({"business_hours": "09:00-12:00, 13:3O-22:00"}, ("business_hours", "hours_not_a_range")),
        ({"business_hours": "09:00-25:00"}, ("business_hours", "hours_not_a_time")),
        ({"business_hours": "09:00-09:00"}, ("business_hours", "hours_same_time")),
        ({"business_hours": "09:00-12:00, " * 10}, ("business_hours", "too_long")),
        ({"welcome": "欢迎来到{shpo}"}, ("welcome", "unknown_placeholder")),
        ({"welcome": "好" * 501}, ("welcome", "too_long")),
        ({"embed_origins": "https://shop.example.com/chat"}, ("embed_origins", "origin_has_path")),
        ({"embed_origins": "https://shop.example.com?x=1"}, ("embed_origins", "origin_has_path")),
        ({"embed_origins": "http://shop.example.com"}, ("embed_origins", "origin_not_https")),
        ({"embed_origins": "shop.example.com"}, ("embed_origins", "origin_bad")),
        ({"embed_origins": "https://shop.example.com:70000"}, ("embed_origins", "origin_bad")),
        ({"embed_origins": "https://shop example.com"}, ("embed_origins", "origin_bad")),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(change, expected):
    assert problems_of(replace(GOOD, **change)) == [expected]


def test_every_problem_is_reported_at_once_and_promotion_problems_name_the_forms_row():
    form = replace(
        GOOD,
        wait_amber_s="abc",
        business_hours="9点到18点",
        promotions=(
            PromotionRow(),  # a blank row (added and left empty) is no promotion and no problem
            PromotionRow(text="没有标题"),
            PromotionRow("双11", "", "2026-11-11", "2026-11-01"),
            PromotionRow("年货节", "", "2026-13-01"),
            PromotionRow("好" * 41),
        ),
        embed_origins="https://ok.example.com\nhttps://bad.example.com/path",
    )

    assert problems_of(form) == [
        ("business_hours", "hours_not_a_range"),
        ("wait_amber_s", "not_a_number"),
        ("promotions.2.title", "promotion_title_missing"),
        ("promotions.3.ends", "promotion_ends_before_start"),
        ("promotions.4.starts", "promotion_bad_date"),
        ("promotions.5.title", "promotion_title_too_long"),
        ("embed_origins", "origin_has_path"),
    ]


def test_blank_promotion_rows_are_dropped_and_empty_dates_left_out():
    form = replace(GOOD, promotions=(PromotionRow(), PromotionRow(" 包邮 ", "满99包邮"), PromotionRow()))

    assert check_shop_settings(form, {}, ZONE).policies["promotions"] == [
        {"title": "包邮", "text": "满99包邮"}
    ]


def test_no_promotions_removes_the_key():
    settings = check_shop_settings(replace(GOOD, promotions=()), {"promotions": [{"title": "旧"}]}, ZONE)

    assert "promotions" not in settings.policies


def test_the_problem_quotes_at_most_a_few_dozen_characters_of_what_was_typed():
    with pytest.raises(ShopSettingsRefused) as refused:
        check_shop_settings(replace(GOOD, wait_red_s="x" * 150), {}, ZONE)

    assert len(refused.value.problems[0].values["typed"]) == 40


# --- the form as it stands ----------------------------------------------------------------


def test_the_form_shows_what_is_stored_and_saving_it_unchanged_changes_nothing():
    policies = {**check_shop_settings(GOOD, {}, ZONE).policies, "return_days": 7}
    shop = Shop(
        id="s1",
        name="悦衣坊",
        timezone=ZONE,
        welcome=GOOD.welcome,
        business_hours=GOOD.business_hours,
        policies=policies,
    )

    form = form_for(shop)

    assert form.wait_amber_s == "45" and form.payment_reminder_after_min == "0"
    assert form.embed_origins == "https://shop.example.com\nhttp://localhost:8080"
    assert form.promotions == GOOD.promotions
    assert check_shop_settings(form, shop.policies, ZONE).policies == policies


def test_a_stored_value_the_form_cannot_take_is_shown_so_saving_asks_about_it():
    shop = Shop(
        id="s1", name="悦衣坊", timezone=ZONE, policies={"wait_red_s": "ten minutes", "promotions": ["满减"]}
    )

    form = form_for(shop)

    assert form.wait_red_s == "ten minutes"
    assert form.promotions == (PromotionRow(text="满减"),)
    assert problems_of(form) == [
        ("wait_red_s", "not_a_number"),
        ("promotions.1.title", "promotion_title_missing"),
    ]


def _stored(number) -> st.SearchStrategy:
    whole = st.integers(int(number.minimum), int(number.maximum))
    if number.whole:
        return whole
    return whole | st.floats(number.minimum, number.maximum).map(lambda value: round(value, 2))


@given(
    st.fixed_dictionaries({}, optional={number.key: _stored(number) for number in NUMBERS}).filter(
        lambda policies: policies.get("wait_amber_s", 30) < policies.get("wait_red_s", 600)
    )
)
def test_stored_numbers_survive_the_form_unchanged(policies):
    shop = Shop(id="s1", name="悦衣坊", timezone=ZONE, policies=policies)

    assert check_shop_settings(form_for(shop), policies, ZONE).policies == {
        **policies,
        "anonymous_chat": False,
    }


# --- saving -------------------------------------------------------------------------------


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session, session.begin():
        session.add_all(
            [
                Shop(id="s1", name="悦衣坊", policies={"return_days": 7}),
                Shop(id="s2", name="别家店", policies={"wait_amber_s": 10}),
            ]
        )
        session.flush()
        session.add_all(
            [
                Staff(shop_id="s1", agent_id="sup", username="azhe", nickname="阿哲", role="supervisor"),
                Staff(shop_id="s1", agent_id="a1", username="xiaomei", nickname="小美", role="agent"),
            ]
        )
        session.flush()
        yield session
        session.rollback()


def staff_named(session: Session, username: str) -> Staff:
    return session.scalars(select(Staff).where(Staff.username == username)).one()


def test_a_save_stores_on_the_staff_members_shop_and_audits_each_change(session):
    do_save_shop_settings(session, staff_named(session, "azhe"), replace(GOOD, promotions=()))
    session.expire_all()

    shop, other = session.get(Shop, "s1"), session.get(Shop, "s2")
    assert shop.welcome == GOOD.welcome and shop.policies["return_days"] == 7
    assert wait_thresholds(shop.policies) == WaitThresholds(45, 300)
    assert other.policies == {"wait_amber_s": 10}
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.actor, entry.shop_id, entry.target) == (
        SHOP_SETTINGS_SAVED,
        "azhe",
        "s1",
        "shop:s1",
    )
    assert entry.detail["changed"]["wait_amber_s"] == {"before": None, "after": 45}
    assert entry.detail["changed"]["welcome"] == {"before": None, "after": GOOD.welcome}
    assert "promotions" not in entry.detail["changed"] and "return_days" not in entry.detail["changed"]


def test_saving_the_same_values_again_writes_no_audit_entry(session):
    supervisor = staff_named(session, "azhe")
    do_save_shop_settings(session, supervisor, GOOD)
    do_save_shop_settings(session, supervisor, form_for(session.get(Shop, "s1")))

    assert len(session.scalars(select(AuditEntry)).all()) == 1


def test_a_refused_form_stores_nothing(session):
    with pytest.raises(ShopSettingsRefused):
        do_save_shop_settings(session, staff_named(session, "azhe"), replace(GOOD, wait_red_s="1"))
    session.expire_all()

    assert session.get(Shop, "s1").policies == {"return_days": 7}
    assert session.get(Shop, "s1").welcome is None
    assert session.scalars(select(AuditEntry)).all() == []


def test_agents_cannot_change_the_settings(session):
    with pytest.raises(PermissionError):
        do_save_shop_settings(session, staff_named(session, "xiaomei"), GOOD)

    assert session.get(Shop, "s1").policies == {"return_days": 7}
