"""Live overview: today so far against the issued forecast and a typical day, KPI cards, data
freshness and the newest anomalies, refreshed every few seconds. URL: ``/?meter=<id>``."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, dash_table, dcc, html

from wattlens.dashboard import components, figures, urlstate
from wattlens.dashboard.access import AccessDenied
from wattlens.dashboard.data import request_data

dash.register_page(__name__, path="/", name="Live", order=0, title="wattlens · live")

_CARDS = [("kpi-energy-today", "energy today"), ("kpi-peak-today", "peak today"),
          ("kpi-cost-today", "cost today"), ("kpi-co2-today", "CO2 today"),
          ("kpi-energy-month", "energy this month"), ("kpi-peak-month", "peak this month"),
          ("kpi-cost-month", "cost this month"), ("kpi-co2-month", "CO2 this month")]


def _refresh_ms() -> int:
    """The configured refresh period [ms] (5 s when there is no request to ask)."""
    try:
        data, _user = request_data()
    except (AccessDenied, RuntimeError, KeyError):
        return 5000
    return int(data.settings.refresh_s * 1000)


def layout(meter: str | None = None, **_: str) -> html.Div:
    return html.Div([
        urlstate.url_state("live", meter),
        dcc.Interval(id="live-tick", interval=_refresh_ms(), n_intervals=0),
        html.Div(id="live-status", className="status", children="waiting for the first reading…"),
        html.Div([components.card(i, t) for i, t in _CARDS], className="cards"),
        components.section("Today so far", components.graph("live-today",
                                                            "Loading today's readings…")),
        html.Div([
            components.section("Data freshness", html.Div(id="live-freshness"),
                               note="Newest reading per meter and ingest source status."),
            components.section("Newest anomalies in this building",
                               html.Div(id="live-anomalies")),
        ], className="two-col"),
    ])


urlstate.sync("live", {})


def _n(value: float, unit: str, digits: int = 1) -> str:
    """A card's number with its unit ("–" when unknown: no tariff or emission factor)."""
    return "–" if pd.isna(value) else f"{value:,.{digits}f} {unit}".strip()


def _ago(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} min ago"
    if hours < 48:
        return f"{hours:.1f} h ago"
    return f"{hours / 24:.0f} days ago"


@dash.callback(
    Output("live-today", "figure"), Output("live-status", "children"),
    *[Output(i, "children") for i, _ in _CARDS],
    Input("meter-picker", "value"), Input("live-tick", "n_intervals"),
)
def update_live(meter: str | None, _tick: int) -> tuple:
    data, user = request_data()
    live = data.live(user, meter)
    if live["latest"] is None:
        text = f"No readings for {meter} yet — waiting for the first one to arrive."
        return (figures.message(text), text, *["–"] * len(_CARDS))
    info = live["info"]
    newest = pd.Timestamp(live["latest"]["time"])
    age_h = (pd.Timestamp.now(tz="UTC") - newest) / pd.Timedelta("1h")
    status = (f"{info.label}: latest reading {newest.tz_convert(info.timezone):%Y-%m-%d %H:%M %Z}"
              f" = {live['latest']['value']:,.2f} kWh ({_ago(age_h)})")
    tariff = live["tariff"]
    cur = tariff.currency if tariff is not None else ""
    cards = []
    for key in ("kpi_today", "kpi_month"):
        k = live[key]
        cards += [_n(k["energy_kwh"], "kWh", 0), _n(k["peak_kw"], "kW"),
                  _n(k["cost"], cur, 0), _n(k["co2_kg"], "kgCO2", 0)]
    status += (f" · costs in {cur} (tariff {tariff.id})" if tariff is not None
               else " · no tariff for this meter: add one in [tariffs] to see costs")
    return (figures.live_today(live), status, *cards)


@dash.callback(Output("live-freshness", "children"), Output("live-anomalies", "children"),
               Input("live-tick", "n_intervals"), Input("meter-picker", "value"))
def update_side(_tick: int, meter: str | None) -> tuple:
    data, user = request_data()
    fresh = data.freshness(user)
    visible = data.catalogue(user)
    tzs = {i.id: i.timezone for i in visible}

    def source_tz(source: str) -> str:  # "meter <id>" rows in the meter's zone, sources UTC
        kind, _, name = source.partition(" ")
        return tzs.get(name, "UTC") if kind == "meter" else "UTC"

    rows = [{"source": r.source,
             "newest": "–" if pd.isna(r.newest) else
             f"{r.newest.tz_convert(source_tz(r.source)):%Y-%m-%d %H:%M %Z}",
             "age": "–" if pd.isna(r.age_h) else _ago(r.age_h), "state": r.state}
            for r in fresh.itertuples()]
    freshness = dash_table.DataTable(
        rows, page_size=8, style_cell={"textAlign": "left", "fontSize": 13},
        id="freshness-table") if rows else "No meters visible to you yet."
    info = data.info(user, meter)
    building = [i.id for i in visible if i.building == info.building]
    events = data.events(user, building).head(6)
    if events.empty:
        anomalies: object = f"No anomalies recorded in {data.access.name_of(info.building)}."
    else:
        anomalies = html.Ul([
            html.Li(f"{e.start.tz_convert(tzs.get(e.meter, 'UTC')):%Y-%m-%d %H:%M %Z} · "
                    f"{e.meter} · {e.kind} · severity {e.severity:.2f} · "
                    f"{e.excess_kwh:,.1f} kWh · {e.status}")
            for e in events.itertuples()], className="event-list")
    return freshness, anomalies
