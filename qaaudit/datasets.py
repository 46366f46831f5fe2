"""Datasets as sources of cases: an audit file's ``datasets:`` list names SQuAD / KorQuAD JSON or JSON-lines files.

Each question becomes a case as if it were written under ``cases:`` (the file's ``defaults`` apply, its id is
the question id, its origin the dataset path and question id), read straight from JSON: a 10,570-question dev
set is collected without a 12 MB YAML file and its loader. ``qaaudit import squad`` stays for people who want
to edit the cases.

An entry::

    datasets:
      - path: data/dev-v1.1.json     # relative to the audit file
        format: auto                 # auto (default: jsonl by extension, else SQuAD/KorQuAD JSON) | squad | korquad | jsonl
        limit: 1000                  # the first n questions (after ids), or
        sample: 500                  # a random n of them, kept in file order,
        seed: 13                     #   drawn with this seed (default 0)
        ids: [q1, q2]                # only these question ids
        tags: [dev]                  # added to every case (besides the dataset's and the article's tag)
        normalization: squad         # default: the file's `normalization:` if set, else the dataset's script

Problems in the dataset (bad JSON, missing fields, answers not in the context, duplicate ids) are SpecErrors
naming the dataset's path, the question id (and the JSON path, or the line of a JSON-lines file).
"""
from __future__ import annotations

import difflib
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from qaaudit.errors import SpecError, SquadFormatError
from qaaudit.loader import Mark, YList, YMap, bad_character
from qaaudit.progress import collection_progress
from qaaudit.squad import SquadAnswer, SquadQuestion, read_squad, slugify_tag

__all__ = ["DATASET_FORMATS", "DatasetQuestions", "read_dataset", "select_questions", "dataset_cases"]

DATASET_FORMATS: tuple[str, ...] = ("auto", "squad", "korquad", "jsonl")
PROGRESS_MIN = 2000   # questions of one entry from which building its cases says how far it got (~0.3 ms each)


@dataclass(frozen=True)
class DatasetQuestions:
    """The questions of a dataset file and the official script that scores them."""

    path: str
    flavour: str                 # "SQuAD v1.1" | "SQuAD v2.0" | "KorQuAD 1.0" | "JSON lines"
    normalization: str           # squad | squad2 | korquad | auto
    questions: tuple[SquadQuestion, ...]
    lines: dict[str, int]        # question id -> line (JSON lines only)


class DatasetError(SpecError):
    """A problem inside a dataset a ``datasets:`` entry names."""


def _jsonl_answer(raw: Any, where: str, context: str, fail: Any) -> SquadAnswer:
    if isinstance(raw, str):
        start = context.find(raw)
        return SquadAnswer(raw, start if start >= 0 else -1)
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise fail(f"{where}: expected a text or an object with text and answer_start, got {json.dumps(raw)[:60]}")
    start = raw.get("answer_start", raw.get("start"))
    if start is None:
        found = context.find(raw["text"])
        return SquadAnswer(raw["text"], found if found >= 0 else -1)
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise fail(f"{where}.answer_start: expected a whole number >= 0, got {json.dumps(start)[:40]}")
    return SquadAnswer(raw["text"], start)


