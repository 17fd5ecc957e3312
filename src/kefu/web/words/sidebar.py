"""The words of the sidebar pages."""

WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {},
    "en": {},
}
