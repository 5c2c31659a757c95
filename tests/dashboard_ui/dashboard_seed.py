"""Seed data for the dashboard tests: the shipped sample plus forecasts, events and
recommendations written through the Store, and the sample site's config with logins."""

from __future__ import annotations

import json
import shutil
from typing import Any

import numpy as np
import pandas as pd
import pytest
from werkzeug.security import generate_password_hash

from wattlens.analytics.anomalies import explanation
from wattlens.config import Config, parse_config
from wattlens.sample import load_sample

PASSWORDS = {"alice": "alice-secret-1", "admin": "admin-secret-1"}
"""Test logins: alice sees building b2 only; admin sees everything."""


def site_config(login: bool = False) -> Config:
    """The sample site (three buildings, one submeter) with optional logins."""
    meters = {
        "b2": [("b2-elec", "electricity", None), ("b2-gas", "gas", None),
               ("b2-elec-lab", "electricity", "b2-elec")],
        "b97": [("b97-elec", "electricity", None), ("b97-gas", "gas", None)],
        "b119": [("b119-elec", "electricity", None), ("b119-gas", "gas", None)],
    }
    return parse_config({
        "store": {"kind": "duckdb", "path": "unused.duckdb"},
        "sites": [{
            "id": "cambridge", "name": "Cambridge (sample)", "timezone": "Europe/London",
            "country": "GB", "weather_meter": "bedford-weather",
            "buildings": [{"id": b, "name": f"Building {b}", "meters": [
                {"id": m, "name": m.replace("-", " "), "commodity": c,
                 **({"parent": p} if p else {})} for m, c, p in ms]}
                for b, ms in meters.items()],
        }],
        "dashboard": {
            "login": login, "cache_ttl_s": 0,
            "users": [
                {"name": "alice", "password_hash": generate_password_hash(PASSWORDS["alice"]),
                 "buildings": ["b2"]},
                {"name": "admin", "password_hash": generate_password_hash(PASSWORDS["admin"]),
                 "all_meters": True},
            ],
        },
    })


def seed_frames() -> dict[str, pd.DataFrame]:
    """Sample readings (+ a submeter at 30 % of b2-elec), four weeks of day-ahead forecasts
    issued daily, and a handful of events."""
    readings = load_sample()
    lab = readings[(readings["meter"] == "b2-elec") & (readings["quantity"] == "energy")]
    lab = lab.assign(meter="b2-elec-lab", value=(lab["value"] * 0.3).round(3))
    readings = pd.concat([readings, lab], ignore_index=True)
    energy = readings[readings["quantity"] == "energy"]
    end = energy["time"].max().floor("1D")
    rows = []
    rng = np.random.default_rng(6)
    for meter in ("b2-elec", "b97-elec", "b119-elec", "b2-gas"):
        series = energy[energy["meter"] == meter].set_index("time")["value"]
        for day in pd.date_range(end - pd.Timedelta("28D"), end, freq="1D"):
            times = pd.date_range(day, periods=48, freq="1h")
            last_week = series.reindex(times - pd.Timedelta("7D")).to_numpy()
            yhat = last_week * (1 + rng.normal(0, 0.05, len(times)))
            ok = np.isfinite(yhat)
            rows.append(pd.DataFrame({
                "issued_at": day, "meter": meter, "model": "prophet", "model_version": "test-1",
                "time": times[ok], "yhat": yhat[ok], "yhat_lower": yhat[ok] * 0.85,
                "yhat_upper": yhat[ok] * 1.15}))
    forecasts = pd.concat(rows, ignore_index=True)
    events = pd.DataFrame({
        "meter": ["b2-elec", "b2-elec", "b97-elec", "b119-gas"],
        "start": [end - pd.Timedelta("3D2h"), end - pd.Timedelta("10D"),
                  end - pd.Timedelta("5D"), end - pd.Timedelta("12D")],
        "kind": ["spike", "after-hours", "level-shift", "stuck"],
        "severity": [0.9, 0.6, 0.7, 0.4],
        "excess_kwh": [120.5, 80.0, 300.0, 0.0],
    })
    events["end"] = events["start"] + pd.Timedelta("6h")
    events["details"] = [json.dumps(_explained(e)) for e in events.itertuples()]
    return {"readings": readings, "forecasts": forecasts, "events": events}


RECOMMENDATIONS = {
    "after-hours/b2-elec": {"rule": "after_hours_baseload", "meter": "b2-elec",
                            "title": "Cut b2 night baseload", "annual_kwh": 41000.0,
                            "annual_cost": 10250.0, "annual_co2_kg": 8487.0,
                            "confidence": 0.8, "evidence": {"night_kw": 12.3}},
    "peak/b97-elec": {"rule": "peak_demand", "meter": "b97-elec",
                      "title": "Shave b97 peaks", "annual_kwh": 900.0, "annual_cost": 20000.0,
                      "annual_co2_kg": 186.0, "confidence": 0.5, "evidence": {"peak_kw": 300}},
}


def seed(store) -> None:
    frames = seed_frames()
    store.init()
    store.write_readings(frames["readings"])
    store.write_forecasts(frames["forecasts"])
    store.write_events(frames["events"])
    for key, body in RECOMMENDATIONS.items():
        store.put_document("recommendation", key, body)
    store.put_document("ingest-status", "modbus-b97", {  # as wattlens.ingest.worker publishes it
        "type": "modbus", "last_success": "2019-12-31T23:05:00+00:00",
        "newest_reading": "2019-12-31T23:00:00+00:00", "lag_s": 300.0,
        "readings_last_hour": 12, "rejected": 0, "errors": 0, "last_error": None,
        "buffered_batches": 0, "updated": "2019-12-31T23:05:00+00:00"})


def needs_browser() -> pytest.MarkDecorator:
    have = shutil.which("chromium") and shutil.which("chromedriver")
    return pytest.mark.skipif(not have, reason="needs Debian chromium and chromium-driver")


def _explained(event: Any) -> dict[str, Any]:
    """Event details with a stored explanation, as the anomaly job writes them (the data and
    its English sentence), so the pages show it in the reader's language."""
    args: dict[str, Any] = {"start": event.start.isoformat(), "end": event.end.isoformat(),
                            "tz": "Europe/London", "also": []}
    if event.kind == "level-shift":
        args |= {"shape": "level-shift", "before": 40.0, "after": 52.5, "up": True}
    elif event.kind == "stuck":
        args |= {"shape": "stuck", "value_kwh": 12.0, "intervals": 6}
    else:
        args |= {"shape": "used", "usual": "norm" if event.kind == "after-hours" else "spike",
                 "norm": "after-hours", "weather": event.kind == "after-hours",
                 "excess_kwh": float(event.excess_kwh), "actual_kwh": 2 * event.excess_kwh,
                 "share_pct": 100.0}
    return {"explanation": explanation(args), "explanation_args": args}
