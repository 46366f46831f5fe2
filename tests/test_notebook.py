"""Explanations in notebooks: ``_repr_html_`` through IPython's display machinery, ``qaaudit.show`` and
``Explanation.visualize()``; self-contained HTML (inline styles, no script, no stylesheet)."""
from __future__ import annotations

import re

import pytest

import qaaudit
from qaaudit.errors import InvalidArgument
from qaaudit.notebook import PARTS, ExplanationHTML, explanation_html

IPython = pytest.importorskip("IPython", reason="IPython is not installed: pip install 'qaaudit[notebook]' "
                                                 "(the test extra has it) to test the notebook view")

QUESTION, CONTEXT = "대한민국의 수도는 어디인가?", "대한민국의 수도는 서울이다. 부산은 두 번째로 큰 도시이다."


def _self_contained(html: str) -> None:
    assert not re.search(r"<(script|style|link|iframe|img)\b", html, re.I)
    assert "on" + "error" not in html and "javascript:" not in html


@pytest.fixture(scope="module", params=["electra", "xlm-roberta", "demo"])
def explanation(request, tiny_checkpoint):
    path = str(qaaudit.demo_model_path()) if request.param == "demo" else tiny_checkpoint(request.param)
    qa = qaaudit.load_model(path, device="cpu")
    return qaaudit.explain(qa, QUESTION, CONTEXT, n_steps=4, attention=True, layers=True, sub_embeddings=True)


def test_repr_html_through_ipythons_display_machinery(explanation):
    from IPython.core.formatters import format_display_data

    data, _ = format_display_data(explanation)
    html = data["text/html"]
    assert html == explanation._repr_html_()
    _self_contained(html)
    n = len(explanation.tokens)
    # the default view: Captum's start and end rows (one mark per token each), the deltas and the words
    row = re.findall(r'<tr class="target-(start|end)">(.*?)</tr>', html, re.S)
    assert [r[0] for r in row] == ["start", "end"]
    assert all(r[1].count("<mark ") == n for r in row)
    assert "Convergence δ" in html and f"{explanation.start.delta:.4g}" in html
    assert html.count('<div class="words" lang="ko"') == 2
    assert "grid-" not in html   # layers only when asked


def test_show_and_visualize_in_a_running_shell(explanation, tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    try:
        with capture_output() as captured:
            assert qaaudit.show(explanation, "layers", "tokens", path=tmp_path / "v.html") is None
            assert explanation.visualize("all") is None
        shown = [o.data["text/html"] for o in captured.outputs]
        assert len(shown) == 2
        layers, everything = shown
        _self_contained(layers)
        assert "grid-conductance" in layers and "grid-attention" in layers and "Top tokens, start" in layers
        assert "target-start" not in layers                     # only the parts asked for
        rows = re.search(r'<div class="grid-attention">(.*?)</div>', layers, re.S).group(1).count('<tr class="tok">')
        assert rows == len(explanation.tokens)
        assert all(f"Sub-embeddings, {p}" in everything for p in ("start", "end")) and "target-end" in everything
        assert (tmp_path / "v.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    finally:
        InteractiveShell.clear_instance()


def test_outside_a_shell_show_returns_the_view(explanation, tmp_path):
    out = qaaudit.show(explanation, "start", gold=["서울"])
    assert isinstance(out, ExplanationHTML) and out._repr_html_() == str(out)
    assert "target-end" not in str(out) and "underlined: the gold tokens" in str(out)
    assert out.save(tmp_path / "x.html").read_text(encoding="utf-8").count("<mark ") >= len(explanation.tokens)
    with pytest.raises(InvalidArgument, match="unknown part 'heatmap'"):
        explanation_html(explanation, ["heatmap"])
    assert set(PARTS) >= {"start", "end", "words", "layers"}


def test_a_prediction_without_attributions_still_renders():
    from qaaudit.explanation import Answer, Explanation

    a = Answer("서울", 10, 12, 0.9)
    html = Explanation(QUESTION, CONTEXT, a, (a,), None, (), (), ())._repr_html_()
    _self_contained(html)
    assert "No attributions" in html and "서울" in html
