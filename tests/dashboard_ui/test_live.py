"""The Live page answered over HTTP as the browser calls it: the status line and the freshness
table agree on a meter's newest reading, however old; a source's count reads as arrivals;
today's chart puts sub-hourly readings, hourly forecasts and the typical day on one axis."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from dashboard_seed import site_config

from tests.support import probe
from wattlens.dashboard.app import create_app
from wattlens.store.duck import DuckDBStore


@pytest.fixture
def store(tmp_path: Path):
    store = DuckDBStore(tmp_path / "live.duckdb")
    store.init()
    yield store
    store.close()


def _hourly(meter: str, start: str, days: int, kwh: float) -> pd.DataFrame:
    times = pd.date_range(start, periods=days * 24, freq="1h", tz="UTC")
    return pd.DataFrame({"time": times, "meter": meter, "value": kwh})


def _call(client, output: str, meter: str) -> dict:
    cb = probe.find(probe.callbacks(client), output)
    return probe.call(client, cb, {"meter-picker.value": meter, "live-tick.n_intervals": 1}
                      ).json()["response"]


def test_status_and_freshness_agree_on_an_old_reading_while_a_source_receives(store):
    """The replayed-2019 case: the newest reading is years old while a source received 126
    readings in the last hour. Both places show the same time and age; the source's count
    says it counts arrivals."""
    store.write_readings(_hourly("b2-elec", "2019-11-01", 30, 100.0))
    store.put_document("ingest-status", "sim-modbus", {
        "type": "modbus", "last_success": pd.Timestamp.now(tz="UTC").isoformat(),
        "newest_reading": "2019-11-30T23:00:00+00:00", "readings_last_hour": 126,
        "errors": 0, "last_error": None})
    client = create_app(site_config(), store).server.test_client()
    status = _call(client, "live-status", "b2-elec")["live-status"]["children"]
    found = re.search(r"latest reading (.+ GMT) = 100\.00 kWh \((\d+ days ago)\)", status)
    assert found, status
    when, age = found.groups()
    assert when == "2019-11-30 23:00 GMT"
    table = _call(client, "live-freshness", "b2-elec")["live-freshness"]["children"]
    rows = {r["source"]: r for r in table["props"]["data"]}
    assert rows["meter b2-elec"]["newest"] == when and rows["meter b2-elec"]["age"] == age
    assert rows["meter b2-elec"]["state"] == "no reading in the last 7 days"
    assert "received 126 readings in the last hour" in rows["source sim-modbus"]["state"]


def test_today_in_mean_power_with_sub_hourly_readings(store):
    """One-minute readings today, hourly history and an hourly forecast: the chart shows
    each in kW (a minute's 2 kWh is 120 kW, an hour's 120 kWh too)."""
    now = pd.Timestamp.now(tz="UTC").floor("1min")
    day = now.tz_convert("Europe/London").normalize().tz_convert("UTC")
    store.write_readings(_hourly("b97-elec", str((day - pd.Timedelta("35D")).date()), 35,
                                 120.0))
    minutes = pd.date_range(max(day, now - pd.Timedelta("30min")), now, freq="1min",
                            inclusive="left")
    store.write_readings(pd.DataFrame({"time": minutes, "meter": "b97-elec", "value": 2.0}))
    hours = pd.date_range(day, periods=24, freq="1h")
    store.write_forecasts(pd.DataFrame({
        "issued_at": day - pd.Timedelta("1h"), "meter": "b97-elec", "model": "prophet",
        "model_version": "t", "time": hours, "yhat": 120.0, "yhat_lower": 100.0,
        "yhat_upper": 140.0}))
    client = create_app(site_config(), store).server.test_client()
    figure = _call(client, "live-today", "b97-elec")["live-today"]["figure"]
    traces = {t.get("name"): t for t in figure["data"]}
    assert set(traces["actual"]["y"]) == {120.0}
    assert set(traces["prophet forecast (as issued)"]["y"]) == {120.0}
    assert set(traces["typical day (last 4 of this day type)"]["y"]) == {120.0}
    assert figure["layout"]["yaxis"]["title"]["text"].startswith("mean power [kW]")
