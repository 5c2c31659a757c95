"""Alerts: rules choosing event kinds, meters and a minimum severity notify by webhook (JSON
POST) and e-mail (SMTP), at most once per event and channel, rate-limited per rule, with a link
to the event in the dashboard (``/anomalies?event=<id>``).

What was sent is remembered in store documents (kind ``alert-sent``, key
``<rule>:<event_id>:<channel>``, with the severity sent), so a rerun never repeats a
notification: an event that a later detection run extends keeps its id and is not alerted
again, unless it **escalates** — its severity word (low < moderate < high < critical) rises
above the one last sent, which sends it once more marked ``escalated``. A send that failed or
was held back by the rate limit is retried on the next run. :func:`digest` is the weekly
top events by cost. The SMTP password comes from the
environment variable the config names and is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pandas as pd
import requests
from pydantic import Field, model_validator

from wattlens.analytics.anomalies import SEVERITY_WORDS, severity_word
from wattlens.core.base import Frozen
from wattlens.core.redact import hide, url_secrets
from wattlens.store.base import Store

log = logging.getLogger(__name__)

SENT_KIND = "alert-sent"
RATE_KIND = "alert-rate"
QUIET_STATUSES = ("acknowledged", "non-routine")
"""Events with these annotation statuses are not alerted."""


class SmtpSettings(Frozen):
    """The mail server alerts go through."""

    host: str = Field("127.0.0.1", description="SMTP server host")
    port: int = Field(25, gt=0, lt=65536, description="SMTP port (587 with starttls)")
    sender: str = Field("wattlens@localhost", description="From: address")
    username: str | None = Field(None, description="login user; none = no login")
    password_env: str = Field(
        "WATTLENS_SMTP_PASSWORD", description="environment variable holding the SMTP password"
    )
    starttls: bool = Field(False, description="upgrade the connection with STARTTLS")

    def password(self) -> str | None:
        """The password from the environment (never from the file, never logged)."""
        return os.environ.get(self.password_env)


class AlertRule(Frozen):
    """Which events notify whom. Empty ``kinds`` / ``meters`` match every kind / meter."""

    name: str = Field(min_length=1, description="rule name, e.g. 'night-ops'")
    kinds: list[str] = Field(default_factory=list, description="event kinds; empty = all")
    meters: list[str] = Field(default_factory=list, description="meter ids; empty = all")
    min_severity: float = Field(0.5, ge=0, le=1, description="lowest severity notified")
    webhook: str | None = Field(None, description="URL receiving a JSON POST per event")
    email: list[str] = Field(default_factory=list, description="recipient addresses")

    @model_validator(mode="after")
    def _has_channel(self) -> AlertRule:
        if not self.webhook and not self.email:
            raise ValueError(f"alert rule {self.name!r} has no channel; give webhook or email")
        return self

    def matches(self, event: dict[str, Any]) -> bool:
        return (
            (not self.kinds or event["kind"] in self.kinds)
            and (not self.meters or event["meter"] in self.meters)
            and float(event["severity"]) >= self.min_severity
        )


class AlertsSection(Frozen):
    """The ``[alerts]`` config section."""

    dashboard_url: str = Field(
        "http://127.0.0.1:8050", description="base URL of the dashboard, for event links"
    )
    max_per_hour: int = Field(20, gt=0, description="most events one rule notifies per hour")
    timeout_s: float = Field(10.0, gt=0, description="webhook / SMTP timeout [s]")
    smtp: SmtpSettings | None = Field(None, description="mail server; needed by e-mail rules")
    rules: list[AlertRule] = Field(default_factory=list, description="[[alerts.rules]]")

    @model_validator(mode="after")
    def _consistent(self) -> AlertsSection:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"alert rule names must be unique (got {names})")
        mail = [r.name for r in self.rules if r.email]
        if mail and self.smtp is None:
            raise ValueError(f"alert rule(s) {mail} send e-mail but [alerts.smtp] is missing")
        return self


@dataclass
class AlertReport:
    """What one run did."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (rule, event_id, channel)
    already_sent: int = 0
    rate_limited: int = 0
    failed: list[str] = field(default_factory=list)


