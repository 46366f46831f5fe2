"""The release gate: thresholds over a run, and the candidate-versus-baseline comparison.

Plain data in, plain data out (no torch): the plugin calls ``load_gate_config``
once, ``compare`` when a baseline ran, then ``evaluate_gate`` and ``render_gate``
at the end of the session; ``qaaudit gate RESULTS.json`` does the same offline.

Pass rate counts ``passed`` and ``xpassed`` items as passes and ``failed`` and
``error`` items as failures. ``xfailed`` items are expected failures: they are
left out of the rate (neither pass nor fail), as are ``skipped`` ones. A
setting that cannot be measured (a tag no item carries, ``max_regressions``
without a baseline, a delta limit with no attributions) fails the gate rather
than passing silently: a gate that checks nothing must not say PASSED.
"""
from __future__ import annotations

import difflib
import fnmatch
import json
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from qaaudit.errors import BaselineError, GateConfigError, InvalidArgument, QAAuditError
from qaaudit.results import READABLE_SCHEMAS, SCHEMA_VERSION, CaseResult, RunResult

__all__ = [
    "GATE_FILE",
    "GateConfig",
    "GateCheck",
    "GateVerdict",
    "CaseChange",
    "Comparison",
    "STATUSES",
    "load_gate_config",
    "parse_override",
    "evaluate_gate",
    "render_gate",
    "compare",
    "read_results",
    "case_scores",
]

GATE_FILE = "qaaudit.toml"   # the alternative to pyproject's [tool.qaaudit.gate]: a [gate] table
_RATE_KEYS = ("min_pass_rate", "min_mean_em", "min_mean_f1")
_DELTA_KEYS = ("max_mean_abs_delta", "max_worst_abs_delta")
_TABLE_KEYS = ("min_pass_rate_by_tag", "min_pass_rate_by_file", "min_pass_rate_by_capability")


