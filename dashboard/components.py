"""Reusable layout pieces: the shell (navigation, meter picker, error banner), KPI cards,
graphs with loading states, period pickers. No data access here."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from wattlens.core.meters import MeterInfo
from wattlens.dashboard import figures

GRAPH_CONFIG = {"displaylogo": False}


def navbar(pages: list[dict[str, Any]], user: str | None) -> html.Nav:
    """Links to every registered page, and the logged-in user with a logout button (a POST)."""
    links = [dcc.Link(p["name"], href=p["relative_path"], className="nav-link",
                      id=f"nav-{p['module'].split('.')[-1]}") for p in pages]
    right = []
    if user:
        right = [html.Span(f"signed in as {user}", className="nav-user"),
                 html.Form(html.Button("log out", type="submit", id="logout-button",
                                       className="nav-link link-button"),
                           method="POST", action="/logout", className="logout-form")]
    return html.Nav([html.Span("wattlens", className="brand"), *links,
                     html.Span(right, className="nav-right")], className="navbar")


def picker(catalogue: list[MeterInfo], names: dict[str, str], meter: str | None) -> html.Div:
    """Site → building → meter dropdowns over the meters the user may see; ``names``: display
    names of site and building ids; ``meter``: the one picked (else the first)."""
    sites = {m.site: names.get(m.site or "", m.site) for m in catalogue}
    buildings = {m.building: names.get(m.building or "", m.building) for m in catalogue}
    first = meter or (catalogue[0].id if catalogue else None)
    return html.Div([
        html.Label(["site", dcc.Dropdown(
            id="site-picker", options=[{"label": v, "value": k} for k, v in sites.items()],
            placeholder="all sites", clearable=True)]),
        html.Label(["building", dcc.Dropdown(
            id="building-picker",
            options=[{"label": v, "value": k} for k, v in buildings.items()],
            placeholder="all buildings", clearable=True)]),
        html.Label(["meter", dcc.Dropdown(
            id="meter-picker", options=meter_options(catalogue), value=first, clearable=False,
            persistence=True, persistence_type="session",
            placeholder="no meters visible to you" if not catalogue else "choose a meter")]),
    ], className="picker")


def meter_options(catalogue: list[MeterInfo]) -> list[dict[str, str]]:
    return [{"label": f"{m.label} ({m.id}, {m.commodity})", "value": m.id} for m in catalogue]


def graph(graph_id: str, waiting: str) -> dcc.Loading:
    """A graph that says what it is waiting for until its callback answers."""
    return dcc.Loading(
        dcc.Graph(id=graph_id, figure=figures.message(waiting), config=GRAPH_CONFIG,
                  style={"height": "370px"}),
        type="dot", delay_show=300,
    )


def card(card_id: str, title: str) -> html.Div:
    """A KPI card whose value a callback fills in."""
    return html.Div([html.Div(title, className="card-title"),
                     html.Div("loading…", id=card_id, className="card-value")],
                    className="card")


def section(title: str, *children: Any, note: str = "") -> html.Section:
    parts = [html.H3(title)]
    if note:
        parts.append(html.P(note, className="note"))
    return html.Section([*parts, *children], className="section")


def period(picker_id: str) -> dcc.DatePickerRange:
    """A date range in the site's local dates; callbacks fill in the default."""
    return dcc.DatePickerRange(id=picker_id, display_format="YYYY-MM-DD",
                               first_day_of_week=1, minimum_nights=1)


def error_banner() -> html.Div:
    return html.Div(id="error-banner", className="error-banner", role="alert")


def count(n: int, noun: str) -> str:
    """``n`` with ``noun`` in the right number ("1 event", "2 events")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
