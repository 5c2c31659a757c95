"""Consumption explorer: a zoomable series that stays sharp over years (store aggregation plus
MinMaxLTTB resampling on every zoom), carpet plot, day-type profiles, energy signature, period
comparison, meter hierarchy and a CSV download of what is shown.

URL: ``/explorer?meter=<id>&start=<first local date>&end=<last local date>``."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, dcc, html

from wattlens.dashboard import components, figures, urlstate
from wattlens.dashboard.data import request_data
from wattlens.store.csvio import write_csv

dash.register_page(__name__, path="/explorer", name="Explorer", order=1,
                   title="wattlens · explorer")


def layout(meter: str | None = None, start: str | None = None, end: str | None = None,
           **_: str) -> html.Div:
    return html.Div([
        urlstate.url_state("explorer", meter, start=start, end=end),
        html.Div([
            html.Label(["period ", components.period("explorer-period")]),
            html.Button("download CSV of the series", id="explorer-download-button",
                        className="button"),
            dcc.Download(id="explorer-download"),
            html.Span(id="explorer-note", className="note"),
        ], className="toolbar"),
        components.section("Consumption", components.graph("explorer-series",
                                                           "Loading consumption…"),
                           note="Zoom in: finer data is fetched for the visible range."),
        html.Div([
            components.section("Carpet plot", components.graph("explorer-carpet",
                                                               "Loading carpet plot…")),
            components.section("Average day by day type",
                               components.graph("explorer-profiles", "Loading profiles…")),
        ], className="two-col"),
        html.Div([
            components.section("Energy signature",
                               components.graph("explorer-signature", "Loading signature…")),
            components.section(
                "Period comparison",
                dcc.RadioItems(id="explorer-against", value="year", inline=True, options=[
                    {"label": " a year earlier ", "value": "year"},
                    {"label": " previous period ", "value": "previous"}]),
                components.graph("explorer-comparison", "Loading comparison…")),
        ], className="two-col"),
        components.section("Meter hierarchy", components.graph("explorer-hierarchy",
                                                               "Loading submeters…"),
                           note="Submeters stacked with the parent's unmetered remainder."),
    ])


def _period(meter: str, start_date: str | None, end_date: str | None) -> tuple[Any, Any, str]:
    """UTC [start, end) of the chosen local dates (default: the year up to the newest reading)."""
    data, user = request_data()
    info = data.info(user, meter)
    if start_date and end_date:
        start = pd.Timestamp(start_date[:10]).tz_localize(info.timezone)
        end = pd.Timestamp(end_date[:10]).tz_localize(info.timezone) + pd.Timedelta("1D")
        return start.tz_convert("UTC"), end.tz_convert("UTC"), info.timezone
    span = data.span(user, meter)
    if span is None:
        raise ValueError(f"{meter} has no readings yet; import or ingest some first")
    return span[0], span[1], info.timezone


def _local(text: str, tz: str) -> pd.Timestamp:
    """A wall-clock time from the browser (site timezone) as UTC."""
    ts = pd.Timestamp(text).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


urlstate.sync("explorer", {"start": ("explorer-period", "start_date"),
                           "end": ("explorer-period", "end_date")})


@dash.callback(Output("explorer-period", "start_date"), Output("explorer-period", "end_date"),
               Output("explorer-url", "data"), Input("meter-picker", "value"),
               State("explorer-url", "data"))
def default_period(meter: str | None, query: dict | None) -> tuple:
    """The URL's dates (once), else the year up to the meter's newest reading."""
    return urlstate.period(query, meter, days=365)


@dash.callback(Output("explorer-series", "figure"), Output("explorer-note", "children"),
               Input("meter-picker", "value"), Input("explorer-period", "start_date"),
               Input("explorer-period", "end_date"), Input("explorer-series", "relayoutData"))
def update_series(meter: str, start_date: str | None, end_date: str | None,
                  relayout: dict | None) -> tuple:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    relayout = relayout or {}
    if dash.ctx.triggered_id == "explorer-series" and "xaxis.range[0]" in relayout:
        # a zoom: fetch finer buckets for the visible range only. Any other relayout (autosize,
        # reset) redraws the whole period, so a superseded request never leaves a blank chart.
        start, end = (_local(relayout[f"xaxis.range[{i}]"], tz) for i in (0, 1))
    frame, every = data.series(user, [meter], start, end)
    if frame.empty:
        return figures.message(f"No readings for {meter} in this period."), ""
    note = f"{len(frame):,} points from {every} buckets"
    return figures.timeseries(frame, tz, every, uirevision=f"{meter}{start_date}{end_date}"), note


@dash.callback(Output("explorer-carpet", "figure"), Output("explorer-profiles", "figure"),
               Input("meter-picker", "value"), Input("explorer-period", "start_date"),
               Input("explorer-period", "end_date"))
def update_shape(meter: str, start_date: str | None, end_date: str | None) -> tuple:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    table = data.carpet(user, meter, start, end)
    if table.empty:
        empty = figures.message(f"No readings for {meter} in this period.")
        return empty, empty
    return figures.carpet(table, tz), figures.profiles(data.profiles(user, meter, start, end), tz)


@dash.callback(Output("explorer-signature", "figure"), Input("meter-picker", "value"),
               Input("explorer-period", "start_date"), Input("explorer-period", "end_date"))
def update_signature(meter: str, start_date: str | None, end_date: str | None) -> Any:
    data, user = request_data()
    start, end, _ = _period(meter, start_date, end_date)
    frame = data.signature(user, meter, start, end)
    if frame is None:
        return figures.message("This site has no weather meter; set weather_meter in [[sites]].")
    if frame.empty:
        return figures.message("No days with both energy and outdoor temperature here.")
    return figures.signature(frame)


@dash.callback(Output("explorer-comparison", "figure"), Input("meter-picker", "value"),
               Input("explorer-period", "start_date"), Input("explorer-period", "end_date"),
               Input("explorer-against", "value"))
def update_comparison(meter: str, start_date: str | None, end_date: str | None,
                      against: str) -> Any:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    frame = data.comparison(user, meter, start, end, against)
    if frame.empty:
        return figures.message(f"No readings for {meter} in either period.")
    return figures.comparison(frame, tz, against)


@dash.callback(Output("explorer-hierarchy", "figure"), Input("meter-picker", "value"),
               Input("explorer-period", "start_date"), Input("explorer-period", "end_date"))
def update_hierarchy(meter: str, start_date: str | None, end_date: str | None) -> Any:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    frame = data.hierarchy(user, meter, start, end)
    if frame is None:
        return figures.message(f"{meter} has no submeters; give a meter parent = '{meter}' "
                               f"in the config to see the breakdown.")
    return figures.hierarchy(frame, tz, meter)


@dash.callback(Output("explorer-download", "data"), Input("explorer-download-button", "n_clicks"),
               State("meter-picker", "value"), State("explorer-period", "start_date"),
               State("explorer-period", "end_date"), prevent_initial_call=True)
def download(_clicks: int, meter: str, start_date: str | None, end_date: str | None) -> dict:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    frame, every = data.series(user, [meter], start, end)
    out = pd.DataFrame({
        "time": frame["time"].dt.tz_convert(tz).map(lambda t: t.isoformat()),
        "meter": frame["meter"], "mean_power_kw": frame["value"].round(4), "bucket": every,
    })
    name = f"{meter}_{start.tz_convert(tz):%Y%m%d}_{end.tz_convert(tz):%Y%m%d}.csv"
    return dcc.send_string(write_csv(out) or "", name, type="text/csv")
