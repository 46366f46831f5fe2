"""Templates: the ``templates:`` section of an audit file, each entry generating many cases from lexicons.

A template's ``context``, ``question`` and ``answer`` hold slots: ``{p1}`` (the filled text), ``{p1:이/가}``
(the text and the Korean particle that agrees with its final consonant, via :mod:`qaaudit.korean`),
``{adj.opposite}`` (a field of a lexicon entry); ``{{`` and ``}}`` are literal braces. Slots are filled from a
built-in lexicon (:mod:`qaaudit.lexicons`), a lexicon of the file (``lexicons:``), a lexicon file next to the
audit file, an inline list, or a number range.

Generation is deterministic: the random generator is seeded from the audit file's name, the template id and
``seed`` (never from ``hash()``, which changes between processes), so every machine and every xdist worker
draws the same cases. Each generated case is an ordinary :class:`qaaudit.spec.Case`, validated like a hand-written
one (its gold answer must occur in its context), with ``origin`` = "template <id>#<index>".
"""
from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from qaaudit.korean import PARTICLE_PAIRS, attach
from qaaudit.lexicons import (LEXICON_SUFFIXES, Lexicon, LexiconError, builtin, builtin_names, check_items,
                              from_entries, from_range, load_file)
from qaaudit.loader import Mark, YList, YMap
from qaaudit.schema import did_you_mean

__all__ = ["Template", "TemplateBuilder", "Placeholder", "parse_placeholders", "fill", "derive_seed", "language_of",
           "DEFAULT_N", "TEMPLATE_ONLY_KEYS"]

DEFAULT_N = 20
# keys of a template that a generated case does not have
TEMPLATE_ONLY_KEYS = ("capability", "description", "language", "slots", "distinct", "n", "seed", "min_pass_rate")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}:.\s]+)(?:\.([^{}:\s]+))?(?::([^{}]+))?\}|[{}]")
_PARTICLE_NAMES = tuple(f"{a}/{b}" for a, b in PARTICLE_PAIRS)
_PARTICLE_FORMS = {form for pair in PARTICLE_PAIRS for form in pair}
_MAX_RANGE = 1_000_000      # numbers a {range: [lo, hi]} slot may hold
_ENUMERATE_LIMIT = 200_000   # slot combinations enumerated outright when random draws fall short


@dataclass(frozen=True)
class Placeholder:
    """``{slot.field:particle}`` at ``offset`` in its text."""

    slot: str
    field: str | None
    particle: str | None
    offset: int


@dataclass(frozen=True)
class Template:
    """One ``templates:`` entry and the cases it generated (``values[i]`` filled ``cases[i]``)."""

    id: str
    line: int
    capability: str
    language: str
    min_pass_rate: float
    n: int
    seed: int
    tags: tuple[str, ...]
    cases: tuple[Any, ...]
    values: tuple[Mapping[str, str], ...]
    description: str = ""
    xfail: str | None = None
    skip: str | None = None
    slots: tuple[str, ...] = field(default=())


def derive_seed(file_name: str, template_id: str, seed: int) -> int:
    """The generator's seed: stable across processes, machines and Python versions."""
    digest = hashlib.sha256(f"{file_name}\x00{template_id}\x00{seed}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def language_of(*texts: str) -> str:
    """``ko`` for text with Hangul, ``en`` otherwise (the capability table's language column)."""
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for t in texts for ch in t) else "en"


def parse_placeholders(text: str) -> tuple[list[Placeholder], list[tuple[int, str]]]:
    """The placeholders of ``text`` and its problems as (offset, message)."""
    found, problems = [], []
    for m in _PLACEHOLDER.finditer(text):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            problems.append((m.start(), f"a lone {token!r} (write {token * 2!r} for a literal brace, or "
                                        f"{{slot}} for a slot)"))
            continue
        slot, fld, particle = m.group(1), m.group(2), m.group(3)
        if particle is not None:
            forms = particle.split("/")
            if not all(f in _PARTICLE_FORMS for f in forms) or len(forms) > 2:
                problems.append((m.start(), f"{particle!r} in {token!r} is not a Korean particle pair this "
                                            f"version knows;{did_you_mean(particle, _PARTICLE_NAMES)} known: "
                                            f"{', '.join(_PARTICLE_NAMES)}"))
                continue
        found.append(Placeholder(slot, fld, particle, m.start()))
    return found, problems


def _suggest(value: str, choices: Sequence[str]) -> str:
    """Like ``schema.did_you_mean``, tolerant enough for short slot names (p3 -> p1)."""
    import difflib

    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f" did you mean {close[0]!r}?" if close else ""


