"""Alerts against a real local SMTP server (aiosmtpd) and a local HTTP receiver."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from wattlens.analytics.alerts import AlertsSection, send_alerts
from wattlens.analytics.jobs import alert_job
from wattlens.config import Config, ConfigError, parse_config
from wattlens.store.schema import validate_events

NOW = pd.Timestamp("2019-03-10T12:00Z")


def events(n: int = 3) -> pd.DataFrame:
    start = pd.Timestamp("2019-03-10T01:00Z")
    return validate_events(pd.DataFrame({
        "meter": ["b1-elec"] * n,
        "start": [start + pd.Timedelta(hours=i) for i in range(n)],
        "end": [start + pd.Timedelta(hours=i + 1) for i in range(n)],
        "kind": ["spike"] * n,
        "severity": [0.9 - 0.1 * i for i in range(n)],
        "excess_kwh": [100.0] * n,
        "details": ['{"robust_z": 12.5}'] * n,
    }))


def section(receiver, port: int, **kwargs) -> AlertsSection:
    return AlertsSection.model_validate({
        "dashboard_url": "http://dash.example:8050/",
        "smtp": {"host": "127.0.0.1", "port": port, "sender": "wattlens@example.org",
                 "username": "alerts", "password_env": "TEST_WATTLENS_SMTP_PW"},
        "rules": [
            {"name": "spikes", "kinds": ["spike"], "min_severity": 0.75,
             "webhook": receiver.url, "email": ["energy@example.org"]},
            {"name": "gas-only", "meters": ["b1-gas"], "webhook": receiver.url},
        ],
        **kwargs,
    })


def test_webhook_and_email_once_per_event(duck_store, smtp, receiver, monkeypatch, caplog):
    inbox, port = smtp
    monkeypatch.setenv("TEST_WATTLENS_SMTP_PW", "s3cret-pw")
    frame = events()
    duck_store.write_events(frame)
    with caplog.at_level(logging.DEBUG):
        report = send_alerts(duck_store, duck_store.read_events(), section(receiver, port),
                             now=NOW)
    # severities 0.9 and 0.8 pass min_severity 0.75; 0.7 does not; the gas rule matches none
    assert len(receiver.bodies) == 2 and len(inbox.messages) == 2
    assert sorted(report.sent) == sorted(
        ("spikes", eid, ch) for eid in frame["event_id"][:2] for ch in ("webhook", "email"))
    body = receiver.bodies[0]
    assert body["event_id"] == frame["event_id"][0] and body["kind"] == "spike"
    assert body["link"] == f"http://dash.example:8050/anomalies?event={frame['event_id'][0]}"
    assert body["details"] == {"robust_z": 12.5} and body["severity"] == 0.9
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["energy@example.org"] and "spike on b1-elec" in msg["Subject"]
    assert body["link"] in msg.get_payload(decode=True).decode()
    assert inbox.logins == [(b"alerts", b"s3cret-pw")] * 2
    assert "s3cret-pw" not in caplog.text
    again = send_alerts(duck_store, duck_store.read_events(), section(receiver, port), now=NOW)
    assert again.sent == [] and again.already_sent == 2
    assert len(receiver.bodies) == 2 and len(inbox.messages) == 2


def test_rate_limit_defers_to_the_next_hour(duck_store, smtp, receiver, monkeypatch):
    inbox, port = smtp
    monkeypatch.setenv("TEST_WATTLENS_SMTP_PW", "s3cret-pw")
    duck_store.write_events(events())
    cfg = section(receiver, port, max_per_hour=1)
    first = send_alerts(duck_store, duck_store.read_events(), cfg, now=NOW)
    assert len(first.sent) == 2 and first.rate_limited == 1  # one event, two channels
    soon = send_alerts(duck_store, duck_store.read_events(), cfg, now=NOW + pd.Timedelta("10min"))
    assert soon.sent == [] and soon.rate_limited == 1
    later = send_alerts(duck_store, duck_store.read_events(), cfg, now=NOW + pd.Timedelta("2h"))
    assert len(later.sent) == 2 and later.already_sent == 1
    assert len(receiver.bodies) == 2 and len(inbox.messages) == 2


def test_failed_delivery_is_retried_and_acknowledged_events_are_quiet(
        duck_store, smtp, receiver, monkeypatch):
    inbox, port = smtp
    monkeypatch.delenv("TEST_WATTLENS_SMTP_PW", raising=False)
    frame = events(1)
    duck_store.write_events(frame)
    receiver.status = 500
    report = send_alerts(duck_store, duck_store.read_events(), section(receiver, port), now=NOW)
    assert report.sent == [] and len(report.failed) == 2
    assert any("TEST_WATTLENS_SMTP_PW" in f for f in report.failed)  # names the variable
    receiver.status = 200
    monkeypatch.setenv("TEST_WATTLENS_SMTP_PW", "s3cret-pw")
    retry = send_alerts(duck_store, duck_store.read_events(), section(receiver, port), now=NOW)
    assert len(retry.sent) == 2 and len(inbox.messages) == 1
    second = events(2).iloc[[1]]
    duck_store.write_events(second)
    duck_store.annotate_event(second["event_id"].iloc[0], "acknowledged", "ops", "known")
    quiet = send_alerts(duck_store, duck_store.read_events(), section(receiver, port), now=NOW)
    assert quiet.sent == []


def test_alert_job_reads_events_from_the_store(duck_store, receiver):
    config = Config(alerts={"rules": [{"name": "all", "min_severity": 0.0,
                                       "webhook": receiver.url}]})
    duck_store.write_events(events(2))
    report = alert_job(duck_store, config.alerts, since="2019-03-10T00:00Z", now=NOW)
    assert len(report.sent) == 2 and len(receiver.bodies) == 2


def test_config_section_errors_are_clear():
    with pytest.raises(ConfigError, match="no channel"):
        parse_config({"alerts": {"rules": [{"name": "x"}]}})
    with pytest.raises(ConfigError, match="smtp"):
        parse_config({"alerts": {"rules": [{"name": "x", "email": ["a@b.c"]}]}})
