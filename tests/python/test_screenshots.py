"""The HTML views as a person sees them: the notebook views of the flu cohort, of its
evaluation, of one person's explanation and of the data-quality findings, and the report,
rendered to PNG by headless Chromium (scripts/test-python.sh installs it) and saved under
target/screenshots/ for people to look at.

Each notebook view is rendered in a page that carries the table style of JupyterLab and of
the classic notebook (cells right-aligned, tables centred), as a notebook shows it. The
screenshots are checked to exist at the window's size and not to be blank; a probe page with
the views' own style checks, from the ink in its screenshot, that a sentence's cell is
left-aligned and a number's right-aligned however the notebook styles tables."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageStat

import caas
from conftest import ROOT

SCREENSHOTS = ROOT / "target" / "screenshots"

#: What a notebook does to the tables of an output: JupyterLab's rules (rendermime's
#: base.css, abridged to what concerns tables) and the classic notebook's. The views' style
#: must win over every one of them.
JUPYTER_STYLE = """
body { margin: 0; padding: 8px; background: #fff; color: rgba(0, 0, 0, 0.87);
       font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       font-size: 14px; line-height: 1.6; }
.jp-RenderedHTMLCommon table, .rendered_html table {
  border-collapse: collapse; border-spacing: 0; border: none; font-size: 13px;
  table-layout: fixed; margin-left: auto; margin-bottom: 1em; margin-right: auto; }
