"""Acknowledging and annotating the event selected in a page's table (Anomalies, Alerts): one
action, through :meth:`~wattlens.dashboard.queries.DashboardData.annotate`, which refuses an
event outside the user's scope. Notes are bounded (:data:`MAX_NOTE_CHARS`): they are shown in
every page that lists the event."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wattlens.dashboard.data import request_data

MAX_NOTE_CHARS = 2000
"""Longest annotation note accepted [characters]."""


def annotate_selected(selected: list[dict[str, Any]] | None, status: str,
                      note: str | None) -> str:
    """Mark the first of ``selected`` table rows ``status`` with ``note`` as the request's
    user; the confirmation (or what to do first) to show."""
    if not selected:
        return "Select an event first."
    if note and len(note) > MAX_NOTE_CHARS:
        return (f"The note has {len(note):,} characters; keep it to {MAX_NOTE_CHARS:,} "
                f"(link to a document for more). Nothing was saved.")
    data, user = request_data()
    row = selected[0]
    data.annotate(user, row["event_id"], status, note or "", row.get("meter"))
    now = pd.Timestamp.now(tz="UTC")
    return f"{row['meter']} {row['kind']} marked {status} by {user.name} at {now:%H:%M:%S} UTC"
