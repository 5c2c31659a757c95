"""Totals: energy per commodity, cost and CO2 over a date range for each site, its buildings
and their meters (the user's meters only; the shell's site and building pickers narrow it),
with energy per floor area [kWh/m²] where the area is known.

URL: ``/totals?meter=<id>&range=<preset>`` or ``start=…&end=…`` (the picked meter's site time
zone sets the dates)."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, dash_table, html

from wattlens.dashboard import labels, totals, urlstate
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _, ngettext

dash.register_page(__name__, path="/totals", name=N_("Totals"), order=1.5,
                   title=lambda: f"wattlens · {_('Totals')}")


def layout(meter: str | None = None, start: str | None = None, end: str | None = None,
           **query: str) -> html.Div:
    return html.Div([
        urlstate.period_url_state("totals", meter, start, end, query),
        html.Div([urlstate.period_controls("totals"),
                  html.Span(id="totals-note", className="note")], className="toolbar"),
        html.Section([html.H3(_("Totals per site, building and meter")),
                      html.P(_("Buildings and sites add up their main meters; submeters are "
                               "listed under their building but not added again."),
                             className="note"),
                      html.Div(id="totals-table", className="table-scroll")],
                     className="section"),
    ])


urlstate.sync("totals", urlstate.period_fields("totals"))
urlstate.period_callback("totals", days=30)


def _table(rows: list[dict]) -> dash_table.DataTable:
    levels = {"site": _("site"), "building": _("building"), "meter": _("meter")}
    shown = [{**r, "level": levels[r["level"]],
              "commodity": _("all") if r["commodity"] == "all"
              else labels.shown(labels.COMMODITIES, r["commodity"])} for r in rows]
    columns = {"level": _("level"), "name": _("name"), "commodity": _("commodity"),
               "energy_kwh": _("energy [kWh]"), "cost": _("cost"), "co2_kg": _("CO2 [kg]"),
               "floor_area_m2": _("floor area [m²]"), "kwh_per_m2": _("energy per area [kWh/m²]")}
    numeric = {"energy_kwh", "cost", "co2_kg", "floor_area_m2", "kwh_per_m2"}
    return dash_table.DataTable(
        shown, id="totals-grid", style_table={"overflowX": "auto", "minWidth": "100%"},
        columns=[{"id": k, "name": v, "type": "numeric" if k in numeric else "text",
                  "format": {"specifier": ",.1f"} if k in numeric else None}
                 for k, v in columns.items()],
        style_cell={"textAlign": "left", "fontSize": 13, "padding": "2px 8px"},
        style_data_conditional=[
            {"if": {"filter_query": f'{{level}} = "{levels["site"]}"'}, "fontWeight": "bold",
             "backgroundColor": "#eaeef2"},
            {"if": {"filter_query": f'{{level}} = "{levels["building"]}"'},
             "fontWeight": "600", "backgroundColor": "#f6f8fa"}])


@dash.callback(Output("totals-table", "children"), Output("totals-note", "children"),
               Input("site-picker", "value"), Input("building-picker", "value"),
               Input("totals-period", "start_date"), Input("totals-period", "end_date"),
               Input("meter-picker", "value"))
def update(site: str | None, building: str | None, start_date: str | None,
           end_date: str | None, meter: str | None) -> tuple:
    data, user = request_data()
    info = data.info(user, meter)  # the picked meter's site time zone sets the days
    if not (start_date and end_date):
        return _("Choose a period."), ""
    start = pd.Timestamp(start_date[:10]).tz_localize(info.timezone)
    end = pd.Timestamp(end_date[:10]).tz_localize(info.timezone) + pd.Timedelta("1D")
    rows = totals.totals(data, user, start, end, site, building)
    if not rows:
        return _("No readings for your meters in this period."), ""
    meters = sum(r["level"] == "meter" for r in rows)
    return _table(rows), ngettext("%(num)d meter", "%(num)d meters", meters)
