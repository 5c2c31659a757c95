"""Forecast vs actual: forecasts exactly as issued (chosen by lead time), their intervals, an
accuracy scorecard with ASHRAE Guideline 14 pass/fail and the 80 % intervals' coverage
beside the persistence baseline, and the residuals.

URL: ``/forecast?meter=<id>&start=<first local date>&end=<last local date>``."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, dash_table, dcc, html

from wattlens.dashboard import components, figures, urlstate
from wattlens.dashboard.data import request_data
from wattlens.forecasting.backtest import G14_CV_RMSE_PCT, G14_NMBE_PCT
from wattlens.forecasting.models import INTERVAL_WIDTH

dash.register_page(__name__, path="/forecast", name="Forecast", order=2,
                   title="wattlens · forecast vs actual")

COVERAGE_OK = (77.0, 83.0)
"""Coverage [%] of the 80 % interval counted as calibrated (shown green; red outside)."""

HORIZONS = {"day-ahead (0-24 h)": (0, 24), "next day (24-48 h)": (24, 48),
            "intraday (0-6 h)": (0, 6), "any lead (0-168 h)": (0, 168)}


def layout(meter: str | None = None, start: str | None = None, end: str | None = None,
           **_: str) -> html.Div:
    return html.Div([
        urlstate.url_state("forecast", meter, start=start, end=end),
        html.Div([
            html.Label(["period ", components.period("forecast-period")]),
            html.Label(["horizon ", dcc.Dropdown(
                id="forecast-horizon", options=list(HORIZONS), value="day-ahead (0-24 h)",
                clearable=False, style={"width": "220px"})]),
        ], className="toolbar"),
        components.section("Actual against forecast as issued",
                           components.graph("forecast-chart", "Loading forecasts…")),
        components.section(
            "Accuracy scorecard", html.Div(id="forecast-scorecard"),
            note=f"ASHRAE Guideline 14 (hourly): CV(RMSE) ≤ {G14_CV_RMSE_PCT:g} % and "
                 f"|NMBE| ≤ {G14_NMBE_PCT:g} %. NMBE > 0 means the model under-predicts. "
                 f"Coverage: share of actuals inside the {100 * INTERVAL_WIDTH:.0f} % "
                 f"interval as issued (calibrated: {COVERAGE_OK[0]:g}–{COVERAGE_OK[1]:g} %)."),
        components.section("Residuals", components.graph("forecast-residuals",
                                                         "Loading residuals…")),
    ])


urlstate.sync("forecast", {"start": ("forecast-period", "start_date"),
                           "end": ("forecast-period", "end_date")})


@dash.callback(Output("forecast-period", "start_date"), Output("forecast-period", "end_date"),
               Output("forecast-url", "data"), Input("meter-picker", "value"),
               State("forecast-url", "data"))
def default_period(meter: str | None, query: dict | None) -> tuple:
    """The URL's dates (once), else the last four weeks up to the meter's newest reading."""
    return urlstate.period(query, meter, days=28)


def _coverage_style(column: str) -> list[dict]:
    """Green inside :data:`COVERAGE_OK`, red outside."""
    lo, hi = COVERAGE_OK
    inside = f"{{{column}}} >= {lo:g} && {{{column}}} <= {hi:g}"
    outside = f"{{{column}}} < {lo:g} || {{{column}}} > {hi:g}"
    return [{"if": {"filter_query": inside, "column_id": column}, "color": "#1a7f37"},
            {"if": {"filter_query": outside, "column_id": column}, "color": "#d1242f"}]


def _fmt(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@dash.callback(Output("forecast-chart", "figure"), Output("forecast-residuals", "figure"),
               Output("forecast-scorecard", "children"), Input("meter-picker", "value"),
               Input("forecast-period", "start_date"), Input("forecast-period", "end_date"),
               Input("forecast-horizon", "value"))
def update(meter: str, start_date: str | None, end_date: str | None, horizon: str) -> tuple:
    data, user = request_data()
    info = data.info(user, meter)
    if not (start_date and end_date):
        text = f"No readings for {meter} yet, so nothing to compare forecasts with."
        return figures.message(text), figures.message(text), text
    tz = info.timezone
    start = pd.Timestamp(start_date[:10]).tz_localize(tz)
    end = pd.Timestamp(end_date[:10]).tz_localize(tz) + pd.Timedelta("1D")
    lead_min, lead_max = HORIZONS.get(horizon, (0, 24))
    result = data.forecast_vs_actual(user, meter, start, end, lead_min, lead_max)
    merged = result["forecast"]
    if merged.empty:
        text = (f"No forecasts issued for {meter} with a {horizon} lead in this period; "
                f"run `wattlens forecast run` or choose another horizon.")
        return figures.message(text), figures.message(text), text
    rows = [{"model": s["model"], "n": s["n"], "CV(RMSE) %": _fmt(s["cv_rmse_pct"]),
             "NMBE %": _fmt(s["nmbe_pct"]),
             f"coverage of {100 * INTERVAL_WIDTH:.0f} % interval":
                 None if s["coverage_pct"] is None else round(s["coverage_pct"], 1),
             "Guideline 14": {True: "pass", False: "fail", None: "–"}[s["g14_pass"]]}
            for s in result["scores"]]
    table = dash_table.DataTable(
        rows, id="forecast-scores", style_cell={"textAlign": "left", "fontSize": 13},
        style_data_conditional=[
            {"if": {"filter_query": '{Guideline 14} = "pass"', "column_id": "Guideline 14"},
             "color": "#1a7f37", "fontWeight": "bold"},
            {"if": {"filter_query": '{Guideline 14} = "fail"', "column_id": "Guideline 14"},
             "color": "#d1242f", "fontWeight": "bold"},
            *_coverage_style(f"coverage of {100 * INTERVAL_WIDTH:.0f} % interval")])
    return (figures.forecast(merged, result["actual"], tz), figures.residuals(merged, tz), table)
