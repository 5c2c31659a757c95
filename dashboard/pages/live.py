"""Live overview: today so far against the issued forecast and a typical day, KPI cards, data
freshness and the newest anomalies, refreshed every few seconds. URL: ``/?meter=<id>``.

Today's chart is in mean power [kW] (each series' energy per its own interval), so sub-hourly
live readings, hourly forecasts and the typical day share one axis. The status line and the
selected meter's freshness row read the same newest reading, so they always agree."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, dash_table, dcc, html

from wattlens.core.intervals import interval_hours
from wattlens.dashboard import components, figures, i18n, labels, urlstate
from wattlens.dashboard.access import AccessDenied
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _, ngettext

dash.register_page(__name__, path="/", name=N_("Live"), order=0,
                   title=lambda: f"wattlens · {_('Live')}")

_CARDS = [("kpi-energy-today", N_("energy today")), ("kpi-peak-today", N_("peak demand today")),
          ("kpi-cost-today", N_("cost today")), ("kpi-co2-today", N_("CO2 today")),
          ("kpi-energy-month", N_("energy this month")),
          ("kpi-peak-month", N_("peak demand this month")),
          ("kpi-cost-month", N_("cost this month")), ("kpi-co2-month", N_("CO2 this month"))]
_SOURCES = {"meter": N_("meter"), "source": N_("source")}
"""The kinds of rows of the freshness table."""


def _refresh_ms() -> int:
    """The configured refresh period [ms] (5 s when there is no request to ask)."""
    try:
        data, _user = request_data()
    except (AccessDenied, RuntimeError, KeyError):
        return 5000
    return int(data.settings.refresh_s * 1000)


def layout(meter: str | None = None, **_query: str) -> html.Div:
    return html.Div([
        urlstate.url_state("live", meter),
        dcc.Interval(id="live-tick", interval=_refresh_ms(), n_intervals=0),
        html.Div(id="live-status", className="status",
                 children=_("waiting for the first reading…")),
        html.Div([components.card(i, _(t)) for i, t in _CARDS], className="cards"),
        components.section(_("Today so far"), components.graph("live-today",
                                                               _("Loading today's readings…"))),
        html.Div([
            components.section(_("Data freshness"), html.Div(id="live-freshness"),
                               note=_("Newest reading per meter and ingest source status.")),
            components.section(_("Newest anomalies in this building"),
                               html.Div(id="live-anomalies")),
        ], className="two-col"),
    ])


urlstate.sync("live", {})


def _n(value: float, unit: str, digits: int = 1) -> str:
    """A card's number with its unit ("–" when unknown: no tariff or emission factor)."""
    return "–" if pd.isna(value) else f"{i18n.number(value, digits)} {unit}"


def _money(value: float, currency: str) -> str:
    """A card's cost in the tariff's currency ("–" when unknown: no tariff)."""
    return "–" if pd.isna(value) or not currency else i18n.money(value, currency)


def _ago(hours: float) -> str:
    """An age in words; a negative one (a reading ahead of this clock) as "ahead"."""
    if hours < 0:
        return _("%(age)s ahead of this clock", age=_age(-hours))
    return _("%(age)s ago", age=_age(hours))


def _age(hours: float) -> str:
    """A duration [h] in words, in minutes, hours or days."""
    if hours < 1:
        return _("%(n)s min", n=i18n.number(hours * 60, 0))
    if hours < 48:
        return _("%(n)s h", n=i18n.number(hours, 1))
    days = round(hours / 24)
    return ngettext("%(num)d day", "%(num)d days", days)


@dash.callback(
    Output("live-today", "figure"), Output("live-status", "children"),
    *[Output(i, "children") for i, _title in _CARDS],
    Input("meter-picker", "value"), Input("live-tick", "n_intervals"),
)
def update_live(meter: str | None, _tick: int) -> tuple:
    data, user = request_data()
    live = data.live(user, meter)
    if live["latest"] is None:
        text = _("No readings for %(meter)s yet — waiting for the first one to arrive.",
                 meter=meter)
        return (figures.message(text), text, *["–"] * len(_CARDS))
    info = live["info"]
    newest = pd.Timestamp(live["latest"]["time"])
    status = _("%(meter)s: latest reading %(time)s = %(value)s kWh (%(age)s)", meter=info.label,
               time=_when(newest, info.timezone),
               value=i18n.number(live["latest"]["value"], 2), age=_ago(_age_h(newest)))
    tariff = live["tariff"]
    cur = tariff.currency if tariff is not None else ""
    cards = []
    for key in ("kpi_today", "kpi_month"):
        k = live[key]
        cards += [_n(k["energy_kwh"], "kWh", 0), _n(k["peak_kw"], "kW"),
                  _money(k["cost"], cur), _n(k["co2_kg"], "kgCO2", 0)]
    status += " · " + (_("costs in %(currency)s (tariff %(tariff)s)", currency=cur,
                         tariff=tariff.id) if tariff is not None
                       else _("no tariff for this meter: add one in [tariffs] to see costs"))
    return (_in_kw(figures.live_today(_per_hour(live))), status, *cards)