def _frozen_map(d: Mapping[str, float] | None) -> Mapping[str, float]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class GateConfig:
    """Gate settings; ``None`` means "not checked". Validated on construction.

    ``max_regressions`` None means 0 when a baseline is compared, unchecked otherwise.
    ``allow_regressions`` lists node ids whose regression is accepted.
    EM, F1 and pass rates are fractions in [0, 1]; deltas are absolute logit units.
    """

    min_pass_rate: float | None = None
    min_pass_rate_by_tag: Mapping[str, float] = field(default_factory=dict)
    min_pass_rate_by_file: Mapping[str, float] = field(default_factory=dict)
    # templates: the share of a capability's generated cases that pass (capability name or capability/language)
    min_pass_rate_by_capability: Mapping[str, float] = field(default_factory=dict)
    max_regressions: int | None = None
    allow_regressions: tuple[str, ...] = ()
    min_mean_em: float | None = None
    min_mean_f1: float | None = None
    max_mean_abs_delta: float | None = None
    max_worst_abs_delta: float | None = None
    source: str = ""    # where the settings came from, for messages

    def __post_init__(self) -> None:
        where = f" (in {self.source})" if self.source else ""
        for key in _RATE_KEYS:
            object.__setattr__(self, key, _rate(key, getattr(self, key), where))
        for key in _TABLE_KEYS:
            table = getattr(self, key)
            if not isinstance(table, Mapping):
                raise GateConfigError(f"{key} = {table!r}{where} must be a table of name = rate, "
                                      f"e.g. {key} = {{ korean = 0.9 }}")
            for name, value in table.items():
                if not isinstance(name, str) or not name.strip():
                    raise GateConfigError(f"{key} has an empty name {name!r}{where}; name a tag or an audit file")
                _rate(f"{key}.{name}", value, where)
            object.__setattr__(self, key, _frozen_map({k: float(v) for k, v in table.items()}))
        for key in _DELTA_KEYS:
            value = getattr(self, key)
            if value is not None:
                value = _number(key, value, where)
                if value < 0 or not math.isfinite(value):
                    raise GateConfigError(f"{key} = {value!r}{where} must be a finite number >= 0 "
                                          f"(an absolute |delta| in logit units)")
                object.__setattr__(self, key, value)
        mr = self.max_regressions
        if mr is not None:
            if isinstance(mr, bool) or not isinstance(mr, int) or mr < 0:
                raise GateConfigError(f"max_regressions = {mr!r}{where} must be a whole number >= 0")
        allow = self.allow_regressions
        if isinstance(allow, str) or not all(isinstance(n, str) for n in allow):
            raise GateConfigError(f"allow_regressions = {allow!r}{where} must be a list of node ids, "
                                  f'e.g. ["audits/facts.audit.yaml::capital-1"]')
        allow = tuple(allow)
        for nodeid in allow:
            if "::" not in nodeid:
                raise GateConfigError(f"allow_regressions entry {nodeid!r}{where} is not a node id; "
                                      f"write it as pytest shows it: <audit file>::<case id>")
        if len(set(allow)) != len(allow):
            dup = sorted({n for n in allow if allow.count(n) > 1})
            raise GateConfigError(f"allow_regressions lists {', '.join(dup)} more than once{where}")
        object.__setattr__(self, "allow_regressions", allow)
        # Two ways of tolerating regressions at once leave it open whether the listed
        # ones also count against the maximum; ask for one of them.
        if allow and mr:
            raise GateConfigError(
                f"allow_regressions ({len(allow)} node ids) and max_regressions = {mr} both tolerate "
                f"regressions{where}; use one: list the accepted node ids in allow_regressions and set "
                f"max_regressions = 0 (or leave it out), or drop allow_regressions")
        if (self.max_mean_abs_delta is not None and self.max_worst_abs_delta is not None
                and self.max_worst_abs_delta < self.max_mean_abs_delta):
            # Not a contradiction (the mean never exceeds the worst) but a sign of swapped values.
            raise GateConfigError(
                f"max_worst_abs_delta = {self.max_worst_abs_delta} is below max_mean_abs_delta = "
                f"{self.max_mean_abs_delta}{where}; the mean can never exceed the worst case, so the two "
                f"are probably swapped")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "") -> "GateConfig":
        """Build from a TOML table, naming unknown keys with a suggestion."""
        names = [f.name for f in fields(cls) if f.name != "source"]
        kw: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                raise GateConfigError(_unknown_key(key, names, source))
            kw[key] = tuple(value) if key == "allow_regressions" and isinstance(value, list) else value
        return cls(**kw, source=source)

    @property
    def is_empty(self) -> bool:
        return not self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The settings that are set (for results.json and the report)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "source" or value is None or value == () or (isinstance(value, Mapping) and not value):
                continue
            out[f.name] = dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, tuple) else value
        return out


def _number(key: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GateConfigError(f"{key} = {value!r}{where} must be a number")
    return float(value)


def _rate(key: str, value: Any, where: str) -> float | None:
    if value is None:
        return None
    v = _number(key, value, where)
    if not 0.0 <= v <= 1.0:
        hint = f"; write it as a fraction ({v / 100:g})" if 1.0 < v <= 100.0 else ""
        raise GateConfigError(f"{key} = {value!r}{where} is outside [0, 1]{hint}")
    return v


def _unknown_key(key: str, names: Sequence[str], source: str) -> str:
    where = f" in {source}" if source else ""
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(names)}"
    return f"unknown gate setting {key!r}{where}{hint}"


# --------------------------------------------------------------------------- loading

