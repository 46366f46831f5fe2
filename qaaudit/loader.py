"""YAML with source positions: every mapping key, value and list item keeps its line and column.

The result is plain ``dict``/``list``/scalar data (``YMap``/``YList`` subclasses)
so that validation reads like ordinary Python, while every error can still
point at ``file:line:col``. Positions are 1-based, as editors show them.

The data is built straight from the parser's event stream (libyaml's C parser
where PyYAML has it, PyYAML's own otherwise): PyYAML's pure-Python scanner took
two minutes for a 10 MB dataset-sized audit file, and building from events
rather than through PyYAML's node graph lets the loader bound what a hostile
file can make it do (nesting depth, alias expansion) before anything walks the
data.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Hashable

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from qaaudit.errors import SpecError

__all__ = ["Mark", "YMap", "YList", "load_yaml", "load_yaml_text", "MAX_DEPTH", "MAX_ALIASES",
           "bad_character"]

# An audit file nests about six levels deep; anything far deeper is an accident or an attack
# (PyYAML's recursive composer hit Python's recursion limit at ~1,000 levels and aborted the session).
MAX_DEPTH = 64
# Aliases are shared, never copied, but every walk of the data expands them: a nine-level
# "billion laughs" file expands to 387 million values. An alias may add at most this many values to
# the document's expanded size beyond ten times the values actually written.
MAX_ALIASES = 100_000
_EXPANSION_ALLOWANCE = 100_000
_EXPANSION_FACTOR = 10

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "timestamp"))
_TEXT_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")
# What YAML forbids as raw text (C0 and C1 controls but tab, newline, CR and NEL; DEL; surrogates;
# U+FFFE/U+FFFF) may not come in through escapes either: a NUL or ESC in an id or an answer would
# reach the terminal and the report as it is, a lone surrogate cannot be written as UTF-8 at all.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def bad_character(text: str) -> str | None:
    """The first character of ``text`` that an audit file may not hold, as ``U+XXXX``; None if all are fine."""
    m = _BAD_CHARS.search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


@dataclass(frozen=True)
class Mark:
    """Where a node starts. ``raw`` is the source text of an unquoted scalar.

    ``raw`` lets text fields take ``answer: 1997`` or ``answer: no`` as the text
    the user wrote, rather than YAML 1.1's int 1997 or bool False.
    """

    line: int
    col: int
    raw: str | None = None


class YMap(dict):
    """A mapping with the position of itself, of each key and of each value."""

    mark: Mark
    key_marks: dict
    value_marks: dict

    def __init__(self, *args: Any, mark: Mark | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.mark = mark or Mark(1, 1)
        self.key_marks = {}
        self.value_marks = {}

    def key_mark(self, key: Hashable) -> Mark:
        return self.key_marks.get(key, self.mark)

    def value_mark(self, key: Hashable) -> Mark:
        return self.value_marks.get(key, self.key_mark(key))

    def __repr__(self) -> str:
        # never the whole document: pytest and debuggers repr values, and a shared (aliased) tree
        # can expand to millions of entries
        return f"<YMap of {len(self)} keys at line {self.mark.line}>"


class YList(list):
    """A sequence with the position of itself and of each item."""

    mark: Mark
    item_marks: list

    def __init__(self, *args: Any, mark: Mark | None = None) -> None:
        super().__init__(*args)
        self.mark = mark or Mark(1, 1)
        self.item_marks = []

    def item_mark(self, index: int) -> Mark:
        return self.item_marks[index] if 0 <= index < len(self.item_marks) else self.mark

    def __repr__(self) -> str:
        return f"<YList of {len(self)} items at line {self.mark.line}>"


def _yaml_hint(problem: str, at: str = "") -> str:
    if "'\\t'" in problem or "tab" in problem or at == "\t":
        return "YAML indents with spaces, not tabs: replace the tab with spaces"
    if "another document" in problem or "document" in problem and "single" in problem:
        return "an audit file holds one YAML document: remove the `---` line or split the file"
    if "escape" in problem:
        return "write the character itself, or a valid escape; \\ud800-\\udfff alone are halves of a pair, not text"
    return "check the indentation and quoting here (quote values that hold ': ', ' #' or start with a symbol)"


_EMPTY_HINT = "start it with `cases:` (see docs/audit-format.md)"


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("data", "anchor", "size", "key", "key_mark", "is_map", "explicit", "merges", "merge_mark")

    def __init__(self, data: YMap | YList, anchor: str | None, is_map: bool) -> None:
        self.data = data
        self.anchor = anchor
        self.size = 1
        self.is_map = is_map
        self.key: Any = _NO_KEY
        self.key_mark: Mark | None = None
        self.explicit: set = set()
        self.merges: list[tuple[Any, Mark]] = []
        self.merge_mark: Mark | None = None


_NO_KEY = object()


class _Builder:
    """Positioned data from a YAML event stream; every problem is a SpecError at its mark."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.anchors: dict[str, tuple[Any, int]] = {}   # anchor -> (value, expanded size)
        self.written = 0      # values as written in the file
        self.expanded = 0     # values once every alias is expanded
        self.aliases = 0
        self.resolver = Resolver()
        self.constructor = SafeConstructor()

    def fail(self, message: str, mark: Mark, hint: str | None = None) -> SpecError:
        return SpecError(message, path=self.path, line=mark.line, col=mark.col, hint=hint)

    @staticmethod
    def mark(event: Any, raw: str | None = None) -> Mark:
        return Mark(event.start_mark.line + 1, event.start_mark.column + 1, raw)

    def scalar(self, event: Any) -> tuple[Any, Mark]:
        value, style, tag = event.value, event.style, event.tag
        plain = not style  # None from PyYAML's parser, "" from libyaml's
        mark = self.mark(event, value if plain else None)
        bad = bad_character(value)
        if bad is not None:
            raise self.fail(f"this text holds the character {bad}, which an audit file may not contain "
                            f"(a control character or half of a surrogate pair)", mark,
                            "remove the escape sequence that writes it")
        if tag is None or tag == "!":
            if not plain:
                return value, mark
            tag = self.resolver.resolve(yaml.ScalarNode, value, (True, False))
        if tag == _STR or tag in _TEXT_TAGS:  # `<<` (a merge key) and `=` are text unless used as such
            return value, mark
        construct = self.constructor.yaml_constructors.get(tag) if tag in _SCALAR_TAGS else None
        if construct is None:
            raise self.fail(f"the YAML tag {tag!r} is not supported in audit files", mark,
                            "remove the tag: write plain values, lists and mappings")
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, style)
        try:
            return construct(self.constructor, node), mark
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            raise self.fail(f"{value!r} is not a valid {tag.rsplit(':', 1)[-1]} ({exc})", mark,
                            "quote the value to keep it as text") from None

    def build(self, events: Any) -> Any:
        """The single document of ``events`` as positioned data (None for an empty document)."""
        stack: list[_Frame] = []
        root: Any = None
        root_seen = False
        for event in events:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                value, mark = self.scalar(event)
                size = 1
                self.written += 1
                self.expanded += 1
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
            elif kind is yaml.AliasEvent:
                mark = self.mark(event)
                found = self.anchors.get(event.anchor)
                if found is None:
                    raise self.fail(f"the alias *{event.anchor} names no anchor defined before it", mark,
                                    f"define `&{event.anchor}` on a value above this line (and outside it)")
                value, size = found
                self.aliases += 1
                self.expanded += size
                limit = _EXPANSION_ALLOWANCE + _EXPANSION_FACTOR * self.written
                if self.aliases > MAX_ALIASES or self.expanded > limit:
                    raise self.fail(
                        f"aliases expand this file to more than {limit:,} values ({self.aliases:,} aliases); "
                        "qaaudit stops here (a file built like a 'billion laughs' attack)", mark,
                        "write the values out, or use fewer and smaller aliases")
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                mark = self.mark(event)
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(f"the file nests lists and mappings more than {MAX_DEPTH} levels deep", mark,
                                    "an audit file needs a handful of levels: check the brackets and indentation")
                is_map = kind is yaml.MappingStartEvent
                if event.tag not in (None, "!", _MAP if is_map else _SEQ):
                    raise self.fail(f"the YAML tag {event.tag!r} is not supported in audit files", mark,
                                    "remove the tag: write plain values, lists and mappings")
                self.written += 1
                self.expanded += 1
                stack.append(_Frame(YMap(mark=mark) if is_map else YList(mark=mark), event.anchor, is_map))
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                if frame.is_map and frame.merges:
                    self.merge(frame)
                value, size, mark = frame.data, frame.size, frame.data.mark
                if frame.anchor:
                    self.anchors[frame.anchor] = (value, size)
            elif kind is yaml.DocumentStartEvent:
                if root_seen:
                    raise self.fail("invalid YAML: expected a single document in the stream, but found another "
                                    "document", self.mark(event), _yaml_hint("another document"))
                continue
            elif kind is yaml.DocumentEndEvent:
                root_seen = True
                continue
            else:  # stream start and end
                continue
            if not stack:
                root = value
                continue
            self.add(stack[-1], value, mark, size)
        return root

    def add(self, frame: _Frame, value: Any, mark: Mark, size: int) -> None:
        frame.size += size
        if not frame.is_map:
            frame.data.append(value)
            frame.data.item_marks.append(mark)
            return
        if frame.key is _NO_KEY:
            if isinstance(value, (YMap, YList)) or not isinstance(value, Hashable):
                raise self.fail("a mapping key must be a plain value, not a mapping or list", mark)
            frame.key, frame.key_mark = value, mark
            return
        key, kmark = frame.key, frame.key_mark
        frame.key = _NO_KEY
        if key == "<<" and kmark.raw == "<<":   # a YAML merge key: its mappings fill in the keys not given here
            sources = value if isinstance(value, YList) else [value]
            for i, src in enumerate(sources):
                if not isinstance(src, YMap):
                    raise self.fail("a merge key (<<) takes a mapping or a list of mappings", mark)
                frame.merges.append((src, mark))
            return
        data: YMap = frame.data
        if key in frame.explicit:
            first = data.key_marks[key]
            raise self.fail(f"duplicate key {key!r} (first given at line {first.line})", kmark,
                            "remove one of the two; YAML would silently keep only the last")
        frame.explicit.add(key)
        data[key] = value
        data.key_marks[key] = kmark
        data.value_marks[key] = mark

    @staticmethod
    def merge(frame: _Frame) -> None:
        """YAML merge keys: keys written in the mapping win, then earlier merged mappings over later ones."""
        data: YMap = frame.data
        for src, _ in frame.merges:
            for key, value in src.items():
                if key in data:
                    continue
                data[key] = value
                data.key_marks[key] = src.key_mark(key)
                data.value_marks[key] = src.value_mark(key)


