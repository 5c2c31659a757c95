"""Anomalies: a filterable table of events; selecting one shows its chart with the expected band;
acknowledge it or mark it non-routine with a note (persisted in the store with who and when).

URL: ``/anomalies?event=<id>`` opens with that event selected (alert e-mails link there);
``meter=<id>`` picks the meter."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

from wattlens.dashboard import components, figures, labels, transforms, urlstate
from wattlens.dashboard.annotate import annotate_selected
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _, ngettext

dash.register_page(__name__, path="/anomalies", name=N_("Anomalies"), order=3,
                   title=lambda: f"wattlens · {_('Anomalies')}")

def _select() -> str:
    return _("Select an event in the table to see it against the expected band.")


def _columns() -> list[dict[str, Any]]:
    """The table's columns, headed in the request's language; newest start first."""
    return [
        {"field": "start", "headerName": _("start (local)"), "filter": "agTextColumnFilter",
         "sort": "desc", "minWidth": 190},
        {"field": "end", "headerName": _("end (local)"), "filter": "agTextColumnFilter",
         "minWidth": 190},
        {"field": "meter", "headerName": _("meter"), "filter": "agTextColumnFilter"},
        {"field": "kind", "headerName": _("kind"), "filter": "agTextColumnFilter"},
        {"field": "severity_label", "headerName": _("severity"),
         "filter": "agTextColumnFilter", "width": 130,
         "headerTooltip": _("word and number: low < 0.5 <= moderate < 0.75 <= high < 0.9 <= "
                            "critical; 1 - exp(-materiality x confidence)")},
        {"field": "excess_kwh", "headerName": _("excess [kWh]"),
         "filter": "agNumberColumnFilter"},
        {"field": "explanation", "headerName": _("explanation"), "flex": 3,
         "tooltipField": "explanation"},
        {"field": "reasons", "headerName": _("reasons"), "filter": "agTextColumnFilter"},
        {"field": "status", "headerName": _("status"), "filter": "agTextColumnFilter"},
        {"field": "annotated_by", "headerName": _("by")},
        {"field": "note", "headerName": _("note"), "flex": 2},
        {"field": "event_id", "hide": True},
    ]


def count_text(n: int) -> str:
    """``n`` events in the request's language and number ("1 event", "2 events")."""
    return ngettext("%(num)d event", "%(num)d events", n)


def layout(event: str | None = None, meter: str | None = None, **_query: str) -> html.Div:
    found = urlstate.meter_of(event=event) if event else None
    return html.Div([
        urlstate.url_state("anomalies", found or meter, event=event if found else None),
        html.Div([
            dcc.Checklist(id="anomalies-scope", value=["meter"], inline=True, options=[
                {"label": " " + _("only the picked meter"), "value": "meter"}]),
            html.Span(id="anomalies-count", className="note"),
        ], className="toolbar"),
        dag.AgGrid(
            id="anomalies-grid", columnDefs=_columns(), rowData=[],
            getRowId="params.data.event_id",
            defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True,
                           "flex": 1, "minWidth": 90},
            dashGridOptions={"rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                             "pagination": True, "paginationPageSize": 10,
                             "paginationPageSizeSelector": [10, 25, 50],
                             "localeText": components.grid_locale(
                                 _("No anomalies recorded for this choice."))},
            style={"height": "360px"},
        ),
        html.Div([
            dcc.Input(id="anomalies-note", placeholder=_("note (why, what was done)"),
                      debounce=False, className="note-input"),
            html.Button(_("acknowledge"), id="anomalies-ack", className="button"),
            html.Button(_("mark non-routine"), id="anomalies-nonroutine", className="button"),
            html.Span(id="anomalies-saved", className="note"),
        ], className="toolbar"),
        components.section(_("Selected event"), components.graph("anomalies-chart", _select())),
    ])


@dash.callback(Output("anomalies-grid", "rowData"), Output("anomalies-count", "children"),
               Output("anomalies-grid", "selectedRows"), Output("anomalies-url", "data"),
               Input("meter-picker", "value"), Input("anomalies-scope", "value"),
               Input("anomalies-saved", "children"), State("anomalies-url", "data"))
def update_grid(meter: str | None, scope: list[str], _saved: Any,
                query: dict | None) -> tuple:
    """The events; the URL's event selected once it is among them."""
    data, user = request_data()
    only = [meter] if meter and "meter" in (scope or []) else None
    frame = data.events(user, only)
    rows = transforms.event_rows(frame, {i.id: i for i in data.catalogue(user)})
    for row, event_row in zip(rows, frame.to_dict("records"), strict=True):
        labels.shown_event_row(row, event_row)
    event = urlstate.from_url(query, meter, "event")
    chosen = [r for r in rows if r["event_id"] == event]
    counted = count_text(len(frame))
    if chosen:
        return rows, counted, chosen, None
    return rows, counted, dash.no_update, dash.no_update


@dash.callback(Output("anomalies-location", "search"), Input("meter-picker", "value"),
               Input("anomalies-grid", "selectedRows"))
def to_url(meter: str | None, selected: list[dict] | None) -> Any:
    """The picked meter and the selected event into the URL."""
    if not meter:
        return dash.no_update
    data, user = request_data()
    data.allowed(user, [meter])
    return urlstate.search(meter=meter, event=selected[0]["event_id"] if selected else None)


@dash.callback(Output("anomalies-chart", "figure"), Input("anomalies-grid", "selectedRows"),
               prevent_initial_call=True)
def show_event(selected: list[dict] | None) -> Any:
    if not selected:
        return figures.message(_select())
    data, user = request_data()
    row = selected[0]
    return figures.event_chart(data.event_window(user, row["event_id"], row.get("meter")))


@dash.callback(Output("anomalies-saved", "children"), Input("anomalies-ack", "n_clicks"),
               Input("anomalies-nonroutine", "n_clicks"), State("anomalies-grid", "selectedRows"),
               State("anomalies-note", "value"), prevent_initial_call=True)
def annotate(_ack: int, _nonroutine: int, selected: list[dict] | None,
             note: str | None) -> Any:
    status = "non-routine" if dash.ctx.triggered_id == "anomalies-nonroutine" else "acknowledged"
    return annotate_selected(selected, status, note)