def parse_override(text: str) -> tuple[str, str]:
    """``"min_pass_rate=0.9"`` -> ``("min_pass_rate", "0.9")`` (the command-line form)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise GateConfigError(f"gate override {text!r} is not KEY=VALUE, e.g. min_pass_rate=0.95 "
                              f"or min_pass_rate_by_tag.korean=0.9")
    return key.strip(), value.strip()


def _coerce(key: str, value: Any) -> Any:
    """Turn a command-line string into the type the setting takes."""
    if not isinstance(value, str):
        return value
    if key == "allow_regressions":
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if key == "max_regressions":
        try:
            return int(value)
        except ValueError:
            raise GateConfigError(f"max_regressions = {value!r} (command line) must be a whole number >= 0") from None
    try:
        return float(value)
    except ValueError:
        raise GateConfigError(f"{key} = {value!r} (command line) must be a number") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise GateConfigError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from None
    except OSError as exc:
        raise GateConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def load_gate_config(rootdir: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> GateConfig | None:
    """Read ``[tool.qaaudit.gate]`` of ``pyproject.toml`` or ``[gate]`` of ``qaaudit.toml`` in ``rootdir``.

    ``overrides`` (from the command line) replace file settings; a key
    ``min_pass_rate_by_tag.NAME`` sets one entry of a table. None when no gate
    is configured anywhere.
    """
    root = Path(rootdir)
    found: list[tuple[str, Mapping[str, Any]]] = []
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("qaaudit", {}).get("gate")
        if table is not None:
            found.append((f"{pyproject} [tool.qaaudit.gate]", table))
    own = root / GATE_FILE
    if own.is_file():
        table = _read_toml(own).get("gate")
        if table is not None:
            found.append((f"{own} [gate]", table))
    if len(found) > 1:
        raise GateConfigError(f"gate settings found in both {found[0][0]} and {found[1][0]}; keep one of them")
    if not found and not overrides:
        return None
    source, table = found[0] if found else ("command line", {})
    if not isinstance(table, Mapping):
        raise GateConfigError(f"{source} must be a table of settings, not {table!r}")
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in table.items()}
    names = [f.name for f in fields(GateConfig) if f.name != "source"]
    for key, value in (overrides or {}).items():
        base, dot, entry = key.partition(".")
        if dot and base in _TABLE_KEYS:
            data.setdefault(base, {})[entry] = _coerce(key, value)
        elif key in names:
            data[key] = _coerce(key, value)
        else:
            raise GateConfigError(_unknown_key(key, names, "the command line"))
    if overrides:
        source += " with command-line overrides" if found else ""
    return GateConfig.from_mapping(data, source=source)


# --------------------------------------------------------------------------- per-case numbers

def _numeric(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def case_scores(case: CaseResult) -> tuple[float, float] | None:
    """(EM, F1) of a case with a gold answer; None for unanswerable cases or ones without golds.

    Read from the case's prediction verdicts when they carry the number, else
    computed from the predicted text and the golds with the normalisation the
    case chose (its file's, or its own; ``auto`` resolved from the case's texts,
    as its verdicts were); a case without a prediction scores 0, as the official
    script scores an unanswered question.
    """
    if case.unanswerable or not case.gold:
        return None
    found: dict[str, float] = {}
    for v in case.verdicts:
        if v.expectation == "prediction" and v.check in ("exact_match", "f1"):
            value = _numeric(v.measured)
            if value is not None:
                found[v.check] = max(found.get(v.check, 0.0), value)
    if len(found) < 2:
        text = (case.prediction or {}).get("text")
        if isinstance(text, str):
            from qaaudit.metrics import score_answer

            em, f1 = score_answer(text, case.gold, normalization=case.normalization,
                                  context=case.question + " " + case.context)
            found.setdefault("exact_match", em)
            found.setdefault("f1", f1)
    return found.get("exact_match", 0.0), found.get("f1", 0.0)


def _abs_deltas(case: CaseResult) -> list[float]:
    expl = case.explanation or {}
    out = []
    for position in ("start", "end"):
        target = expl.get(position)
        if isinstance(target, Mapping):
            value = _numeric(target.get("abs_delta", None))
            if value is None and _numeric(target.get("delta")) is not None:
                value = abs(float(target["delta"]))
            if value is not None:
                out.append(value)
    return out


def _confidence(case: CaseResult) -> float | None:
    return _numeric((case.prediction or {}).get("score"))


def _focus(case: CaseResult) -> float | None:
    shares = [_numeric(v.measured) for v in case.verdicts if v.expectation == "focus" and v.check.startswith("share")]
    shares = [s for s in shares if s is not None]
    return sum(shares) / len(shares) if shares else None


# --------------------------------------------------------------------------- comparison

STATUSES = ("pass->fail", "fail->pass", "fail->fail", "new", "missing", "not compared", "pass->pass")
_PASS = ("passed", "xpassed")
_FAIL = ("failed", "error", "xfailed")   # an xfail that the baseline passed is still worse behaviour


def _state(outcome: str) -> str | None:
    return "pass" if outcome in _PASS else "fail" if outcome in _FAIL else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


@dataclass(frozen=True)
class CaseChange:
    """One node id in both runs: its status and the change (candidate - baseline) of its numbers."""

    nodeid: str
    status: str                     # one of STATUSES; "pass->fail" is a regression
    candidate_outcome: str | None
    baseline_outcome: str | None
    em_change: float | None = None
    f1_change: float | None = None
    confidence_change: float | None = None
    focus_change: float | None = None
    candidate: Mapping[str, Any] = field(default_factory=dict)   # answer, em, f1, confidence, focus
    baseline: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.status == "pass->fail"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (dict(getattr(self, f.name)) if isinstance(getattr(self, f.name), Mapping)
                         else getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Comparison:
    """Candidate versus baseline, case by case; ``cases`` holds regressions first."""

    cases: tuple[CaseChange, ...]
    candidate_model: Mapping[str, Any] = field(default_factory=dict)
    baseline_model: Mapping[str, Any] = field(default_factory=dict)

    @property
    def regressions(self) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.cases if c.status == "pass->fail")

    @property
    def fixes(self) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.cases if c.status == "fail->pass")

    @property
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for c in self.cases:
            out[c.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate_model": dict(self.candidate_model),
            "baseline_model": dict(self.baseline_model),
            "counts": self.counts,
            "regressions": [c.nodeid for c in self.regressions],
            "cases": [c.to_dict() for c in self.cases],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Comparison":
        names = {f.name for f in fields(CaseChange)}
        return cls(cases=tuple(CaseChange(**{k: v for k, v in c.items() if k in names}) for c in d.get("cases", ())),
                   candidate_model=d.get("candidate_model") or {}, baseline_model=d.get("baseline_model") or {})


def _snapshot(case: CaseResult) -> dict[str, Any]:
    scores = case_scores(case)
    return {"outcome": case.outcome, "answer": (case.prediction or {}).get("text"),
            "em": scores[0] if scores else None, "f1": scores[1] if scores else None,
            "confidence": _confidence(case), "focus": _focus(case)}


def _tail(nodeid: str) -> str:
    """``dir/x.audit.yaml::case`` -> ``x.audit.yaml::case``: node ids move with pytest's rootdir."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest


