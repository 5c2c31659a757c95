"""Names of the codes the dashboard shows (commodities, anomaly kinds, severities, statuses):
marked for extraction with ``N_`` and translated where shown with :func:`shown`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wattlens.analytics.alerts import event_details, event_summary
from wattlens.dashboard.i18n import N_, _, day, number

COMMODITIES = {"electricity": N_("electricity"), "gas": N_("gas"), "heat": N_("heat"),
               "water": N_("water")}
"""Meter commodities as the pickers name them."""
EVENT_KINDS = {"spike": N_("spike"), "stuck": N_("stuck"), "after-hours": N_("after-hours"),
               "weekend": N_("weekend"), "holiday": N_("holiday"),
               "forecast-residual": N_("forecast residual"),
               "above-forecast": N_("above forecast"), "level-shift": N_("level shift"),
               "sensitivity-shift": N_("sensitivity shift"), "gap": N_("gap"),
               "zero-run": N_("zero run"), "negative": N_("negative"),
               "register-reset": N_("register reset")}
"""Anomaly kinds as tables name them."""
SEVERITIES = {"critical": N_("critical"), "high": N_("high"), "moderate": N_("moderate"),
              "low": N_("low")}
"""Severity words (:data:`wattlens.analytics.anomalies.SEVERITY_WORDS`) as shown."""
STATUSES = {"open": N_("open"), "acknowledged": N_("acknowledged"),
            "non-routine": N_("non-routine")}
"""Event annotation statuses (:data:`wattlens.store.schema.ANNOTATION_STATUSES`) as shown."""


NORMS = {"working day": N_("working day"),
         "first working day after days off": N_("first working day after days off"),
         "Saturday": N_("Saturday"), "Sunday": N_("Sunday"),
         "holiday or closure": N_("holiday or closure"),
         "Sunday (and its holidays before)": N_("Sunday (and its holidays before)")}
"""The day types schedule norms are learned for (their names in
:data:`wattlens.analytics.anomalies.DAY_TYPES`) as explanations name them."""


def shown(names: dict[str, str], code: str) -> str:
    """``code`` (a commodity, event kind, severity or status of ``names``) in the request's
    language; an unknown code as it is."""
    return _(names[code]) if code in names else code


def shown_event_row(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A table row of ``event`` (:func:`wattlens.dashboard.transforms.event_rows`) with its
    summary (:func:`~wattlens.analytics.alerts.event_summary`) and its kind, status and severity
    word in the request's language."""
    row.update(event_summary(event))
    details = event_details(event)
    row["explanation"] = explained(details.get("explanation_args"), row["explanation"])
    word, _sep, severity = row["severity_label"].partition(" ")
    row.update(kind=shown(EVENT_KINDS, row["kind"]), status=shown(STATUSES, row["status"]),
               severity_label=f"{shown(SEVERITIES, word)} {severity}",
               reasons=", ".join(shown(EVENT_KINDS, k) for k in row["reasons"].split(", ") if k))
    return row


def _when(args: dict[str, Any]) -> tuple[str, str]:
    """An explanation's local window ("2026년 3월 16일 (토) 08:00–18:00", or from one day and
    time to another) and its start alone, dates through Babel in the request's locale."""
    a = pd.Timestamp(args["start"]).tz_convert(args["tz"])
    b = pd.Timestamp(args["end"]).tz_convert(args["tz"])
    since = f"{day(a.date())} {a:%H:%M}"
    if (b - pd.Timedelta(1, "ns")).date() == a.date():
        return f"{since}–{b:%H:%M}", since
    return f"{since} – {day(b.date())} {b:%H:%M}", since


def _usual(args: dict[str, Any]) -> str:
    """What the event was compared with (the sentence's 'above ...' part)."""
    if args["usual"] == "norm":
        norm = shown(NORMS, args["norm"])
        if args["weather"]:
            return _("the usual %(norm)s at these hours at this temperature", norm=norm)
        return _("the usual %(norm)s at these hours", norm=norm)
    usual = {"forecast-residual": _("the issued forecast"),
             "above-forecast": _("the issued forecast (sustained above its upper band)"),
             "spike": _("the readings around it"), "level-shift": _("the baseload before")}
    return usual.get(args["usual"], _("what is usual"))


def _sentence(args: dict[str, Any]) -> str:
    """The sentence of one explanation shape (see
    :func:`wattlens.analytics.anomalies.explanation_args`), without its 'also' part."""
    when, since = _when(args)
    shape = args["shape"]
    if shape == "gap":
        return _("%(when)s: no readings for %(hours)s h", when=when,
                 hours=number(args["hours"], 0 if float(args["hours"]).is_integer() else 1))
    if shape == "zero-run":
        return _("%(when)s: %(count)s readings of zero, unusual for this meter", when=when,
                 count=args["intervals"])
    if shape == "stuck":
        return _("%(when)s: the same reading %(value)s kWh repeated %(count)s times",
                 when=when, value=number(args["value_kwh"], 2), count=args["intervals"])
    if shape == "negative":
        return _("%(when)s: negative readings down to %(value)s kWh (impossible use)",
                 when=when, value=number(args["value_kwh"], 2))
    if shape == "register-reset":
        return _("%(when)s: negative readings down to %(value)s kWh (a register reset)",
                 when=when, value=number(args["value_kwh"], 2))
    if shape == "sensitivity-shift":
        return _("from %(when)s the use per degree day changed from %(before)s to %(after)s "
                 "kWh", when=since, before=number(args["before"]),
                 after=number(args["after"]))
    if shape == "level-shift":
        values = {"when": since, "before": number(args["before"]),
                  "after": number(args["after"])}
        if args["up"]:
            return _("from %(when)s the baseload moved up from %(before)s to %(after)s kWh "
                     "per interval", **values)
        return _("from %(when)s the baseload moved down from %(before)s to %(after)s kWh "
                 "per interval", **values)
    excess = number(args["excess_kwh"], 0)
    if shape == "used":
        share = number(args["share_pct"], 0)
        return _("%(when)s used %(actual)s kWh, %(excess)s kWh (%(share)s %%) above %(usual)s",
                 when=when, actual=number(args["actual_kwh"], 0), excess=excess,
                 share=share if args["share_pct"] < 0 else f"+{share}", usual=_usual(args))
    return _("%(when)s: %(excess)s kWh above %(usual)s", when=when, excess=excess,
             usual=_usual(args))


def explained(args: dict[str, Any] | None, text: str) -> str:
    """An event's one-sentence explanation in the request's language, from its data
    (``explanation_args`` of its details); ``text`` (the stored English sentence) for events
    stored before, or of a sentence shape this dashboard does not know."""
    if not args or args.get("shape") not in _SHAPES:
        return text
    also = ", ".join(shown(EVENT_KINDS, kind) for kind in args.get("also", []))
    if also:
        return _("%(sentence)s (also %(kinds)s).", sentence=_sentence(args), kinds=also)
    return _("%(sentence)s.", sentence=_sentence(args))


_SHAPES = ("gap", "zero-run", "stuck", "negative", "register-reset", "sensitivity-shift",
           "level-shift", "used", "excess")
"""The explanation shapes :func:`explained` writes."""
