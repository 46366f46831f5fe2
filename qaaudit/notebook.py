"""Explanations in Jupyter: ``Explanation._repr_html_``, ``Explanation.visualize()`` and ``qaaudit.show(...)``.

The view is the case page's, as a fragment a notebook can hold: Captum's ``visualize_text`` table for the start
and end targets with the convergence delta, the word-level view, the top tokens, the sub-embeddings and the
layer grids (conductance, attention). Every style is inline and there is no script, so the output survives a
notebook's sanitizer (outputs of an untrusted notebook keep inline styles, lose ``<style>`` and scripts) and an
export to HTML or PDF.
"""
from __future__ import annotations

import html as _html
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from qaaudit.explanation import Explanation

__all__ = ["PARTS", "DEFAULT_PARTS", "ExplanationHTML", "explanation_html", "show"]

PARTS = ("start", "end", "words", "tokens", "sub_embeddings", "layers")
DEFAULT_PARTS = ("start", "end", "words")
_MARK = "color: #000; padding: 0 2px; margin: 0 1px; border-radius: 2px; line-height: 2"


class ExplanationHTML:
    """The rendered view: shown by IPython through ``_repr_html_``, written with :meth:`save`."""

    def __init__(self, fragment: str, title: str = "qaaudit explanation") -> None:
        self.fragment, self.title = fragment, title

    def _repr_html_(self) -> str:
        return self.fragment

    def __str__(self) -> str:
        return self.fragment

    def save(self, path: str | Path) -> Path:
        """A standalone UTF-8 page holding the fragment."""
        page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_html.escape(self.title)}'
                f"</title></head><body>\n{self.fragment}\n</body></html>\n")
        out = Path(path)
        out.write_text(page, encoding="utf-8")
        return out


def _marks(cells: Sequence[dict[str, Any]]) -> Markup:
    out = []
    for c in cells:
        style = f"background-color: {c['color']}; {_MARK}"
        if "target" in c["mark"]:
            style += "; outline: 2px solid #000"
        if "gold" in c["mark"]:
            style += "; box-shadow: inset 0 -3px 0 #1565c0"
        if c["segment"] == "special":
            style += "; color: #555"
        out.append(f'<mark style="{style}" title="#{c["index"]} {escape(c["segment"])}: '
                   f'{"—" if c["score"] is None else format(c["score"], ".4f")}">{escape(c["text"])}</mark> ')
    return Markup("".join(out))


def _grid_cells(cells: Sequence[Any]) -> Markup:
    out = []
    for c in cells:
        if c is None:
            out.append('<td style="width: 8px; border: 0"></td>')
        else:
            out.append(f'<td style="background-color: {escape(c[0])}; width: 20px; height: 16px; border: 0; '
                       f'padding: 0" title="{escape(c[1])}"></td>')
    return Markup("".join(out))


def _check_parts(parts: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(parts) or DEFAULT_PARTS
    if "all" in chosen:
        return PARTS
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        from qaaudit.errors import InvalidArgument

        raise InvalidArgument(f"unknown part {unknown[0]!r} of an explanation view; choose from {', '.join(PARTS)} "
                              "or 'all'")
    return chosen


def explanation_html(explanation: "Explanation", parts: Sequence[str] = DEFAULT_PARTS, *,
                     gold: Sequence[str] = ()) -> str:
    """The view of ``parts`` (see :data:`PARTS`) as one self-contained ``<div>``."""
    import jinja2

    from qaaudit.report import heatmap, view
    from qaaudit.report.lang import lang_attr
    from qaaudit.report.writer import _num, _sig

    chosen = _check_parts(parts)
    golds = view.gold_spans(explanation.context, gold, (explanation.answer.start, explanation.answer.end))
    env = jinja2.Environment(loader=jinja2.PackageLoader("qaaudit.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, sig=_sig, lang=lang_attr, inline_marks=_marks, inline_cells=_grid_cells)
    return env.get_template("notebook.html").render(
        e=explanation, a=view.attribution_view(explanation, golds), parts=chosen, gold=list(gold),
        legend=heatmap.legend(), lang=lang_attr(explanation.question + explanation.context))


def show(explanation: "Explanation", *parts: str, gold: Sequence[str] = (),
         path: str | Path | None = None) -> ExplanationHTML | None:
    """Show ``parts`` of an explanation (default start, end, words; ``"all"`` for every part).

    In IPython/Jupyter the view is displayed and nothing is returned (so it does not show twice); elsewhere the
    :class:`ExplanationHTML` is returned. ``path`` also writes it as a standalone page.
    """
    out = ExplanationHTML(explanation_html(explanation, parts, gold=gold), title=f"qaaudit: {explanation.question}")
    if path is not None:
        out.save(path)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return out
    if get_ipython() is None:
        return out
    display(out)
    return None
