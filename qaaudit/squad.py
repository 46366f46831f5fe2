"""SQuAD v1.1 / v2.0 and KorQuAD 1.0 JSON files, read strictly and turned into audit files.

Every structural problem names its JSON path (``data[3].paragraphs[0].qas[2].answers[0].answer_start``)
so a user can find it in a file of 100 000 questions. The importer keeps
question ids, every gold answer with its ``answer_start`` and SQuAD 2.0's
unanswerable questions; article titles become tags.
"""
from __future__ import annotations

import difflib
import json
import keyword
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from qaaudit.results import write_text_atomic as _write_text_atomic
from qaaudit.errors import InvalidArgument, SquadFormatError

__all__ = [
    "SquadAnswer",
    "SquadQuestion",
    "SquadDataset",
    "read_squad",
    "import_squad",
    "slugify_tag",
    "write_text_atomic",
]


@dataclass(frozen=True)
class SquadAnswer:
    text: str
    answer_start: int


@dataclass(frozen=True)
class SquadQuestion:
    """One question with its paragraph; ``answers`` is empty for an unanswerable one."""

    id: str
    question: str
    context: str
    answers: tuple[SquadAnswer, ...]
    unanswerable: bool
    plausible_answers: tuple[SquadAnswer, ...]
    title: str | None
    path: str          # JSON path of the question, for messages

    @property
    def gold_texts(self) -> tuple[str, ...]:
        return tuple(a.text for a in self.answers)


@dataclass(frozen=True)
class SquadDataset:
    version: str
    flavour: str       # "SQuAD v1.1" | "SQuAD v2.0" | "KorQuAD 1.0"
    questions: tuple[SquadQuestion, ...]
    titles: tuple[str, ...]

    @property
    def normalization(self) -> str:
        """The answer normalisation (and scoring rules) of this dataset's official script."""
        return {"KorQuAD 1.0": "korquad", "SQuAD v2.0": "squad2"}.get(self.flavour, "squad")

    def golds(self) -> dict[str, tuple[str, ...]]:
        """Question id -> gold texts (empty for unanswerable questions), in file order."""
        return {q.id: q.gold_texts for q in self.questions}


# ----------------------------------------------------------------------------------- reading

def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


