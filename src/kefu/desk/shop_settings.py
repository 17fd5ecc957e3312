"""店铺设置: how the desk receives a shop's buyers, as a supervisor changes it in one form.

The form's values arrive as typed (`ShopSettingsForm`, all text). `check_shop_settings` turns
them into the shop's new welcome, business hours and policies with the same rules the desk
reads them by (`notices.parse_business_hours`, `reception.check_promotions`,
`routing.WaitThresholds`), or refuses with every problem at once (`ShopSettingsRefused`), so
a refused form stores nothing. `do_save_shop_settings` stores what was checked and audits it.

- An empty number removes the policy key: the desk then uses its default (`NUMBERS`).
- Follow-up hours and payment-reminder minutes of 0 turn their rule off (`kefu.desk.followups`).
- Policy keys this form does not manage (return windows, couriers...) are kept as they are.
- Embedding origins are ``https://host[:port]`` (a ``*.`` subdomain allowed) or, for a shop
  trying its site out, ``http://localhost`` / ``http://127.0.0.1``; never with a path, since
  the browser compares origins only (``frame-ancestors`` of the chat page).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from kefu.accounts.access import access_shop
from kefu.accounts.audit import record_staff_action
from kefu.desk.access import SUPERVISING_ROLES
from kefu.desk.followups import DEFAULT_FOLLOW_UP_AFTER_H, DEFAULT_PAYMENT_REMINDER_AFTER_MIN
from kefu.desk.notices import DEFAULT_PEAK_QUEUE_PER_AGENT, BusinessHoursError, parse_business_hours
from kefu.desk.reception import check_promotions
from kefu.desk.routing import WaitThresholds
from kefu.store.models import Shop, Staff

MAX_WELCOME_CHARS = 500
MAX_BUSINESS_HOURS_CHARS = 100  # the column's width (shops.business_hours)
MAX_PROMOTIONS = 50
MAX_EMBED_ORIGINS = 20
# A problem quotes what was typed; a long paste is cut to this many characters.
QUOTED_CHARS = 40

SHOP_SETTINGS_SAVED = "shop_settings_saved"

WELCOME_PLACEHOLDERS = ("shop", "agent", "emoji")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PORT = r"(?::(\d{1,5}))?"
_PUBLIC_ORIGIN = re.compile(rf"https://(?:\*\.)?{_LABEL}(?:\.{_LABEL})*{_PORT}")
_LOCAL_ORIGIN = re.compile(rf"http://(?:localhost|127\.0\.0\.1){_PORT}")


@dataclass(frozen=True)
class NumberSetting:
    """A number in ``Shop.policies`` that the form sets: its range, and what an empty field means."""

    key: str
    default: float  # what the desk uses while the key is missing
    minimum: float
    maximum: float
    whole: bool
    off_at_zero: bool  # 0 turns the rule off
    help: str


NUMBERS = (
    NumberSetting(
        "wait_amber_s",
        WaitThresholds().amber_s,
        minimum=1,
        maximum=86_400,
        whole=True,
        off_at_zero=False,
        help="seconds a buyer waits before their timer turns amber",
    ),
    NumberSetting(
        "wait_red_s",
        WaitThresholds().red_s,
        minimum=2,
        maximum=86_400,
        whole=True,
        off_at_zero=False,
        help="seconds a buyer waits before their timer turns red (after amber)",
    ),
    NumberSetting(
        "peak_queue_per_agent",
        DEFAULT_PEAK_QUEUE_PER_AGENT,
        minimum=1,
        maximum=100,
        whole=True,
        off_at_zero=False,
        help="waiting buyers per online agent above which buyers see the peak notice",
    ),
    NumberSetting(
        "follow_up_after_h",
        DEFAULT_FOLLOW_UP_AFTER_H,
        minimum=0,
        maximum=24 * 366,
        whole=False,
        off_at_zero=True,
        help="hours after a pre-sale buyer's last message that the follow-up is due",
    ),
    NumberSetting(
        "payment_reminder_after_min",
        DEFAULT_PAYMENT_REMINDER_AFTER_MIN,
        minimum=0,
        maximum=7 * 24 * 60,
        whole=True,
        off_at_zero=True,
        help="minutes after an unpaid order that the payment reminder is due",
    ),
)
NUMBERS_BY_KEY = {number.key: number for number in NUMBERS}
# The policy keys this form owns; every other key is kept as it is.
MANAGED_POLICIES = (*NUMBERS_BY_KEY, "promotions", "anonymous_chat", "embed_origins")


@dataclass(frozen=True)
class PromotionRow:
    """One row of the promotions table, as typed."""

    title: str = ""
    text: str = ""
    starts: str = ""
    ends: str = ""

    @property
    def blank(self) -> bool:
        return not (self.title.strip() or self.text.strip() or self.starts.strip() or self.ends.strip())


@dataclass(frozen=True)
class ShopSettingsForm:
    """The settings form's values as typed; numbers are text so that a typo can be shown back."""

    welcome: str = ""
    business_hours: str = ""
    wait_amber_s: str = ""
    wait_red_s: str = ""
    peak_queue_per_agent: str = ""
    follow_up_after_h: str = ""
    payment_reminder_after_min: str = ""
    promotions: tuple[PromotionRow, ...] = ()
    anonymous_chat: bool = False
    embed_origins: str = ""  # one origin per line

    def number(self, key: str) -> str:
        return getattr(self, key)


