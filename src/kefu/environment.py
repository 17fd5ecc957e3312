"""One setting read from the environment as kefu.settings.Settings reads it, without loading
pydantic: a command that needs a single value (a report's default time zone) saves the 0.2 s
that pydantic-settings takes to import, at a moment when both cores are reading files."""

from __future__ import annotations

import os

PREFIX = "KEFU_"
DEFAULT_TIMEZONE = "Asia/Shanghai"


def setting(name: str, default: str) -> str:
    """The value of KEFU_<NAME> in any letter case (pydantic-settings matches names so), or `default`."""
    wanted = (PREFIX + name).upper()
    exact = os.environ.get(wanted)
    if exact is not None:
        return exact
    return next((value for key, value in os.environ.items() if key.upper() == wanted), default)
