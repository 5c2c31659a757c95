"""Consumption explorer: a zoomable series that stays sharp over years (store aggregation plus
MinMaxLTTB resampling on every zoom), carpet plot, day-type profiles, energy signature, period
comparison, meter hierarchy, and a CSV of the visible range at a chosen resolution streamed
from the store (:mod:`wattlens.dashboard.exports`). Partial readings at gap edges (``suspect``)
are drawn as gaps.

URL: ``/explorer?meter=<id>&start=<first local date>&end=<last local date>`` or
``/explorer?meter=<id>&range=<preset>`` (:mod:`wattlens.dashboard.presets`)."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, dcc, html

from wattlens.dashboard import components, exports, figures, transforms, urlstate
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _, ngettext

dash.register_page(__name__, path="/explorer", name=N_("Explorer"), order=1,
                   title=lambda: f"wattlens · {_('Explorer')}")


def layout(meter: str | None = None, start: str | None = None, end: str | None = None,
           **query: str) -> html.Div:
    return html.Div([
        urlstate.period_url_state("explorer", meter, start, end, query),
        html.Div([
            urlstate.period_controls("explorer"),
            html.Label([_("CSV resolution") + " ", dcc.Dropdown(
                id="explorer-resolution", value="1h", clearable=False, className="narrow",
                options=[{"label": str(label), "value": key}
                         for key, label in exports.RESOLUTIONS.items()])]),
            html.A(_("download CSV"), id="explorer-download", className="button",
                   href="", download=""),
            html.Span(id="explorer-note", className="note"),
        ], className="toolbar"),
        components.section(_("Consumption"), components.graph("explorer-series",
                                                              _("Loading consumption…")),
                           note=_("Zoom in: finer data is fetched for the visible range. "
                                  "Partial readings at the edges of gaps are drawn as gaps.")),
        html.Div([
            components.section(_("Carpet plot"), components.graph(
                "explorer-carpet", _("Loading carpet plot…"))),
            components.section(_("Average day by day type"),
                               components.graph("explorer-profiles", _("Loading profiles…"))),
        ], className="two-col"),
        html.Div([
            components.section(_("Energy signature"), components.graph(
                "explorer-signature", _("Loading signature…"))),
            components.section(
                _("Period comparison"),
                dcc.RadioItems(id="explorer-against", value="year", inline=True, options=[
                    {"label": " " + _("a year earlier") + " ", "value": "year"},
                    {"label": " " + _("previous period") + " ", "value": "previous"}]),
                components.graph("explorer-comparison", _("Loading comparison…"))),
        ], className="two-col"),
        components.section(_("Meter hierarchy"), components.graph(
            "explorer-hierarchy", _("Loading submeters…")),
            note=_("Submeters stacked with the parent's unmetered remainder.")),
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


urlstate.sync("explorer", urlstate.period_fields("explorer"))
urlstate.period_callback("explorer", days=365)


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
        return figures.message(_("No readings for %(meter)s in this period.", meter=meter)), ""
    suspect = exports.suspect_times(data, user, meter, start, end)
    frame = transforms.break_at(frame, suspect, every, tz)
    note = ngettext("%(num)s point from %(every)s buckets", "%(num)s points from %(every)s buckets",
                    len(frame), every=every)
    if len(suspect):
        note += "; " + ngettext("%(num)d partial reading drawn as a gap",
                                "%(num)d partial readings drawn as gaps", len(suspect))
    return figures.timeseries(frame, tz, every, uirevision=f"{meter}{start_date}{end_date}"), note


@dash.callback(Output("explorer-carpet", "figure"), Output("explorer-profiles", "figure"),
               Input("meter-picker", "value"), Input("explorer-period", "start_date"),
               Input("explorer-period", "end_date"))
def update_shape(meter: str, start_date: str | None, end_date: str | None) -> tuple:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    table = data.carpet(user, meter, start, end)
    if table.empty:
        empty = figures.message(_("No readings for %(meter)s in this period.", meter=meter))
        return empty, empty
    return figures.carpet(table, tz), figures.profiles(data.profiles(user, meter, start, end), tz)


@dash.callback(Output("explorer-signature", "figure"), Input("meter-picker", "value"),
               Input("explorer-period", "start_date"), Input("explorer-period", "end_date"))
def update_signature(meter: str, start_date: str | None, end_date: str | None) -> Any:
    data, user = request_data()
    start, end, _tz = _period(meter, start_date, end_date)
    frame = data.signature(user, meter, start, end)
    if frame is None:
        return figures.message(_("This site has no weather meter; set weather_meter in "
                                 "[[sites]]."))
    if frame.empty:
        return figures.message(_("No days with both energy and outdoor temperature here."))
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
        return figures.message(_("No readings for %(meter)s in either period.", meter=meter))
    return figures.comparison(frame, tz, against)


@dash.callback(Output("explorer-hierarchy", "figure"), Input("meter-picker", "value"),
               Input("explorer-period", "start_date"), Input("explorer-period", "end_date"))
def update_hierarchy(meter: str, start_date: str | None, end_date: str | None) -> Any:
    data, user = request_data()
    start, end, tz = _period(meter, start_date, end_date)
    frame = data.hierarchy(user, meter, start, end)
    if frame is None:
        return figures.message(_("%(meter)s has no submeters; give a meter parent = "
                                 "'%(meter)s' in the config to see the breakdown.", meter=meter))
    return figures.hierarchy(frame, tz, meter)


@dash.callback(Output("explorer-download", "href"), Input("meter-picker", "value"),
               Input("explorer-period", "start_date"), Input("explorer-period", "end_date"),
               Input("explorer-resolution", "value"), Input("explorer-series", "relayoutData"))
def download_link(meter: str | None, start_date: str | None, end_date: str | None,
                  resolution: str, relayout: dict | None) -> str:
    """The streamed CSV of the visible range (the zoomed one, else the period) at
    ``resolution``: the store's data, not the points drawn."""
    data, user = request_data()
    data.allowed(user, [meter])
    if not (start_date and end_date):  # the period before its default arrives
        start_date, end_date = data.default_dates(user, meter, days=365)
    start, end = (start_date or "")[:10], (end_date or "")[:10]
    if dash.ctx.triggered_id == "explorer-series" and "xaxis.range[0]" in (relayout or {}):
        start, end = (str(relayout[f"xaxis.range[{i}]"])[:19] for i in (0, 1))  # type: ignore[index]
    return exports.link(meter, start, end, resolution)