# What a Problem can say, each with words on the settings page (settings.problem.<code>).
PROBLEM_CODES = (
    "too_long",  # the welcome or the business hours
    "unknown_placeholder",  # {name} in the welcome that welcome_text would not fill
    "hours_not_a_range",  # business hours: a piece that is not 09:00-18:00
    "hours_not_a_time",  # business hours: 25:00, 09:60
    "hours_same_time",  # business hours: 09:00-09:00
    "not_a_number",
    "not_whole",  # seconds and minutes are whole numbers
    "too_small",
    "too_large",
    "red_not_after_amber",  # the timer turns red before (or when) it turns amber
    "too_many",  # promotions, embedding origins
    "promotion_title_missing",
    "promotion_title_too_long",
    "promotion_text_too_long",
    "promotion_bad_date",
    "promotion_ends_before_start",
    "origin_has_path",  # https://shop.example.com/chat
    "origin_not_https",  # http:// other than localhost
    "origin_bad",  # anything else that is not an origin
)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field: `field` is the form's name for it (``promotions.2.title`` for a row).

    `code` and `values` let the page say it in its language.
    """

    field: str
    code: str
    values: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        details = ", ".join(f"{name}={value!r}" for name, value in self.values.items())
        return f"{self.field}: {self.code}" + (f" ({details})" if details else "")


class ShopSettingsRefused(ValueError):
    """The form has problems; nothing was stored."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ShopSettings:
    """What a shop's row holds after a save."""

    welcome: str | None
    business_hours: str | None
    policies: dict[str, Any]


# --- the form as it stands ----------------------------------------------------------------


def _shown(value: object) -> str:
    """A stored value as the form shows it: 30 not 30.0; a value that is not a number as it is."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _row(entry: object) -> PromotionRow:
    if not isinstance(entry, Mapping):
        # Not an object: shown as text under an empty title, so saving asks what it is.
        return PromotionRow(text=_shown(entry))
    return PromotionRow(*(_shown(entry.get(part)) for part in ("title", "text", "starts", "ends")))


def form_for(shop: Shop) -> ShopSettingsForm:
    """The form filled with the shop's settings as they are stored now."""
    policies = shop.policies or {}
    promotions = policies.get("promotions")
    origins = policies.get("embed_origins")
    return ShopSettingsForm(
        welcome=shop.welcome or "",
        business_hours=shop.business_hours or "",
        promotions=tuple(_row(entry) for entry in promotions) if isinstance(promotions, list) else (),
        anonymous_chat=policies.get("anonymous_chat") is True,
        embed_origins="\n".join(_shown(origin) for origin in origins) if isinstance(origins, list) else "",
        **{number.key: _shown(policies.get(number.key)) for number in NUMBERS},
    )


# --- checking -----------------------------------------------------------------------------