def _match(candidate: RunResult, baseline: RunResult) -> dict[str, CaseResult]:
    """Candidate node id -> baseline item: the same node id, else the one item with the same file name and case.

    Runs started from different directories (or with a path-like option value before pytest's
    rootdir detection) give the same items different node ids; the tail fallback only pairs
    items when exactly one baseline item has that tail.
    """
    by_id = {c.nodeid: c for c in baseline.cases}
    by_tail: dict[str, list[CaseResult]] = {}
    for c in baseline.cases:
        by_tail.setdefault(_tail(c.nodeid), []).append(c)
    matched: dict[str, CaseResult] = {}
    for case in candidate.cases:
        other = by_id.get(case.nodeid)
        if other is None:
            tails = by_tail.get(_tail(case.nodeid), [])
            other = tails[0] if len(tails) == 1 else None
        if other is not None:
            matched[case.nodeid] = other
    return matched


def compare(candidate: RunResult, baseline: RunResult) -> Comparison:
    """Match the two runs' items by node id and classify each (regressions first)."""
    # a template's generated cases are compared through its item (and its failure rate, qaaudit.capabilities)
    candidate = replace(candidate, cases=candidate.items)
    baseline = replace(baseline, cases=baseline.items)
    matched = _match(candidate, baseline)
    used = {id(c) for c in matched.values()}
    changes: list[CaseChange] = []
    for case in candidate.cases:
        other = matched.get(case.nodeid)
        now = _snapshot(case)
        if other is None:
            changes.append(CaseChange(case.nodeid, "new", case.outcome, None, candidate=now))
            continue
        before = _snapshot(other)
        a, b = _state(case.outcome), _state(other.outcome)
        status = "not compared" if a is None or b is None else f"{b}->{a}"
        changes.append(CaseChange(
            case.nodeid, status, case.outcome, other.outcome,
            em_change=_diff(now["em"], before["em"]), f1_change=_diff(now["f1"], before["f1"]),
            confidence_change=_diff(now["confidence"], before["confidence"]),
            focus_change=_diff(now["focus"], before["focus"]), candidate=now, baseline=before))
    for case in baseline.cases:
        if id(case) not in used:
            changes.append(CaseChange(case.nodeid, "missing", None, case.outcome, baseline=_snapshot(case)))
    order = {s: i for i, s in enumerate(STATUSES)}
    changes.sort(key=lambda c: order[c.status])   # stable: run order within a status
    return Comparison(tuple(changes), dict(candidate.model), dict(baseline.model))