class _Reader:
    """Walks the JSON with its path; every check raises SquadFormatError at that path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.qid: str | None = None   # the question being read, named in its errors

    def fail(self, path: str, what: str) -> SquadFormatError:
        who = f" (question id {self.qid!r})" if self.qid is not None else ""
        return SquadFormatError(f"{self.source}: {path}: {what}{who}")

    def get(self, obj: dict, key: str, path: str, kind: type | tuple, expected: str, *, required: bool = True) -> Any:
        where = f"{path}.{key}" if path else key
        if key not in obj:
            if required:
                raise self.fail(where, f"missing (expected {expected})")
            return None
        value = obj[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise self.fail(where, f"expected {expected}, got {_show(value)}")
        return value

    def obj(self, value: Any, path: str, expected: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected {expected}, got {_show(value)}")
        return value

    def answer(self, raw: Any, path: str, context: str) -> SquadAnswer:
        raw = self.obj(raw, path, "an object with text and answer_start")
        text = self.get(raw, "text", path, str, "a string")
        start = self.get(raw, "answer_start", path, int, "an integer")
        if not 0 <= start <= len(context):
            raise self.fail(f"{path}.answer_start", f"{start} is outside the context (0..{len(context)})")
        return SquadAnswer(text, start)


def read_squad(path: str | os.PathLike) -> SquadDataset:
    """Read and check a SQuAD v1.1 / v2.0 or KorQuAD 1.0 file."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise SquadFormatError(f"SQuAD file {str(p)!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise SquadFormatError(f"{p}: not UTF-8 text (byte {exc.start}); SQuAD files are UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise SquadFormatError(f"{p}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    r = _Reader(str(p))
    top = r.obj(raw, "(top level)", 'an object {"version": ..., "data": [...]}')
    version = top.get("version", "")
    if not isinstance(version, str):
        version = str(version)
    if "korquad" in version.lower() and not re.search(r"v?1\.", version):
        raise r.fail("version", f"{_show(version)}: only KorQuAD 1.0 is supported (2.0 has HTML contexts)")
    data = r.get(top, "data", "", list, "a list of articles")
    questions: list[SquadQuestion] = []
    titles: list[str] = []
    seen: dict[str, str] = {}
    impossible_seen = False
    for i, article in enumerate(data):
        apath = f"data[{i}]"
        article = r.obj(article, apath, "an article object with title and paragraphs")
        title = r.get(article, "title", apath, str, "a string", required=False)
        if title is not None:
            titles.append(title)
        for j, para in enumerate(r.get(article, "paragraphs", apath, list, "a list of paragraphs")):
            ppath = f"{apath}.paragraphs[{j}]"
            para = r.obj(para, ppath, "a paragraph object with context and qas")
            context = r.get(para, "context", ppath, str, "a string")
            for k, qa in enumerate(r.get(para, "qas", ppath, list, "a list of questions")):
                qpath = f"{ppath}.qas[{k}]"
                qa = r.obj(qa, qpath, "a question object with id, question and answers")
                r.qid = None
                qid = r.get(qa, "id", qpath, (str, int), "a string")
                qid = r.qid = str(qid)
                if qid in seen:
                    raise r.fail(f"{qpath}.id", f"{_show(qid)} is used again (first at {seen[qid]}); ids must be unique")
                seen[qid] = qpath
                question = r.get(qa, "question", qpath, str, "a string")
                impossible = r.get(qa, "is_impossible", qpath, bool, "true or false", required=False) or False
                impossible_seen |= impossible
                answers = tuple(r.answer(a, f"{qpath}.answers[{n}]", context)
                                for n, a in enumerate(r.get(qa, "answers", qpath, list, "a list of answers")))
                plausible = tuple(r.answer(a, f"{qpath}.plausible_answers[{n}]", context) for n, a in
                                  enumerate(r.get(qa, "plausible_answers", qpath, list, "a list of answers",
                                                  required=False) or ()))
                if impossible and answers:
                    raise r.fail(f"{qpath}.answers", "is_impossible is true but answers are given; "
                                                     "SQuAD 2.0 keeps those in plausible_answers")
                if not impossible and not answers:
                    raise r.fail(f"{qpath}.answers", "expected at least one answer (or is_impossible: true)")
                questions.append(SquadQuestion(qid, question, context, answers, impossible, plausible, title, qpath))
                r.qid = None
    if "korquad" in version.lower():
        flavour = "KorQuAD 1.0"
    elif version.lstrip("v").startswith("2") or impossible_seen:
        flavour = "SQuAD v2.0"
    else:
        flavour = "SQuAD v1.1"
    return SquadDataset(version, flavour, tuple(questions), tuple(titles))


# ----------------------------------------------------------------------------------- importing

def slugify_tag(title: str) -> str:
    """An article title as a pytest marker name: ``"Super_Bowl_50"`` -> ``"super_bowl_50"``; Hangul kept."""
    slug = re.sub(r"\W+", "_", title.strip().lower()).strip("_") or "article"
    if not slug.isidentifier():
        slug = f"article_{slug}"
    if keyword.iskeyword(slug) or slug in ("and", "or", "not", "skip", "skipif", "xfail", "parametrize",
                                           "usefixtures", "filterwarnings"):
        slug += "_article"
    return slug


def _select(dataset: SquadDataset, limit: int | None, seed: int | None,
            articles: Sequence[str] | None) -> list[SquadQuestion]:
    questions = list(dataset.questions)
    if articles:
        wanted = {a.strip() for a in articles if a.strip()}
        known = {t: t for t in dataset.titles} | {slugify_tag(t): t for t in dataset.titles}
        unknown = sorted(w for w in wanted if w not in known and slugify_tag(w) not in known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(known), n=3)
            hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else \
                f"the file's articles: {', '.join(dataset.titles[:8])}" + (" ..." if len(dataset.titles) > 8 else "")
            raise InvalidArgument(f"article {unknown[0]!r} is not in the file; {hint}")
        chosen = {known.get(w) or known[slugify_tag(w)] for w in wanted}
        questions = [q for q in questions if q.title in chosen]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument(f"limit {limit!r} must be a whole number >= 1")
        if seed is None:
            questions = questions[:limit]
        else:
            order = {q.id: i for i, q in enumerate(questions)}
            picked = random.Random(seed).sample(questions, min(limit, len(questions)))
            questions = sorted(picked, key=lambda q: order[q.id])   # file order reads better
    return questions


def _case(q: SquadQuestion, source_tag: str, notes: list[str]) -> dict[str, Any]:
    case: dict[str, Any] = {"id": q.id, "question": q.question, "context": q.context}
    if q.unanswerable:
        case["unanswerable"] = True
    else:
        answers = []
        for a in q.answers:
            if q.context[a.answer_start:a.answer_start + len(a.text)] == a.text:
                answers.append({"text": a.text, "start": a.answer_start})
            else:
                # A few SQuAD answers are off by a character or two; the audit file would be
                # rejected, so the answer keeps its text and is matched wherever it occurs.
                answers.append({"text": a.text})
                notes.append(f"{q.id}: answer {a.text!r} is not at answer_start {a.answer_start}; start left out")
        case["answers"] = answers
    tags = [source_tag] + ([slugify_tag(q.title)] if q.title else [])
    case["tags"] = list(dict.fromkeys(tags))
    return case


def import_squad(path: str | os.PathLike, *, limit: int | None = None, seed: int | None = None,
                 articles: Sequence[str] | None = None, f1: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> str:
    """YAML text of an audit file holding the questions of a SQuAD / KorQuAD file.

    ``limit`` questions (the first ones, or a ``seed``-ed random choice kept in
    file order) from ``articles`` (titles or their tag names). Answerable
    questions get a prediction expectation (exact match, or ``f1`` >= x);
    unanswerable ones ``unanswerable: true``. ``progress(done, total)`` is called
    as questions are written.
    """
    import yaml

    if f1 is not None and (isinstance(f1, bool) or not isinstance(f1, (int, float)) or not 0 <= f1 <= 1):
        raise InvalidArgument(f"f1 {f1!r} must be a fraction in [0, 1]")
    dataset = read_squad(path)
    questions = _select(dataset, limit, seed, articles)
    if not questions:
        raise InvalidArgument(f"{path}: no question to import (the file or the chosen articles hold none)")
    source_tag = "korquad" if dataset.normalization == "korquad" else "squad"
    doc: dict[str, Any] = {"normalization": dataset.normalization}
    defaults: dict[str, Any] = {}
    if dataset.flavour == "SQuAD v2.0":
        defaults["handle_impossible_answer"] = True   # a 2.0 model may abstain; the null answer must compete
    defaults["expect"] = {"prediction": {"f1": float(f1)} if f1 is not None else {"exact_match": True}}
    doc["defaults"] = defaults
    dump = dict(allow_unicode=True, sort_keys=False, default_flow_style=False, width=100)
    notes: list[str] = []
    body: list[str] = []
    for done, q in enumerate(questions, start=1):
        body.append(yaml.safe_dump([_case(q, source_tag, notes)], **dump))
        if progress is not None:
            progress(done, len(questions))
    n_articles = len({q.title for q in questions})
    header = [f"# Imported with `qaaudit import squad` from {Path(path).name} ({dataset.flavour}, version "
              f"{dataset.version or 'not given'}):",
              f"# {len(questions)} of {len(dataset.questions)} questions from {n_articles} "
              f"article{'s' if n_articles != 1 else ''}"
              + (f" (limit {limit}, seed {seed})" if limit is not None else "") + "."]
    header += [f"# note: {m}" for m in notes[:20]] + ([f"# note: {len(notes) - 20} more"] if len(notes) > 20 else [])
    return "\n".join(header) + "\n" + yaml.safe_dump(doc, **dump) + "cases:\n" + "".join(body)


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> None:
    """Write ``text`` atomically, refusing to replace an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InvalidArgument(f"{path} already exists; choose another --out or pass --force to replace it")
    _write_text_atomic(path, text)