def _when(time: pd.Timestamp, tz: str) -> str:
    """A reading's time as the page shows it (local, to the minute)."""
    return f"{time.tz_convert(tz):%Y-%m-%d %H:%M %Z}"


def _age_h(time: pd.Timestamp) -> float:
    """Hours from ``time`` to now."""
    return (pd.Timestamp.now(tz="UTC") - time) / pd.Timedelta("1h")


def _per_hour(live: dict) -> dict:
    """The live data with today, the forecasts and the typical day in kWh per hour (mean kW):
    each series divided by its own interval [h]."""
    today, forecast = live["today"], live["forecast"]
    bands = ["yhat", "yhat_lower", "yhat_upper"]
    if len(forecast):
        forecast = pd.concat([g.assign(**{c: g[c] / interval_hours(g["time"]) for c in bands})
                              for _model, g in forecast.groupby("model", sort=True)])
    typical_h = min(live["info"].interval_h, 1.0)  # the unit queries give the typical day
    return {**live, "forecast": forecast,
            "today": today.assign(value=today["value"] / interval_hours(today["time"])),
            "typical": live["typical"].assign(value=live["typical"]["value"] / typical_h)}


def _in_kw(figure: figures.Figure) -> figures.Figure:
    """``figure`` with its value axis titled in mean power."""
    figure["layout"]["yaxis"]["title"] = {"text": _("mean power [kW] (kWh per hour)")}
    return figure


@dash.callback(Output("live-freshness", "children"), Output("live-anomalies", "children"),
               Input("live-tick", "n_intervals"), Input("meter-picker", "value"))
def update_side(_tick: int, meter: str | None) -> tuple:
    data, user = request_data()
    fresh = data.freshness(user)
    visible = data.catalogue(user)
    tzs = {i.id: i.timezone for i in visible}

    def source_tz(source: str) -> str:  # "meter <id>" rows in the meter's zone, sources UTC
        kind, _sep, name = source.partition(" ")
        return tzs.get(name, "UTC") if kind == "meter" else "UTC"

    # the selected meter's row reads its newest reading as the status line does (exact,
    # however old), not the bounded per-hour estimate of the other rows
    (meter,) = data.allowed(user, [meter])
    latest = data.store.latest([meter])
    exact = {} if latest.empty else {f"meter {meter}": pd.Timestamp(latest["time"].iloc[0])}
    rows = []
    for r in fresh.itertuples():
        newest = exact.get(r.source, r.newest)
        age_h = _age_h(newest) if r.source in exact else r.age_h
        kind, _sep, name = r.source.partition(" ")
        rows.append({"source": f"{labels.shown(_SOURCES, kind)} {name}",
                     "newest": "–" if pd.isna(newest) else _when(newest, source_tz(r.source)),
                     "age": "–" if pd.isna(age_h) else _ago(age_h), "state": r.state})
    columns = [{"id": "source", "name": _("source")}, {"id": "newest", "name": _("newest")},
               {"id": "age", "name": _("age")}, {"id": "state", "name": _("state")}]
    freshness = dash_table.DataTable(
        rows, columns, page_size=8, style_cell={"textAlign": "left", "fontSize": 13},
        id="freshness-table") if rows else _("No meters visible to you yet.")
    info = data.info(user, meter)
    building = [i.id for i in visible if i.building == info.building]
    events = data.events(user, building).head(6)
    if events.empty:
        anomalies: object = _("No anomalies recorded in %(building)s.",
                              building=data.access.name_of(info.building))
    else:
        anomalies = html.Ul([
            html.Li(f"{e.start.tz_convert(tzs.get(e.meter, 'UTC')):%Y-%m-%d %H:%M %Z} · "
                    f"{e.meter} · {labels.shown(labels.EVENT_KINDS, e.kind)} · "
                    + _("severity %(severity)s", severity=i18n.number(e.severity, 2))
                    + f" · {i18n.number(e.excess_kwh, 1)} kWh · "
                    + labels.shown(labels.STATUSES, e.status))
            for e in events.itertuples()], className="event-list")
    return freshness, anomalies