def read_results(path: str | os.PathLike, *, baseline: bool = False) -> RunResult:
    """Read a ``results.json`` (or the one in a report folder); a file that is not one raises BaselineError (baseline) or InvalidArgument."""
    error: type[QAAuditError] = BaselineError if baseline else InvalidArgument
    what = "baseline results" if baseline else "results file"
    remedy = "pass the results.json that a qaaudit run wrote (reports/results.json by default)"
    p = Path(path)
    if p.is_dir() and (p / "results.json").is_file():   # a report folder stands for its results.json
        p = p / "results.json"
    if not p.is_file():
        raise error(f"{what} {str(p)!r} does not exist or is not a file; {remedy}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise error(f"{what} {str(p)!r} is not UTF-8 text; {remedy}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} {str(p)!r} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); {remedy}") from None
    if not isinstance(data, dict) or "cases" not in data:
        raise error(f"{what} {str(p)!r} is not a qaaudit results.json (no 'cases' list at the top level); {remedy}")
    if data.get("schema") not in READABLE_SCHEMAS:
        raise error(f"{what} {str(p)!r} has schema {data.get('schema')!r}, this qaaudit reads "
                    f"{', '.join(map(repr, READABLE_SCHEMAS))}; run the audits again with this version to get a "
                    f"comparable file")
    try:
        return RunResult.from_dict(data)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise error(f"{what} {str(p)!r} has a malformed case record ({type(exc).__name__}: {exc}); {remedy}") from None


