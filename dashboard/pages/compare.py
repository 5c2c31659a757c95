"""Comparison: several meters or buildings side by side over a date range — their totals as
bars and their daily energy as lines — optionally per m² of floor area (kWh/m²), with the ones
lacking an area named and left out.

URL: ``/compare?meter=<id>&range=<preset>`` or ``start=…&end=…``."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, dcc, html

from wattlens.dashboard import components, figures, totals, urlstate
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _

dash.register_page(__name__, path="/compare", name=N_("Compare"), order=1.6,
                   title=lambda: f"wattlens · {_('Compare')}")

COMMODITIES = ("electricity", "gas", "heat", "water")
"""Commodities a building comparison can add up (its main meters of one commodity)."""


def layout(meter: str | None = None, start: str | None = None, end: str | None = None,
           **query: str) -> html.Div:
    return html.Div([
        urlstate.period_url_state("compare", meter, start, end, query),
        html.Div([
            urlstate.period_controls("compare"),
            dcc.RadioItems(id="compare-by", value="meter", inline=True, options=[
                {"label": " " + _("meters") + " ", "value": "meter"},
                {"label": " " + _("buildings") + " ", "value": "building"}]),
            html.Label([_("commodity") + " ", dcc.Dropdown(
                id="compare-commodity", value="electricity", clearable=False,
                className="narrow", options=[{"label": _(c), "value": c}
                                             for c in COMMODITIES])]),
            dcc.Checklist(id="compare-normalise", value=[], inline=True, options=[
                {"label": " " + _("per m² of floor area (kWh/m²)"), "value": "m2"}]),
        ], className="toolbar"),
        html.Div(dcc.Dropdown(id="compare-entities", multi=True,
                              placeholder=_("choose meters or buildings to compare")),
                 className="toolbar wide"),
        html.P(id="compare-note", className="note"),
        components.section(_("Totals side by side"),
                           components.graph("compare-bars", _("Loading totals…"))),
        components.section(_("Daily energy"),
                           components.graph("compare-lines", _("Loading daily energy…"))),
    ])


urlstate.sync("compare", urlstate.period_fields("compare"))
urlstate.period_callback("compare", days=30)


@dash.callback(Output("compare-entities", "options"), Output("compare-entities", "value"),
               Input("compare-by", "value"), Input("site-picker", "value"),
               Input("building-picker", "value"))
def entities(by: str, site: str | None, building: str | None) -> tuple:
    """The user's meters (or buildings) to choose from; the first three chosen."""
    data, user = request_data()
    infos = totals.scope(data, user, site, building)
    if by == "building":
        keys = list(dict.fromkeys(i.building for i in infos if i.building))
        options = [{"label": data.access.name_of(b), "value": b} for b in keys]
    else:
        options = components.meter_options(infos)
    return options, [o["value"] for o in options[:3]]


def _names(data: Any, user: Any, by: str) -> dict[str, str]:
    if by == "building":
        return dict(data.access.names)
    return {i.id: i.label for i in data.catalogue(user)}


@dash.callback(Output("compare-bars", "figure"), Output("compare-lines", "figure"),
               Output("compare-note", "children"), Input("compare-entities", "value"),
               Input("compare-by", "value"), Input("compare-commodity", "value"),
               Input("compare-normalise", "value"), Input("compare-period", "start_date"),
               Input("compare-period", "end_date"), Input("meter-picker", "value"))
def update(chosen: list[str] | None, by: str, commodity: str, normalise: list[str] | None,
           start_date: str | None, end_date: str | None, meter: str | None) -> tuple:
    data, user = request_data()
    tz = data.info(user, meter).timezone  # the picked meter's site time zone sets the days
    if not chosen or not (start_date and end_date):
        text = _("Choose meters or buildings and a period to compare.")
        return figures.message(text), figures.message(text), text
    groups = totals.members(data, user, by, chosen, commodity)
    start = pd.Timestamp(start_date[:10]).tz_localize(tz)
    end = pd.Timestamp(end_date[:10]).tz_localize(tz) + pd.Timedelta("1D")
    ids = list(dict.fromkeys(i.id for infos in groups.values() for i in infos))
    daily = data.aggregate(user, ids, start, end, "1d", "sum") if ids else pd.DataFrame(
        {"time": [], "meter": [], "value": []})
    per_m2 = "m2" in (normalise or [])
    frame, missing = totals.compare_frame(daily, groups, per_m2)
    names = _names(data, user, by)
    notes = []
    if missing:
        notes.append(_("Left out for want of a floor area (set floor_area_m2 on the building): "
                       "%(names)s.", names=", ".join(names.get(m, m) for m in missing)))
    empty = [e for e in groups if e not in missing and e not in set(frame["entity"])]
    if empty:
        notes.append(_("No readings in this period: %(names)s.",
                       names=", ".join(names.get(e, e) for e in empty)))
    if frame.empty:
        text = " ".join(notes) or _("No readings in this period.")
        return figures.message(text), figures.message(text), " ".join(notes)
    unit = _("kWh/m²") if per_m2 else "kWh"
    sums = frame.groupby("entity", sort=False)["value"].sum()
    bars = figures.compare_bars(sums, unit, names, _("total [%(unit)s]", unit=unit))
    lines = figures.compare_lines(frame, tz, names, _("date (%(tz)s)", tz=tz),
                                  _("daily energy [%(unit)s per day]", unit=unit))
    return bars, lines, " ".join(notes)
