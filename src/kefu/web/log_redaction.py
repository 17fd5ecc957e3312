"""Keeps credentials out of the server's logs.

Buyers arrive with their token in the address (`/chat/{shop}?token=…`, `/ws/chat/{shop}?token=…`)
and uvicorn logs every address it serves; this filter blanks such values before a line is written.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = re.compile(r"(?i)\b(token|key|secret|password)=[^&\s\"']+")
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redacted(text: str) -> str:
    return SECRET_PARAMS.sub(lambda match: f"{match.group(1)}=***", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        return True


def install() -> None:
    """Add the filter to uvicorn's loggers once (create_app may run several times in one process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())
