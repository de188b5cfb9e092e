"""HTML for notebooks: a cohort's plain-English description, and a result's attrition
table with a funnel picture (inline SVG, no external resources)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

_STYLE = (
    "<style>"
    ".caas table{border-collapse:collapse;margin:4px 0 10px 0}"
    ".caas th,.caas td{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}"
    ".caas td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".caas h3{margin:4px 0}.caas h4{margin:8px 0 2px 0}"
    "</style>"
)


def _pairs(title: str, items: Sequence[Sequence[str]]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(text)}</td></tr>"
        for name, text in items
    )
    return f"<h4>{escape(title)}</h4><table>{rows}</table>"


def cohort_html(d: dict[str, Any]) -> str:
    """A cohort's description (from ``Cohort.describe()``) as HTML."""
    version = f", version {escape(d['version'])}" if d.get("version") else ""
    parts = [
        _STYLE,
        '<div class="caas">',
        f"<h3>{escape(d['title'])}</h3>",
        f"<p><code>{escape(d['id'])}</code>{version} &middot; purpose: {escape(d['purpose'])}</p>",
    ]
    if d.get("description"):
        parts.append(f"<p>{escape(d['description'])}</p>")
    parts.append(_pairs("Governance", d["governance"]))
    parts.append(_pairs("Parameters", d["parameters"]))
    parts.append(_pairs("Codelists", d["codelists"]))
    parts.append(_pairs("Variables", d["variables"]))
    if d["rules"]:
        rows = "".join(
            f"<tr><td class='n'>{i}</td><td><code>{escape(name)}</code></td>"
            f"<td>{escape(text)}</td></tr>"
            for i, (name, text) in enumerate(d["rules"], start=1)
        )
        parts.append(f"<h4>Rules, in order</h4><table>{rows}</table>")
    columns = ", ".join(f"<code>{escape(c)}</code>" for c in d["output"])
    parts.append(f"<h4>Output</h4><p>{columns}</p></div>")
    return "".join(parts)


def funnel_svg(population: int, steps: Sequence[dict[str, Any]], width: int = 560) -> str:
    """An SVG funnel: one bar for the population, then one per rule with the people left
    after it; bar widths are proportional to the counts."""
    bar_height, gap, label_width = 22, 6, 200
    bar_space = width - label_width - 90
    rows: list[tuple[str, int]] = [("population", population)]
    rows += [(f"{s['step']}. {s['rule']}", int(s["after"])) for s in steps]
    top = max(population, 1)
    height = len(rows) * (bar_height + gap) + gap
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'role="img" aria-label="attrition funnel">'
        )
    ]
    for i, (label, count) in enumerate(rows):
        y = gap + i * (bar_height + gap)
        w = max(1.0, bar_space * count / top) if count else 0.0
        x = label_width + (bar_space - w) / 2
        text_y = y + bar_height * 0.7
        out.append(
            f'<text x="{label_width - 8}" y="{text_y:.1f}" text-anchor="end" '
            f'font-family="sans-serif" font-size="12">{escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
            f'fill="{"#7a8b99" if i == 0 else "#2f6f9f"}"><title>{escape(label)}: '
            f"{count:,}</title></rect>"
            f'<text x="{label_width + bar_space + 8}" y="{text_y:.1f}" font-family="sans-serif" '
            f'font-size="12">{count:,}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def result_html(
    title: str, population: int, member_count: int, steps: Sequence[dict[str, Any]]
) -> str:
    """A result's attrition (rows of ``step, rule, action, before, after, removed``) as an
    HTML table and a funnel."""
    rows = "".join(
        "<tr>"
        f"<td class='n'>{s['step']}</td><td>{escape(str(s['rule']))}</td>"
        f"<td>{escape(str(s['action']))}</td><td class='n'>{s['before']:,}</td>"
        f"<td class='n'>{s['after']:,}</td><td class='n'>{s['removed']:,}</td>"
        "</tr>"
        for s in steps
    )
    header = "".join(
        f"<th>{h}</th>" for h in ("step", "rule", "action", "before", "after", "removed")
    )
    return (
        f'{_STYLE}<div class="caas"><h3>{escape(title)}</h3>'
        f"<p>{member_count:,} of {population:,} people in the cohort</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
        f"{funnel_svg(population, steps)}</div>"
    )
