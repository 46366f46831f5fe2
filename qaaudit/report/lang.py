"""``lang="ko"`` for Korean text: with it, a browser picks a Korean face from the font stack (or its CJK
fallback) instead of whatever the page's first font offers, and never draws Han characters of a Korean text
in a Japanese or Chinese face."""
from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

__all__ = ["has_hangul", "lang_attr", "HANGUL"]

# Syllables, Jamo, compatibility Jamo and the extended Jamo blocks.
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
_KO = Markup(' lang="ko"')
_NONE = Markup("")


def has_hangul(text: Any) -> bool:
    return isinstance(text, str) and HANGUL.search(text) is not None


def lang_attr(text: Any) -> Markup:
    """`` lang="ko"`` (with its leading space) when ``text`` holds Hangul, else nothing: ``<p{{ q | lang }}>``."""
    return _KO if has_hangul(text) else _NONE