.jp-RenderedHTMLCommon thead, .rendered_html thead {
  border-bottom: 1px solid #616161; vertical-align: bottom; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon tr,
.rendered_html td, .rendered_html th, .rendered_html tr {
  vertical-align: middle; padding: 0.5em; line-height: normal; white-space: normal;
  max-width: none; border: none; text-align: right; }
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon tr { text-align: right; }
.jp-RenderedHTMLCommon tbody tr:nth-child(odd) { background: #fff; }
.jp-RenderedHTMLCommon tbody tr:nth-child(even) { background: #f5f5f5; }
.jp-RenderedHTMLCommon p { text-align: left; margin: 0; margin-bottom: 1em; }
.jp-RenderedHTMLCommon code { font-family: "DejaVu Sans Mono", monospace;
  background: #eee; padding: 1px 5px; white-space: pre-wrap; }
"""

#: Width of a notebook's output area, and of the screenshots.
WIDTH = 1100


def notebook_page(view: str) -> str:
    """An HTML view as a JupyterLab output shows it."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{JUPYTER_STYLE}</style>'
        '</head><body><div class="jp-OutputArea-output jp-RenderedHTMLCommon rendered_html" '
        f'style="width: {WIDTH - 40}px">{view}</div></body></html>'
    )


def expanded(view: str) -> str:
    """The view with every collapsed list opened, as a reader who opens them sees it."""
    return re.sub(r"<details\b(?![^>]*\bopen\b)", "<details open", view)


@dataclass
class Shot:
    name: str
    html: str
    height: int

    @property
    def png(self) -> Path:
        return SCREENSHOTS / f"{self.name}.png"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is not installed (scripts/test-python.sh installs it)"
    return found


def take(shots: list[Shot]) -> None:
    """Screenshots of the pages, taken by one headless Chromium each, side by side."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        running = []
        for shot in shots:
            page = Path(tmp) / f"{shot.name}.html"
            page.write_text(shot.html, encoding="utf-8")
            shot.png.unlink(missing_ok=True)
            profile = Path(tmp) / f"profile-{shot.name}"
            command = [
                chromium(),
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--hide-scrollbars",
                "--no-first-run",
                "--force-device-scale-factor=1",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{shot.height}",
                f"--screenshot={shot.png}",
                page.as_uri(),
            ]
            running.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            )
        try:
            for shot, process in zip(shots, running):
                output, _ = process.communicate(timeout=120)
                assert process.returncode == 0, f"{shot.name}: {output.decode(errors='replace')}"
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def flu_result(flu_cohort: caas.Cohort, population: Path) -> caas.Result:
    engine = caas.Engine()
    engine.register_synthetic(population)
    return engine.evaluate(flu_cohort)


def busiest_member(result: caas.Result) -> caas.Explanation:
    """Of the first few members, the one whose explanation shows the most event rows (each
    explanation reads the tables again: a few keep the test quick)."""
    ids = result.members.column("person_id").to_pylist()[:5]
    explanations = [result.explain(person) for person in ids]
    return max(explanations, key=lambda e: sum(len(v.events) for v in e.variables))


@pytest.fixture(scope="module")
def views(flu_cohort: caas.Cohort, flu_result: caas.Result) -> dict[str, str]:
    return {
        "cohort": flu_cohort._repr_html_(),
        "evaluation": flu_result._repr_html_(),
        "explanation": busiest_member(flu_result)._repr_html_(),
        "data_quality": flu_result.data_quality._repr_html_(),
    }


#: The probe: one table with the views' style, a sentence's cell and a number's cell each
#: 300 pixels wide, each holding a black box 20 pixels wide.
BOX = '<span style="display: inline-block; width: 20px; height: 20px; background: #000"></span>'
PROBE = (
    '<div class="caas"><table style="width: 600px"><tr>'
    f'<td style="width: 300px">{BOX}</td><td class="n" style="width: 300px">{BOX}</td>'
    "</tr></table></div>"
)


@pytest.fixture(scope="module")
def shots(views: dict[str, str], flu_result: caas.Result) -> list[Shot]:
    style = re.match(r"<style>.*?</style>", views["cohort"], re.DOTALL)
    assert style, views["cohort"][:200]
    # The notebook's style comes after the view's here, so that only specificity can win.
    probe = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        '<div class="jp-OutputArea-output jp-RenderedHTMLCommon rendered_html" '
        f'style="width: 800px">{style.group(0)}{PROBE}</div>'
        f"<style>{JUPYTER_STYLE} body {{ padding: 0; }}</style></body></html>"
    )
    taken = [
        Shot("notebook-cohort", notebook_page(views["cohort"]), 1100),
        Shot("notebook-cohort-expanded", notebook_page(expanded(views["cohort"])), 5000),
        Shot("notebook-evaluation", notebook_page(views["evaluation"]), 1000),
        Shot("notebook-explanation", notebook_page(views["explanation"]), 1000),
        Shot("notebook-explanation-expanded", notebook_page(expanded(views["explanation"])), 5000),
        Shot("notebook-data-quality", notebook_page(views["data_quality"]), 400),
        Shot("report", flu_result.report().html, 14000),
        Shot("alignment-probe", probe, 100),
    ]
    take(taken)
    return taken


def test_screenshots_have_the_windows_size_and_are_not_blank(shots: list[Shot]) -> None:
    for shot in shots:
        assert shot.png.exists(), shot.name
        with Image.open(shot.png) as image:
            assert image.size == (WIDTH, shot.height), shot.name
            grey = image.convert("L")
            # A blank page is one colour; a page of text and tables varies a good deal.
            assert ImageStat.Stat(grey).var[0] > 50, f"{shot.name} looks blank"
            # The ink reaches the upper part: the page did not render off the window.
            top = grey.crop((0, 0, WIDTH, min(shot.height, 200))).tobytes()
            assert min(top) < 128, f"{shot.name}: nothing dark at the top"
    # The whole report is in its screenshot: its last rows are blank page.
    report = next(s for s in shots if s.name == "report")
    with Image.open(report.png) as image:
        bottom = image.convert("L").crop((0, report.height - 100, WIDTH, report.height))
        assert min(bottom.tobytes()) > 200, "the report is longer than its screenshot"


def ink_columns(png: Path) -> list[int]:
    """The x of every column of the screenshot with a dark pixel."""
    with Image.open(png) as image:
        grey = image.convert("L")
        width, height = grey.size
        # Row after row, one byte a pixel.
        pixels = grey.tobytes()
        return [x for x in range(width) if any(pixels[y * width + x] < 64 for y in range(height))]


def test_sentences_are_left_aligned_and_numbers_right_aligned_under_jupyters_style(
    shots: list[Shot],
) -> None:
    probe = next(s for s in shots if s.name == "alignment-probe")
    ink = ink_columns(probe.png)
    assert ink, "the probe drew nothing"
    left = [x for x in ink if x < 300]
    right = [x for x in ink if x >= 300]
    # The table starts at the left edge (the notebook's would centre it at x = 100), the
    # sentence's box at the start of its cell (the notebook's would put it near x = 270)...
    assert left and max(left) < 40, f"the sentence cell's box is at {left[:1]}..{left[-1:]}"
    # ...and the number's box at the end of its cell, the table's right edge at x = 600.
    assert right and 560 <= min(right) and max(right) < 600, f"the number's box: {right}"


def test_the_views_mark_up_names_dates_and_long_lists(views: dict[str, str]) -> None:
    cohort = views["cohort"]
    # Sentences hold names in backticks: they show as code, never as backticks.
    for view in views.values():
        assert "`" not in view
    assert "keep only people for whom <code>alive</code> is true" in cohort
    assert '<span class="nowrap">31 March 2026</span>' in cohort
    # The flu cohort's 31 codelists start collapsed, with their count; its parameters open.
    assert "<details><summary><h4>Codelists</h4> (31)</summary>" in cohort
    assert "<details open><summary><h4>Parameters</h4></summary>" in cohort
    assert "<script" not in "".join(views.values())
