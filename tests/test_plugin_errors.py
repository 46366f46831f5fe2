"""Malformed audit files, driven through pytest with ``pytester``.

Each bad file must be reported as one error at its ``file:line:col`` with what is
wrong and what to do, while a valid file of the same run still runs and passes;
never a Python traceback from inside qaaudit, never an INTERNALERROR, exit code 1.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_plugin import _QAAUDIT_FRAME, _preload, ckpt  # noqa: F401  (fixtures shared with test_plugin.py)

pytest_plugins = ["pytester"]


def _good_file(ckpt: Path) -> str:
    return f"""\
model: {ckpt}
cases:
  - id: fine
    question: What is the capital of South Korea?
    context: Seoul is the capital of South Korea.
    answer: Seoul
    expect:
      prediction: {{f1: 0.0}}
"""


_CASE = """\
cases:
  - id: a
    question: Where did the cat sit?
    context: The cat sat on the mat.
    answer: cat
"""

# name -> (file text, "line:col", fragments of the message, fragment of the hint)
BAD = {
    "invalid_yaml": ("cases:\n  - id: a\n    question: [unclosed\n", "3:15",
                     ["invalid YAML"], "check the indentation and quoting"),
    "empty": ("", "1:1", ["the audit file is empty"], "start it with `cases:`"),
    "unknown_key": (_CASE + "    expect:\n      focus: {target: answer, shar: 0.3}\n", "7:31",
                    ["unknown key 'shar' in cases[0].expect.focus", "did you mean 'share'?"],
                    "valid keys here: target, share"),
    "unknown_top_key": ("modle: x\n" + _CASE, "1:1", ["unknown key 'modle'", "did you mean 'model'?"],
                        "valid keys here: model"),
    "wrong_type": (_CASE + "    tags: notalist\n", "6:11", ["cases[0].tags must be a list of text, got 'notalist'"],
                   "write a list"),
    "not_a_mapping": ("- a\n- b\n", "1:1", ["the top level of an audit file must be a mapping, not a list"], "write `cases:`"),
    "missing_field": ("cases:\n  - id: a\n    context: The cat sat.\n    answer: cat\n", "2:5",
                      ["cases[0] is missing the required key 'question'"], "add `question:`"),
    "duplicate_id": (_CASE + _CASE.replace("cases:\n", ""), "6:9",
                     ["duplicate case id 'a'", "first used by the case at line 2"], "give every case its own id"),
    "gold_not_in_context": (_CASE.replace("answer: cat", "answer: dog"), "5:13",
                            ["gold answer 'dog' of case 'a' does not occur in the context"], "copy the answer"),
    "evidence_not_in_context": (_CASE + "    expect:\n      focus: {target: {text: \"dog\"}, share: 0.2}\n", "7:30",
                                ["focus target text 'dog' of case 'a' does not occur in the context"],
                                "copy the text from the context"),
    "threshold_out_of_range": (_CASE + "    expect:\n      focus: {target: answer, share: 1.5}\n", "7:38",
                               ["cases[0].expect.focus.share must be a number in [0, 1], got 1.5"],
                               "a fraction between 0 and 1"),
    "model_path_missing": ("model: ./no/such/model\n" + _CASE, "1:8",
                           ["model path './no/such/model' does not exist"], "checkpoint directory"),
}


def _assert_clean(out: str) -> None:
    assert "INTERNALERROR" not in out
    assert "Traceback" not in out
    assert not _QAAUDIT_FRAME.search(out), _QAAUDIT_FRAME.search(out)
    assert "SpecError" not in out  # the exception's class name is noise to a user


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_file_is_one_located_error_and_the_others_still_run(pytester, ckpt, name):
    text, where, fragments, hint = BAD[name]
    pytester.makefile(".audit.yaml", **{f"audits/{name}": text, "audits/good": _good_file(ckpt)})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=1)
    out = result.stdout.str()
    _assert_clean(out)
    first = f"invalid audit file: audits/{name}.audit.yaml:{where}: {fragments[0]}"
    line = next((ln for ln in out.splitlines() if ln.startswith(first)), None)
    assert line is not None, f"no line starting with {first!r} in:\n{out}"
    for fragment in fragments[1:]:
        assert fragment in line
    result.stdout.fnmatch_lines([f"  hint: *{hint}*"])
    result.stdout.fnmatch_lines([f"*ERROR at setup of audits/{name}.audit.yaml:{where}*"])
    result.stdout.fnmatch_lines([f"ERROR audits/{name}.audit.yaml::<invalid audit file>*"])


def test_every_problem_of_a_file_is_listed(pytester):
    pytester.makefile(".audit.yaml", **{"audits/multi": _CASE + "    expect:\n      prediction: {f1: 2}\n"
                                                        "      focus: {target: answer, shar: 0.3}\n"})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "invalid audit file: audits/multi.audit.yaml:7:24: cases?0?.expect.prediction.f1 must be a number in ?0, 1?, got 2",
        "  hint: *",
        "audits/multi.audit.yaml:8:31: unknown key 'shar'*did you mean 'share'?",
        "  hint: *",
        "(2 problems in this file)",
    ])
    _assert_clean(result.stdout.str())


def test_only_bad_files_exit_1_with_every_file_reported(pytester):
    pytester.makefile(".audit.yaml", **{"audits/one": "", "audits/two": _CASE.replace("answer: cat", "answer: dog")})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(["invalid audit file: audits/one.audit.yaml:1:1: *",
                                        "invalid audit file: audits/two.audit.yaml:5:13: *"])
    _assert_clean(result.stdout.str())


def test_a_bad_file_does_not_stop_collection_with_x(pytester, ckpt):
    """An invalid file is an error item, not a collection error: -x stops after it, no INTERNALERROR."""
    pytester.makefile(".audit.yaml", **{"audits/a_bad": "", "audits/b_good": _good_file(ckpt)})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)
    _assert_clean(result.stdout.str())


def test_model_override_on_the_command_line_wins_over_a_missing_model_path(pytester, ckpt):
    pytester.makefile(".audit.yaml", **{"audits/m": "model: ./no/such/model\n" + _CASE
                                        + "    expect:\n      prediction: {f1: 0.0}\n"})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report",
                                f"--qaaudit-model={ckpt}")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)


def test_collect_only_shows_the_errors(pytester, ckpt):
    """``pytest --co audits/`` validates the files: each problem shows as a collection error, exit code 2."""
    pytester.makefile(".audit.yaml", **{"audits/bad": BAD["unknown_key"][0], "audits/good": _good_file(ckpt)})
    result = pytester.runpytest("audits", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        "*ERROR collecting audits/bad.audit.yaml*",
        "invalid audit file: audits/bad.audit.yaml:7:31: unknown key 'shar'*did you mean 'share'?",
        "  hint: valid keys here: *",
    ])
    _assert_clean(result.stdout.str())
