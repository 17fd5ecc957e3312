"""Chinese text as kefu compares it: traditional characters read as simplified ones.

Buyers from Taiwan, Hong Kong and overseas type traditional characters; every search, match and
check that compares text folds both forms to simplified first, so 發貨 finds 发货.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import opencc


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """The text in simplified characters (OpenCC's phrase-aware conversion)."""
    return _converter().convert(text)


def folded(text: str) -> str:
    """For comparing: simplified, full-width letters and digits as ASCII (NFKC), case folded."""
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()
