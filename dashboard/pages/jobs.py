"""Jobs: the run history of the scheduled jobs of ``wattlens run`` (forecasts, detection and
alerts, recommendations), newest first: job, start, end, duration, status, attempt, counts
and error. Administrators only (a run spans every meter). URL: ``/jobs?job=<name>``."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, dcc, html

from wattlens.dashboard import components, labels
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _
from wattlens.store.jobruns import job_history

dash.register_page(__name__, path="/jobs", name=N_("Jobs"), order=6,
                   title=lambda: f"wattlens · {_('Jobs')}")

LIMIT = 500
"""Runs shown at most (about a day of detection every few minutes)."""
REFRESH_MS = 10_000

RUN_STATUSES = {"ok": N_("ok"), "failed": N_("failed")}
"""Job run statuses (:func:`wattlens.store.jobruns.record_run`) as the grid shows them."""


def _columns() -> list[dict[str, Any]]:
    """The grid's columns, headed in the request's language."""
    return [
        {"field": "job", "headerName": _("job"), "minWidth": 230},
        {"field": "start", "headerName": _("start (UTC)"), "minWidth": 180},
        {"field": "end", "headerName": _("end (UTC)"), "minWidth": 180},
        {"field": "seconds", "headerName": _("duration [s]"), "maxWidth": 130},
        {"field": "status", "headerName": _("status"), "maxWidth": 110},
        {"field": "attempt", "headerName": _("attempt"), "maxWidth": 110},
        {"field": "counts", "headerName": _("counts"), "flex": 3, "minWidth": 320},
        {"field": "error", "headerName": _("error"), "flex": 2, "minWidth": 200},
    ]


def layout(job: str | None = None, **_query: str) -> html.Div:
    return html.Div([
        dcc.Interval(id="jobs-tick", interval=REFRESH_MS, n_intervals=0),
        html.Div([
            dcc.Dropdown(id="jobs-job", value=job, options=[], placeholder=_("every job"),
                         style={"width": "22em"}),
            html.Span(id="jobs-count", className="note"),
        ], className="toolbar"),
        dag.AgGrid(
            id="jobs-grid", columnDefs=_columns(), rowData=[],
            defaultColDef={"resizable": True, "flex": 1, "minWidth": 90},
            dashGridOptions={"pagination": True, "paginationPageSize": 25,
                             "paginationPageSizeSelector": [25, 50, 100],
                             "localeText": components.grid_locale(_("No job runs to show."))},
            style={"height": "560px"},
        ),
    ])


def job_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grid rows of job-run documents (as :func:`job_history` returns them, newest first)."""
    rows = []
    for run in runs:
        start, end = pd.Timestamp(run["start"]), pd.Timestamp(run["end"])
        rows.append({
            "job": run["job"], "start": f"{start.tz_convert('UTC'):%Y-%m-%d %H:%M:%S}",
            "end": f"{end.tz_convert('UTC'):%Y-%m-%d %H:%M:%S}",
            "seconds": round((end - start).total_seconds(), 1),
            "status": labels.shown(RUN_STATUSES, run["status"]),
            "attempt": run.get("attempt", 1),
            "counts": ", ".join(f"{k} {v}" for k, v in (run.get("counts") or {}).items()),
            "error": run.get("error") or "",
        })
    return rows


@dash.callback(Output("jobs-grid", "rowData"), Output("jobs-count", "children"),
               Output("jobs-job", "options"), Input("jobs-job", "value"),
               Input("jobs-tick", "n_intervals"))
def update_jobs(job: str | None, _tick: int) -> tuple:
    """The newest runs (of ``job``, or every job) and the job names to filter by."""
    data, user = request_data()
    if user.meters is not None:
        return [], _("Job runs span every meter: administrators only."), []
    runs = job_history(data.store)
    names = sorted({r["job"] for r in runs})
    shown = [r for r in runs if job in (None, r["job"])][:LIMIT]
    if not runs:
        note = _("No job runs yet: `wattlens run` records each scheduled run here.")
    else:
        failed = sum(r["status"] != "ok" for r in shown)
        note = _("%(count)s, newest first", count=components.count(len(shown), "run"))
        if failed:
            note += ", " + _("%(num)d failed", num=failed)
    return job_rows(shown), note, names
