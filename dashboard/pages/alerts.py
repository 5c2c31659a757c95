"""Alerts: the event feed of every meter the user may see, newest first, with its severity
(word and number), cost, status and one-sentence explanation; each row links to the event on
the Anomalies page; acknowledge or annotate the selected event (persisted in the store with who
and when). Below, the weekly digest: the top events by cost of the week to the newest event.

URL: ``/alerts?status=open&meter=<id>`` filters by status and meter (a meter the user may not
see is ignored)."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

from wattlens.analytics.alerts import digest, event_summary
from wattlens.dashboard import components, transforms, urlstate
from wattlens.dashboard.annotate import annotate_selected
from wattlens.dashboard.data import request_data
from wattlens.store.schema import ANNOTATION_STATUSES

dash.register_page(__name__, path="/alerts", name="Alerts", order=5, title="wattlens · alerts")

_COLUMNS = [
    {"field": "link", "headerName": "", "cellRenderer": "markdown", "width": 80,
     "sortable": False, "filter": False, "flex": 0},
    {"field": "start", "headerName": "start (local)", "minWidth": 190},
    {"field": "end", "headerName": "end (local)", "minWidth": 190},
    {"field": "meter_name", "headerName": "meter"},
    {"field": "kind"},
    {"field": "severity_label", "headerName": "severity", "width": 130},
    {"field": "excess_kwh", "headerName": "excess [kWh]"},
    {"field": "cost"},
    {"field": "explanation", "flex": 3, "tooltipField": "explanation"},
    {"field": "status"},
    {"field": "annotated_by", "headerName": "by"},
    {"field": "note", "flex": 2},
    {"field": "event_id", "hide": True},
    {"field": "meter", "hide": True},
]
_ANNOTATIONS = [{"label": "non-routine", "value": "non-routine"},
                {"label": "acknowledged", "value": "acknowledged"},
                {"label": "open (reopen it)", "value": "open"}]


def layout(status: str | None = None, meter: str | None = None, **_: str) -> html.Div:
    return html.Div([
        dcc.Location(id="alerts-location", refresh=False),
        html.Div([
            dcc.Dropdown(id="alerts-status", value=status if status in ANNOTATION_STATUSES
                         else None, options=list(ANNOTATION_STATUSES),
                         placeholder="every status", style={"width": "14em"}),
            dcc.Dropdown(id="alerts-meter", value=urlstate.meter_of(meter), options=[],
                         placeholder="every meter", style={"width": "22em"}),
            html.Span(id="alerts-count", className="note"),
        ], className="toolbar"),
        dag.AgGrid(
            id="alerts-grid", columnDefs=_COLUMNS, rowData=[],
            getRowId="params.data.event_id",
            defaultColDef={"resizable": True, "flex": 1, "minWidth": 90},
            dashGridOptions={"rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                             "pagination": True, "paginationPageSize": 25,
                             "paginationPageSizeSelector": [25, 50, 100],
                             "localeText": {"noRowsToShow": "No events to show."}},
            style={"height": "520px"},
        ),
        html.Div([
            dcc.Input(id="alerts-note", placeholder="note (why, what was done)",
                      debounce=False, style={"width": "40%"}),
            html.Button("acknowledge", id="alerts-ack", className="button"),
            dcc.Dropdown(id="alerts-annotation", value="non-routine", options=_ANNOTATIONS,
                         clearable=False, style={"width": "14em"}),
            html.Button("annotate", id="alerts-annotate", className="button"),
            html.Span(id="alerts-saved", className="note"),
        ], className="toolbar"),
        components.section("Weekly digest: top events by cost", html.Div(id="alerts-digest")),
    ])


def _digest_block(frame: Any) -> html.Div:
    """The week's top events by cost (the week to the newest event) as a short list."""
    if frame.empty:
        return html.Div("No events yet.", className="note")
    end = frame["end"].max()
    top = digest(frame, end, days=7, top=10)
    items = []
    for row in top.itertuples():
        cost = f"{row.cost:,.2f} {row.currency or ''}" if row.cost == row.cost else "unpriced"
        link = f"/anomalies{urlstate.search(event=row.event_id)}"
        items.append(html.Li([html.B(cost), f" · {row.severity_word} {row.severity:.2f} · ",
                              dcc.Link(row.explanation or f"{row.kind} on {row.meter}",
                                       href=link), f" ({row.status})"]))
    return html.Div([html.Div(f"week to {end:%Y-%m-%d %H:%M} UTC", className="note"),
                     html.Ol(items)])


def _summary(n: int, status: str | None, meter: str | None) -> str:
    """The count of shown events, or why there are none."""
    if n:
        return components.count(n, "event") + ", newest first"
    if status or meter:
        return "No events match these filters; clear them to see every event."
    return "No events yet: the anomaly job (`wattlens anomalies run`) writes them."


@dash.callback(Output("alerts-grid", "rowData"), Output("alerts-count", "children"),
               Output("alerts-meter", "options"), Output("alerts-location", "search"),
               Output("alerts-digest", "children"),
               Input("alerts-status", "value"), Input("alerts-meter", "value"),
               Input("alerts-saved", "children"))
def update_feed(status: str | None, meter: str | None, _saved: Any) -> tuple:
    """The visible meters' events, newest first, filtered by status and meter; the filters
    into the URL."""
    data, user = request_data()
    catalogue = data.catalogue(user)
    frame = data.events(user, [meter] if meter else None)
    if status:
        frame = frame[frame["status"] == status]
    rows = transforms.event_rows(frame, {i.id: i for i in catalogue})
    for row, event in zip(rows, frame.to_dict("records"), strict=True):
        row.update(event_summary(event))
        row["link"] = f"[open](/anomalies{urlstate.search(event=row['event_id'])})"
    return (rows, _summary(len(rows), status, meter), components.meter_options(catalogue),
            urlstate.search(status=status, meter=meter), _digest_block(frame))


@dash.callback(Output("alerts-saved", "children"), Input("alerts-ack", "n_clicks"),
               Input("alerts-annotate", "n_clicks"), State("alerts-grid", "selectedRows"),
               State("alerts-annotation", "value"), State("alerts-note", "value"),
               prevent_initial_call=True)
def annotate(_ack: int, _annotate: int, selected: list[dict] | None, annotation: str,
             note: str | None) -> str:
    """Acknowledge the selected event, or annotate it with the chosen status and the note."""
    status = annotation if dash.ctx.triggered_id == "alerts-annotate" else "acknowledged"
    return annotate_selected(selected, status, note)
