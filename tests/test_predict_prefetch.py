"""Prediction-only cases are predicted in batches before the first item (and a dataset source runs end to end):
the answers, verdicts and outcomes are those of one-at-a-time prediction, on left- and right-padding models."""
from __future__ import annotations

import json
import random

import pytest

from tinymodels import CORPUS

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _preload(preloaded_qaaudit) -> None:
    pass


def _jsonl(n: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        context = " ".join(rng.sample(list(CORPUS), rng.randint(1, 4)))
        words = context.split()
        j = rng.randrange(len(words) - 2)
        answer = " ".join(words[j:j + rng.randint(1, 2)])
        lines.append(json.dumps({"id": f"q{i}", "question": rng.choice(["Who?", "Where is it?", "누가 만들었나요?"]),
                                 "context": context, "answers": [answer]}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_batched_predictions_equal_one_at_a_time(pytester, tiny_checkpoint, padding_side):
    model = tiny_checkpoint("distilbert" if padding_side == "left" else "bert", padding_side=padding_side)
    pytester.makefile(".jsonl", data=_jsonl(30, seed=len(padding_side)))
    pytester.makefile(".audit.yaml", d=f"model: {model}\ndefaults:\n  max_seq_len: 40\n  doc_stride: 12\n"
                                      "  expect:\n    prediction: {f1: 0.3}\ndatasets:\n  - path: data.jsonl\n")
    runs = {}
    for mode in ("auto", "off"):
        result = pytester.runpytest(f"--qaaudit-batch={mode}", "--qaaudit-no-cache", f"--qaaudit-report=rep-{mode}",
                                    "-p", "no:cacheprovider")
        assert result.ret in (0, 1), result.stdout.str()
        runs[mode] = json.loads((pytester.path / f"rep-{mode}" / "results.json").read_text(encoding="utf-8"))
    assert len(runs["auto"]["cases"]) == 30

    def answers(run):
        return {c["case_id"]: (c["outcome"], c["prediction"]["text"], c["prediction"]["start"],
                               [(v["check"], v["measured"]) for v in c["verdicts"]]) for c in run["cases"]}

    assert answers(runs["auto"]) == answers(runs["off"])
    for a, b in zip(runs["auto"]["cases"], runs["off"]["cases"]):
        assert a["prediction"]["score"] == pytest.approx(b["prediction"]["score"], abs=1e-5)
