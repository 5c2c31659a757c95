"""Savings: recommendations ranked by value — the selected one's evidence in sentences and
a small chart of its meter's daily profile now and after the measure — and M&V projects
(IPMVP Option B/C) — baseline, blackout and reporting periods and a model; adjusted baseline
against actual, cumulative savings with its uncertainty band, Guideline 14 checks, warnings
and a downloadable report.

The estimate is the M&V job of :mod:`wattlens.analytics.mv` (the one ``wattlens mv run``
runs): "estimate savings" runs it and stores the result document, the report renders the
stored document. URL: ``/savings?meter=<id>``."""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, dcc, html

from wattlens.analytics.mv import MVSpec, frame_of
from wattlens.dashboard import components, figures, urlstate
from wattlens.dashboard.data import request_data
from wattlens.dashboard.report import render_report, summary_rows, warning_text

dash.register_page(__name__, path="/savings", name="Savings", order=4,
                   title="wattlens · savings")

MODELS = {"caltrack-daily": "CalTRACK daily (HDD/CDD change-point)",
          "towt": "CalTRACK hourly TOWT", "prophet": "Prophet"}

_FORMAT = {"function": "params.value == null ? '' : d3.format(',.0f')(params.value)"}
_REC_COLUMNS = [
    {"field": "title", "flex": 3, "wrapText": True, "autoHeight": True},
    {"field": "meter"},
    {"field": "annual_kwh", "headerName": "kWh / year", "valueFormatter": _FORMAT},
    {"field": "share", "headerName": "% of meter", "width": 110, "valueFormatter":
        {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}},
    {"field": "annual_cost", "headerName": "cost / year", "sort": "desc",
     "valueFormatter": _FORMAT},
    {"field": "annual_co2_kg", "headerName": "kgCO2 / year", "valueFormatter": _FORMAT},
    {"field": "confidence", "width": 110},
    {"field": "rule"},
]
_PICK = "Select a recommendation to see its evidence."


def _evidence(row: dict[str, Any]) -> dict[str, Any]:
    """A row's evidence as a dict (stored as JSON text by the data layer)."""
    evidence = row.get("evidence")
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return {}
    return evidence if isinstance(evidence, dict) else {}


def evidence_sentences(row: dict[str, Any]) -> list[str]:
    """The evidence of a recommendation in words: its own sentences, or (for documents
    written before they had them) one line per number."""
    evidence = _evidence(row)
    if evidence.get("sentences"):
        return [str(s) for s in evidence["sentences"]]
    lines = [f"{str(row.get('title', ''))}."]
    for key, value in evidence.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    return lines


def recommendation_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Grid rows: each recommendation with its share of its meter's consumption."""
    rows = frame.to_dict("records")
    for row in rows:
        used = _evidence(row).get("meter_consumption_kwh")
        kwh = row.get("annual_kwh")
        row["share"] = kwh / used if isinstance(used, int | float) and used > 0 and \
            isinstance(kwh, int | float) else None
        row["id"] = f"{row.get('rule')}:{row.get('meter')}"
    return rows


def layout(meter: str | None = None, **_: str) -> html.Div:
    return html.Div([
        urlstate.url_state("savings", meter),
        components.section(
            "Recommendations", dcc.Checklist(
                id="savings-rec-scope", value=["meter"], inline=True, options=[
                    {"label": " only the picked meter", "value": "meter"}]),
            dag.AgGrid(
                id="savings-recommendations", columnDefs=_REC_COLUMNS, rowData=[],
                getRowId="params.data.id",
                defaultColDef={"sortable": True, "resizable": True, "filter": True, "flex": 1},
                dashGridOptions={
                    "rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                    "localeText": {
                        "noRowsToShow": "No recommendations yet: run `wattlens recommend`."}},
                style={"height": "360px"}),
            html.Div([
                html.Ul([html.Li(_PICK)], id="savings-rec-evidence", className="evidence"),
                dcc.Graph(id="savings-rec-chart", figure=figures.message(_PICK),
                          config={**components.GRAPH_CONFIG, "displayModeBar": False},
                          style={"height": "310px"}),
            ], className="two-col"),
            note="Ranked by annual value. Overlapping measures share a meter's savings: a "
                 "meter's rows add up to what they save together, never to more than it "
                 "uses."),
        components.section(
            "M&V project on the picked meter (IPMVP Option C for a building meter, B for a "
            "submeter)", html.Div([
            html.Label(["baseline ", components.period("mv-baseline")]),
            html.Label(["blackout (installation, optional) ", components.period("mv-blackout")]),
            html.Label(["reporting ", components.period("mv-reporting")]),
            html.Label(["model ", dcc.Dropdown(
                id="mv-model", value="caltrack-daily", clearable=False,
                options=[{"label": v, "value": k} for k, v in MODELS.items()],
                style={"width": "300px"})]),
            html.Label(["confidence ", dcc.Dropdown(
                id="mv-confidence", value=0.9, clearable=False,
                options=[{"label": f"{c:.0%}", "value": c} for c in (0.68, 0.8, 0.9, 0.95)],
                style={"width": "100px"})]),
            html.Button("estimate savings", id="mv-run", className="button primary"),
            html.Button("download report (HTML)", id="mv-report-button", className="button"),
            dcc.Download(id="mv-report"),
        ], className="form")),
        dcc.Loading(html.Div(id="mv-summary"), type="dot"),
        html.Div([
            components.section("Adjusted baseline against actual",
                               components.graph("mv-chart", "Run an estimate to see the "
                                                            "baseline against actual.")),
            components.section("Cumulative savings",
                               components.graph("mv-cumulative", "Run an estimate to see "
                                                                 "cumulative savings.")),
        ], className="two-col"),
    ])


