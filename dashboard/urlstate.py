"""Page state in the URL, so every view can be bookmarked and linked (alert e-mails link to
``/anomalies?event=<id>``).

Reading: the shell's meter picker follows the URL's ``meter`` (or the meter of its ``event``)
from the shell's ``dcc.Location`` search (:func:`meter_of`); Dash pages pass the query string
to a page's ``layout(**query)``, and the page keeps what it understood in a ``dcc.Store``
(:func:`url_state`, the meter only when the user may see it) for its callbacks to apply once.
Writing: the page's own ``dcc.Location(refresh=False)`` gets the page's state as its
``search`` (no reload, no re-render; a page-local component, so the callback lives and dies
with its page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
from dash import Input, Output, State, dcc, html, no_update

from wattlens.dashboard import components, presets
from wattlens.dashboard.access import AccessDenied
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import _


def search(**values: Any) -> str:
    """The query string of the non-empty ``values`` (``?meter=b2&start=2019-01-01``)."""
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    return f"?{urlencode(kept)}" if kept else ""


def query_of(search: str | None) -> dict[str, str]:
    """A location's query string as a dict (the first value of each key)."""
    return {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}


def meter_of(meter: str | None = None, event: str | None = None) -> str | None:
    """The meter a URL names (``meter``, else the meter of ``event``) when the current user
    may see it, else None: a URL naming another user's meter or event names nothing."""
    try:
        data, user = request_data()
    except (AccessDenied, RuntimeError, KeyError):  # no request (validation layout), no login
        return None
    if not meter and event:
        try:
            meter = str(data.event(user, event)["meter"])
        except AccessDenied:
            return None
    return data.access.visible(user, meter)


def url_state(page: str, meter: str | None, **values: str | None) -> html.Div:
    """The state a page understood from its URL (``<page>-url``: its visible ``meter`` and
    ``values``) and the page's location (``<page>-location``) its callbacks write back to."""
    return html.Div([dcc.Store(id=f"{page}-url", data={"meter": meter_of(meter), **values}),
                     dcc.Location(id=f"{page}-location", refresh=False)])


def period_url_state(page: str, meter: str | None, start: str | None, end: str | None,
                     query: dict[str, str]) -> html.Div:
    """:func:`url_state` of a page with :func:`period_controls`: its dates and, when the URL
    names one, its preset (``range``)."""
    preset = {"range": query["range"]} if query.get("range") else {}
    return url_state(page, meter, start=start, end=end, **preset)


def from_url(query: dict[str, Any] | None, meter: str | None, key: str) -> Any:
    """``query[key]`` when the URL named no meter or ``meter``, else None."""
    query = query or {}
    return query.get(key) if query.get("meter") in (None, meter) else None


def period(query: dict[str, Any] | None, meter: str | None, days: int) -> tuple:
    """A page's date range: the URL's dates (then the store is emptied: they apply once),
    else the ``days`` up to the meter's newest reading. Outputs start, end, store data."""
    data, user = request_data()
    start, end = (from_url(query, meter, key) for key in ("start", "end"))
    if meter and start and end:
        data.allowed(user, [meter])
        return start, end, None
    return *data.default_dates(user, meter, days=days), no_update


def sync(page: str, fields: dict[str, tuple[str, str]]) -> None:
    """Register the page's URL callback: the picked meter and ``fields`` (query key →
    component id, property) are written to the page's location."""

    @dash.callback(Output(f"{page}-location", "search"), Input("meter-picker", "value"),
                   Input(f"{page}-url", "data"),
                   *[Input(cid, prop) for cid, prop in fields.values()])
    def _write(meter: str | None, _query: Any, *values: Any) -> Any:
        if not meter:
            return no_update
        data, user = request_data()
        data.allowed(user, [meter])
        kept = dict(zip(fields, values, strict=True))
        if kept.get("range"):  # a preset names its dates (recomputed on each visit)
            kept.update(start=None, end=None)
        return search(meter=meter, **kept)


def period_controls(page: str) -> html.Div:
    """A preset dropdown (``<page>-range``) beside the date pickers (``<page>-period``)."""
    return html.Div([
        html.Span(_("period"), className="period-label"),
        dcc.Dropdown(id=f"{page}-range", options=presets.options(), clearable=True,
                     placeholder=_("choose a range"), className="range-picker"),
        components.period(f"{page}-period"),
    ], className="period-controls")


PERIOD_FIELDS = ("range", "start", "end")
"""The URL keys of :func:`period_controls`."""


def period_fields(page: str) -> dict[str, tuple[str, str]]:
    """:func:`sync` fields of :func:`period_controls` (preset, first and last date)."""
    return {"range": (f"{page}-range", "value"), "start": (f"{page}-period", "start_date"),
            "end": (f"{page}-period", "end_date")}


def period_callback(page: str, days: int) -> None:
    """Register the page's period callback: a chosen preset sets the dates (in the meter's
    site time zone); dates picked by hand clear a preset they no longer match; a new meter
    takes the URL's preset or dates once, else keeps the preset, else the ``days`` up to its
    newest reading."""

    @dash.callback(Output(f"{page}-period", "start_date"), Output(f"{page}-period", "end_date"),
                   Output(f"{page}-range", "value"), Output(f"{page}-url", "data"),
                   Input("meter-picker", "value"), Input(f"{page}-range", "value"),
                   Input(f"{page}-period", "start_date"), Input(f"{page}-period", "end_date"),
                   State(f"{page}-url", "data"))
    def _period(meter: str | None, preset: str | None, start: str | None, end: str | None,
                query: dict | None) -> tuple:
        trigger = dash.ctx.triggered_id
        if trigger == f"{page}-period":
            if preset and meter and (start, end) != _preset_dates(preset, meter):
                return no_update, no_update, None, no_update
            return no_update, no_update, no_update, no_update
        if trigger == f"{page}-range":
            if not preset:
                return no_update, no_update, no_update, no_update
            return *_preset_dates(preset, meter), no_update, no_update
        chosen = from_url(query, meter, "range") or preset
        if meter and chosen in presets.PRESETS:
            return *_preset_dates(chosen, meter), chosen, None
        first, last, store = period(query, meter, days)
        return first, last, None, store


def _preset_dates(preset: str, meter: str | None) -> tuple[str, str]:
    """The first and last local dates of ``preset`` in the site time zone of ``meter``."""
    data, user = request_data()
    return presets.preset_strings(preset, data.info(user, meter).timezone)
