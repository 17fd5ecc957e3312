"""Buyer tokens and keys in addresses never reach the server's log."""

from __future__ import annotations

import logging

from kefu.web.log_redaction import RedactSecrets, install, redacted


def test_credentials_in_addresses_are_blanked_and_the_rest_kept():
    line = redacted('/ws/chat/yiyi?token=eyJzaG9wIjoi.abc-_123&lang=en "GET /api?key=k1"')
    assert line == '/ws/chat/yiyi?token=***&lang=en "GET /api?key=***"'


def test_uvicorn_lines_are_redacted_when_written(caplog):
    install()
    install()  # twice, as when several apps are made in one process: one filter each
    logger = logging.getLogger("uvicorn.error")
    assert sum(isinstance(f, RedactSecrets) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/chat/yiyi?token=SECRET.SIG")
    assert "SECRET" not in caplog.text and "token=***" in caplog.text
