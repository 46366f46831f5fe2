"""Lexicons: the word lists that fill template slots.

Built-in lexicons ship as data files in ``qaaudit/lexicons/`` (``NAME.txt``: one entry a line,
``#`` comments; ``NAME.yaml``: a list of texts or of mappings with a ``text`` and further fields)
plus a few computed ones (numbers, years, dates). User lexicons come inline in an audit file, or
from a YAML, CSV or text file next to it. An entry is a mapping whose ``text`` fills ``{slot}``;
its other fields fill ``{slot.field}`` (``{adj.opposite}``).

Nothing here imports torch; the built-in files are read once per process and cached.
"""
from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from qaaudit.errors import SpecError

__all__ = ["Lexicon", "LexiconError", "builtin_names", "builtin", "from_entries", "from_range", "load_file",
           "LEXICON_SUFFIXES", "DATA_DIR"]

DATA_DIR = Path(__file__).resolve().parent / "lexicons"
LEXICON_SUFFIXES = (".yaml", ".yml", ".csv", ".txt")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
Entry = Mapping[str, str]


class LexiconError(ValueError):
    """A lexicon that cannot be used; ``line``/``col`` point into ``path`` when known."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, col: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.line, self.col, self.hint = message, path, line, col, hint


@dataclass(frozen=True)
class Lexicon:
    """A named, ordered list of distinct entries (each a mapping with at least ``text``)."""

    name: str
    entries: tuple[Entry, ...]
    source: str = "built-in"

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(e["text"] for e in self.entries)

    @property
    def fields(self) -> frozenset[str]:
        """The fields every entry has (``text`` always)."""
        if not self.entries:
            return frozenset(("text",))
        common = set(self.entries[0])
        for e in self.entries[1:]:
            common &= set(e)
        return frozenset(common)


def _entry(value: Any) -> Entry:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): str(v) for k, v in value.items()})
    return MappingProxyType({"text": str(value)})


def from_entries(name: str, values: Iterable[Any], source: str = "inline") -> Lexicon:
    """A lexicon from texts or mappings (each mapping needs ``text``); repeated texts are kept once."""
    seen: dict[str, Entry] = {}
    for value in values:
        entry = _entry(value)
        seen.setdefault(entry["text"], entry)
    return Lexicon(name, tuple(seen.values()), source)


def from_range(name: str, lo: int, hi: int, step: int = 1) -> Lexicon:
    """The whole numbers lo, lo + step, ..., up to hi (inclusive) as texts."""
    return Lexicon(name, tuple(MappingProxyType({"text": str(i)}) for i in range(lo, hi + 1, step)), "range")


def _dates() -> tuple[list[Entry], list[Entry]]:
    """Every day of 1950-2029 as Korean (1997년 5월 3일) and English (May 3, 1997) text, same order."""
    ko, en = [], []
    day = _dt.date(1950, 1, 1)
    # a fixed stride through the years keeps the list a few hundred long yet covers every month and day
    while day.year < 2030:
        fields = {"year": str(day.year), "month": str(day.month), "day": str(day.day)}
        ko.append(MappingProxyType({"text": f"{day.year}년 {day.month}월 {day.day}일", **fields}))
        en.append(MappingProxyType({"text": f"{_MONTHS[day.month - 1]} {day.day}, {day.year}", **fields,
                                    "month_name": _MONTHS[day.month - 1]}))
        day += _dt.timedelta(days=53)
    return ko, en


def _computed() -> dict[str, Lexicon]:
    ko_dates, en_dates = _dates()
    months_en = [MappingProxyType({"text": m, "number": str(i + 1)}) for i, m in enumerate(_MONTHS)]
    return {
        "number": from_range("number", 1, 1000),
        "small_number": from_range("small_number", 2, 20),
        "year": from_range("year", 1900, 2030),
        "korean_date": Lexicon("korean_date", tuple(ko_dates), "built-in"),
        "english_date": Lexicon("english_date", tuple(en_dates), "built-in"),
        "korean_month": Lexicon("korean_month", tuple(MappingProxyType({"text": f"{i}월", "number": str(i)})
                                                     for i in range(1, 13)), "built-in"),
        "english_month": Lexicon("english_month", tuple(months_en), "built-in"),
    }


@functools.lru_cache(maxsize=1)
def _files() -> Mapping[str, Path]:
    found: dict[str, Path] = {}
    if DATA_DIR.is_dir():
        for path in sorted(DATA_DIR.iterdir()):
            if path.suffix in LEXICON_SUFFIXES and not path.name.startswith("."):
                found.setdefault(path.stem, path)
    return found


@functools.lru_cache(maxsize=1)
def _computed_cached() -> Mapping[str, Lexicon]:
    return _computed()


def builtin_names() -> tuple[str, ...]:
    """The names of the built-in lexicons, sorted."""
    return tuple(sorted(set(_files()) | set(_computed_cached())))


@functools.lru_cache(maxsize=None)
def builtin(name: str) -> Lexicon | None:
    """The built-in lexicon ``name``, or None."""
    computed = _computed_cached()
    if name in computed:
        return computed[name]
    path = _files().get(name)
    if path is None:
        return None
    lex = load_file(path, name=name)
    return Lexicon(name, lex.entries, "built-in")


def load_file(path: str | os.PathLike, name: str | None = None) -> Lexicon:
    """A lexicon from a ``.txt`` (one entry a line), ``.yaml`` (a list) or ``.csv`` file (a header row; the
    ``text`` column, else the first, fills the slot; every column is a field). Raises LexiconError."""
    path = Path(path)
    name = name or path.stem
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LexiconError(f"lexicon file {str(path)!r} cannot be read ({exc.strerror or exc})", str(path),
                           hint="put the file next to the audit file, or give its path relative to it") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LexiconError(f"lexicon file {str(path)!r} is not UTF-8 text (byte {exc.start})", str(path),
                           hint="save it as UTF-8") from None
    suffix = path.suffix.lower()
    if suffix == ".txt":
        values = [line.strip() for line in text.splitlines()]
        values = [v for v in values if v and not v.startswith("#")]
    elif suffix == ".csv":
        values = _csv_rows(text, str(path))
    elif suffix in (".yaml", ".yml"):
        values = _yaml_items(text, str(path))
    else:
        raise LexiconError(f"lexicon file {str(path)!r} has suffix {suffix!r}", str(path),
                           hint=f"use one of {', '.join(LEXICON_SUFFIXES)}")
    if not values:
        raise LexiconError(f"lexicon file {str(path)!r} holds no entries", str(path), 1, 1,
                           hint="write one entry a line (.txt), a YAML list, or CSV rows under a header")
    return from_entries(name, values, str(path))


def _csv_rows(text: str, path: str) -> list[Entry]:
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if not all(header) or len(set(header)) != len(header):
        raise LexiconError(f"the header of {path!r} has an empty or repeated column name: {rows[0]!r}", path, 1, 1,
                           hint="the first row names the columns, e.g. text,gender")
    key = "text" if "text" in header else header[0]
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise LexiconError(f"row {i} of {path!r} has {len(row)} cells, the header {len(header)}", path, i, 1,
                               hint="quote cells that hold commas")
        fields = {h: c.strip() for h, c in zip(header, row)}
        if not fields[key]:
            raise LexiconError(f"row {i} of {path!r} has an empty {key!r}", path, i, 1, hint="fill it in or remove the row")
        out.append(MappingProxyType({**fields, "text": fields[key]}))
    return out


def _yaml_items(text: str, path: str) -> list[Any]:
    from qaaudit.loader import YList, YMap, load_yaml_text

    # the positioned loader reads documents that are mappings: the file's text goes under one key, indented, and
    # every position is moved back (one line, two columns)
    wrapped = "entries:\n" + "\n".join("  " + line for line in text.splitlines())
    try:
        data = _shift(load_yaml_text(wrapped, path)["entries"])
    except SpecError as exc:
        line = None if exc.line is None else max(1, exc.line - 1)
        col = None if exc.col is None else max(1, exc.col - 2)
        raise LexiconError(exc.message, path, line, col, exc.hint) from None
    if isinstance(data, YMap) and len(data) == 1 and isinstance(next(iter(data.values())), YList):
        data = next(iter(data.values()))   # `name: [...]` is the same as the list
    if not isinstance(data, YList):
        mark = getattr(data, "mark", None)
        raise LexiconError(f"lexicon file {path!r} must hold a list of entries", path,
                           getattr(mark, "line", 1), getattr(mark, "col", 1), hint="write `- entry` lines")
    return check_items(data, path, f"lexicon file {path!r}")


def _shift(value: Any) -> Any:
    """Positions of a value loaded one line down and two columns right, moved back in place."""
    from qaaudit.loader import Mark, YList, YMap

    def back(m: Mark) -> Mark:
        return Mark(max(1, m.line - 1), max(1, m.col - 2), m.raw)

    if isinstance(value, YMap):
        out = YMap(mark=back(value.mark))
        for k, v in value.items():
            out[k] = _shift(v)
            out.key_marks[k] = back(value.key_mark(k))
            out.value_marks[k] = back(value.value_mark(k))
        return out
    if isinstance(value, YList):
        out_list = YList(mark=back(value.mark))
        for i, v in enumerate(value):
            out_list.append(_shift(v))
            out_list.item_marks.append(back(value.item_mark(i)))
        return out_list
    return value


def check_items(items: Sequence[Any], path: str, where: str) -> list[Any]:
    """The entries of a YAML list, each a text or a mapping with ``text``; LexiconError at the first bad one."""
    from qaaudit.loader import YList, YMap

    out = []
    for i, item in enumerate(items):
        mark = items.item_mark(i) if isinstance(items, YList) else None
        line, col = (mark.line, mark.col) if mark is not None else (None, None)
        if isinstance(item, YMap):
            if "text" not in item:
                raise LexiconError(f"entry {i} of {where} is a mapping without `text`", path, line, col,
                                   hint="give each mapping a `text:` (what fills the slot)")
            bad = [k for k, v in item.items() if isinstance(v, (YMap, YList)) or v is None]
            if bad:
                raise LexiconError(f"field {bad[0]!r} of entry {i} of {where} is not a text", path, line, col,
                                   hint="fields are texts or numbers")
            out.append({str(k): (mark_raw(item, k)) for k in item})
        elif isinstance(item, YList) or item is None:
            raise LexiconError(f"entry {i} of {where} must be a text or a mapping", path, line, col,
                               hint="write `- text` or `- {text: ..., field: ...}`")
        else:
            raw = mark.raw if mark is not None and mark.raw is not None else item
            text = str(raw)
            if not text.strip():
                raise LexiconError(f"entry {i} of {where} is empty", path, line, col, hint="remove it")
            out.append(text)
    return out


def mark_raw(item: Any, key: Any) -> str:
    """A YAML value as the text written (``1997`` stays ``1997``, ``no`` stays ``no``)."""
    mark = item.value_mark(key)
    return str(mark.raw if mark.raw is not None else item[key])
