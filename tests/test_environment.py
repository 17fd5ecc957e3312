"""A single setting read without pydantic agrees with the settings class."""

from __future__ import annotations

import pytest

from kefu.environment import DEFAULT_TIMEZONE, setting
from kefu.settings import Settings


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, DEFAULT_TIMEZONE),
        ({"KEFU_DEFAULT_TIMEZONE": "Europe/Berlin"}, "Europe/Berlin"),
        ({"kefu_default_timezone": "America/New_York"}, "America/New_York"),
    ],
    ids=["unset", "upper case", "lower case"],
)
def test_the_default_zone_is_read_as_the_settings_read_it(monkeypatch, variables, expected):
    for name in ("KEFU_DEFAULT_TIMEZONE", "kefu_default_timezone"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert setting("default_timezone", DEFAULT_TIMEZONE) == expected
    assert Settings().default_timezone == expected