def _value(entry: Mapping[str, str], fld: str | None) -> str:
    return entry["text"] if fld is None else entry[fld]


def fill(text: str, values: Mapping[str, Mapping[str, str]]) -> str:
    """``text`` with every placeholder filled from ``values`` (slot -> lexicon entry)."""
    def sub(m: re.Match) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        word = _value(values[m.group(1)], m.group(2))
        return attach(word, m.group(3)) if m.group(3) else word
    return _PLACEHOLDER.sub(sub, text)


class TemplateBuilder:
    """Builds the templates of one file: resolves lexicons, draws the cases and validates each.

    ``add(message, mark, hint)`` reports a problem at its position; ``build_case(raw, mark)`` is
    :meth:`qaaudit.spec._Builder.case` with the file's defaults bound (a generated case is checked exactly as
    a hand-written one); ``known_problems()`` counts the problems so far.
    """

    def __init__(self, path: str, add: Callable[..., None], build_case: Callable[[YMap, Mark], Any],
                 known_problems: Callable[[], int], file_lexicons: YMap | None,
                 default_min_pass_rate: float | None) -> None:
        self.path = path
        self.add = add
        self.build_case = build_case
        self.known_problems = known_problems
        self.base = Path(path).parent
        self.default_min_pass_rate = 1.0 if default_min_pass_rate is None else default_min_pass_rate
        self.file_lexicons: dict[str, Lexicon] = {}
        if file_lexicons:
            for name, value in file_lexicons.items():
                lex = self.lexicon_value(name, value, file_lexicons.value_mark(name), allow_name=False)
                if lex is not None:
                    self.file_lexicons[name] = lex

    # -- lexicons -------------------------------------------------------------------------------
    def lexicon_value(self, name: str, value: Any, mark: Mark, *, allow_name: bool = True) -> Lexicon | None:
        """A slot's (or the file's ``lexicons:``) source: a name, a file, a list or ``{range: [lo, hi]}``."""
        if isinstance(value, YList):
            try:
                return from_entries(name, check_items(value, self.path, f"lexicon {name!r}"), "inline")
            except LexiconError as exc:
                self.add(exc.message, Mark(exc.line or mark.line, exc.col or mark.col), exc.hint)
                return None
        if isinstance(value, YMap) and "range" in value:
            bounds = value["range"]
            if len(bounds) != 2:
                self.add(f"range of {name!r} must be [lo, hi], got {len(bounds)} numbers", value.value_mark("range"),
                         "write e.g. {range: [1, 100]}")
                return None
            lo, hi = bounds
            step = value.get("step", 1)
            if (hi - lo) // step + 1 > _MAX_RANGE:
                self.add(f"range [{lo}, {hi}] of {name!r} holds more than {_MAX_RANGE:,} numbers",
                         value.value_mark("range"), "narrow it, or give a `step`")
                return None
            if lo > hi:
                self.add(f"range [{lo}, {hi}] of {name!r} is empty", value.value_mark("range"),
                         f"write [{hi}, {lo}]")
                return None
            return from_range(name, lo, hi, step)
        if isinstance(value, YMap) and "file" in value:
            return self.lexicon_file(name, value["file"], value.value_mark("file"))
        if isinstance(value, YMap) and "lexicon" in value:
            value, mark = value["lexicon"], value.value_mark("lexicon")
        if isinstance(value, str) and Path(value).suffix.lower() in LEXICON_SUFFIXES:
            return self.lexicon_file(name, value, mark)
        if isinstance(value, str) and allow_name:
            lex = self.file_lexicons.get(value) or builtin(value)
            if lex is None:
                known = sorted(set(self.file_lexicons) | set(builtin_names()))
                self.add(f"unknown lexicon {value!r} for slot {name!r};{did_you_mean(value, known)}".rstrip(";"),
                         mark, "name a built-in lexicon (" + ", ".join(builtin_names()) + "), one of the file's "
                         "`lexicons:`, a lexicon file (names.yaml, names.csv, names.txt), a list or {range: [1, 100]}")
            return lex
        self.add(f"lexicon {name!r} must be a list of entries or a file name, got {value!r}", mark,
                 "write `[a, b, c]` or `names.yaml` (a file next to the audit file)")
        return None

    def lexicon_file(self, name: str, rel: str, mark: Mark) -> Lexicon | None:
        path = Path(rel) if Path(rel).is_absolute() else self.base / rel
        try:
            return load_file(path, name=name)
        except LexiconError as exc:
            if exc.line is not None:  # a problem inside the lexicon file: point there
                from qaaudit.errors import SpecError

                self.add_error(SpecError(exc.message, path=str(path), line=exc.line, col=exc.col,
                                         hint=exc.hint))
            else:
                self.add(exc.message, mark, exc.hint)
            return None

    def add_error(self, error: Any) -> None:
        # a problem located in another file (a lexicon next to the audit file)
        self.add(error.message, Mark(error.line or 1, error.col or 1),
                 (error.hint or "") + f" (in {error.path}:{error.line}:{error.col})")

    # -- one template ---------------------------------------------------------------------------
    def template(self, raw: YMap, mark: Mark, file_name: str) -> Template | None:
        tid = raw["id"]
        before = self.known_problems()
        slots: dict[str, Lexicon] = {}
        for name, value in raw["slots"].items():
            lex = self.lexicon_value(name, value, raw["slots"].value_mark(name))
            if lex is not None:
                slots[name] = lex
        texts = self.template_texts(raw)
        used: set[str] = set()
        for key, text, tmark in texts:
            placeholders, problems = parse_placeholders(text)
            for offset, message in problems:
                self.add(f"{key} of template {tid!r}: {message}", _at(tmark, text, offset))
            for ph in placeholders:
                used.add(ph.slot)
                if ph.slot not in raw["slots"]:
                    self.add(f"{key} of template {tid!r} uses the slot {{{ph.slot}}}, which `slots` does not define;"
                             f"{_suggest(ph.slot, list(raw['slots']))}".rstrip(";"), _at(tmark, text, ph.offset),
                             f"define it under `slots:` (e.g. `{ph.slot}: korean_name`) or fix the name")
                elif ph.field is not None and ph.slot in slots and ph.field not in slots[ph.slot].fields:
                    fields = sorted(slots[ph.slot].fields)
                    self.add(f"{key} of template {tid!r}: the entries of slot {ph.slot!r} have no field "
                             f"{ph.field!r};{_suggest(ph.field, fields)}".rstrip(";"), _at(tmark, text, ph.offset),
                             f"fields of this lexicon: {', '.join(fields)}")
        for name in raw["slots"]:
            if name not in used:
                self.add(f"slot {name!r} of template {tid!r} is used nowhere", raw["slots"].key_mark(name),
                         f"remove it, or write {{{name}}} in the context or question")
        groups = self.distinct_groups(raw, tid)
        if self.known_problems() > before:
            return None
        n = raw.get("n", DEFAULT_N)
        seed = raw.get("seed", 0)
        drawn = self.draw(raw, slots, groups, n, seed, file_name, texts)
        if drawn is None:
            return None
        cases, values = [], []
        for i, chosen in enumerate(drawn):
            case_raw = self.case_raw(raw, chosen, f"{tid}[{i}]")
            known = self.known_problems()
            case = self.build_case(case_raw, mark)
            if self.known_problems() > known:   # every generated case would say the same: the first one tells
                return None
            if case is None:
                return None
            from dataclasses import replace

            cases.append(replace(case, origin=f"template {tid}#{i}"))
            values.append({k: v["text"] for k, v in chosen.items()})
        context = raw["context"]
        language = raw.get("language") or language_of(context, raw["question"])
        return Template(id=tid, line=mark.line, capability=raw["capability"], language=language,
                        min_pass_rate=raw.get("min_pass_rate", self.default_min_pass_rate), n=n, seed=seed,
                        tags=cases[0].tags if cases else (), cases=tuple(cases), values=tuple(values),
                        description=raw.get("description", ""), xfail=raw.get("xfail"), skip=raw.get("skip"),
                        slots=tuple(raw["slots"]))

    @staticmethod
    def template_texts(raw: YMap) -> list[tuple[str, str, Mark]]:
        out = [(k, raw[k], raw.value_mark(k)) for k in ("context", "question") if k in raw]
        if isinstance(raw.get("answer"), str):
            out.append(("answer", raw["answer"], raw.value_mark("answer")))
        for i, a in enumerate(raw.get("answers", ())):
            if isinstance(a, str):
                out.append((f"answers[{i}]", a, raw["answers"].item_mark(i)))
        return out

    def distinct_groups(self, raw: YMap, tid: str) -> list[tuple[str, ...]]:
        value = raw.get("distinct", YList())
        if value and all(isinstance(v, str) for v in value):
            items = [(tuple(value), [value.item_mark(i) for i in range(len(value))])]
        else:
            items = [(tuple(v), [v.item_mark(j) for j in range(len(v))]) if isinstance(v, YList)
                     else ((v,), [value.item_mark(i)]) for i, v in enumerate(value)]
        groups = []
        for names, marks in items:
            for name, mark in zip(names, marks):
                if name not in raw["slots"]:
                    self.add(f"distinct of template {tid!r} names {name!r}, which is not a slot;"
                             f"{_suggest(name, list(raw['slots']))}".rstrip(";"), mark,
                             f"slots of this template: {', '.join(raw['slots'])}")
            if len(names) > 1:
                groups.append(names)
        return groups

    def draw(self, raw: YMap, slots: Mapping[str, Lexicon], groups: Sequence[tuple[str, ...]], n: int, seed: int,
             file_name: str, texts: Sequence[tuple[str, str, Mark]]) -> list[dict[str, Mapping[str, str]]] | None:
        """``n`` slot assignments whose filled question/context/answer are pairwise distinct, or None (reported)."""
        tid = raw["id"]
        names = list(slots)
        rng = random.Random(derive_seed(file_name, tid, seed))
        size = math.prod(len(slots[k]) for k in names)
        key_texts = [t for _, t, _ in texts]

        def ok(chosen: Mapping[str, Mapping[str, str]]) -> bool:
            return all(len({chosen[s]["text"] for s in g}) == len(g) for g in groups)

        out: list[dict[str, Mapping[str, str]]] = []
        seen: set[tuple[str, ...]] = set()

        def take(chosen: dict[str, Mapping[str, str]]) -> None:
            if not ok(chosen):
                return
            key = tuple(fill(t, chosen) for t in key_texts)
            if key not in seen:
                seen.add(key)
                out.append(chosen)

        attempts = 30 * n + 200
        if size > 4 * n:
            while len(out) < n and attempts > 0:
                attempts -= 1
                take({k: slots[k].entries[rng.randrange(len(slots[k]))] for k in names})
        if len(out) < n and size <= _ENUMERATE_LIMIT:
            # few combinations (or unlucky draws): go through all of them, in an order drawn from the seed
            out.clear()
            seen.clear()
            combos = list(itertools.product(*(range(len(slots[k])) for k in names)))
            rng.shuffle(combos)
            for combo in combos:
                take({k: slots[k].entries[j] for k, j in zip(names, combo)})
                if len(out) == n:
                    break
        if len(out) < n:
            possible = "only " + str(len(out)) if size <= _ENUMERATE_LIMIT else f"no more than {len(out)} found in " \
                f"{30 * n + 200} draws of"
            self.add(f"template {tid!r} cannot produce n = {n} distinct cases: it has {possible} distinct "
                     f"fillings of its slots ({', '.join(f'{k}: {len(slots[k])} entries' for k in names)}"
                     f"{'; distinct: ' + ', '.join('/'.join(g) for g in groups) if groups else ''})",
                     raw.value_mark("n") if "n" in raw else raw.mark,
                     f"lower n to {len(out)}, add entries to the lexicons, or add a slot" if out else
                     "check the lexicons and `distinct`")
            return None
        return out

    def case_raw(self, raw: YMap, chosen: Mapping[str, Mapping[str, str]], case_id: str) -> YMap:
        """The generated case as positioned YAML (at the template's marks), ready for the case builder."""
        out = YMap(mark=raw.mark)
        for key, value in raw.items():
            if key in TEMPLATE_ONLY_KEYS:
                continue
            out[key] = case_id if key == "id" else _substitute(value, chosen)
            out.key_marks[key] = raw.key_mark(key)
            out.value_marks[key] = raw.value_mark(key)
        return out