def _quoted(text: str) -> str:
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1] + "…"


def _check_welcome(typed: str, problems: list[Problem]) -> str | None:
    text = typed.replace("\r\n", "\n").strip()
    if len(text) > MAX_WELCOME_CHARS:
        problems.append(Problem("welcome", "too_long", {"limit": str(MAX_WELCOME_CHARS)}))
    for name in dict.fromkeys(_PLACEHOLDER.findall(text)):
        # welcome_text leaves other braces as typed: {shpo} would reach buyers as it is.
        if name not in WELCOME_PLACEHOLDERS:
            problems.append(Problem("welcome", "unknown_placeholder", {"name": f"{{{name}}}"}))
    return text or None


def _check_business_hours(typed: str, problems: list[Problem]) -> str | None:
    text = " ".join(typed.split())
    if len(text) > MAX_BUSINESS_HOURS_CHARS:
        problems.append(Problem("business_hours", "too_long", {"limit": str(MAX_BUSINESS_HOURS_CHARS)}))
        return None
    try:
        parse_business_hours(text)
    except BusinessHoursError as error:
        problems.append(Problem("business_hours", f"hours_{error.code}", {"piece": _quoted(error.piece)}))
    return text or None


def _check_number(setting: NumberSetting, typed: str, problems: list[Problem]) -> int | float | None:
    """The number to store, or None for an empty field (the desk's default)."""
    text = unicodedata.normalize("NFKC", typed).strip()  # full-width ３０ from a Chinese keyboard
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        problems.append(Problem(setting.key, "not_a_number", {"typed": _quoted(typed.strip())}))
        return None
    value = float(text)
    if setting.whole and not value.is_integer():
        problems.append(Problem(setting.key, "not_whole", {"typed": text}))
        return None
    if value < setting.minimum:
        problems.append(Problem(setting.key, "too_small", {"minimum": _shown(float(setting.minimum))}))
        return None
    if value > setting.maximum:
        problems.append(Problem(setting.key, "too_large", {"maximum": _shown(float(setting.maximum))}))
        return None
    return int(value) if value.is_integer() else value


def _check_thresholds(numbers: Mapping[str, int | float | None], problems: list[Problem]) -> None:
    """Amber before red, with the default for the one left empty (as `notices.wait_thresholds` reads them)."""
    default = WaitThresholds()
    amber = numbers["wait_amber_s"]
    red = numbers["wait_red_s"]
    amber = default.amber_s if amber is None else int(amber)
    red = default.red_s if red is None else int(red)
    try:
        WaitThresholds(amber, red)
    except ValueError:
        problems.append(Problem("wait_red_s", "red_not_after_amber", {"amber": str(amber), "red": str(red)}))


def _check_promotions(
    rows: Sequence[PromotionRow], timezone: str, problems: list[Problem]
) -> list[dict[str, str]]:
    """The promotions to store: the rows with anything typed, checked by `reception.check_promotions`."""
    filled = [(number, row) for number, row in enumerate(rows, start=1) if not row.blank]
    if len(filled) > MAX_PROMOTIONS:
        problems.append(Problem("promotions", "too_many", {"limit": str(MAX_PROMOTIONS)}))
        return []
    entries = []
    for _, row in filled:
        entry = {"title": row.title.strip(), "text": row.text.replace("\r\n", "\n").strip()}
        for part, typed in (("starts", row.starts), ("ends", row.ends)):
            if typed.strip():
                entry[part] = typed.strip()
        entries.append(entry)
    _, found = check_promotions(entries, timezone)
    for problem in found:
        # check_promotions counts the entries it was given; the form counts its rows.
        number = filled[problem.number - 1][0] if problem.number is not None else None
        name = "promotions" if number is None else f"promotions.{number}.{problem.part or 'title'}"
        values = {"limit": str(problem.limit)} if problem.limit is not None else {}
        if problem.code == "bad_date" and number is not None and problem.part is not None:
            values = {"typed": _quoted(entries[problem.number - 1][problem.part])}
        problems.append(Problem(name, f"promotion_{problem.code}", values))
    return entries


