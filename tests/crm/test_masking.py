"""Phone numbers as agents see them: first three and last four digits at most, wherever they appear."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.crm.masking import digits_of, mask_phone, mask_phones_in_text


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),  # typed with a Chinese input method
        ("+852 9123 4567", "852****4567"),
        ("91234567", "****67"),
        ("12345", "****"),
        ("no digits", "****"),
        ("", None),
        (None, None),
    ],
)
def test_a_number_keeps_at_most_its_first_three_and_last_four_digits(phone, shown):
    assert mask_phone(phone) == shown


def test_numbers_in_text_are_masked_however_they_are_written():
    text = "电话 138 1234 5678，备用 +86-139-8765-4321，全角１５０１２３４５６７８。"

    assert mask_phones_in_text(text) == "电话 138****5678，备用 139****4321，全角150****5678。"


def test_long_digit_runs_that_are_not_phones_stay():
    text = "订单号 2026112413812345678，快递单 SF1234567890，金额 138.00"

    assert mask_phones_in_text(text) == text


def test_the_buyers_own_number_is_masked_even_without_its_country_code():
    text = "我的电话 9123 4567，或者 +852 9123 4567"

    masked = mask_phones_in_text(text, known=["+852 9123 4567", None])

    assert "9123" not in masked and "4567 " not in masked
    assert masked == "我的电话 ****67，或者 +852****4567"


_MOBILE = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text("0123456789", min_size=9, max_size=9),
)
_WORDS = st.text(st.sampled_from("您好电话是号码，。:abc "), max_size=12)


@given(_WORDS, _MOBILE, st.sampled_from(["", " ", "-"]), _WORDS)
def test_masking_never_shows_the_middle_digits(before, mobile, separator, after):
    written = separator.join((mobile[:3], mobile[3:7], mobile[7:]))

    masked = mask_phones_in_text(f"{before}{written}{after}")

    assert digits_of(masked) == mobile[:3] + mobile[7:]
    assert masked == f"{before}{mobile[:3]}****{mobile[7:]}{after}"