def _read_jsonl(path: Path) -> DatasetQuestions:
    """One question a line: ``{"id", "question", "context", "answers": [text | {text, answer_start}]}``;
    ``is_impossible``/``unanswerable: true`` with no answers for a question without one; ``title`` optional."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SquadFormatError(f"{path}: not UTF-8 text (byte {exc.start}); JSON lines files are UTF-8") from None
    questions: list[SquadQuestion] = []
    lines: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue

        def fail(what: str, qid: str | None = None) -> SquadFormatError:
            return SquadFormatError(f"{path}:{n}: " + (f"question {qid!r}: " if qid else "") + what)

        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SquadFormatError(f"{path}:{n}:{exc.colno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise fail(f"expected an object with id, question, context and answers, got {line.strip()[:60]}")
        qid = obj.get("id")
        if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
            raise fail(f"expected an id (a string), got {json.dumps(qid)[:40]}")
        qid = str(qid)
        if qid in lines:
            raise fail(f"id {qid!r} is used again (first at line {lines[qid]}); ids must be unique")
        for key in ("question", "context"):
            if not isinstance(obj.get(key), str):
                raise fail(f"{key}: " + ("missing" if key not in obj else f"expected a string, got "
                                         f"{json.dumps(obj[key])[:40]}"), qid)
        context = obj["context"]
        raw_answers = obj.get("answers", [])
        if not isinstance(raw_answers, list):
            raise fail(f"answers: expected a list, got {json.dumps(raw_answers)[:40]}", qid)
        answers = tuple(_jsonl_answer(a, f"answers[{i}]", context, lambda m: fail(m, qid))
                        for i, a in enumerate(raw_answers))
        impossible = bool(obj.get("is_impossible") or obj.get("unanswerable"))
        if impossible and answers:
            raise fail("is marked unanswerable but gives answers", qid)
        if not impossible and not answers:
            raise fail("answers: expected at least one answer (or \"is_impossible\": true)", qid)
        title = obj.get("title") if isinstance(obj.get("title"), str) else None
        lines[qid] = n
        questions.append(SquadQuestion(qid, obj["question"], context, answers, impossible, (), title, f"line {n}"))
    return DatasetQuestions(str(path), "JSON lines", "auto", tuple(questions), lines)


def read_dataset(path: str | Path, fmt: str = "auto") -> DatasetQuestions:
    """Read a dataset file; raises SquadFormatError naming the file, the place and the question id."""
    p = Path(path)
    if not p.is_file():
        raise SquadFormatError(f"dataset {str(p)!r} does not exist" if not p.exists() else f"{p} is not a file")
    if fmt == "jsonl" or (fmt == "auto" and p.suffix.lower() in (".jsonl", ".ndjson")):
        return _read_jsonl(p)
    data = read_squad(p)
    normalization = "korquad" if fmt == "korquad" else data.normalization
    return DatasetQuestions(str(p), data.flavour, normalization, data.questions, {})


def select_questions(questions: Sequence[SquadQuestion], *, ids: Sequence[str] | None = None,
                     limit: int | None = None, sample: int | None = None, seed: int | None = None
                     ) -> list[SquadQuestion]:
    """``ids`` (in file order), then the first ``limit`` or a ``seed``-ed random ``sample`` kept in file order.

    Raises KeyError with the first unknown id."""
    chosen = list(questions)
    if ids is not None:
        wanted = set(ids)
        known = {q.id for q in chosen}
        for i in ids:
            if i not in known:
                raise KeyError(i)
        chosen = [q for q in chosen if q.id in wanted]
    if limit is not None:
        chosen = chosen[:limit]
    if sample is not None and sample < len(chosen):
        picked = set(random.Random(0 if seed is None else seed).sample(range(len(chosen)), sample))
        chosen = [q for i, q in enumerate(chosen) if i in picked]
    return chosen


def _where(data: DatasetQuestions, q: SquadQuestion) -> str:
    line = data.lines.get(q.id)
    return f"{data.path}:{line}" if line else f"{data.path} ({q.path})"


def _raw_case(q: SquadQuestion, data: DatasetQuestions, tags: list[str], normalization: str, mark: Mark,
              ) -> YMap:
    """The question as the YAML a user would have written under ``cases:`` (positions: the entry's)."""
    if not q.id.strip() or any(ch < " " or ch in "\x7f\u2028\u2029" for ch in q.id):
        raise DatasetError(f"dataset {_where(data, q)}: question id {q.id!r} is not one line of visible text, "
                           "which a pytest node id needs", hint="give the question a plain id")
    texts = [("question", q.question), ("context", q.context), ("title", q.title or "")]
    texts += [("answer", a.text) for a in q.answers]
    for field, text in texts:   # the report and the cache must be able to write every text of a case
        bad = bad_character(text)
        if bad is not None:
            raise DatasetError(f"dataset {_where(data, q)}: question {q.id!r}: its {field} holds the character {bad} "
                               f"(a control character or half of a surrogate pair), which no case may hold",
                               hint="remove it from the dataset, or leave the question out with `ids:`")
    raw = YMap(id=q.id, question=q.question, context=q.context, normalization=normalization, mark=mark)
    if q.unanswerable:
        raw["unanswerable"] = True
    else:
        answers = YList(mark=mark)
        for a in q.answers:
            at = a.answer_start
            if at < 0 or q.context[at:at + len(a.text)] != a.text:
                found = q.context.find(a.text)
                if found < 0:
                    raise DatasetError(
                        f"dataset {_where(data, q)}: question {q.id!r}: answer {a.text!r} does not occur in the "
                        f"context", path=None, hint="fix the dataset, or leave the question out with `ids:`")
                # a few SQuAD answers are a character off their answer_start: matched where the text occurs
                at = found
            answers.append(YMap(text=a.text, start=at, mark=mark))
        raw["answers"] = answers
    tag_list = list(tags)
    if q.title:
        tag_list.append(slugify_tag(q.title))
    raw["tags"] = YList(dict.fromkeys(tag_list), mark=mark)
    return raw


def dataset_cases(builder: Any, data: YMap, audit_path: str, defaults: Any, raw_defaults: YMap,
                  file_normalization: str | None) -> Iterator[tuple[Any, Mark]]:
    """The cases of every ``datasets:`` entry of an audit file, built by the spec builder as hand-written ones.

    ``builder`` is :class:`qaaudit.spec._Builder` (problems are added to it); yields (Case, entry mark).
    """
    entries: YList = data.get("datasets", YList())
    base = Path(audit_path).parent
    for i, entry in enumerate(entries):
        mark = entries.item_mark(i)
        path_mark = entry.value_mark("path")
        if "limit" in entry and "sample" in entry:
            builder.add("a dataset entry gives both `limit` and `sample`", entry.key_mark("sample"),
                        "use `limit: n` for the first n questions or `sample: n` (with `seed`) for a random n")
            continue
        path = Path(entry["path"]).expanduser()
        if not path.is_absolute():
            path = base / path
        try:
            dataset = read_dataset(path, entry.get("format", "auto"))
        except (OSError, ValueError) as exc:   # unreadable, a NUL in the path, ...
            builder.add(f"dataset {entry['path']!r} cannot be read: {exc}", path_mark,
                        "point `path:` at a readable SQuAD / KorQuAD JSON or JSON-lines file")
            continue
        except SquadFormatError as exc:
            builder.add(f"dataset {entry['path']!r}: {exc}", path_mark,
                        "fix the dataset file, or point `path:` at a SQuAD / KorQuAD JSON or JSON-lines file")
            continue
        try:
            chosen = select_questions(dataset.questions, ids=entry.get("ids"), limit=entry.get("limit"),
                                      sample=entry.get("sample"), seed=entry.get("seed"))
        except KeyError as exc:
            unknown = str(exc.args[0])
            close = difflib.get_close_matches(unknown, [q.id for q in dataset.questions], n=3)
            ids = entry["ids"]
            builder.add(f"question id {unknown!r} is not in dataset {dataset.path}", ids.item_mark(list(ids).index(unknown)),
                        f"did you mean {', '.join(map(repr, close))}?" if close else
                        "copy the ids from the dataset's `id` fields")
            continue
        normalization = entry.get("normalization") or file_normalization or dataset.normalization
        source_tag = "korquad" if dataset.normalization == "korquad" else \
            "squad" if dataset.flavour.startswith("SQuAD") else "dataset"
        tags = [source_tag] + list(entry.get("tags", ()))
        # a SQuAD 2.0 model may abstain on any question: the null answer competes (as `qaaudit import` writes it)
        abstains = dataset.flavour == "SQuAD v2.0" and "handle_impossible_answer" not in raw_defaults
        name = str(entry["path"]).replace("{", "{{").replace("}", "}}")
        progress = collection_progress(start=f"qaaudit: {name}: building {{total}} cases from the dataset",
                                       step=f"qaaudit: {name}: built {{done}} of {{total}} cases ({{pct}}%){{tail}}",
                                       min_total=PROGRESS_MIN)
        progress(0, len(chosen))
        for n, q in enumerate(chosen, 1):
            progress(n, len(chosen))
            try:
                raw = _raw_case(q, dataset, tags, normalization, mark)
                if abstains:
                    raw["handle_impossible_answer"] = True
            except DatasetError as exc:
                builder.add(exc.message, path_mark, exc.hint)
                continue
            case = builder.case(raw, mark, defaults, raw_defaults, normalization)
            if case is not None:
                yield replace(case, origin=f"{entry['path']}#{q.id}"), mark
