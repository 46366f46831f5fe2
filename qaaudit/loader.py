"""YAML with source positions: every mapping key, value and list item keeps its line and column.

The result is plain ``dict``/``list``/scalar data (``YMap``/``YList`` subclasses)
so that validation reads like ordinary Python, while every error can still
point at ``file:line:col``. Positions are 1-based, as editors show them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Hashable

import yaml

from qaaudit.errors import SpecError

__all__ = ["Mark", "YMap", "YList", "load_yaml", "load_yaml_text"]


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


def _mark(node: yaml.Node) -> Mark:
    raw = None
    if isinstance(node, yaml.ScalarNode) and node.style is None:
        raw = node.value
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1, raw)


class _PositionLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences remember where their parts are."""

    def __init__(self, stream: str, path: str) -> None:
        super().__init__(stream)
        self.qa_path = path

    def construct_positioned_map(self, node: yaml.MappingNode) -> YMap:
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        self.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor)
        data = YMap(mark=_mark(node))
        given: set = set()  # keys written in this mapping (a merged key may be overridden once)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            kmark = _mark(key_node)
            if not isinstance(key, Hashable) or isinstance(key, (YMap, YList)):
                raise SpecError("a mapping key must be a plain value, not a mapping or list",
                                path=self.qa_path, line=kmark.line, col=kmark.col)
            if key in given and id(key_node) in explicit:
                first = data.key_marks[key]
                raise SpecError(
                    f"duplicate key {key!r} (first given at line {first.line})",
                    path=self.qa_path, line=kmark.line, col=kmark.col,
                    hint="remove one of the two; YAML would silently keep only the last",
                )
            if id(key_node) in explicit:
                given.add(key)
            data[key] = self.construct_object(value_node, deep=True)
            data.key_marks[key] = kmark
            data.value_marks[key] = _mark(value_node)
        return data

    def construct_positioned_seq(self, node: yaml.SequenceNode) -> YList:
        data = YList(mark=_mark(node))
        for child in node.value:
            data.append(self.construct_object(child, deep=True))
            data.item_marks.append(_mark(child))
        return data


_PositionLoader.add_constructor("tag:yaml.org,2002:map", _PositionLoader.construct_positioned_map)
_PositionLoader.add_constructor("tag:yaml.org,2002:seq", _PositionLoader.construct_positioned_seq)


def _yaml_hint(problem: str) -> str:
    if "'\\t'" in problem:
        return "YAML indents with spaces, not tabs: replace the tab with spaces"
    if "another document" in problem:
        return "an audit file holds one YAML document: remove the `---` line or split the file"
    return "check the indentation and quoting here (quote values that hold ': ', ' #' or start with a symbol)"


def load_yaml_text(text: str, path: str | os.PathLike = "<string>") -> YMap:
    """Parse one YAML document whose top level must be a mapping."""
    path = str(path)
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise SpecError("the audit file is empty", path=path, line=1, col=1,
                        hint="start it with `cases:` (see docs/audit-format.md)")
    loader = _PositionLoader(text, path)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        raise SpecError(
            f"invalid YAML: {problem}", path=path,
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
            hint=_yaml_hint(problem),
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", path=path) from None
    finally:
        loader.dispose()
    if data is None:
        raise SpecError("the audit file is empty", path=path, line=1, col=1,
                        hint="start it with `cases:` (see docs/audit-format.md)")
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