def event_link(section: AlertsSection, event_id: str) -> str:
    """The dashboard URL showing one event."""
    return f"{section.dashboard_url.rstrip('/')}/anomalies?event={event_id}"


def event_details(event: dict[str, Any]) -> dict[str, Any]:
    """The parsed ``details`` of an event row (``{"raw": text}`` when not JSON)."""
    try:
        details = json.loads(event.get("details") or "{}")
    except (TypeError, json.JSONDecodeError):
        return {"raw": str(event.get("details"))}
    return details if isinstance(details, dict) else {"raw": str(details)}


def payload(event: dict[str, Any], rule: AlertRule, section: AlertsSection,
            escalated: bool = False) -> dict[str, Any]:
    """The webhook JSON body for one event."""
    details = event_details(event)
    return {
        "rule": rule.name,
        "event_id": str(event["event_id"]),
        "meter": str(event["meter"]),
        "kind": str(event["kind"]),
        "start": pd.Timestamp(event["start"]).isoformat(),
        "end": pd.Timestamp(event["end"]).isoformat(),
        "severity": float(event["severity"]),
        "severity_word": severity_word(float(event["severity"])),
        "escalated": escalated,
        "explanation": str(details.get("explanation", "")),
        "cost": details.get("cost"),
        "currency": details.get("currency"),
        "excess_kwh": float(event["excess_kwh"]),
        "details": details,
        "link": event_link(section, str(event["event_id"])),
    }


