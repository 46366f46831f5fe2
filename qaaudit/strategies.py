"""Hypothesis strategies that perturb a QA case while tracking its gold answer spans.

Every strategy yields a :class:`Perturbed`: the edited question and context, the gold
answers re-mapped after every edit (``context[start:start + len(text)] == text`` always
holds) and the list of :class:`Edit` records, so that a failure can be shown as a diff.

Edits that must leave the answer alone (typos, distractors, ...) are only placed outside
the answer spans; directional edits (``rename_entity``, ``change_number``) replace text
inside the answer, and the answer text follows them. Strategies compose (several edits
in one example) and shrink toward fewer and smaller edits: the number of edits is drawn
with a minimum of 1, the kind of each edit with ``sampled_from`` and every position as
an integer index, so hypothesis shrinks all of them toward the first choice.

No torch or transformers here: only hypothesis and the standard library.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

from hypothesis import strategies as st

from qaaudit.errors import InvalidArgument
# one implementation of particle agreement, shared with qaaudit.templates
from qaaudit.korean import PARTICLE_PAIRS as _PARTICLES, choose_particle, has_final_consonant

__all__ = [
    "PERTURBATIONS",
    "PARAM_KEYS",
    "Edit",
    "Perturbed",
    "check_applicable",
    "perturb",
    "distractor",
    "reorder",
    "typos",
    "whitespace",
    "punctuation",
    "letter_case",
    "rephrase",
    "rename_entity",
    "change_number",
    "split_sentences",
    "detect_lang",
    "has_final_consonant",
    "choose_particle",
    "word_diff",
    "map_span",
    "normalize_answers",
]

PERTURBATIONS: tuple[str, ...] = (
    "distractor", "reorder", "typos", "whitespace", "punctuation", "case",
    "rephrase", "rename_entity", "change_number",
)

# What a check's ``params`` may hold (one mapping for all the perturbations of a check).
PARAM_KEYS: Mapping[str, str] = {
    "max_edits": "most edits in one example (int >= 1, default 3)",
    "sentences": "distractor: sentences to insert instead of the built-in templates (list of str)",
    "entity": "rename_entity: the text to rename everywhere (default: the first gold answer)",
    "names": "rename_entity: replacement names to choose from (list of str)",
    "entity_type": "rename_entity: built-in name pool: person | place | organization (default person)",
    "number": "change_number: the number to change (default: a number inside the gold answer)",
    "replacement": "rename_entity / change_number: the one new name or number to use",
}

Answers = tuple[tuple[str, int], ...]


# --------------------------------------------------------------------------- data types
@dataclass(frozen=True)
class Edit:
    """One replacement: ``before`` at ``start`` of ``target`` (text as it was just before this edit)."""

    kind: str      # the perturbation that made it
    target: str    # "context" | "question"
    start: int
    before: str
    after: str

    @property
    def end(self) -> int:
        return self.start + len(self.before)

    def describe(self) -> str:
        return f"{self.kind} {self.target}[{self.start}]: {self.before!r} -> {self.after!r}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "start": self.start,
                "before": self.before, "after": self.after}


class _Untrackable(Exception):
    """An edit overlaps an answer span partly, so the answer cannot be re-mapped."""


@dataclass(frozen=True)
class Perturbed:
    """A question/context pair after zero or more edits, with gold answers re-mapped."""

    question: str
    context: str
    answers: Answers
    edits: tuple[Edit, ...] = ()

    @classmethod
    def from_case(cls, question: str, context: str, answers: Sequence[tuple[str, int]]) -> "Perturbed":
        """The unedited case; raises InvalidArgument when an answer is not at its start."""
        checked = []
        for text, start in normalize_answers(context, answers):
            if context[start:start + len(text)] != text:
                raise InvalidArgument(
                    f"gold answer {text!r} is not at character {start} of the context "
                    f"(found {context[start:start + len(text)]!r}); give the start where it occurs"
                    + (f", e.g. {context.find(text)}" if text in context else "")
                )
            checked.append((text, int(start)))
        return cls(question, context, tuple(checked))

    def replace(self, kind: str, target: str, start: int, end: int, after: str) -> "Perturbed":
        """Replace ``[start, end)`` of ``target`` with ``after``, re-mapping the answers.

        An answer before or after the edit shifts; an answer that contains the edit
        changes its text (directional edits); a partial overlap raises ``_Untrackable``.
        """
        text = self.question if target == "question" else self.context
        edit = Edit(kind, target, start, text[start:end], after)
        new_text = text[:start] + after + text[end:]
        if target == "question":
            return replace(self, question=new_text, edits=self.edits + (edit,))
        answers = []
        for a_text, a_start in self.answers:
            span = _remap(a_start, a_start + len(a_text), start, end, len(after))
            if span is None:
                raise _Untrackable(f"edit {edit.describe()} cuts the answer {a_text!r}")
            answers.append((new_text[span[0]:span[1]], span[0]))
        return Perturbed(self.question, new_text, tuple(answers), self.edits + (edit,))

    @property
    def diff(self) -> list[str]:
        return [e.describe() for e in self.edits]

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "context": self.context,
                "answers": [list(a) for a in self.answers], "edits": [e.to_dict() for e in self.edits]}


def _remap(s: int, e: int, a: int, b: int, n_after: int) -> tuple[int, int] | None:
    """Span [s, e) after replacing [a, b) with ``n_after`` characters; None on partial overlap."""
    delta = n_after - (b - a)
    if b <= s and not (a == b == s == e):
        return s + delta, e + delta   # edit wholly before (an insertion at s shifts the span)
    if a >= e:
        return s, e
    if s <= a and b <= e:
        return s, e + delta           # edit inside the span: its text changes
    return None


def map_span(edits: Sequence[Edit], target: str, start: int, end: int) -> tuple[int, int] | None:
    """Carry the span [start, end) of the original ``target`` text through ``edits``."""
    span: tuple[int, int] | None = (start, end)
    for ed in edits:
        if ed.target != target or span is None:
            continue
        span = _remap(span[0], span[1], ed.start, ed.end, len(ed.after))
    return span


def normalize_answers(context: str, answers: Sequence[Any]) -> list[tuple[str, int]]:
    """``(text, start)`` pairs from pairs or objects with ``.text``/``.start`` (a None start: first occurrence)."""
    out = []
    for a in answers:
        text, start = (a[0], a[1]) if isinstance(a, (tuple, list)) else (a.text, getattr(a, "start", None))
        out.append((str(text), context.find(str(text)) if start is None else int(start)))
    return out


# --------------------------------------------------------------------------- text helpers
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def detect_lang(text: str) -> str:
    """"ko" when the text holds Hangul, else "en"."""
    return "ko" if _HANGUL.search(text) else "en"


_ABBREV = {"mr", "mrs", "ms", "dr", "st", "prof", "jr", "sr", "vs", "etc", "no", "e.g", "i.e", "u.s"}


def split_sentences(text: str, lang: str | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` (end exclusive, without the separating white space).

    A sentence ends at '.', '?' or '!' (plus closing quotes/brackets) followed by white
    space or the end; English abbreviations and initials do not end one. Korean also
    ends a sentence at '다.' / '요.' directly followed by the next sentence's Hangul.
    """
    lang = lang or detect_lang(text)
    spans: list[tuple[int, int]] = []
    begin = 0
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch in ".?!":
            j = i + 1
            while j < n and text[j] in ".?!\"')]”’":
                j += 1
            nxt = text[j] if j < n else ""
            ends = nxt == "" or nxt.isspace()
            if ends and ch == "." and lang != "ko":
                word = re.search(r"([\w.]+)$", text[begin:i])
                w = word.group(1).lower() if word else ""
                if w in _ABBREV or (len(w) == 1 and w.isalpha()):
                    ends = False
            if not ends and lang == "ko" and ch == "." and i > 0 and text[i - 1] in "다요" \
                    and _HANGUL.match(nxt or " "):
                ends = True
            if ends:
                if text[begin:j].strip():
                    spans.append(_strip_span(text, begin, j))
                while j < n and text[j].isspace():
                    j += 1
                begin = j
                i = j
                continue
        i += 1
    if text[begin:].strip():
        spans.append(_strip_span(text, begin, n))
    return spans


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _free(answers: Answers, a: int, b: int) -> bool:
    """True when replacing [a, b) leaves every answer span untouched (insertion: a == b)."""
    for text, s in answers:
        e = s + len(text)
        if a == b:
            if s < a < e:
                return False
        elif not (b <= s or a >= e):
            return False
    return True


