"""Page state in the URL, so every view can be bookmarked and linked (alert e-mails link to
``/anomalies?event=<id>``).

Reading: Dash pages pass the query string to a page's ``layout(**query)``; the page keeps what
it understood in a ``dcc.Store`` (:func:`query_store`, the meter only when the user may see it)
and its callbacks apply it once. Writing: the shell's ``dcc.Location(id="url", refresh=False)``
gets the page's state as its ``search`` (no page reload, no re-render).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, dcc, no_update

from wattlens.dashboard.access import AccessDenied
from wattlens.dashboard.data import request_data


def search(**values: Any) -> str:
    """The query string of the non-empty ``values`` (``?meter=b2&start=2019-01-01``)."""
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    return f"?{urlencode(kept)}" if kept else ""


def visible_meter(meter: str | None) -> str | None:
    """``meter`` if the current user may see it, else None: a URL naming another user's meter
    is treated as naming none."""
    try:
        data, user = request_data()
    except (AccessDenied, RuntimeError, KeyError):  # no request (validation layout), no login
        return None
    return data.access.visible(user, meter)


def query_store(page: str, meter: str | None, **values: str | None) -> dcc.Store:
    """The state a page understood from its URL: its visible ``meter`` and ``values``."""
    return dcc.Store(id=f"{page}-url", data={"meter": visible_meter(meter), **values})


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
    """Register the page's URL callbacks: the meter its URL names becomes the picked meter
    (:func:`follow`), and the picked meter plus ``fields`` (query key → component id,
    property) are written back."""
    follow(page)

    @dash.callback(Output("url", "search", allow_duplicate=True), Input("meter-picker", "value"),
                   Input(f"{page}-url", "data"),
                   *[Input(cid, prop) for cid, prop in fields.values()],
                   prevent_initial_call=True)
    def _write(meter: str | None, _query: Any, *values: Any) -> str:
        data, user = request_data()
        data.allowed(user, [meter])
        return search(meter=meter, **dict(zip(fields, values, strict=True)))


def follow(page: str) -> None:
    """Register: the meter named in the page's URL (its :func:`query_store`) becomes the picked
    meter — only when the user may see it."""

    @dash.callback(Output("meter-picker", "value", allow_duplicate=True),
                   Input(f"{page}-url", "data"), prevent_initial_call="initial_duplicate")
    def _pick(query: dict[str, Any] | None) -> Any:
        data, user = request_data()
        return data.access.visible(user, (query or {}).get("meter")) or no_update