def _email(body: dict[str, Any], rule: AlertRule, smtp: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(rule.email)
    again = "escalated: " if body["escalated"] else ""
    msg["Subject"] = (
        f"[wattlens] {again}{body['severity_word']} {body['kind']} on {body['meter']} "
        f"(severity {body['severity']:.2f})"
    )
    lines = [
        body["explanation"] or f"{body['kind']} on meter {body['meter']}",
        f"from {body['start']} to {body['end']} (UTC)",
        f"severity {body['severity_word']} ({body['severity']:.2f}), excess energy "
        f"{body['excess_kwh']:.1f} kWh",
        "",
        *(f"  {k}: {v}" for k, v in sorted(body["details"].items())),
        "",
        f"See it in the dashboard: {body['link']}",
        f"(alert rule {rule.name!r})",
    ]
    msg.set_content("\n".join(lines))
    return msg


def _send_email(msg: EmailMessage, smtp: SmtpSettings, timeout: float) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            password = smtp.password()
            if password is None:
                raise RuntimeError(
                    f"SMTP user {smtp.username!r} needs a password: set the environment "
                    f"variable {smtp.password_env}"
                )
            client.login(smtp.username, password)
        client.send_message(msg)


def _recent(store: Store, rule: str, now: pd.Timestamp) -> list[str]:
    doc = store.get_document(RATE_KIND, rule) or {}
    hour_ago = now - pd.Timedelta("1h")
    return [t for t in doc.get("sent_at", []) if pd.Timestamp(t) > hour_ago]


def event_summary(event: dict[str, Any]) -> dict[str, Any]:
    """What a feed shows of one event: ``severity_label`` ('high 0.82'), ``explanation``,
    ``reasons`` (comma-separated kinds), ``co2_kg`` and ``expected_kwh`` (None when absent)."""
    details = event_details(event)
    severity = float(event["severity"])
    return {"severity_label": f"{severity_word(severity)} {severity:.2f}",
            "explanation": str(details.get("explanation", "")),
            "reasons": ", ".join(r.get("kind", "") for r in details.get("reasons", [])),
            "co2_kg": details.get("co2_kg"), "expected_kwh": details.get("expected_kwh")}


_RANK = {word: rank for rank, (_, word) in enumerate(reversed(SEVERITY_WORDS))}


def _escalated(record: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether ``event``'s severity word ranks above the one last sent (``record``)."""
    before = record.get("severity_word") or severity_word(float(record.get("severity", 0.0)))
    return _RANK[severity_word(float(event["severity"]))] > _RANK.get(before, 0)


def digest(events: pd.DataFrame, end: Any = None, days: int = 7, top: int = 10
           ) -> pd.DataFrame:
    """The top ``top`` events by cost (then excess energy) that overlap the ``days`` before
    ``end`` (default now): columns event_id, meter, kind, start, end, severity,
    severity_word, cost, currency, excess_kwh, status, explanation (English) and
    explanation_args (its data, :func:`~wattlens.analytics.anomalies.explanation_args`; None
    for events stored before)."""
    end_ts = pd.Timestamp(end) if end is not None else pd.Timestamp.now(tz="UTC")
    start_ts = end_ts - pd.Timedelta(days=days)
    columns = ["event_id", "meter", "kind", "start", "end", "severity", "severity_word",
               "cost", "currency", "excess_kwh", "status", "explanation", "explanation_args"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    week = events[(events["start"] < end_ts) & (events["end"] > start_ts)]
    rows = []
    for event in week.to_dict("records"):
        details = event_details(event)
        rows.append({**{k: event.get(k) for k in ("event_id", "meter", "kind", "start", "end",
                                                  "severity", "excess_kwh")},
                     "severity_word": severity_word(float(event["severity"])),
                     "cost": details.get("cost"), "currency": details.get("currency"),
                     "status": event.get("status", "open"),
                     "explanation": details.get("explanation", ""),
                     "explanation_args": details.get("explanation_args")})
    out = pd.DataFrame(rows, columns=columns)
    out["cost"] = pd.to_numeric(out["cost"], errors="coerce")
    return out.sort_values(["cost", "excess_kwh"], ascending=False, na_position="last",
                           ignore_index=True).head(top)


def send_alerts(
    store: Store, events: pd.DataFrame, section: AlertsSection, now: Any = None
) -> AlertReport:
    """Notify every rule's matching events not yet sent on each channel; returns what happened.
    Events annotated acknowledged or non-routine are skipped."""
    now_ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    report = AlertReport()
    if events.empty or not section.rules:
        return report
    records = events.sort_values(["severity", "start"], ascending=[False, True])
    records = records.to_dict("records")
    records = [e for e in records if e.get("status", "open") not in QUIET_STATUSES]
    sent = store.list_documents(SENT_KIND)  # keys <rule>:<event_id>:<channel>
    for rule in section.rules:
        recent = _recent(store, rule.name, now_ts)
        channels = (["webhook"] if rule.webhook else []) + (["email"] if rule.email else [])
        for event in filter(rule.matches, records):
            keys = {c: f"{rule.name}:{event['event_id']}:{c}" for c in channels}
            todo = [c for c in channels
                    if keys[c] not in sent or _escalated(sent[keys[c]], event)]
            if not todo:
                report.already_sent += 1
                continue
            if len(recent) >= section.max_per_hour:
                report.rate_limited += 1
                continue
            body = payload(event, rule, section,
                           escalated=any(keys[c] in sent for c in todo))
            delivered = False
            for channel in todo:
                try:
                    if channel == "webhook":
                        assert rule.webhook is not None  # a channel only when the rule has one
                        response = requests.post(rule.webhook, json=body,
                                                 timeout=section.timeout_s)
                        response.raise_for_status()
                    else:
                        if section.smtp is None:
                            raise RuntimeError("no [alerts.smtp] section for e-mail")
                        _send_email(_email(body, rule, section.smtp), section.smtp,
                                    section.timeout_s)
                except (requests.RequestException, OSError, smtplib.SMTPException,
                        RuntimeError) as exc:
                    report.failed.append(f"rule {rule.name!r} {channel} for event "
                                         f"{event['event_id']}: {type(exc).__name__}: {exc}")
                    continue
                key = keys[channel]
                sent[key] = {"at": now_ts.isoformat(), "rule": rule.name, "channel": channel,
                             "event_id": str(event["event_id"]),
                             "severity": float(event["severity"]),
                             "severity_word": body["severity_word"]}
                store.put_document(SENT_KIND, key, sent[key])
                report.sent.append((rule.name, str(event["event_id"]), channel))
                delivered = True
            if delivered:
                recent.append(now_ts.isoformat())
                store.put_document(RATE_KIND, rule.name, {"sent_at": recent})
    log.info("alerts: %d sent, %d already sent, %d rate-limited, %d failed",
             len(report.sent), report.already_sent, report.rate_limited, len(report.failed))
    for failure in report.failed:
        log.warning("alert not delivered (retried next run): %s",
                    hide(failure, [u for r in section.rules for u in url_secrets(r.webhook)]))
    return report
