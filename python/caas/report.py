"""The report a programme receives with its cohort (:meth:`caas.Result.report`), rendered by
the engine as Markdown, a self-contained HTML page and a funnel picture (SVG)."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from . import _caas

__all__ = ["Report"]

_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


class Report:
    """A rendered report: the cohort's metadata, the definition in plain English, the
    codelists with their sizes and hashes, the attrition with a funnel, the data-quality
    findings and the provenance.

    ``markdown`` and ``html`` (one page, inline CSS and SVG, no scripts, nothing loaded
    from elsewhere) hold the same report; ``funnel_svg`` is the attrition funnel as a
    standalone image. :meth:`save` writes the form a file's suffix names. In a notebook the
    page renders in a frame of its own, so that its styles stay inside it.
    """

    __slots__ = ("funnel_svg", "html", "markdown")

    #: The report as Markdown.
    markdown: str
    #: The report as one self-contained HTML page.
    html: str
    #: The attrition funnel as a standalone SVG image.
    funnel_svg: str

    def __init__(self, markdown: str, html: str, funnel_svg: str) -> None:
        self.markdown = markdown
        self.html = html
        self.funnel_svg = funnel_svg

    @classmethod
    def from_saved_run(cls, text: str, *, disclosure_control: bool = False) -> Report:
        """The report of a saved run (the JSON of :meth:`caas.Result.saved_run_json`), as
        its evaluation gave it; ``disclosure_control`` as in :meth:`caas.Result.report`.
        Raises :class:`caas.CaasError` for text that is not a saved run."""
        return cls(*_caas.saved_run_report(text, disclosure_control))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the report to ``path``: Markdown for ``.md``, HTML for ``.html`` (or
        ``.htm``), the funnel for ``.svg``. Returns the path. Any other suffix is a
        ``ValueError``."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".svg":
            text = self.funnel_svg
        elif suffix in _SUFFIXES:
            text = self.markdown if _SUFFIXES[suffix] == "markdown" else self.html
        else:
            raise ValueError(
                f"{target}: the suffix names what to write: .md (Markdown), .html (HTML) "
                "or .svg (the funnel)"
            )
        target.write_text(text, encoding="utf-8")
        return target

    def __str__(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        title = self.markdown.split("\n", 1)[0].lstrip("# ")
        return f"Report({title!r})"

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{escape(self.html, quote=True)}" title="caas report" '
            'style="width:100%;height:640px;border:1px solid #ddd"></iframe>'
        )