urlstate.sync("savings", {})


@dash.callback(Output("savings-recommendations", "rowData"),
               Output("savings-recommendations", "selectedRows"), Input("meter-picker", "value"),
               Input("savings-rec-scope", "value"))
def update_recommendations(meter: str | None, scope: list[str] | None
                           ) -> tuple[list[dict[str, Any]], Any]:
    """The recommendations (of the picked meter only, if so chosen), the picked meter's
    first one selected."""
    data, user = request_data()
    data.allowed(user, [meter])  # a request naming a meter outside the scope is refused
    rows = recommendation_rows(data.recommendations(user))
    if meter and "meter" in (scope or []):
        rows = [r for r in rows if r["meter"] == meter]
    first = next((r for r in rows if r["meter"] == meter), None)
    return rows, [first] if first else []


@dash.callback(Output("savings-rec-evidence", "children"), Output("savings-rec-chart", "figure"),
               Input("savings-recommendations", "selectedRows"))
def show_evidence(selected: list[dict[str, Any]] | None) -> tuple[list[html.Li], Any]:
    """The selected recommendation's evidence in sentences and its profile chart."""
    if not selected:
        return [html.Li(_PICK)], figures.message(_PICK)
    row = selected[0]
    sentences = [html.Li(s) for s in evidence_sentences(row)]
    profile = _evidence(row).get("profile")
    if not profile:
        return sentences, figures.message("No profile stored with this recommendation: run "
                                          "`wattlens recommend` again.")
    return sentences, figures.recommendation_profile(
        profile, f"{row.get('meter')}: typical day now and after this measure")


@dash.callback(Output("mv-baseline", "start_date"), Output("mv-baseline", "end_date"),
               Output("mv-reporting", "start_date"), Output("mv-reporting", "end_date"),
               Input("meter-picker", "value"))
def default_periods(meter: str | None) -> tuple:
    """Baseline: the year before the last; reporting: the last year of data."""
    data, user = request_data()
    span = data.span(user, meter) if meter else None
    if span is None:
        return None, None, None, None
    tz = data.info(user, meter).timezone
    end = span[1].tz_convert(tz).normalize()
    mid = end - pd.Timedelta("365D")
    begin = mid - pd.Timedelta("365D")
    day = "%Y-%m-%d"
    return (begin.strftime(day), (mid - pd.Timedelta("1D")).strftime(day), mid.strftime(day),
            (end - pd.Timedelta("1D")).strftime(day))


_FORM = [State("meter-picker", "value"), State("mv-baseline", "start_date"),
         State("mv-baseline", "end_date"), State("mv-blackout", "start_date"),
         State("mv-blackout", "end_date"), State("mv-reporting", "start_date"),
         State("mv-reporting", "end_date"), State("mv-model", "value"),
         State("mv-confidence", "value")]


def _spec(meter: str, b0: str | None, b1: str | None, k0: str | None, k1: str | None,
          r0: str | None, r1: str | None, model: str, confidence: float) -> MVSpec:
    """The form as an M&V job spec (dates are local and inclusive)."""
    if not (b0 and b1):
        raise ValueError("choose both dates of the baseline period")
    if not (r0 and r1):
        raise ValueError("choose both dates of the reporting period")
    return MVSpec(meter=meter, baseline=(b0[:10], b1[:10]), reporting=(r0[:10], r1[:10]),
                  blackout=(k0[:10], k1[:10]) if k0 and k1 else None, model=model,
                  confidence=confidence)


@dash.callback(Output("mv-summary", "children"), Output("mv-chart", "figure"),
               Output("mv-cumulative", "figure"), Input("mv-run", "n_clicks"),
               Input("meter-picker", "value"), *_FORM[1:])
def run(_clicks: int, meter: str, b0: str, b1: str, k0: str | None, k1: str | None,
        r0: str, r1: str, model: str, confidence: float) -> tuple:
    data, user = request_data()
    if dash.ctx.triggered_id != "mv-run":  # a new meter: the old result no longer applies
        name = data.info(user, meter).label
        text = f"Choose the periods and the model for {name}, then estimate savings."
        return html.P(text, className="note"), figures.message(text), figures.message(text)
    spec = _spec(meter, b0, b1, k0, k1, r0, r1, model, confidence)
    project = data.savings(user, spec, rerun=True)
    tz = data.info(user, meter).timezone
    rows = summary_rows(project)
    summary = html.Div([
        html.Table([html.Tr([html.Th(k), html.Td(v, id=f"mv-out-{slug}")])
                    for slug, k, v in rows], className="summary", id="mv-summary-table"),
        html.Ul([html.Li(warning_text(w)) for w in project["warnings"]], className="warnings")
        if project["warnings"] else html.P("No data-sufficiency warnings.", className="note"),
    ])
    return (summary, figures.savings(frame_of(project["series"]), tz, project["per"]),
            figures.cumulative_savings(frame_of(project["cumulative"]), tz))


@dash.callback(Output("mv-report", "data"), Input("mv-report-button", "n_clicks"), *_FORM,
               prevent_initial_call=True)
def report(_clicks: int, meter: str, b0: str, b1: str, k0: str | None, k1: str | None,
           r0: str, r1: str, model: str, confidence: float) -> dict:
    data, user = request_data()
    project = data.savings(user, _spec(meter, b0, b1, k0, k1, r0, r1, model, confidence))
    name = f"mv_{meter}_{model}_{r0}_{r1}.html"
    report = render_report(project, data.info(user, meter), data.access.names)
    return {"content": report, "filename": name, "type": "text/html"}
