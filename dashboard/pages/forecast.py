"""Forecast vs actual: forecasts exactly as issued (chosen by lead time), their intervals (held at
>= 0 like the energy they bound), an accuracy scorecard with ASHRAE Guideline 14 pass/fail and
the 80 % intervals' coverage beside the persistence baseline, and the residuals.

URL: ``/forecast?meter=<id>&start=<first local date>&end=<last local date>`` or
``range=<preset>``."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, dash_table, dcc, html

from wattlens.dashboard import components, figures, transforms, urlstate
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _, lazy_gettext
from wattlens.forecasting.backtest import G14_CV_RMSE_PCT, G14_NMBE_PCT
from wattlens.forecasting.models import INTERVAL_WIDTH

dash.register_page(__name__, path="/forecast", name=N_("Forecast"), order=2,
                   title=lambda: f"wattlens · {_('Forecast')}")

COVERAGE_OK = (77.0, 83.0)
"""Coverage [%] of the 80 % interval counted as calibrated (shown green; red outside)."""

HORIZONS = {"day-ahead": (lazy_gettext("day-ahead (0-24 h)"), 0, 24),
            "next-day": (lazy_gettext("next day (24-48 h)"), 24, 48),
            "intraday": (lazy_gettext("intraday (0-6 h)"), 0, 6),
            "any": (lazy_gettext("any lead (0-168 h)"), 0, 168)}
"""Horizon (dropdown value) → label, lead range [h]."""
PERSISTENCE = "persistence"
"""Models whose name starts so are the persistence baseline already (no companion row)."""


def layout(meter: str | None = None, start: str | None = None, end: str | None = None,
           **query: str) -> html.Div:
    return html.Div([
        urlstate.period_url_state("forecast", meter, start, end, query),
        html.Div([
            urlstate.period_controls("forecast"),
            html.Label([_("horizon") + " ", dcc.Dropdown(
                id="forecast-horizon", value="day-ahead", clearable=False, className="narrow",
                options=[{"label": str(label), "value": key}
                         for key, (label, _lo, _hi) in HORIZONS.items()])]),
        ], className="toolbar"),
        components.section(_("Actual against forecast as issued"),
                           components.graph("forecast-chart", _("Loading forecasts…"))),
        components.section(
            _("Accuracy scorecard"), html.Div(id="forecast-scorecard", className="table-scroll"),
            note=_("ASHRAE Guideline 14 (hourly): CV(RMSE) ≤ %(cv)s %% and |NMBE| ≤ %(nmbe)s %%. "
                   "NMBE > 0 means the model under-predicts. Coverage: share of actuals inside "
                   "the %(width)s %% interval as issued (calibrated: %(lo)s–%(hi)s %%).",
                   cv=f"{G14_CV_RMSE_PCT:g}", nmbe=f"{G14_NMBE_PCT:g}",
                   width=f"{100 * INTERVAL_WIDTH:.0f}", lo=f"{COVERAGE_OK[0]:g}",
                   hi=f"{COVERAGE_OK[1]:g}")),
        components.section(_("Residuals"), components.graph("forecast-residuals",
                                                            _("Loading residuals…"))),
    ])


urlstate.sync("forecast", urlstate.period_fields("forecast"))
urlstate.period_callback("forecast", days=28)


def _coverage_style(column: str) -> list[dict]:
    """Green inside :data:`COVERAGE_OK`, red outside."""
    lo, hi = COVERAGE_OK
    inside = f"{{{column}}} >= {lo:g} && {{{column}}} <= {hi:g}"
    outside = f"{{{column}}} < {lo:g} || {{{column}}} > {hi:g}"
    return [{"if": {"filter_query": inside, "column_id": column}, "color": "#1a7f37"},
            {"if": {"filter_query": outside, "column_id": column}, "color": "#d1242f"}]


def _fmt(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def scorecard_rows(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scorecard's rows in the request's language: one per model and one previous-week
    persistence row beside each, except beside a persistence model (it would repeat it)."""
    verdicts = {True: _("pass"), False: _("fail"), None: "–"}
    rows, model = [], ""
    for s in scores:
        name = s["model"]
        if name.startswith("previous-week persistence"):
            if model.startswith(PERSISTENCE):
                continue
            name = _("previous-week persistence (beside %(model)s)", model=model)
        else:
            model = name
        rows.append({"model": name, "n": s["n"], "cv": _fmt(s["cv_rmse_pct"]),
                     "nmbe": _fmt(s["nmbe_pct"]),
                     "coverage": None if s["coverage_pct"] is None else
                     round(s["coverage_pct"], 1),
                     "g14": verdicts[s["g14_pass"]]})
    return rows


def _table(rows: list[dict[str, Any]]) -> dash_table.DataTable:
    columns = {"model": _("model"), "n": "n", "cv": "CV(RMSE) %", "nmbe": "NMBE %",
               "coverage": _("coverage of %(width)s %% interval",
                             width=f"{100 * INTERVAL_WIDTH:.0f}"),
               "g14": "Guideline 14"}
    return dash_table.DataTable(
        rows, columns=[{"id": k, "name": v} for k, v in columns.items()], id="forecast-scores",
        style_cell={"textAlign": "left", "fontSize": 13}, style_table={"overflowX": "auto"},
        style_data_conditional=[
            {"if": {"filter_query": f'{{g14}} = "{_("pass")}"', "column_id": "g14"},
             "color": "#1a7f37", "fontWeight": "bold"},
            {"if": {"filter_query": f'{{g14}} = "{_("fail")}"', "column_id": "g14"},
             "color": "#d1242f", "fontWeight": "bold"},
            *_coverage_style("coverage")])


@dash.callback(Output("forecast-chart", "figure"), Output("forecast-residuals", "figure"),
               Output("forecast-scorecard", "children"), Input("meter-picker", "value"),
               Input("forecast-period", "start_date"), Input("forecast-period", "end_date"),
               Input("forecast-horizon", "value"))
def update(meter: str, start_date: str | None, end_date: str | None, horizon: str) -> tuple:
    data, user = request_data()
    info = data.info(user, meter)
    if not (start_date and end_date):
        text = _("No readings for %(meter)s yet, so nothing to compare forecasts with.",
                 meter=meter)
        return figures.message(text), figures.message(text), text
    tz = info.timezone
    start = pd.Timestamp(start_date[:10]).tz_localize(tz)
    end = pd.Timestamp(end_date[:10]).tz_localize(tz) + pd.Timedelta("1D")
    label, lead_min, lead_max = HORIZONS.get(horizon, HORIZONS["day-ahead"])
    result = data.forecast_vs_actual(user, meter, start, end, lead_min, lead_max)
    merged = result["forecast"]
    if merged.empty:
        text = _("No forecasts issued for %(meter)s with a %(horizon)s lead in this period; "
                 "run `wattlens forecast run` or choose another horizon.",
                 meter=meter, horizon=str(label))
        return figures.message(text), figures.message(text), text
    merged = transforms.clip_at_zero(merged)
    residuals = figures.residuals(merged, tz)
    # two lines, so the axis title fits the chart's height instead of being clipped
    residuals["layout"]["yaxis"]["title"]["text"] = _("actual − forecast<br>[kWh per interval]")
    return (figures.forecast(merged, result["actual"], tz), residuals,
            _table(scorecard_rows(result["scores"])))