# --------------------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class GateCheck:
    """One gate setting checked: ``measured op threshold``; ``measured`` None when nothing could be measured."""

    name: str
    measured: float | None
    op: str
    threshold: float
    passed: bool
    detail: str = ""

    def reason(self) -> str:
        if self.name == "run_complete":
            return f"the run did not finish, so it cannot pass: {self.detail}"
        if self.measured is None:
            return f"{self.name}: nothing to measure ({self.detail})"
        measured, threshold = _fmt_pair(self.measured, self.threshold, self.op)
        return f"{self.name} = {measured}, required {self.op} {threshold}" + (
            f" ({self.detail})" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision, every failed check as a reason, and the numbers behind it."""

    passed: bool
    reasons: tuple[str, ...]
    numbers: Mapping[str, Any]
    checks: tuple[GateCheck, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "status": "PASSED" if self.passed else "FAILED",
                "reasons": list(self.reasons), "numbers": dict(self.numbers),
                "checks": [c.to_dict() for c in self.checks], "settings": dict(self.settings)}


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _fmt_pair(measured: Any, threshold: Any, op: str) -> tuple[str, str]:
    """Both numbers with as many digits as it takes for the verdict to be visible in them:
    0.92196 against 0.922 shows as ``0.92196 >= 0.922``, never ``0.922 >= 0.922 ... FAILED``."""
    if not (isinstance(measured, float) and isinstance(threshold, (int, float))):
        return _fmt(measured), _fmt(threshold)
    for digits in range(4, 18):
        a, b = f"{measured:.{digits}g}", f"{float(threshold):.{digits}g}"
        if float(a) != float(b) or measured == threshold:
            return a, b
    return repr(measured), repr(float(threshold))


def _pass_rate(cases: Iterable[CaseResult]) -> tuple[float | None, dict[str, int]]:
    n = {"passed": 0, "counted": 0, "xfailed": 0, "skipped": 0}
    for c in cases:
        if c.outcome == "xfailed":
            n["xfailed"] += 1
        elif c.outcome == "skipped":
            n["skipped"] += 1
        else:
            n["counted"] += 1
            n["passed"] += c.outcome in _PASS
    return (n["passed"] / n["counted"] if n["counted"] else None), n


def _rate_detail(n: Mapping[str, int]) -> str:
    text = f"{n['passed']} of {n['counted']} counted items passed"
    left = [f"{n[k]} {k}" for k in ("xfailed", "skipped") if n[k]]
    return text + (f"; {' and '.join(left)} not counted" if left else "")


def _file_matches(path: str, pattern: str) -> bool:
    path = path.replace(os.sep, "/")
    pattern = pattern.replace(os.sep, "/")
    return path == pattern or fnmatch.fnmatchcase(path, pattern) or path.endswith("/" + pattern)


def evaluate_gate(run: RunResult, config: GateConfig | None, comparison: Comparison | None = None) -> GateVerdict:
    """Check every configured setting against ``run`` (and ``comparison`` when a baseline ran)."""
    config = config or GateConfig()
    checks: list[GateCheck] = []
    numbers: dict[str, Any] = dict(run.totals)

    def rate_check(name: str, cases: list[CaseResult], threshold: float, empty: str) -> None:
        rate, n = _pass_rate(cases)
        numbers[name] = rate
        if rate is None:
            checks.append(GateCheck(name, None, ">=", threshold, False, empty if not cases else _rate_detail(n)))
        else:
            checks.append(GateCheck(name, rate, ">=", threshold, rate >= threshold, _rate_detail(n)))

    # The one check no setting turns off: a run that did not finish has not checked what it was asked to.
    status = getattr(run, "status", "complete")
    if status != "complete":
        detail = getattr(run, "status_detail", "") or (
            "written by a qaaudit that did not record whether the run finished; run the audits again"
            if status == "unknown" else "")
        checks.append(GateCheck("run_complete", None, "is", 1.0, False, f"run {status}: {detail}".rstrip(": ")))
    else:
        checks.append(GateCheck("run_complete", 1.0, "is", 1.0, True, "every selected item ran"))
    items = run.items   # a template's generated cases are counted by capability, not as items
    overall, _ = _pass_rate(items)
    numbers["pass_rate"] = overall
    if config.min_pass_rate is not None:
        rate_check("pass_rate", list(items), config.min_pass_rate, "the run has no items")
    for tag, threshold in config.min_pass_rate_by_tag.items():
        rate_check(f"pass_rate[tag={tag}]", [c for c in items if tag in c.tags], threshold,
                   f"no item carries the tag {tag!r}; check the name in min_pass_rate_by_tag")
    for pattern, threshold in config.min_pass_rate_by_file.items():
        rate_check(f"pass_rate[file={pattern}]", [c for c in items if _file_matches(c.path, pattern)], threshold,
                   f"no item comes from an audit file matching {pattern!r}; check min_pass_rate_by_file")
    if config.min_pass_rate_by_capability:
        from qaaudit.capabilities import capability_gate_checks

        checks.extend(capability_gate_checks(run, config.min_pass_rate_by_capability, numbers))

    scored = [s for c in items if c.kind == "case" and c.outcome != "skipped" for s in [case_scores(c)] if s]
    numbers["gold_cases"] = len(scored)
    numbers["mean_em"] = sum(s[0] for s in scored) / len(scored) if scored else None
    numbers["mean_f1"] = sum(s[1] for s in scored) / len(scored) if scored else None
    for key, name in (("min_mean_em", "mean_em"), ("min_mean_f1", "mean_f1")):
        threshold = getattr(config, key)
        if threshold is None:
            continue
        if not scored:
            checks.append(GateCheck(name, None, ">=", threshold, False, "no case with a gold answer was run"))
        else:
            value = numbers[name]
            checks.append(GateCheck(name, value, ">=", threshold, value >= threshold,
                                    f"over {len(scored)} cases with a gold answer"))

    deltas = [(d, c.nodeid) for c in items for d in _abs_deltas(c)]
    numbers["mean_abs_delta"] = sum(d for d, _ in deltas) / len(deltas) if deltas else None
    worst = max(deltas, default=None)
    numbers["worst_abs_delta"] = worst[0] if worst else None
    for key, name in (("max_mean_abs_delta", "mean_abs_delta"), ("max_worst_abs_delta", "worst_abs_delta")):
        threshold = getattr(config, key)
        if threshold is None:
            continue
        if not deltas:
            checks.append(GateCheck(name, None, "<=", threshold, False,
                                    "no item has attributions (explained cases only; predictions files have none)"))
        else:
            value = numbers[name]
            detail = f"over {len(deltas)} start/end targets" if name == "mean_abs_delta" else f"at {worst[1]}"
            checks.append(GateCheck(name, value, "<=", threshold, value <= threshold, detail))

    if comparison is not None:
        allowed = set(config.allow_regressions)
        regs = comparison.regressions
        counted = [c.nodeid for c in regs if c.nodeid not in allowed]
        limit = config.max_regressions or 0
        numbers.update(regressions=len(counted), regressions_allowed=len(regs) - len(counted),
                       fixes=len(comparison.fixes))
        listed = ", ".join(counted[:10]) + (f" and {len(counted) - 10} more" if len(counted) > 10 else "")
        detail = f"passed on the baseline, failed now: {listed}" if counted else ""
        if len(regs) > len(counted):
            detail += ("; " if detail else "") + f"{len(regs) - len(counted)} allowed by allow_regressions"
        # Regressions come first in the reasons: they are the finding a release cares about most.
        checks.insert(0, GateCheck("regressions", float(len(counted)), "<=", float(limit),
                                   len(counted) <= limit, detail))
    elif config.max_regressions is not None:
        checks.insert(0, GateCheck("regressions", None, "<=", float(config.max_regressions), False,
                                   "max_regressions is set but no baseline ran; pass --qaaudit-baseline MODEL "
                                   "or --qaaudit-baseline-results FILE"))

    failed = [c for c in checks if not c.passed]
    return GateVerdict(passed=not failed, reasons=tuple(c.reason() for c in failed), numbers=numbers,
                       checks=tuple(checks), settings=config.to_dict())


def render_gate(verdict: GateVerdict) -> str:
    """The terminal block: ``qaaudit gate: PASSED|FAILED``, the reasons, every check and the counts."""
    n = verdict.numbers
    lines = [f"qaaudit gate: {'PASSED' if verdict.passed else 'FAILED'}"]
    for reason in verdict.reasons:
        lines.append(f"  - {reason}")
    if verdict.checks:
        lines.append("  checks:")
        width = max(len(c.name) for c in verdict.checks)
        for c in verdict.checks:
            measured, threshold = _fmt_pair(c.measured, c.threshold, c.op)
            if c.name == "run_complete":
                measured, threshold = ("yes" if c.passed else "no"), "yes"
            elif c.measured is None:
                measured = "n/a"
            state = "ok" if c.passed else "FAILED"
            tail = f"  {c.detail}" if c.detail and c.passed else ""
            lines.append(f"    {c.name:<{width}}  {measured:>8} {c.op} {threshold:<8} {state}{tail}")
    if not verdict.settings:
        lines.append("  no gate settings configured: only that every selected item ran was checked")
    counts = ", ".join(f"{n.get(k, 0)} {k}" for k in ("passed", "failed", "error", "xfailed", "xpassed", "skipped")
                       + (("not_run",) if n.get("not_run") else ()))
    lines.append(f"  items: {n.get('total', 0)} ({counts})")
    extras = []
    for key, label in (("pass_rate", "pass rate"), ("mean_em", "mean EM"), ("mean_f1", "mean F1"),
                       ("mean_abs_delta", "mean |delta|"), ("worst_abs_delta", "worst |delta|")):
        if n.get(key) is not None:
            extras.append(f"{label} {_fmt(n[key])}")
    if "regressions" in n:
        extras.append(f"regressions {n['regressions']} (+{n['regressions_allowed']} allowed), fixes {n['fixes']}")
    if extras:
        lines.append("  " + "; ".join(extras))
    return "\n".join(lines)
