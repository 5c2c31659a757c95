"""Names of the codes the dashboard shows (commodities, anomaly kinds, severities, statuses):
marked for extraction with ``N_`` and translated where shown with :func:`shown`."""

from __future__ import annotations

from typing import Any

from wattlens.analytics.alerts import event_summary
from wattlens.dashboard.i18n import N_, _

COMMODITIES = {"electricity": N_("electricity"), "gas": N_("gas"), "heat": N_("heat"),
               "water": N_("water")}
"""Meter commodities as the pickers name them."""
EVENT_KINDS = {"spike": N_("spike"), "stuck": N_("stuck"), "after-hours": N_("after-hours"),
               "weekend": N_("weekend"), "holiday": N_("holiday"),
               "forecast-residual": N_("forecast residual"),
               "above-forecast": N_("above forecast"), "level-shift": N_("level shift"),
               "sensitivity-shift": N_("sensitivity shift")}
"""Anomaly kinds as tables name them."""
SEVERITIES = {"critical": N_("critical"), "high": N_("high"), "moderate": N_("moderate"),
              "low": N_("low")}
"""Severity words (:data:`wattlens.analytics.anomalies.SEVERITY_WORDS`) as shown."""
STATUSES = {"open": N_("open"), "acknowledged": N_("acknowledged"),
            "non-routine": N_("non-routine")}
"""Event annotation statuses (:data:`wattlens.store.schema.ANNOTATION_STATUSES`) as shown."""


def shown(names: dict[str, str], code: str) -> str:
    """``code`` (a commodity, event kind, severity or status of ``names``) in the request's
    language; an unknown code as it is."""
    return _(names[code]) if code in names else code


def shown_event_row(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A table row of ``event`` (:func:`wattlens.dashboard.transforms.event_rows`) with its
    summary (:func:`~wattlens.analytics.alerts.event_summary`) and its kind, status and severity
    word in the request's language."""
    row.update(event_summary(event))
    word, _sep, severity = row["severity_label"].partition(" ")
    row.update(kind=shown(EVENT_KINDS, row["kind"]), status=shown(STATUSES, row["status"]),
               severity_label=f"{shown(SEVERITIES, word)} {severity}",
               reasons=", ".join(shown(EVENT_KINDS, k) for k in row["reasons"].split(", ") if k))
    return row
