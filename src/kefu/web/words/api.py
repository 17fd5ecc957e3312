"""The words of the api pages."""

WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {},
    "en": {},
}
