"""Names of the codes the dashboard shows (commodities, anomaly kinds, severities, statuses):
marked for extraction with ``N_`` and translated where shown with :func:`shown`."""

from __future__ import annotations

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