def _substitute(value: Any, chosen: Mapping[str, Mapping[str, str]]) -> Any:
    """Slots filled in every text; ``{slot: p1}`` (an expectation target) becomes ``{text: <filled p1>}``."""
    if isinstance(value, str):
        return fill(value, chosen) if "{" in value or "}" in value else value
    if isinstance(value, YMap):
        if set(value) == {"slot"} and value["slot"] in chosen:
            out = YMap(mark=value.mark)
            out["text"] = chosen[value["slot"]]["text"]
            out.key_marks["text"] = value.key_mark("slot")
            out.value_marks["text"] = value.value_mark("slot")
            return out
        out = YMap(mark=value.mark)
        for k, v in value.items():
            out[k] = _substitute(v, chosen)
            out.key_marks[k] = value.key_mark(k)
            out.value_marks[k] = value.value_mark(k)
        return out
    if isinstance(value, YList):
        out_list = YList(mark=value.mark)
        for i, v in enumerate(value):
            out_list.append(_substitute(v, chosen))
            out_list.item_marks.append(value.item_mark(i))
        return out_list
    return value


def _at(mark: Mark, text: str, offset: int) -> Mark:
    """The position of ``text[offset]`` where the value is written on one line as it is (plain or quoted);
    the value's own position otherwise."""
    if "\n" in text[:offset]:
        return mark
    quoted = mark.raw is None
    return Mark(mark.line, mark.col + offset + (1 if quoted else 0))
