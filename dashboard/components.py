"""Reusable layout pieces: the shell (navigation, meter picker, error banner), KPI cards,
graphs with loading states, period pickers. No data access here."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from wattlens.core.meters import MeterInfo
from wattlens.dashboard import figures, i18n, labels
from wattlens.dashboard.i18n import _, ngettext

GRAPH_CONFIG = {"displaylogo": False}


def navbar(pages: list[dict[str, Any]], user: str | None) -> html.Nav:
    """Links to every registered page (names translated), the language switch (a full reload
    with ``?lang=``, remembered in a cookie), and the logged-in user with a logout button (a
    POST)."""
    links = [dcc.Link(_(p["name"]), href=p["relative_path"], className="nav-link",
                      id=f"nav-{p['module'].split('.')[-1]}") for p in pages]
    current = i18n.language()
    right: list[Any] = [html.Span([
        html.A(name, href=f"?lang={code}", id=f"lang-{code}", lang=code,
               className="nav-link lang" + (" active" if code == current else ""))
        for code, name in i18n.LANGUAGES.items()], className="languages")]
    if user:
        right += [html.Span(_("signed in as %(user)s", user=user), className="nav-user"),
                  html.Form(html.Button(_("log out"), type="submit", id="logout-button",
                                        className="nav-link link-button"),
                            method="POST", action="/logout", className="logout-form")]
    return html.Nav([html.Span("wattlens", className="brand"), *links,
                     html.Span(right, className="nav-right")], className="navbar")


def picker(catalogue: list[MeterInfo], names: dict[str, str], meter: str | None) -> html.Div:
    """Site → building → meter dropdowns over the meters the user may see; ``names``: display
    names of site and building ids; ``meter``: the one picked (else the first)."""
    sites = {m.site: str(names.get(m.site or "", m.site)) for m in catalogue}
    buildings = {m.building: str(names.get(m.building or "", m.building)) for m in catalogue}
    first = meter or (catalogue[0].id if catalogue else None)
    return html.Div([
        html.Label([_("site"), dcc.Dropdown(
            id="site-picker", options=[{"label": v, "value": k} for k, v in sites.items()],
            placeholder=_("all sites"), clearable=True)]),
        html.Label([_("building"), dcc.Dropdown(
            id="building-picker",
            options=[{"label": v, "value": k} for k, v in buildings.items()],
            placeholder=_("all buildings"), clearable=True)]),
        html.Label([_("meter"), dcc.Dropdown(
            id="meter-picker", options=meter_options(catalogue), value=first, clearable=False,
            persistence=True, persistence_type="session",
            placeholder=_("no meters visible to you") if not catalogue else _("choose a meter"))]),
    ], className="picker")


def meter_options(catalogue: list[MeterInfo]) -> list[dict[str, str]]:
    return [{"label": f"{m.label} ({m.id}, {labels.shown(labels.COMMODITIES, m.commodity)})",
             "value": m.id} for m in catalogue]


def graph(graph_id: str, waiting: str) -> dcc.Loading:
    """A graph that says what it is waiting for until its callback answers, its dates in the
    request's language (:data:`wattlens.dashboard.i18n.PLOTLY_LOCALES`)."""
    return dcc.Loading(
        dcc.Graph(id=graph_id, figure=figures.message(waiting),
                  config={**GRAPH_CONFIG, "locale": i18n.language()},
                  style={"height": "370px"}),
        type="dot", delay_show=300,
    )


def card(card_id: str, title: str) -> html.Div:
    """A KPI card whose value a callback fills in."""
    return html.Div([html.Div(title, className="card-title"),
                     html.Div(_("loading…"), id=card_id, className="card-value")],
                    className="card")


def section(title: str, *children: Any, note: str = "") -> html.Section:
    parts = [html.H3(title)]
    if note:
        parts.append(html.P(note, className="note"))
    return html.Section([*parts, *children], className="section")


def period(picker_id: str) -> dcc.DatePickerRange:
    """A date range in the site's local dates, weeks from Monday; callbacks fill in the
    default."""
    # TRANSLATORS: the calendar's month heading, in moment.js tokens ("December 2026")
    month = _("MMMM YYYY")
    return dcc.DatePickerRange(id=picker_id, display_format="YYYY-MM-DD", month_format=month,
                               first_day_of_week=1, minimum_nights=1,
                               start_date_placeholder_text=_("start date"),
                               end_date_placeholder_text=_("end date"))


def grid_locale(no_rows: str) -> dict[str, str]:
    """AG Grid's own words (pagination, empty grid) in the request's language, for a grid's
    ``dashGridOptions["localeText"]``; ``no_rows``: what an empty grid says."""
    return {"noRowsToShow": no_rows, "loadingOoo": _("Loading…"), "page": _("Page"),
            "of": _("of"), "to": _("to"), "more": _("more"),
            "pageSizeSelectorLabel": _("Page size:"), "firstPage": _("First page"),
            "previousPage": _("Previous page"), "nextPage": _("Next page"),
            "lastPage": _("Last page")}


def error_banner() -> html.Div:
    return html.Div(id="error-banner", className="error-banner", role="alert")


def count(n: int, noun: str) -> str:
    """``n`` with ``noun`` ("event" or "run") in the right number and language ("1 event",
    "2 events", "이벤트 2건"); new nouns call ``ngettext`` themselves."""
    counted = {"event": lambda: ngettext("%(num)d event", "%(num)d events", n),
               "run": lambda: ngettext("%(num)d run", "%(num)d runs", n)}
    return counted[noun]()