def _events(text: str) -> Any:
    """The event stream of ``text``: libyaml's C parser where available, PyYAML's otherwise."""
    if getattr(yaml, "__with_libyaml__", False):
        parser = yaml.cyaml.CParser(text)
    else:  # pragma: no cover - PyYAML built without libyaml
        parser = yaml.SafeLoader(text)
    try:
        while True:
            event = parser.get_event()
            if event is None:
                return
            yield event
            if isinstance(event, yaml.StreamEndEvent):
                return
    finally:
        parser.dispose()


def _reader_position(text: str, position: int, c_parser: bool) -> tuple[int, int]:
    """1-based line and column of a reader error's offset (libyaml counts UTF-8 bytes, PyYAML characters)."""
    if c_parser:
        position = len(text.encode("utf-8", "surrogatepass")[:position].decode("utf-8", "ignore"))
    before = text[:position]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1) + 1


def load_yaml_text(text: str, path: str | os.PathLike = "<string>") -> YMap:
    """Parse one YAML document whose top level must be a mapping."""
    path = str(path)
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise SpecError("the audit file is empty", path=path, line=1, col=1, hint=_EMPTY_HINT)
    bad = _BAD_CHARS.search(text)
    if bad is not None:  # before the parser, which would name a byte offset
        line, col = _reader_position(text, bad.start(), False)
        raise SpecError(f"the file holds the control character U+{ord(bad.group()):04X}, which YAML does not allow",
                        path=path, line=line, col=col,
                        hint="remove it (an editor's 'show invisibles' finds it), or save the file as plain text")
    builder = _Builder(path)
    try:
        data = builder.build(_events(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and mark is not None and mark.line >= text.count("\n"):
            mark = exc.context_mark  # at the end of the file (an unclosed bracket): where it was opened
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        at = ""
        if mark is not None:
            lines = text.splitlines()
            if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
                at = lines[mark.line][mark.column]
        raise SpecError(
            f"invalid YAML: {problem}", path=path,
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
            hint=_yaml_hint(problem, at),
        ) from None
    except yaml.reader.ReaderError as exc:
        line, col = _reader_position(text, exc.position, getattr(yaml, "__with_libyaml__", False))
        raise SpecError(f"invalid YAML: {exc.reason} (character #x{exc.character:04x})", path=path,
                        line=line, col=col, hint="remove the character") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {str(exc)[:300]}", path=path) from None
    if data is None:
        raise SpecError("the audit file is empty", path=path, line=1, col=1, hint=_EMPTY_HINT)
    if not isinstance(data, YMap):
        kind = "a list" if isinstance(data, YList) else f"the value {data!r}"
        mark = data.mark if isinstance(data, YList) else Mark(1, 1)
        raise SpecError(
            f"the top level of an audit file must be a mapping, not {kind}",
            path=path, line=mark.line, col=mark.col,
            hint="write `cases:` followed by a list of cases (and optionally `model:` and `defaults:`)",
        )
    return data


def load_yaml(path: str | os.PathLike) -> YMap:
    """Read ``path`` (UTF-8) and parse it with positions; every failure is a ``SpecError``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SpecError(f"cannot read the audit file: {exc.strerror or exc}", path=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"the audit file is not UTF-8 text (byte {raw[exc.start]:#04x})",
                        path=str(path), line=line, hint="save the file as UTF-8") from None
    return load_yaml_text(text, path)
