"""Per-case result records and the run record behind ``reports/results.json``.

Plain, frozen data (no torch): written by the plugin, read by the report, the
gate and ``--qaaudit-baseline-results``. ``SCHEMA_VERSION`` changes whenever a
field changes meaning; readers refuse versions they do not know.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["SCHEMA_VERSION", "READABLE_SCHEMAS", "Verdict", "CaseResult", "RunResult", "write_json_atomic",
           "write_text_atomic", "OUTCOMES", "RUN_STATUSES", "umask_mode"]

# /2 records whether the run finished (``status``, ``status_detail``) and the items that did not run
# (outcome ``not_run``). It also writes each distinct context once, in the top-level "contexts" (a case's
# "context" is its index there); the optional case fields below left out where they hold their default, "path" where it is the node id's file part and the
# prediction's null fields; and no "message" where a check failed, since pytest's text of a failed check only
# renders the case's verdicts and prediction (the report and the terminal draw them).
# A dev set repeats a paragraph for each of its ~5 questions: /1 wrote a 10,570-question SQuAD-shaped predictions
# run as 19.0 MB, /2 (with compact separators) as 9.4 MB.
SCHEMA_VERSION = "qaaudit.results/2"
READABLE_SCHEMAS = ("qaaudit.results/1", SCHEMA_VERSION)
_OPTIONAL = {"kind": "case", "check_name": None, "unanswerable": False, "explanation": None, "robustness": None,
             "message": "", "xfail_reason": "", "normalization": "auto", "template": None, "slots": None, "origin": ""}
# "not_run": selected, but the run ended before the item did (interrupted, -x, a crash)
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error", "not_run")
# complete: every selected item ran. interrupted: Ctrl-C or SIGTERM. incomplete: stopped early (-x,
# --maxfail, pytest.exit, a lost worker). aborted: pytest ended with an internal or usage error.
# unknown: written by a qaaudit that did not record it (schema /1).
RUN_STATUSES = ("complete", "interrupted", "incomplete", "aborted", "unknown")


@dataclass(frozen=True)
class Verdict:
    """One checked number: ``measured op threshold`` and whether it held.

    ``passed`` is None when the check was skipped (``detail`` says why).
    """

    expectation: str            # family: prediction, unanswerable, focus, avoid, completeness, faithfulness, robustness
    check: str                  # the named quantity: exact_match, f1, share, top_k, abs_delta, ...
    passed: bool | None
    measured: float | str | None
    threshold: float | str | None
    op: str = ">="              # ">=", "<=", "==", "in", "is"
    detail: str = ""
    line: int | None = None     # line of the expectation in the audit file

    def describe(self) -> str:
        def fmt(v: Any) -> str:
            return f"{v:.4g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)

        state = "skipped" if self.passed is None else "ok" if self.passed else "FAILED"
        text = f"{self.expectation}.{self.check}: {fmt(self.measured)} {self.op} {fmt(self.threshold)}  [{state}]"
        return text + (f"  ({self.detail})" if self.detail else "")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Verdict":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class CaseResult:
    """What happened to one pytest item (a case or one of its robustness checks)."""

    nodeid: str
    path: str                   # audit file, relative to the rootdir
    line: int                   # 1-based line of the case in the audit file
    case_id: str
    outcome: str                # one of OUTCOMES
    kind: str = "case"          # "case" | "robustness" | "template" | "generated" (a case a template generated)
    check_name: str | None = None
    tags: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    question: str = ""
    context: str = ""
    gold: tuple[str, ...] = ()
    unanswerable: bool = False
    prediction: Mapping[str, Any] | None = None     # Answer.to_dict()
    explanation: Mapping[str, Any] | None = None    # Explanation.to_dict()
    robustness: Mapping[str, Any] | None = None     # original/variant/diff/predictions/reproduce
    message: str = ""
    duration: float = 0.0
    xfail_reason: str = ""
    normalization: str = "auto"  # the case's answer normalisation: every EM/F1 of it is scored with this one
    template: Mapping[str, Any] | None = None   # a template item's numbers (id, capability, language, n, pass_rate)
    slots: Mapping[str, str] | None = None      # what filled the slots of a generated case
    origin: str = ""            # where a case not written in the file came from: "dev.json#<question id>"

    @property
    def passed(self) -> bool:
        return self.outcome in ("passed", "xpassed")

    def to_dict(self) -> dict[str, Any]:
        # shallow: the explanation/robustness mappings are JSON-ready already (asdict would deep-copy them)
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["tags"], d["gold"] = list(self.tags), list(self.gold)
        d["verdicts"] = [asdict(v) for v in self.verdicts]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CaseResult":
        kw = {k: d.get(k) for k in cls.__dataclass_fields__ if k in d}
        if "path" not in kw and isinstance(d.get("nodeid"), str):   # results/2 leaves out a derivable path
            kw["path"] = d["nodeid"].split("::", 1)[0]
        kw["tags"] = tuple(d.get("tags") or ())
        kw["gold"] = tuple(d.get("gold") or ())
        kw["verdicts"] = tuple(Verdict.from_dict(v) for v in d.get("verdicts") or ())
        return cls(**kw)


@dataclass(frozen=True)
class RunResult:
    """A whole audit run."""

    cases: tuple[CaseResult, ...]
    model: Mapping[str, Any] = field(default_factory=dict)     # name, path, weights_hash, architecture
    versions: Mapping[str, str] = field(default_factory=dict)  # qaaudit, torch, transformers, captum
    device: str = "cpu"
    started: str = ""           # ISO 8601
    duration: float = 0.0
    gate: Mapping[str, Any] | None = None
    baseline: Mapping[str, Any] | None = None
    schema: str = SCHEMA_VERSION
    status: str = "complete"    # one of RUN_STATUSES
    status_detail: str = ""     # why the run is not complete, in words
    notes: tuple[str, ...] = ()  # what a reader must know (predictions missing, cache entries replaced, ...)
    extra: Mapping[str, Any] = field(default_factory=dict)  # further sections (predictions, summaries)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def items(self) -> tuple[CaseResult, ...]:
        """The records of pytest items: every case but those a template generated (its item stands for them)."""
        return tuple(c for c in self.cases if c.kind != "generated")

    @property
    def totals(self) -> dict[str, int]:
        t = {o: 0 for o in OUTCOMES}
        for c in self.items:
            t[c.outcome] = t.get(c.outcome, 0) + 1
        t["total"] = sum(t.values())
        return t

    def with_gate(self, gate: Mapping[str, Any] | None) -> "RunResult":
        return replace(self, gate=gate)

    def to_dict(self) -> dict[str, Any]:
        contexts: dict[str, int] = {}
        cases = []
        for c in self.cases:
            d = c.to_dict()
            for k, default in _OPTIONAL.items():
                if d[k] == default:
                    del d[k]
            if "message" in d and any(v.passed is False for v in c.verdicts):
                del d["message"]
            if d["path"] == c.nodeid.split("::", 1)[0]:   # as the plugin writes it: the node id's file part
                del d["path"]
            if isinstance(d.get("prediction"), Mapping):
                d["prediction"] = {k: v for k, v in d["prediction"].items() if v is not None}
            d["context"] = contexts.setdefault(c.context, len(contexts))
            d["duration"] = round(c.duration, 6)   # a microsecond is enough; 17 digits of a float are not
            cases.append(d)
        return {
            "schema": SCHEMA_VERSION,
            "status": self.status,
            "status_detail": self.status_detail,
            "notes": list(self.notes),
            **{k: v for k, v in self.extra.items() if k not in _CORE_KEYS},
            "model": dict(self.model),
            "versions": dict(self.versions),
            "device": self.device,
            "started": self.started,
            "duration": self.duration,
            "totals": self.totals,
            "gate": self.gate,
            "baseline": self.baseline,
            "contexts": list(contexts),
            "cases": cases,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunResult":
        schema = d.get("schema")
        if schema not in READABLE_SCHEMAS:
            raise ValueError(f"results schema {schema!r} is not one of {', '.join(READABLE_SCHEMAS)}")
        status = d.get("status", "unknown") if schema == SCHEMA_VERSION else "unknown"
        if status not in RUN_STATUSES:
            raise ValueError(f"run status {status!r} is not one of {', '.join(RUN_STATUSES)}")
        contexts = d.get("contexts") or []
        cases = d.get("cases") or ()
        if schema != READABLE_SCHEMAS[0]:
            cases = [{**c, "context": contexts[c["context"]]} if isinstance(c.get("context"), int) else c
                     for c in cases]
        return cls(
            cases=tuple(CaseResult.from_dict(c) for c in cases),
            model=d.get("model") or {}, versions=d.get("versions") or {}, device=d.get("device", "cpu"),
            started=d.get("started", ""), duration=d.get("duration", 0.0), gate=d.get("gate"),
            baseline=d.get("baseline"), schema=SCHEMA_VERSION, status=status,
            status_detail=str(d.get("status_detail") or ""), notes=tuple(str(n) for n in d.get("notes") or ()),
            extra={k: v for k, v in d.items() if k not in _CORE_KEYS},
        )

    @classmethod
    def read(cls, path: str | os.PathLike) -> "RunResult":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))


_CORE_KEYS = frozenset(("schema", "status", "status_detail", "notes", "model", "versions", "device", "started",
                        "duration", "totals", "gate", "baseline", "cases", "contexts"))


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the process's umask lets a plain ``open()`` (files) or ``mkdir`` (0o777) create it.

    mkstemp and mkdtemp create 0600 / 0700 whatever the umask; a results.json, imported audit file or
    report that only its writer can read breaks CI artefact upload and shared report folders.
    """
    current = None
    try:   # Linux says it without changing it (os.umask is process-wide: another thread could create a file
        # meanwhile with mask 0)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    current = int(line.split()[1], 8)
                    break
    except (OSError, ValueError):
        pass
    if current is None:
        current = os.umask(0o022)
        os.umask(current)
    return mode & ~current


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` next to ``path`` and rename it into place, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, umask_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as strict JSON (a NaN or infinity becomes null), atomically.

    Compact and without a prior walk of the data: with ``indent`` json falls back to its pure-Python
    encoder, and that and the walk were half of a cached audit run's time; without the blanks after
    separators a 10,570-case run is 0.9 MB smaller.
    """
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a non-finite float somewhere: the slow path nulls it
        from qaaudit.explanation import _plain

        text = json.dumps(_plain(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    write_text_atomic(path, text)
