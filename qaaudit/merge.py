"""Merging the results.json of the shards of one run (``--qaaudit-shard=K/N``) into one run.

Plain data (no torch). Shards merge only when they belong together: the same model, qaaudit version and
verdict-changing settings, the same selection (a digest of every selected node id), and no shard twice;
otherwise :class:`MergeError` says which shard differs in what. A shard that is missing, or that did not
finish, makes the merged run incomplete, so its gate fails: merging can never turn an unfinished run
into a pass.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from qaaudit.errors import QAAuditError
from qaaudit.results import CaseResult, RunResult

__all__ = ["MergeError", "merge_runs", "read_shards"]

_STATUS_RANK = {"complete": 0, "incomplete": 1, "unknown": 2, "interrupted": 3, "aborted": 4}


class MergeError(QAAuditError):
    """Shards that cannot be merged: of different runs, models, settings or versions, or one given twice."""


def read_shards(paths: Sequence[str | os.PathLike]) -> list[tuple[str, RunResult]]:
    from qaaudit.gate import read_results

    if not paths:
        raise MergeError("give the results.json of every shard: qaaudit merge shard1/results.json "
                         "shard2/results.json ... --out reports/")
    return [(str(p), read_results(p)) for p in paths]


def _identity(run: RunResult) -> dict[str, Any]:
    model = dict(run.model)
    return {"model": model.get("weights_hash") or model.get("name"), "tokenizer": model.get("tokenizer_hash"),
            "qaaudit": (run.versions or {}).get("qaaudit")}


def _describe(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def merge_runs(shards: Sequence[tuple[str, RunResult]]) -> RunResult:
    """One RunResult from the shards' runs, checked to belong together; see the module docstring."""
    infos = []
    for path, run in shards:
        info = (run.extra or {}).get("shard")
        if not isinstance(info, Mapping):
            raise MergeError(f"{path} is not a shard's results.json (it has no 'shard' record); run each shard "
                             f"with --qaaudit-shard=K/N, or gate a single run with `qaaudit gate`")
        infos.append(info)
    first_path, first = shards[0]
    count = infos[0].get("count")
    by_index: dict[int, str] = {}
    for (path, run), info in zip(shards, infos):
        if info.get("count") != count:
            raise MergeError(f"{path} is shard {info.get('index')}/{info.get('count')}, but {first_path} is one of "
                             f"{count} shards; merge the shards of one run")
        if info.get("index") in by_index:
            raise MergeError(f"shard {info.get('index')}/{count} is given twice ({by_index[info['index']]} and "
                             f"{path}); give each shard once")
        by_index[info.get("index")] = path
        for key, want in _identity(first).items():
            got = _identity(run)[key]
            if got != want:
                raise MergeError(f"{path} was run with {key} {_describe(got)}, {first_path} with {_describe(want)}; "
                                 f"the shards of one run use the same model and qaaudit version")
        ours, theirs = (first.extra or {}).get("settings") or {}, (run.extra or {}).get("settings") or {}
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key) != theirs.get(key):
                raise MergeError(f"{path} was run with {key} = {_describe(theirs.get(key))}, {first_path} with "
                                 f"{_describe(ours.get(key))}; the shards of one run use the same settings")
        digests = {infos[0].get("selection"), info.get("selection")} - {None}
        if len(digests) > 1:
            raise MergeError(f"{path} and {first_path} split different selections (other audit files, -k or -m); "
                             f"run every shard on the same files with the same options")

    cases: list[CaseResult] = []
    seen: dict[str, tuple[str, CaseResult]] = {}
    duplicates: list[str] = []
    for path, run in shards:
        for case in run.cases:
            prev = seen.get(case.nodeid)
            if prev is None:
                seen[case.nodeid] = (path, case)
                cases.append(case)
            elif case.outcome == "error" and prev[1].outcome == "error" and case.kind == prev[1].kind:
                continue   # an invalid audit file's error item runs in every shard
            else:
                duplicates.append(case.nodeid)
    if duplicates:
        shown = ", ".join(duplicates[:5]) + (f" and {len(duplicates) - 5} more" if len(duplicates) > 5 else "")
        raise MergeError(f"{len(duplicates)} items ran in more than one shard ({shown}); the shards overlap: "
                         f"run them with the same options and qaaudit version")

    status, details, notes = "complete", [], []
    missing = sorted(set(range(1, (count or 0) + 1)) - set(by_index))
    sizes = infos[0].get("sizes") or []
    if missing:
        lost = sum(sizes[k - 1] for k in missing if k - 1 < len(sizes) and sizes[k - 1] is not None)
        status = "incomplete"
        details.append(f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{k}/{count}' for k in missing)} "
                       f"missing" + (f": {lost} selected items did not run" if lost else ""))
    for (path, run), info in zip(shards, infos):
        if run.status != "complete":
            if _STATUS_RANK.get(run.status, 2) > _STATUS_RANK.get(status, 2):
                status = run.status
            elif status == "complete":
                status = "incomplete"
            details.append(f"shard {info.get('index')}/{count} ({path}) is {run.status}: {run.status_detail}")
        notes.extend(f"shard {info.get('index')}/{count}: {n}" for n in run.notes)
    selected = infos[0].get("selected")
    items = sum(1 for c in cases if c.kind != "generated")   # a template's generated cases are not items
    if selected is not None and not missing and status == "complete" and items < selected:
        status = "incomplete"
        details.append(f"{selected - items} of {selected} selected items are in no shard's results")

    predictions = [run.extra.get("predictions") for _, run in shards if (run.extra or {}).get("predictions")]
    extra: dict[str, Any] = {"settings": dict((first.extra or {}).get("settings") or {}),
                             "shard": {"merged": sorted(by_index), "count": count, "sizes": sizes,
                                       "selected": selected, "selection": infos[0].get("selection"),
                                       "files": [by_index[k] for k in sorted(by_index)]}}
    if predictions:
        extra["predictions"] = {"file": predictions[0].get("file"),
                                "matched": sum(p.get("matched", 0) for p in predictions),
                                "missing": [m for p in predictions for m in p.get("missing", [])],
                                "extra": max(p.get("extra", 0) for p in predictions)}
    from qaaudit.capabilities import capability_table

    capabilities = capability_table(replace(first, cases=tuple(cases)))
    if capabilities is not None:
        extra["capabilities"] = capabilities
    merged = replace(first, cases=tuple(cases), status=status, status_detail="; ".join(details),
                     notes=tuple(dict.fromkeys(notes)), gate=None, baseline=None, extra=extra,
                     started=min(run.started for _, run in shards if run.started) if any(
                         run.started for _, run in shards) else "",
                     duration=max(run.duration for _, run in shards))
    from qaaudit.summary import summarize

    return replace(merged, extra=dict(extra, summary=summarize(merged)))


def write_merged(run: RunResult, out: Path, *, rootdir: str | os.PathLike, overrides: Mapping[str, Any],
                 baseline: RunResult | None = None, pages: Any = None) -> tuple[RunResult, Any, Path | None]:
    """Gate the merged run (settings from ``rootdir``, command-line ``overrides``) and write its report."""
    from qaaudit import gate as gate_mod
    from qaaudit.report import write_report

    comparison = gate_mod.compare(run, baseline) if baseline is not None else None
    config = gate_mod.load_gate_config(rootdir, overrides)
    if config is None:
        config = gate_mod.GateConfig()   # no settings: the merged run must still be complete to pass
    verdict = gate_mod.evaluate_gate(run, config, comparison)
    gate_dict = verdict.to_dict()
    if comparison is not None:
        gate_dict["comparison"] = comparison.to_dict()
        run = replace(run, baseline={"model": dict(baseline.model), **comparison.to_dict()})
    run = run.with_gate(gate_dict)
    kwargs = {} if pages is None else {"pages": pages}
    index = write_report(run, out, comparison=comparison, baseline=baseline, **kwargs) if out is not None else None
    return run, verdict, index
