"""HTML for notebooks: a cohort's plain-English description, a result's attrition table with
the engine's funnel picture (inline SVG, no external resources), a person's explanation and
the data-quality findings."""

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


def result_html(
    title: str,
    population: str,
    member_count: str,
    steps: Sequence[tuple[int, str, str, str, str, str]],
    funnel: str,
) -> str:
    """A result's attrition (rows of ``step, rule, action, before, after, removed``, counts
    as the engine shows them: under disclosure control for purposes other than direct
    care) as an HTML table, and ``funnel``, the engine's SVG of it."""
    rows = "".join(
        "<tr>"
        f"<td class='n'>{step}</td><td>{escape(rule)}</td><td>{escape(action)}</td>"
        f"<td class='n'>{escape(before)}</td><td class='n'>{escape(after)}</td>"
        f"<td class='n'>{escape(removed)}</td>"
        "</tr>"
        for step, rule, action, before, after, removed in steps
    )
    header = "".join(
        f"<th>{h}</th>" for h in ("step", "rule", "action", "before", "after", "removed")
    )
    return (
        f'{_STYLE}<div class="caas"><h3>{escape(title)}</h3>'
        f"<p>{escape(member_count)} of {escape(population)} people in the cohort</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
        f"{funnel}</div>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of cells that are already HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value(value: Any) -> str:
    if value is None:
        return "<i>unknown</i>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _optional(value: Any) -> str:
    return "" if value is None else escape(str(value))


def explanation_html(d: dict[str, Any]) -> str:
    """A person's explanation (the engine's JSON, parsed): the verdict, each rule with its
    outcome, each variable with its value and the rows behind it."""
    verdict = d["verdict"]
    if verdict["verdict"] == "in":
        said = f"in the cohort (passed all {len(d['rules'])} rules)"
    else:
        said = (
            f"not in the cohort: removed at step {verdict['step']} by rule "
            f"<code>{escape(verdict['rule'])}</code>"
        )
    rules = [
        (
            str(r["step"]),
            f"<code>{escape(r['name'])}</code>",
            escape(r["action"]),
            f"<code>{escape(r['condition'])}</code>",
            escape(r["outcome"]),
            ("passed" if r["passed"] else "<b>not passed</b>")
            + (" &larr; removed here" if verdict.get("step") == r["step"] else ""),
        )
        for r in d["rules"]
    ]
    variables = []
    for v in d["variables"]:
        rows = [
            (escape(e["table"]), escape(e["date"]), escape(e["code"]), _optional(e["value"]))
            for e in v.get("events", [])
        ]
        periods = [
            (
                escape(p["table"]),
                _optional(p["start_date"]) or "unknown",
                _optional(p["end_date"]) or "open",
                _optional(p["practice"]),
            )
            for p in v.get("periods", [])
        ]
        behind = ""
        if v.get("selected") is not None:
            behind = f"{v['selected']:,} row(s) selected"
        if rows:
            behind += _table(("table", "date", "code", "value"), rows)
        if periods:
            behind += _table(("table", "start", "end", "practice"), periods)
        variables.append(
            (f"<code>{escape(v['name'])}</code>", _value(v["value"]), escape(v["sentence"]), behind)
        )
    return (
        f'{_STYLE}<div class="caas"><h3>Person {escape(str(d["person_id"]))} and cohort '
        f"<code>{escape(d['cohort'])}</code></h3><p>Verdict: {said}</p>"
        "<h4>Rules</h4>"
        + _table(("step", "rule", "action", "condition", "outcome", "passed"), rules)
        + "<h4>Variables</h4>"
        + _table(("variable", "value", "what it is", "rows behind the value"), variables)
        + "</div>"
    )


def data_quality_html(tables: int, findings: Sequence[Sequence[Any]]) -> str:
    """Data-quality findings: rows of (table, column, description, count, policy,
    excluded)."""
    if not findings:
        return (
            f'{_STYLE}<div class="caas"><h4>Data quality</h4>'
            f"<p>Nothing found in the {tables} table(s) read.</p></div>"
        )
    rows = [
        (
            f"<code>{escape(table)}</code>",
            f"<code>{escape(column)}</code>",
            escape(description),
            f"{count:,}",
            escape(policy),
            f"{excluded:,}",
        )
        for table, column, description, count, policy, excluded in findings
    ]
    header = ("table", "column", "rows with", "rows", "policy", "excluded")
    return f'{_STYLE}<div class="caas"><h4>Data quality</h4>{_table(header, rows)}</div>'
