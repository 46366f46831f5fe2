"""Korean particles that agree with the word before them (받침): one implementation for the whole project.

``qaaudit.strategies`` (``rename_entity`` re-chooses the particles of a renamed entity) and
``qaaudit.templates`` (``{p1:이/가}`` in a template) both call :func:`choose_particle`.
Words that do not end in Hangul are read the way a Korean speaker would: digits as
Sino-Korean numbers (3 삼, 10 십, 2 이), an all-capital abbreviation letter by letter (IBM 아이비엠,
URL 유알엘), other Latin words by their last sound (Kim 김, Paul 폴, Mike 마이크, Peter 피터).
No third-party imports.
"""
from __future__ import annotations

__all__ = ["PARTICLE_PAIRS", "has_final_consonant", "choose_particle", "attach", "hangul_syllable"]

_SBASE, _NV, _NT = 0xAC00, 21, 28
_RIEUL = 8   # the index of ㄹ among final consonants
_DIGIT_FINAL = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False,
                "6": True, "7": True, "8": True, "9": False}   # 영 일 이 삼 사 오 육 칠 팔 구 (10 십, 100 백 ... end in 0)
_DIGIT_RIEUL = {"1", "7", "8"}                                # 일 칠 팔 end in ㄹ
# Letter names as Korean reads abbreviations: 엘 and 알 end in ㄹ, 엠 and 엔 in another consonant.
_LETTER_FINAL = {"l": "rieul", "r": "rieul", "m": "other", "n": "other"}
_CLOSERS = {")": "(", "]": "[", "」": "「", "』": "『", "》": "《", "〉": "〈"}
_QUOTES = "\"'”’»"

# (after a final consonant, after a vowel); longer forms first so that they win a match
PARTICLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("이라는", "라는"), ("이라고", "라고"), ("이었다", "였다"), ("이에요", "예요"), ("이었고", "였고"),
    ("으로", "로"), ("이랑", "랑"), ("이나", "나"), ("이며", "며"), ("이다", "다"), ("이고", "고"),
    ("이", "가"), ("은", "는"), ("을", "를"), ("과", "와"), ("아", "야"),
)
_PAIR = {form: pair for pair in PARTICLE_PAIRS for form in pair}


def hangul_syllable(lead: int, vowel: int, tail: int) -> str:
    """The precomposed syllable of a lead (0-18), vowel (0-20) and tail (0: none, 1-27) index."""
    return chr(_SBASE + (lead * _NV + vowel) * _NT + tail)


def _tail(ch: str) -> int | None:
    code = ord(ch) - _SBASE
    return code % _NT if 0 <= code < 11172 else None


def _spoken_end(word: str) -> str:
    """The part of ``word`` whose sound a particle follows: without closing quotes, and without a
    parenthesis that glosses the word (서울(Seoul) takes the particle of 서울)."""
    word = word.rstrip()
    while word:
        last = word[-1]
        if last in _QUOTES:
            word = word[:-1].rstrip()
        elif last in _CLOSERS and _CLOSERS[last] in word[:-1]:
            word = word[:word.rindex(_CLOSERS[last])].rstrip()
        else:
            break
    return word


def _latin_final(word: str) -> str | None:
    """``rieul``, ``other`` or None (no final consonant) for a word ending in a Latin letter."""
    letters = word
    i = len(letters)
    while i > 0 and letters[i - 1].isascii() and letters[i - 1].isalpha():
        i -= 1
    tail = letters[i:]
    if len(tail) >= 2 and tail.isupper():          # an abbreviation: the name of its last letter
        return _LETTER_FINAL.get(tail[-1].lower())
    t = tail.lower()
    if t.endswith("ng") or t[-1] in "mn":
        return "other"
    if t[-1] == "l":
        return "rieul"
    # short-vowel stops are heard as a final consonant (Bob 밥, Jack 잭, Pat 팻); others get a vowel (마크 is rare
    # but 데이비드, 그레그 are the rule), as do vowels, r, s, x, h, w, y and a silent e (Mike 마이크)
    if t[-1] in "bpt" or t.endswith("ck"):
        return "other"
    return None


def _final(word: str) -> str | None:
    """``rieul``, ``other`` or None: the final consonant the particle after ``word`` hears."""
    word = _spoken_end(word)
    if not word:
        return None
    last = word[-1]
    tail = _tail(last)
    if tail is not None:
        return None if tail == 0 else "rieul" if tail == _RIEUL else "other"
    if last.isdigit() and last.isascii():
        return ("rieul" if last in _DIGIT_RIEUL else "other") if _DIGIT_FINAL[last] else None
    if last.isascii() and last.isalpha():
        return _latin_final(word)
    return None


def has_final_consonant(word: str, *, rieul: bool = False) -> bool:
    """Whether ``word`` ends in a final consonant (받침), as Korean particles need.

    With ``rieul=True``: whether it ends in a final consonant other than ㄹ (the rule
    for 으로/로). Digits are read as Sino-Korean numbers; Latin letters by their sound.
    """
    final = _final(word)
    return final is not None and not (rieul and final == "rieul")


def choose_particle(word: str, particle: str) -> str:
    """The form of ``particle`` (either form of 이/가, 은/는, 을/를, 과/와, 으로/로, 아/야, 이나/나, 이랑/랑,
    이에요/예요, ...) after ``word``.

    ``choose_particle("서울", "는") == "은"``, ``choose_particle("부산", "로") == "으로"``,
    ``choose_particle("서울", "으로") == "로"`` (ㄹ takes 로). Unknown particles come back unchanged.
    """
    pair = _PAIR.get(particle)
    if pair is None:
        return particle
    if pair[0] == "으로":
        return pair[0] if has_final_consonant(word, rieul=True) else pair[1]
    return pair[0] if has_final_consonant(word) else pair[1]


def attach(word: str, particle: str) -> str:
    """``word`` followed by the agreeing form of ``particle``; ``particle`` may be written ``이/가``."""
    first = particle.split("/", 1)[0]
    return word + choose_particle(word, first)