def word_diff(before: str, after: str) -> str:
    """Word-level diff: unchanged words as is, ``[-removed-]`` and ``{+added+}``."""
    a, b = before.split(), after.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.extend(a[i1:i2])
        else:
            if i2 > i1:
                out.append("[-" + " ".join(a[i1:i2]) + "-]")
            if j2 > j1:
                out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(out)


# --------------------------------------------------------------------------- Korean
_SBASE, _NV, _NT = 0xAC00, 21, 28
_PARTICLE_PAIR = {form: pair for pair in _PARTICLES for form in pair}


def _decompose(ch: str) -> tuple[int, int, int] | None:
    code = ord(ch) - _SBASE
    if not 0 <= code < 11172:
        return None
    return code // (_NV * _NT), (code % (_NV * _NT)) // _NT, code % _NT


def _compose(lead: int, vowel: int, tail: int) -> str:
    return chr(_SBASE + (lead * _NV + vowel) * _NT + tail)


def _particle_after(text: str, pos: int) -> str | None:
    """The alternating particle that starts at ``pos`` (a whole Hangul run, or 으로/로 + more)."""
    m = re.match(r"[\uac00-\ud7a3]+", text[pos:])
    if not m:
        return None
    run = m.group(0)
    if run in _PARTICLE_PAIR:
        return run
    for form in ("으로", "로"):
        if run.startswith(form) and run[len(form):] in {"는", "도", "만", "부터", "서", "써"}:
            return form
    return None


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``{name}`` or ``{name:은}`` (the value plus the right form of the particle)."""
    def sub(m: re.Match) -> str:
        value = values[m.group(1)]
        return value + (choose_particle(value, m.group(2)) if m.group(2) else "")
    return re.sub(r"\{(\w+)(?::(\w+))?\}", sub, template)


# --------------------------------------------------------------------------- pools
_NAMES = {
    "en": {
        "person": ("Alice Martin", "Bruno Costa", "Chen Wei", "Dara Okafor", "Elena Petrova", "Farid Haddad"),
        "place": ("Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Hanoi"),
        "organization": ("Acme Corporation", "Blue Harbor Labs", "Northwind Group", "Orion Systems"),
    },
    "ko": {
        # mixed final consonants (준, 아, 훈, 리, 늘, 윤) so particle choice is exercised
        "person": ("김민준", "이서아", "박지훈", "최유리", "정하늘", "강도윤"),
        "place": ("부산", "대구", "제주", "춘천", "여수", "세종"),
        "organization": ("한빛전자", "푸른바다연구소", "새별그룹", "누리소프트"),
    },
}
_DISTRACTOR_TEMPLATES = {
    "en": ("{name} visited {place} in {year}.", "{place} is known for its {thing}.",
           "{name} wrote a short book about {thing}.", "The {thing} festival in {place} began in {year}."),
    "ko": ("{name:은} {year}년에 {place:을} 방문했다.", "{place:은} {thing:으로} 유명하다.",
           "{name:이} {thing}에 관한 책을 썼다.", "{place}의 {thing} 축제는 {year}년에 시작되었다."),
}
_DISTRACTOR_FILL = {
    "en": {"thing": ("bridges", "tea", "music", "old maps"), "year": ("1921", "1964", "1987", "2003")},
    "ko": {"thing": ("다리", "녹차", "음악", "고지도"), "year": ("1921", "1964", "1987", "2003")},
}


def _lang(lang: str | None, *texts: str) -> str:
    if lang is None:
        return detect_lang(" ".join(texts))
    if lang not in ("en", "ko"):
        # other languages use the English pools and rules: still valid edits, only less idiomatic
        return "en"
    return lang


# --------------------------------------------------------------------------- occurrences
def _occurrences(text: str, needle: str) -> list[int]:
    """Starts of ``needle`` as a whole word (Hangul may carry a particle after it)."""
    if not needle:
        return []
    after = r"(?![A-Za-z0-9])" if needle[-1].isalnum() and not _HANGUL.match(needle[-1]) else ""
    if needle[-1].isdigit():
        after = r"(?![0-9])(?![.,][0-9])"
    before = r"(?<![\w])" if needle[0].isalnum() else ""
    return [m.start() for m in re.finditer(before + re.escape(needle) + after, text)]


def _replace_all(p: Perturbed, kind: str, old: str, new: str) -> Perturbed:
    """Replace every occurrence of ``old`` in context and question, re-choosing Korean particles.

    Right to left, so the positions still to edit do not move; each particle is its own
    edit after the name, so an answer that is exactly the name stays exactly the name.
    """
    for target in ("question", "context"):
        text = p.question if target == "question" else p.context
        for pos in reversed(_occurrences(text, old)):
            end = pos + len(old)
            part = _particle_after(text, end)
            if part is not None:
                form = choose_particle(new, part)
                if form != part:
                    p = p.replace(kind, target, end, end + len(part), form)
            p = p.replace(kind, target, pos, end, new)
    return p


_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|(?<![\d.,])\d+(?:\.\d+)?(?![\d])")


def _numbers_in(text: str) -> list[str]:
    seen: list[str] = []
    for m in _NUMBER.finditer(text):
        if m.group(0) not in seen:
            seen.append(m.group(0))
    return seen


def _answer_numbers(p: Perturbed, params: Mapping[str, Any]) -> list[str]:
    if params.get("number") is not None:
        return [str(params["number"])]
    return [n for text, _ in p.answers for n in _numbers_in(text)]


def _new_number(old: str, delta: int, down: bool, context: str) -> str:
    """``old`` moved by ``delta`` keeping its format; years stay years, months months, days days."""
    commas = "," in old
    whole, _, frac = old.replace(",", "").partition(".")
    value = int(whole)
    lo, hi = 0, None
    esc = re.escape(old)
    if len(whole) == 4 and 1000 <= value <= 2100 and not commas:
        lo, hi = 1000, 2099
    elif re.search(esc + r"\s*월", context) or re.search(
            r"(January|February|March|April|May|June|July|August|September|October|November|December)\s+" + esc,
            context):
        lo, hi = 1, 28                # a day after a month name, or a Korean month: stay a valid date
    elif re.search(esc + r"\s*일", context):
        lo, hi = 1, 28
    new = value - delta if down and value - delta >= lo else value + delta
    if hi is not None and new > hi:
        new = value - delta if value - delta >= lo else lo
    if new == value:
        new = value + 1 if hi is None or value + 1 <= hi else value - 1
    out = f"{new:,}" if commas else str(new)
    return out + ("." + frac if frac else "")


# --------------------------------------------------------------------------- applicability
def check_applicable(perturbation: str, question: str, context: str,
                     answers: Sequence[tuple[str, int]], params: Mapping[str, Any] | None = None,
                     *, lang: str | None = None) -> str | None:
    """Why ``perturbation`` cannot edit this case (a message naming the remedy), or None.

    ``reorder`` of a context with fewer than two sentences outside the answer's is
    allowed: it is the identity there (a file-wide ``reorder`` check must not reject
    single-sentence cases), and the robustness engine counts only real variants.
    """
    params = dict(params or {})
    if perturbation not in PERTURBATIONS:
        close = difflib.get_close_matches(str(perturbation), PERTURBATIONS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return (f"unknown perturbation {perturbation!r}; {hint}valid perturbations are: "
                + ", ".join(PERTURBATIONS))
    # other keys (the check's property, thresholds, ...) may ride along: they are not ours to judge
    try:
        base = Perturbed.from_case(question, context, answers)
    except InvalidArgument as exc:
        return str(exc)
    lang = _lang(lang, question, context)
    try:
        max_edits = int(params.get("max_edits", 3))
    except (TypeError, ValueError):
        max_edits = 0
    if max_edits < 1:
        return f"params.max_edits must be an integer >= 1, got {params.get('max_edits')!r}"
    step = _STEPS[perturbation]
    if perturbation == "rename_entity":
        entity = params.get("entity")
        if entity is None and not base.answers:
            return ("rename_entity needs an entity: the case has no gold answer; "
                    "set params.entity to a name that occurs in the context")
        entity = str(entity) if entity is not None else base.answers[0][0]
        if not _occurrences(context, entity):
            return (f"rename_entity: entity {entity!r} does not occur in the context; set params.entity "
                    "to a name that occurs there as a whole word"
                    + (f" (e.g. the gold answer {base.answers[0][0]!r})" if base.answers else ""))
    if perturbation == "change_number":
        if not _answer_numbers(base, params):
            shown = ", ".join(repr(t) for t, _ in base.answers) or "(none: unanswerable case)"
            return (f"change_number needs a number in the gold answer, got {shown}; use it on a case whose "
                    "answer holds a number or date, or set params.number to a number of the context")
        if params.get("number") is not None and not _occurrences(context, str(params["number"])):
            return (f"change_number: number {str(params['number'])!r} does not occur in the context; "
                    "set params.number to a number written in the context")
    if perturbation == "reorder":
        return None
    probe = _probe(step, base, lang, params)
    if isinstance(probe, str):
        return f"{perturbation} cannot be applied to this case: {probe}"
    return None


def _probe(step: "_Step", base: Perturbed, lang: str, params: Mapping[str, Any]) -> str | None:
    """Run ``step`` with the first choice of every draw; a message when it cannot edit."""
    try:
        out = step(_FirstChoice(), base, lang, params)
    except _Untrackable as exc:
        return f"the answer cannot be tracked through the edit ({exc}); choose another entity or perturbation"
    if out is None or not out.edits:
        return _WHY_NOT.get(step.__name__, "there is no place to edit outside the gold answer")
    return None


# --------------------------------------------------------------------------- drawing
class _Draws:
    """The three kinds of choice a step makes, drawn through hypothesis so that they shrink."""

    def __init__(self, draw: Callable[[st.SearchStrategy], Any]) -> None:
        self._draw = draw

    def index(self, n: int) -> int:
        """0 <= i < n, shrinking to 0."""
        return self._draw(st.integers(0, n - 1)) if n > 1 else 0

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[self.index(len(seq))]

    def flag(self) -> bool:
        return self._draw(st.booleans())


class _FirstChoice(_Draws):
    """What every draw shrinks to: used to probe whether a step can edit a case."""

    def __init__(self) -> None:
        pass

    def index(self, n: int) -> int:
        return 0

    def flag(self) -> bool:
        return False


_WHY_NOT: dict[str, str] = {}
_Step = Callable[[_Draws, Perturbed, str, Mapping[str, Any]], "Perturbed | None"]
_STEPS: dict[str, _Step] = {}


# --------------------------------------------------------------------------- the edits
# Each step makes one edit (or one logical edit: a rename touches every occurrence) on
# the current state, or returns None when it has no valid place; the choice of place is
# restricted to what leaves the gold spans trackable.

def _distractor(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    pool = params.get("sentences")
    golds = [t.lower() for t, _ in p.answers if t]
    if pool:
        candidates = [str(s) for s in pool]
        k = d.index(len(candidates))
    else:
        templates = _DISTRACTOR_TEMPLATES[lang]
        fill = _DISTRACTOR_FILL[lang]
        names = _NAMES[lang]
        k = d.index(len(templates))
        values = {"name": d.choice(names["person"]), "place": d.choice(names["place"]),
                  "thing": d.choice(fill["thing"]), "year": d.choice(fill["year"])}
        candidates = [_fill(t, values) for t in templates]
    # the first candidate from k on that does not hold a gold answer (so the answer stays unique)
    sentence = next((candidates[(k + j) % len(candidates)] for j in range(len(candidates))
                     if not any(g in candidates[(k + j) % len(candidates)].lower() for g in golds)), None)
    if sentence is None:
        return None
    sents = split_sentences(p.context, lang)
    slots = [s for s, _ in sents if _free(p.answers, s, s)] + [len(p.context)]
    at = slots[d.index(len(slots))]
    if at == len(p.context):
        return p.replace("distractor", "context", at, at, (" " if p.context.strip() else "") + sentence)
    return p.replace("distractor", "context", at, at, sentence + " ")


def _reorder(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    movable = [(s, e) for s, e in split_sentences(p.context, lang) if _free(p.answers, s, e)]
    if len(movable) < 2:
        return None
    i = d.index(len(movable) - 1)
    j = i + 1 + d.index(len(movable) - 1 - i)
    (s1, e1), (s2, e2) = movable[i], movable[j]
    first, second = p.context[s1:e1], p.context[s2:e2]
    if first == second:
        return None
    # the later sentence first, so the earlier position is still valid
    return p.replace("reorder", "context", s2, e2, first).replace("reorder", "context", s1, e1, second)


_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
_VOWEL_SWAP = {0: 2, 2: 0, 1: 5, 5: 1, 4: 8, 8: 4, 13: 18, 18: 13, 20: 18, 6: 4, 12: 8, 17: 13}
_LEAD_SWAP = {0: 15, 15: 0, 3: 16, 16: 3, 7: 17, 17: 7, 12: 14, 14: 12, 9: 10, 10: 9, 2: 5, 5: 2}


def _jamo_variants(ch: str) -> list[str]:
    """Syllables one jamo away from ``ch``: vowel, initial or final consonant changed."""
    lead, vowel, tail = _decompose(ch) or (0, 0, 0)
    out = []
    if vowel in _VOWEL_SWAP:
        out.append(_compose(lead, _VOWEL_SWAP[vowel], tail))
    out.append(_compose(lead, vowel, 0 if tail else 4))  # drop the final consonant, or add ㄴ
    if lead in _LEAD_SWAP:
        out.append(_compose(_LEAD_SWAP[lead], vowel, tail))
    return out


def _typos(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    c, ans = p.context, p.answers
    letters = [i for i, ch in enumerate(c) if ch.isalpha() and _free(ans, i, i + 1)]
    hangul = [i for i in letters if _HANGUL.match(c[i])]
    latin = [i for i in letters if not _HANGUL.match(c[i])]
    ops: dict[str, list[int]] = {
        "drop": letters,
        "swap": [i for i in letters if i + 1 < len(c) and c[i + 1].isalpha() and c[i] != c[i + 1]
                 and _free(ans, i, i + 2)],
        "replace": latin,
        "insert": latin,
        "jamo": hangul,
        # Korean spacing: remove a space between two Hangul words, or split a word in two
        "unspace": [i for i in range(1, len(c) - 1) if c[i] == " " and _HANGUL.match(c[i - 1])
                    and _HANGUL.match(c[i + 1]) and _free(ans, i, i + 1)],
        "space": [i for i in range(1, len(c)) if _HANGUL.match(c[i - 1]) and _HANGUL.match(c[i])
                  and _free(ans, i, i)],
    }
    usable = [op for op, where in ops.items() if where]
    if not usable:
        return None
    op = d.choice(usable)
    i = d.choice(ops[op])
    if op == "drop":
        return p.replace("typos", "context", i, i + 1, "")
    if op == "swap":
        return p.replace("typos", "context", i, i + 2, c[i + 1] + c[i])
    if op == "replace":
        new = d.choice([k for k in _KEYBOARD if k != c[i].lower()])
        return p.replace("typos", "context", i, i + 1, new.upper() if c[i].isupper() else new)
    if op == "insert":
        new = d.choice(_KEYBOARD)
        return p.replace("typos", "context", i, i, new.upper() if c[i].isupper() else new)
    if op == "jamo":
        return p.replace("typos", "context", i, i + 1, d.choice(_jamo_variants(c[i])))
    if op == "unspace":
        return p.replace("typos", "context", i, i + 1, "")
    return p.replace("typos", "context", i, i, " ")


def _whitespace(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    c = p.context
    spaces = [i for i, ch in enumerate(c) if ch == " " and _free(p.answers, i, i + 1)]
    ops = ["trailing", "leading"] + (["double", "newline", "tab"] if spaces else [])
    op = d.choice(ops)
    if op == "trailing":
        return p.replace("whitespace", "context", len(c), len(c), " ")
    if op == "leading":
        return p.replace("whitespace", "context", 0, 0, " ")
    i = d.choice(spaces)
    after = {"double": "  ", "newline": "\n", "tab": "\t"}[op]
    return p.replace("whitespace", "context", i, i + 1, after)


def _punctuation(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    c, q = p.context, p.question
    marks = [i for i, ch in enumerate(c) if ch in ".,!?;:" and _free(p.answers, i, i + 1)
             and not (0 < i < len(c) - 1 and c[i - 1].isdigit() and c[i + 1].isdigit())]
    word_ends = [i for i in range(1, len(c)) if c[i] == " " and c[i - 1].isalnum() and _free(p.answers, i, i)]
    ops = ["question_mark"] + (["drop"] if marks else []) + (["comma"] if word_ends else []) + \
        (["exclaim"] if any(c[i] == "." for i in marks) else [])
    op = d.choice(ops)
    if op == "question_mark":
        stripped = q.rstrip()
        if stripped.endswith("?"):
            return p.replace("punctuation", "question", len(stripped) - 1, len(stripped), "")
        return p.replace("punctuation", "question", len(stripped), len(stripped), "?")
    if op == "drop":
        i = d.choice(marks)
        return p.replace("punctuation", "context", i, i + 1, "")
    if op == "comma":
        i = d.choice(word_ends)
        return p.replace("punctuation", "context", i, i, ",")
    i = d.choice([i for i in marks if c[i] == "."])
    return p.replace("punctuation", "context", i, i + 1, "!")


def _case(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    c = p.context
    words = []
    for m in re.finditer(r"[^\W\d_]+", c):
        w = m.group(0)
        forms = [f for f in (w.lower(), w.upper(), w.title()) if f != w]
        if forms and _free(p.answers, m.start(), m.end()):
            words.append((m.start(), m.end(), list(dict.fromkeys(forms))))
    if not words:
        return None
    s, e, forms = d.choice(words)
    return p.replace("case", "context", s, e, d.choice(forms))


_EN_CONTRACTIONS = (("What is", "What's"), ("Who is", "Who's"), ("Where is", "Where's"), ("When is", "When's"),
                    ("How is", "How's"), ("did not", "didn't"), ("does not", "doesn't"), ("is not", "isn't"),
                    ("was not", "wasn't"), ("are not", "aren't"), ("do not", "don't"))
_EN_PREFIXES = ("Question: ", "Tell me: ", "Quick question: ")
_KO_ENDING = re.compile(r"([\uac00-\ud7a3])(입니까|인가요|인가|이야|야|이에요|예요)(\s*\?\s*)$")
_KO_QWORD = r"(?=\s(?:무엇|무슨|어디|누구|언제|몇|얼마|어느|왜|어떻게))"


def _rephrase_candidates(q: str, lang: str) -> list[tuple[int, int, str]]:
    """Every single rephrasing edit of the question: (start, end, replacement)."""
    out: list[tuple[int, int, str]] = []
    if lang == "ko":
        m = _KO_ENDING.search(q)
        if m:
            final = has_final_consonant(m.group(1))
            for ending in ("입니까", "인가요", "이야" if final else "야", "이에요" if final else "예요"):
                if ending != m.group(2):
                    out.append((m.start(2), m.end(2), ending))
        # topic <-> subject particle on the noun right before the question word
        for m in re.finditer(r"([\uac00-\ud7a3])(은|는|이|가)" + _KO_QWORD, q):
            final = has_final_consonant(m.group(1))
            swap = {"은": "이", "이": "은", "는": "가", "가": "는"}[m.group(2)]
            if m.group(2) == choose_particle(m.group(1), m.group(2)) and final == (swap in "이은"):
                out.append((m.start(2), m.end(2), swap))
        return out
    for long, short in _EN_CONTRACTIONS:
        for a, b in ((long, short), (short, long)):
            for m in re.finditer(r"\b" + re.escape(a) + r"\b", q):
                out.append((m.start(), m.end(), b))
    if not any(q.startswith(pre) for pre in _EN_PREFIXES):
        out.extend((0, 0, pre) for pre in _EN_PREFIXES)
    return out


def _rephrase(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    cands = _rephrase_candidates(p.question, lang)
    if not cands:
        return None
    s, e, new = d.choice(cands)
    return p.replace("rephrase", "question", s, e, new)


def _guess_type(question: str) -> str:
    """The name pool that fits the question: a place for where-questions, else a person."""
    if re.search(r"\b(where|city|capital|country|place)\b|어디|도시|수도|나라", question, re.I):
        return "place"
    return "person"


def _rename_entity(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    if any(e.kind == "rename_entity" for e in p.edits):
        return None  # one rename per example: a second could rename it back
    entity = params.get("entity")
    entity = str(entity) if entity is not None else (p.answers[0][0] if p.answers else "")
    if not _occurrences(p.context, entity):
        return None
    if params.get("replacement") is not None:
        names = [params["replacement"]]
    else:
        names = params.get("names") or _NAMES[lang][params.get("entity_type") or _guess_type(p.question)]
    names = [str(n) for n in names if str(n) != entity and str(n) not in p.context]
    if not names:
        return None
    return _replace_all(p, "rename_entity", entity, d.choice(names))


def _change_number(d: _Draws, p: Perturbed, lang: str, params: Mapping[str, Any]) -> Perturbed | None:
    if any(e.kind == "change_number" for e in p.edits):
        return None  # one change per example: a second could undo it
    numbers = [n for n in _answer_numbers(p, params) if _occurrences(p.context, n)]
    if not numbers:
        return None
    old = d.choice(numbers)
    if params.get("replacement") is not None:
        if str(params["replacement"]) == old:
            return None
        return _replace_all(p, "change_number", old, str(params["replacement"]))
    new = _new_number(old, 1 + d.index(30), d.flag(), p.context)
    return _replace_all(p, "change_number", old, new)


_STEPS.update({
    "distractor": _distractor, "reorder": _reorder, "typos": _typos, "whitespace": _whitespace,
    "punctuation": _punctuation, "case": _case, "rephrase": _rephrase,
    "rename_entity": _rename_entity, "change_number": _change_number,
})
_WHY_NOT.update({
    "_distractor": "every distractor sentence holds the gold answer; give params.sentences without it",
    "_typos": "the context has no letter outside the gold answer",
    "_case": "the context has no cased letter outside the gold answer (letter case needs a cased script)",
    "_rephrase": "no rephrasing rule matches the question (Korean: an ending 입니까/인가요/이야/... before '?', "
                 "or 은/는/이/가 before a question word)",
    "_rename_entity": "no replacement name is left that does not already occur in the context; give params.names",
})


# --------------------------------------------------------------------------- strategies
@st.composite
def _composed(draw: Callable[[st.SearchStrategy], Any], base: Perturbed, kinds: tuple[str, ...], lang: str,
              params: Mapping[str, Any], max_edits: int) -> Perturbed:
    d = _Draws(draw)
    p = base
    for _ in range(d.index(max_edits) + 1):   # at least one edit; shrinks toward one
        kind = d.choice(kinds)
        try:
            q = _STEPS[kind](d, p, lang, params)
        except _Untrackable:
            q = None  # this choice would cut an answer: skip it, the others still apply
        if q is not None:
            p = q
    return p


def perturb(question: str, context: str, answers: Sequence[tuple[str, int]], perturbations: Sequence[str],
            *, lang: str | None = None, params: Mapping[str, Any] | None = None) -> st.SearchStrategy[Perturbed]:
    """Variants of the case with 1..``params["max_edits"]`` edits of the given kinds.

    Raises InvalidArgument for an unknown perturbation or one that cannot apply to the
    case (see :func:`check_applicable`); ``lang`` defaults to the script of the texts.
    """
    params = dict(params or {})
    kinds = tuple(perturbations)
    if not kinds:
        raise InvalidArgument(f"perturb needs at least one perturbation, got {list(perturbations)!r}; "
                              f"choose from {', '.join(PERTURBATIONS)}")
    for kind in kinds:
        why = check_applicable(kind, question, context, answers, params, lang=lang)
        if why is not None:
            raise InvalidArgument(why)
    base = Perturbed.from_case(question, context, answers)
    return _composed(base, kinds, _lang(lang, question, context), params, int(params.get("max_edits", 3)))


def _single(kind: str, doc: str) -> Callable[..., st.SearchStrategy[Perturbed]]:
    def strategy(question: str, context: str, answers: Sequence[tuple[str, int]], *, lang: str | None = None,
                 params: Mapping[str, Any] | None = None) -> st.SearchStrategy[Perturbed]:
        return perturb(question, context, answers, (kind,), lang=lang, params=params)

    strategy.__name__ = strategy.__qualname__ = "case" if kind == "case" else kind
    strategy.__doc__ = doc + "\n\nSame arguments as :func:`perturb`, without ``perturbations``."
    return strategy


distractor = _single("distractor", "Insert distractor sentences (templates or params.sentences) without the answer.")
reorder = _single("reorder", "Swap sentences that do not hold an answer (identity when fewer than two).")
typos = _single("typos", "Swap/drop/insert/replace letters outside the answers; Korean: jamo and spacing edits.")
whitespace = _single("whitespace", "Double, newline or tab for a space; leading/trailing spaces.")
punctuation = _single("punctuation", "Drop or add punctuation in the context; toggle the question's '?'.")
letter_case = _single("case", "Lower/upper/title-case a word outside the answers.")
rephrase = _single("rephrase", "Rephrase the question: English contractions and prefixes; Korean endings/particles.")
rename_entity = _single("rename_entity", "Rename an entity everywhere; Korean particles follow the new name.")
change_number = _single("change_number", "Change a number of the answer everywhere it occurs (dates stay valid).")
