"""The words of the desk pages."""

WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {},
    "en": {},
}
