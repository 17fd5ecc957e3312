"""店铺设置 (`/settings/shop`): supervisors and admins change how the desk receives their shop's buyers.

- ``GET /settings/shop``: the form with the shop's settings (``?saved=1`` after a save).
- ``POST /settings/shop``: checked as a whole by `kefu.desk.shop_settings`; a refusal shows the
  form again with what was typed and each problem beside its field (422), a save redirects.
- ``GET /settings/shop/welcome-preview?text=``: the welcome as buyers would read it (JSON),
  for the page's live preview.

Always the staff member's own shop: no shop id is read from the request.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import zip_longest
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response

from kefu.accounts.access import access_shop
from kefu.desk.notices import welcome_text
from kefu.desk.reception import MAX_PROMOTION_TEXT, MAX_PROMOTION_TITLE
from kefu.desk.shop_settings import (
    MAX_BUSINESS_HOURS_CHARS,
    MAX_WELCOME_CHARS,
    NUMBERS,
    Problem,
    PromotionRow,
    ShopSettingsForm,
    ShopSettingsRefused,
    do_save_shop_settings,
    form_for,
)
from kefu.store.models import Shop, Staff
from kefu.web.dependencies import Page, PageDep, RequireSupervisor, SessionDep
from kefu.web.i18n import translator

router = APIRouter(prefix="/settings", include_in_schema=False)

# Generous bounds for what a client may send; the form's own limits are checked and explained
# by kefu.desk.shop_settings.
Long = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=200)]
Column = Annotated[list[str], Form()]


def _number_default(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _problem_text(language: str, problem: Problem) -> str:
    return translator(language)(f"settings.problem.{problem.code}", **problem.values)


def _render(
    page: Page,
    shop: Shop,
    staff: Staff,
    form: ShopSettingsForm,
    *,
    problems: tuple[Problem, ...] = (),
    saved: bool = False,
) -> Response:
    errors: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        errors[problem.field].append(_problem_text(page.language, problem))
    return page.render(
        "settings/shop.html",
        status_code=422 if problems else 200,
        shop=shop,
        form=form,
        errors=errors,
        problem_count=len(problems),
        saved=saved,
        numbers={setting.key: setting for setting in NUMBERS},
        default=_number_default,
        preview=welcome_text(form.welcome, shop.name, staff.nickname, page.language),
        max_welcome=MAX_WELCOME_CHARS,
        max_business_hours=MAX_BUSINESS_HOURS_CHARS,
        max_title=MAX_PROMOTION_TITLE,
        max_text=MAX_PROMOTION_TEXT,
    )


@router.get("/shop")
def settings_page(
    page: PageDep, session: SessionDep, staff: RequireSupervisor, saved: bool = False
) -> Response:
    shop = access_shop(session, staff)
    return _render(page, shop, staff, form_for(shop), saved=saved)


@router.post("/shop")
def save_settings(
    page: PageDep,
    session: SessionDep,
    staff: RequireSupervisor,
    welcome: Long = "",
    business_hours: Short = "",
    wait_amber_s: Short = "",
    wait_red_s: Short = "",
    peak_queue_per_agent: Short = "",
    follow_up_after_h: Short = "",
    payment_reminder_after_min: Short = "",
    promotion_title: Column = [],  # noqa: B006 (FastAPI copies defaults per request)
    promotion_text: Column = [],  # noqa: B006
    promotion_starts: Column = [],  # noqa: B006
    promotion_ends: Column = [],  # noqa: B006
    anonymous_chat: Short = "",
    embed_origins: Long = "",
) -> Response:
    """Save the whole form, or show it again with every problem and nothing saved."""
    rows = zip_longest(promotion_title, promotion_text, promotion_starts, promotion_ends, fillvalue="")
    form = ShopSettingsForm(
        welcome=welcome,
        business_hours=business_hours,
        wait_amber_s=wait_amber_s,
        wait_red_s=wait_red_s,
        peak_queue_per_agent=peak_queue_per_agent,
        follow_up_after_h=follow_up_after_h,
        payment_reminder_after_min=payment_reminder_after_min,
        promotions=tuple(PromotionRow(*row) for row in rows),
        anonymous_chat=bool(anonymous_chat),
        embed_origins=embed_origins,
    )
    try:
        do_save_shop_settings(session, staff, form)
    except ShopSettingsRefused as refused:
        return _render(page, access_shop(session, staff), staff, form, problems=refused.problems)
    return RedirectResponse("/settings/shop?saved=1", status_code=303)


@router.get("/shop/welcome-preview")
def welcome_preview(
    page: PageDep,
    session: SessionDep,
    staff: RequireSupervisor,
    text: Annotated[str, Query(max_length=4000)] = "",
) -> dict[str, Any]:
    """The welcome as a buyer served by this staff member would read it."""
    shop = access_shop(session, staff)
    return {"text": welcome_text(text, shop.name, staff.nickname, page.language)}