def _origin_problem(origin: str) -> str | None:
    """Why `origin` cannot embed the chat, or None when it can."""
    match = _PUBLIC_ORIGIN.fullmatch(origin) or _LOCAL_ORIGIN.fullmatch(origin)
    if match is not None:
        port = match.group(1)
        return None if port is None or 0 < int(port) <= 65_535 else "origin_bad"
    parts = urlsplit(origin)
    if parts.scheme in ("http", "https") and parts.netloc and (parts.path or parts.query or parts.fragment):
        return "origin_has_path"
    if parts.scheme == "http" and parts.netloc:
        return "origin_not_https"
    return "origin_bad"


def _check_origins(typed: str, problems: list[Problem]) -> list[str]:
    origins: list[str] = []
    for line in typed.splitlines():
        origin = line.strip().lower()
        if origin.endswith("/") and origin.count("/") == 3:
            origin = origin[:-1]  # https://shop.example.com/ is the origin with its root page
        if not origin or origin in origins:
            continue
        code = _origin_problem(origin)
        if code is not None:
            problems.append(Problem("embed_origins", code, {"typed": _quoted(line.strip())}))
            continue
        origins.append(origin)
    if len(origins) > MAX_EMBED_ORIGINS:
        problems.append(Problem("embed_origins", "too_many", {"limit": str(MAX_EMBED_ORIGINS)}))
    return origins


def check_shop_settings(form: ShopSettingsForm, policies: Mapping[str, Any], timezone: str) -> ShopSettings:
    """The shop's settings after this form, keeping the policies it does not manage.

    Raises ShopSettingsRefused with every problem found, each naming its field.
    """
    problems: list[Problem] = []
    welcome = _check_welcome(form.welcome, problems)
    business_hours = _check_business_hours(form.business_hours, problems)
    numbers = {setting.key: _check_number(setting, form.number(setting.key), problems) for setting in NUMBERS}
    if not any(problem.field in ("wait_amber_s", "wait_red_s") for problem in problems):
        _check_thresholds(numbers, problems)
    promotions = _check_promotions(form.promotions, timezone, problems)
    origins = _check_origins(form.embed_origins, problems)
    if problems:
        raise ShopSettingsRefused(problems)

    managed: dict[str, Any] = {
        **numbers,
        "promotions": promotions or None,
        "anonymous_chat": form.anonymous_chat,
        "embed_origins": origins or None,
    }
    kept = {key: value for key, value in policies.items() if key not in managed}
    return ShopSettings(
        welcome=welcome,
        business_hours=business_hours,
        policies={**kept, **{key: value for key, value in managed.items() if value is not None}},
    )


# --- saving -------------------------------------------------------------------------------


def _changes(shop: Shop, settings: ShopSettings) -> dict[str, dict[str, Any]]:
    before = {"welcome": shop.welcome, "business_hours": shop.business_hours}
    after = {"welcome": settings.welcome, "business_hours": settings.business_hours}
    old_policies = shop.policies or {}
    for key in MANAGED_POLICIES:
        before[key] = old_policies.get(key)
        after[key] = settings.policies.get(key)
    return {key: {"before": before[key], "after": after[key]} for key in before if before[key] != after[key]}


def do_save_shop_settings(session: Session, staff: Staff, form: ShopSettingsForm) -> ShopSettings:
    """Check the form and store it on the staff member's own shop, with an audit entry naming each change.

    Only supervisors and admins change a shop's settings (the web layer refuses agents first).
    The policies are read in this transaction, so keys another writer added meanwhile are kept.
    """
    if staff.role not in SUPERVISING_ROLES:
        raise PermissionError("only supervisors and admins change a shop's settings")
    shop = access_shop(session, staff)
    settings = check_shop_settings(form, shop.policies or {}, shop.timezone)
    changes = _changes(shop, settings)
    if not changes:
        return settings
    shop.welcome = settings.welcome
    shop.business_hours = settings.business_hours
    shop.policies = settings.policies  # a new dict: the JSON column sees the change
    record_staff_action(session, staff, SHOP_SETTINGS_SAVED, f"shop:{shop.id}", {"changed": changes})
    session.flush()
    return settings
