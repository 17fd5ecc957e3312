"""The words of the chat pages."""

WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {},
    "en": {},
}
