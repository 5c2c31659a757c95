"""The M&V report: one self-contained HTML file, rendered from the result document of
:func:`wattlens.analytics.mv.mv_job`, holding the periods, the model and its fitted
parameters, the Guideline 14 checks, the savings with their uncertainty, the warnings and the
SHA-256 of the input data — enough for a third party to reproduce the result.

:func:`summary_rows` formats the numbers once; the page and the report both show these rows, so
what is downloaded is exactly what was shown.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import pandas as pd

from wattlens.analytics.mv import frame_of
from wattlens.core.meters import MeterInfo


def _num(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip()


def warning_text(warning: str | dict[str, Any]) -> str:
    """A result warning as text (plain text, or a DataWarning's ``to_dict()``)."""
    return warning if isinstance(warning, str) else str(warning.get("message", warning))


def summary_rows(project: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(slug, label, formatted value) of every headline number of an M&V project."""
    base = project["result"].get("baseline", {})
    rep = project["result"].get("reporting", {})
    interval = rep.get("savings_interval_kwh") or [None, None]
    g14 = base.get("g14_pass")
    conf = project["confidence"]
    return [
        ("meter", "meter", project["meter"]),
        ("model", "baseline model", project["model"]),
        ("baseline-period", "baseline period", " to ".join(project["periods"]["baseline"])),
        ("blackout-period", "blackout period",
         " to ".join(project["periods"]["blackout"]) if project["periods"]["blackout"] else "none"),
        ("reporting-period", "reporting period", " to ".join(project["periods"]["reporting"])),
        ("cv-rmse", "baseline CV(RMSE)", _num(base.get("cv_rmse_pct"), "%")),
        ("nmbe", "baseline NMBE", _num(base.get("nmbe_pct"), "%", 2)),
        ("r2", "baseline R²", _num(base.get("r2"), "", 3)),
        ("g14", "ASHRAE Guideline 14",
         {True: "pass", False: "fail", None: "–"}[None if g14 is None else bool(g14)]),
        ("actual", "actual energy", _num(rep.get("actual_kwh"), "kWh", 0)),
        ("baseline", "adjusted baseline", _num(rep.get("adjusted_baseline_kwh"), "kWh", 0)),
        ("savings", "avoided energy", _num(rep.get("savings_kwh"), "kWh", 0)),
        ("savings-pct", "savings", _num(rep.get("savings_pct"), "%", 2)),
        ("fsu", f"fractional savings uncertainty ({conf:.0%})", _num(rep.get("fsu_pct"), "%")),
        ("interval", f"savings interval ({conf:.0%})",
         f"{_num(interval[0], '', 0)} to {_num(interval[1], 'kWh', 0)}"),
        ("hash", "input data SHA-256", project["data_sha256"]),
    ]


def render_report(project: dict[str, Any], info: MeterInfo, names: dict[str, str]) -> str:
    """The report of an M&V result document on meter ``info`` as a standalone HTML document
    (``names``: display names of site and building ids)."""
    rows = "".join(f"<tr><th>{escape(label)}</th><td id='{slug}'>{escape(str(value))}</td></tr>"
                   for slug, label, value in summary_rows(project))
    warnings = "".join(f"<li>{escape(warning_text(w))}</li>"
                       for w in project["warnings"]) or "<li>none</li>"
    params = escape(json.dumps(project["parameters"], indent=2, sort_keys=True, default=str))
    option = "B (an equipment submeter)" if info.parent else "C (a whole-building meter)"
    inputs = escape(json.dumps(project["inputs"], indent=2, sort_keys=True, default=str))
    monthly = frame_of(project["series"])
    table = ""
    if not monthly.empty:
        monthly["month"] = monthly["time"].dt.tz_convert(info.timezone).dt.strftime("%Y-%m")
        sums = monthly.groupby("month")[["baseline", "actual"]].sum()
        table = "".join(
            f"<tr><td>{m}</td><td>{r.baseline:,.0f}</td><td>{r.actual:,.0f}</td>"
            f"<td>{r.baseline - r.actual:,.0f}</td></tr>" for m, r in sums.iterrows())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>M&amp;V report · {escape(project['meter'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#24292f}}
table{{border-collapse:collapse}}th,td{{border:1px solid #d0d7de;padding:4px 8px;text-align:left}}
pre{{background:#f6f8fa;padding:1em}}</style></head><body>
<h1>Measurement &amp; verification report</h1>
<p>Meter <b>{escape(info.label)}</b> ({escape(info.id)}, {escape(info.commodity)}) at
{escape(names.get(info.building or "", str(info.building)))},
{escape(names.get(info.site or "", str(info.site)))}. Dates are local ({escape(info.timezone)});
energy in kWh. IPMVP Option {option}, savings = adjusted baseline − actual.</p>
<h2>Result</h2><table id="summary">{rows}</table>
<h2>Warnings and data sufficiency</h2><ul id="warnings">{warnings}</ul>
<h2>Model and fitted parameters</h2><pre id="parameters">{params}</pre>
<h2>Inputs (to reproduce)</h2><pre id="inputs">{inputs}</pre>
<p>The SHA-256 is of the energy and temperature readings used (CSV: time in UTC ISO 8601,
values with 6 decimals), exported with <code>wattlens export readings</code>.</p>
<h2>Monthly baseline against actual [kWh]</h2>
<table><tr><th>month</th><th>adjusted baseline</th><th>actual</th><th>avoided</th></tr>
{table}</table>
<p>Generated by wattlens on {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC.</p>
</body></html>"""
