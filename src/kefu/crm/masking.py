"""Buyer phone numbers as agents see them: 138****5678, in the profile and inside chat text.

The store keeps the whole number (the shop needs it for delivery); every screen an agent
reads passes it through here. The convention follows the marketplaces: a mainland mobile
keeps its first three digits (the carrier) and its last four (what a buyer reads back to
confirm), which is enough to recognise a number and not enough to call it.

Inside free text a buyer often types a number with spaces, dashes, a +86 prefix or
full-width digits (an input method in Chinese mode types １３８); all of these are found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

STARS = "****"
# A mainland mobile, optionally after +86/86, with spaces or dashes between the digits.
# \d also matches full-width digits, which is what we want here.
_MOBILE = re.compile(r"(?<!\d)(?:[+＋]?[8８][6６][\s-]?)?[1１][3-9３-９]\d(?:[\s-]?\d){8}(?!\d)")
_SHORTEST_KNOWN = 5  # a known number shorter than this would mask ordinary figures in text


def digits_of(text: str) -> str:
    """The ASCII digits of `text` in order (full-width digits count)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isascii() and ch.isdigit())


def _mask_digits(digits: str) -> str:
    if len(digits) == 13 and digits.startswith("86") and digits[2] == "1":
        digits = digits[2:]  # +86 and a mainland mobile: read as the mobile
    if len(digits) >= 11:
        return f"{digits[:3]}{STARS}{digits[-4:]}"
    if len(digits) >= 7:
        # Shorter numbers (a Hong Kong mobile has 8 digits): showing 3 + 4 would show nearly all.
        return f"{STARS}{digits[-2:]}"
    return STARS


def mask_phone(phone: str | None) -> str | None:
    """The number as an agent may see it: ``"13812345678"`` → ``"138****5678"``; None stays None.

    Numbers of 11 digits or more keep their first three and last four; 7 to 10 digits keep
    the last two; anything shorter shows only stars. The number of stars never changes, so
    the mask does not tell the length either.
    """
    if phone is None:
        return None
    digits = digits_of(phone)
    if not digits:
        return STARS if phone.strip() else None
    return _mask_digits(digits)


def _spaced(digits: str) -> re.Pattern[str]:
    """A pattern for `digits` however they are written: spaces, dashes, full-width digits."""
    classes = [f"[{d}{chr(ord('０') + int(d))}]" for d in digits]
    return re.compile(r"(?<!\d)" + r"[\s-]?".join(classes) + r"(?!\d)")


def _national_variants(number: str, digits: str) -> list[str]:
    """The number with and without its country code (1 to 3 digits), longest first.

    A buyer types their own number without the code their account stores it with.
    """
    variants = [digits]
    international = number.lstrip().startswith(("+", "＋", "00")) or (
        len(digits) == 13 and digits.startswith("86")
    )
    if international:
        body = digits[2:] if digits.startswith("00") else digits
        variants.extend(body[cut:] for cut in (1, 2, 3) if len(body) - cut >= 7)
    return variants


def mask_phones_in_text(text: str, known: Iterable[str | None] = ()) -> str:
    """`text` with every mainland mobile number, and each number in `known`, masked.

    `known` holds the numbers the shop has for the buyer (any country, any format); they are
    found even when they do not look like a mainland mobile.
    """
    for number in known:
        if not number:
            continue
        digits = digits_of(number)
        if len(digits) < _SHORTEST_KNOWN:
            continue
        for variant in _national_variants(number, digits):
            text = _spaced(variant).sub(_mask_digits(variant), text)
    return _MOBILE.sub(lambda match: _mask_digits(digits_of(match.group())), text)
