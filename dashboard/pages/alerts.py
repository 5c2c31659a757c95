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

from wattlens.analytics.alerts import digest
from wattlens.dashboard import components, i18n, labels, transforms, urlstate
from wattlens.dashboard.annotate import annotate_selected
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _
from wattlens.store.schema import ANNOTATION_STATUSES

dash.register_page(__name__, path="/alerts", name=N_("Alerts"), order=5,
                   title=lambda: f"wattlens · {_('Alerts')}")


def _columns() -> list[dict[str, Any]]:
    """The feed's columns, headed in the request's language."""
    return [
        {"field": "link", "headerName": "", "cellRenderer": "markdown", "width": 80,
         "sortable": False, "filter": False, "flex": 0},
        {"field": "start", "headerName": _("start (local)"), "minWidth": 190},
        {"field": "end", "headerName": _("end (local)"), "minWidth": 190},
        {"field": "meter_name", "headerName": _("meter")},
        {"field": "kind", "headerName": _("kind")},
        {"field": "severity_label", "headerName": _("severity"), "width": 130},
        {"field": "excess_kwh", "headerName": _("excess [kWh]")},
        {"field": "cost", "headerName": _("cost")},
        {"field": "explanation", "headerName": _("explanation"), "flex": 3,
         "tooltipField": "explanation"},
        {"field": "status", "headerName": _("status")},
        {"field": "annotated_by", "headerName": _("by")},
        {"field": "note", "headerName": _("note"), "flex": 2},
        {"field": "event_id", "hide": True},
        {"field": "meter", "hide": True},
    ]


def _annotations() -> list[dict[str, str]]:
    return [{"label": _("non-routine"), "value": "non-routine"},
            {"label": _("acknowledged"), "value": "acknowledged"},
            {"label": _("open (reopen it)"), "value": "open"}]


def layout(status: str | None = None, meter: str | None = None,
           **_query: str) -> html.Div:
    return html.Div([
        dcc.Location(id="alerts-location", refresh=False),
        html.Div([
            dcc.Dropdown(id="alerts-status", value=status if status in ANNOTATION_STATUSES
                         else None, options=[{"label": labels.shown(labels.STATUSES, s),
                                              "value": s} for s in ANNOTATION_STATUSES],
                         placeholder=_("every status"), style={"width": "14em"}),
            dcc.Dropdown(id="alerts-meter", value=urlstate.meter_of(meter), options=[],
                         placeholder=_("every meter"), style={"width": "22em"}),
            html.Span(id="alerts-count", className="note"),
        ], className="toolbar"),
        dag.AgGrid(
            id="alerts-grid", columnDefs=_columns(), rowData=[],
            getRowId="params.data.event_id",
            defaultColDef={"resizable": True, "flex": 1, "minWidth": 90},
            dashGridOptions={"rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                             "pagination": True, "paginationPageSize": 25,
                             "paginationPageSizeSelector": [25, 50, 100],
                             "localeText": components.grid_locale(_("No events to show."))},
            style={"height": "520px"},
        ),
        html.Div([
            dcc.Input(id="alerts-note", placeholder=_("note (why, what was done)"),
                      debounce=False, style={"width": "40%"}),
            html.Button(_("acknowledge"), id="alerts-ack", className="button"),
            dcc.Dropdown(id="alerts-annotation", value="non-routine", options=_annotations(),
                         clearable=False, style={"width": "14em"}),
            html.Button(_("annotate"), id="alerts-annotate", className="button"),
            html.Span(id="alerts-saved", className="note"),
        ], className="toolbar"),
        components.section(_("Weekly digest: top events by cost"),
                           html.Div(id="alerts-digest")),
    ])


def _digest_block(frame: Any) -> html.Div:
    """The week's top events by cost (the week to the newest event) as a short list."""
    if frame.empty:
        return html.Div(_("No events yet."), className="note")
    end = frame["end"].max()
    top = digest(frame, end, days=7, top=10)
    items = []
    for row in top.itertuples():
        cost = (i18n.money(row.cost, row.currency or "") if row.cost == row.cost
                else _("unpriced"))
        link = f"/anomalies{urlstate.search(event=row.event_id)}"
        kind = labels.shown(labels.EVENT_KINDS, row.kind)
        items.append(html.Li([
            html.B(cost), f" · {labels.shown(labels.SEVERITIES, row.severity_word)} "
            f"{i18n.number(row.severity, 2)} · ",
            dcc.Link(labels.explained(row.explanation_args, row.explanation)
                     or _("%(kind)s on %(meter)s", kind=kind, meter=row.meter), href=link),
            f" ({labels.shown(labels.STATUSES, row.status)})"]))
    return html.Div([html.Div(_("week to %(time)s UTC", time=f"{end:%Y-%m-%d %H:%M}"),
                              className="note"),
                     html.Ol(items)])


def _summary(n: int, status: str | None, meter: str | None) -> str:
    """The count of shown events, or why there are none."""
    if n:
        return _("%(count)s, newest first", count=components.count(n, "event"))
    if status or meter:
        return _("No events match these filters; clear them to see every event.")
    return _("No events yet: the anomaly job (`wattlens anomalies run`) writes them.")


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
        labels.shown_event_row(row, event)
        row["link"] = f"[{_('open')}](/anomalies{urlstate.search(event=row['event_id'])})"
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
