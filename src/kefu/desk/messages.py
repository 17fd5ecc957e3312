"""Live messages: the limits a client's frame must keep, and the records the writer takes and gives."""

from __future__ import annotations

from typing import Any

from kefu.store.live_messages import NewMessage, StoredMessage
from kefu.vocabularies import MESSAGE_KINDS

__all__ = ["BadMessage", "NewMessage", "StoredMessage", "checked_client_msg_id", "checked_content"]

MAX_TEXT_LENGTH = 2000
MAX_CLIENT_MSG_ID_LENGTH = 64
# What a card's or an image's payload may name; anything else a client sends is dropped.
PAYLOAD_KEYS = {"image": ("upload_id",), "product": ("product_id",), "order": ("order_id",), "text": ()}


class BadMessage(ValueError):
    """A message a client may not send; `code` is the error frame's code, `field` what was wrong."""

    def __init__(self, code: str, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.code = code
        self.field = field
        self.detail = detail


def checked_content(kind: object, text: object, payload: object) -> tuple[str, str, dict[str, Any] | None]:
    """(kind, text, payload) of a client's message, or BadMessage naming the field at fault."""
    kind = "text" if kind is None else kind
    if kind not in MESSAGE_KINDS:
        raise BadMessage("bad_frame", "kind", f"must be one of {', '.join(MESSAGE_KINDS)}")
    text = "" if text is None else text
    if not isinstance(text, str):
        raise BadMessage("bad_frame", "text", "must be a string")
    if len(text) > MAX_TEXT_LENGTH:
        raise BadMessage("too_long", "text", f"is {len(text)} characters; at most {MAX_TEXT_LENGTH}")
    wanted = PAYLOAD_KEYS[kind]
    if kind == "text":
        if not text.strip():
            raise BadMessage("bad_frame", "text", "is empty")
        return kind, text, None
    if not isinstance(payload, dict):
        raise BadMessage("bad_frame", "payload", f"a {kind} message needs {wanted[0]}")
    kept = {key: payload.get(key) for key in wanted}
    for key, value in kept.items():
        if not isinstance(value, str) or not value or len(value) > 64:
            raise BadMessage("bad_frame", f"payload.{key}", "must be an id of 1-64 characters")
    return kind, text, kept


def checked_client_msg_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_MSG_ID_LENGTH:
        raise BadMessage(
            "bad_frame", "client_msg_id", f"must be a string of 1-{MAX_CLIENT_MSG_ID_LENGTH} characters"
        )
    return value
