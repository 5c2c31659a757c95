"""Acknowledging and annotating the event selected in a page's table (Anomalies, Alerts): one
action, through :meth:`~wattlens.dashboard.queries.DashboardData.annotate`, which refuses an
event outside the user's scope. Notes are bounded (:data:`MAX_NOTE_CHARS`): they are shown in
every page that lists the event."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wattlens.dashboard import i18n, labels
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import _

MAX_NOTE_CHARS = 2000
"""Longest annotation note accepted [characters]."""


def annotate_selected(selected: list[dict[str, Any]] | None, status: str,
                      note: str | None) -> str:
    """Mark the first of ``selected`` table rows ``status`` with ``note`` as the request's
    user; the confirmation (or what to do first) to show."""
    if not selected:
        return _("Select an event first.")
    if note and len(note) > MAX_NOTE_CHARS:
        return _("The note has %(n)s characters; keep it to %(most)s (link to a document for "
                 "more). Nothing was saved.", n=i18n.number(len(note), 0),
                 most=i18n.number(MAX_NOTE_CHARS, 0))
    data, user = request_data()
    row = selected[0]
    data.annotate(user, row["event_id"], status, note or "", row.get("meter"))
    now = pd.Timestamp.now(tz="UTC")
    return _("%(meter)s %(kind)s marked %(status)s by %(user)s at %(time)s UTC",
             meter=row["meter"], kind=labels.shown(labels.EVENT_KINDS, row["kind"]),
             status=labels.shown(labels.STATUSES, status), user=user.name,
             time=f"{now:%H:%M:%S}")
