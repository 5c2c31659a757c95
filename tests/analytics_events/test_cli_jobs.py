"""CLI end to end on small CSVs, and the jobs on a real DuckDB store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.analytics.jobs import (
    ANOMALY_RUN_KIND,
    RECOMMENDATION_KIND,
    RECOMMENDATION_RUN_KIND,
    detect_job,
    recommend_job,
)
from wattlens.cli import app
from wattlens.config import parse_config
from wattlens.store.csvio import weather_to_readings

from .synthetic import TZ, hourly_index, local_mask, office, readings

runner = CliRunner()


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.assign(time=pd.DatetimeIndex(frame["time"]).strftime("%Y-%m-%dT%H:%M:%SZ"))
    out.to_csv(path, index=False)
    return path


@pytest.fixture
def small(tmp_path) -> dict[str, Path]:
    """Two meters, 2019-01-01..2019-04-01: a spike and a stuck day in March on m1; weather."""
    index = hourly_index("2019-01-01", "2019-04-01")
    m1 = office(index, seed=1)
    m1[pd.Timestamp("2019-03-13T03:00Z")] += 100.0
    m1[(index >= "2019-03-20T00:00Z") & (index < "2019-03-20T12:00Z")] = 33.0
    m2 = office(index, base=5, day=20, seed=2)
    frame = pd.concat([readings(m1, "m1"), readings(m2, "m2")])
    rng = np.random.default_rng(0)
    weather = pd.DataFrame({"time": index, "temperature": 6 + rng.normal(0, 3, len(index))})
    forecasts = pd.DataFrame({
        "issued_at": "2019-02-28T00:00:00Z", "meter": "m2", "model": "t",
        "time": index[index >= "2019-03-01"], "yhat": 1.0, "yhat_lower": 0.0,
        "yhat_upper": 2.0})
    return {"readings": write_csv(frame, tmp_path / "r.csv"),
            "weather": write_csv(weather, tmp_path / "w.csv"),
            "forecasts": write_csv(forecasts, tmp_path / "f.csv"),
            "dir": tmp_path}


def test_anomalies_detect_cli(small):
    out = small["dir"] / "events.json"
    result = runner.invoke(app, [
        "anomalies", "detect", "--readings", str(small["readings"]),
        "--weather", str(small["weather"]), "--forecasts", str(small["forecasts"]),
        "--start", "2019-03-01", "--end", "2019-04-01", "--tz", TZ, "--country", "GB",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    assert set(body) == {"period", "events", "warnings", "settings"}
    assert body["period"]["start"].startswith("2019-03-01") and body["period"]["timezone"]
    assert body["settings"]["schedule"]["k_sigma"] == 2.5
    assert all(set(w) == {"code", "message", "data"} for w in body["warnings"])
    for event in body["events"]:
        assert set(event) == {"meter", "start", "end", "kind", "severity", "excess_kwh"}
    kinds = {(e["meter"], e["kind"]) for e in body["events"]}
    assert {("m1", "spike"), ("m1", "stuck"), ("m2", "forecast-residual")} <= kinds
    spike = next(e for e in body["events"] if e["kind"] == "spike")
    assert spike["start"] == "2019-03-13T03:00:00+00:00" and spike["excess_kwh"] > 90


def test_anomalies_detect_cli_details_and_bad_input(small):
    out = small["dir"] / "events.json"
    base = ["anomalies", "detect", "--readings", str(small["readings"]), "--out", str(out)]
    ok = runner.invoke(app, [*base, "--start", "2019-03-01", "--end", "2019-04-01",
                             "--detector", "data-quality", "--details"])
    assert ok.exit_code == 0, ok.output
    event = json.loads(out.read_text())["events"][0]
    assert len(event["event_id"]) == 16 and isinstance(event["details"], dict)
    backwards = runner.invoke(app, [*base, "--start", "2019-04-01", "--end", "2019-03-01"])
    assert backwards.exit_code == 2 and "not after start" in backwards.output
    bad_date = runner.invoke(app, [*base, "--start", "March", "--end", "2019-03-01"])
    assert bad_date.exit_code == 2 and "is not a date" in bad_date.output
    missing = runner.invoke(app, ["anomalies", "detect", "--readings", "nope.csv", "--out",
                                  str(out), "--start", "2019-03-01", "--end", "2019-04-01"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    empty = runner.invoke(app, [*base, "--start", "2021-01-01", "--end", "2021-02-01"])
    assert empty.exit_code == 1 and "no energy readings" in empty.output  # did nothing
    assert "has 2019-" in " ".join(empty.output.split())  # names the data there is
    body = json.loads(out.read_text())
    assert body["events"] == [] and body["warnings"][0]["code"] == "anomalies.no-readings"
    assert body["warnings"][0]["data"]["start"].startswith("2021-01-01")


def test_recommend_cli_with_config(small, tmp_path):
    index = hourly_index("2019-01-01", "2020-01-01")
    m1 = office(index, noise=0.0)
    m1[local_mask(index, hours=(19, 7))] += 20.0
    path = write_csv(readings(m1, "m1"), tmp_path / "year.csv")
    config = tmp_path / "site.toml"
    config.write_text("""
[[sites]]
id = "s"
timezone = "Europe/London"
country = "GB"
[[sites.buildings]]
id = "b"
[[sites.buildings.meters]]
id = "m1"
commodity = "electricity"
[[tariffs.catalog]]
id = "flat"
currency = "GBP"
[[tariffs.catalog.versions]]
valid_from = 2018-01-01
energy_rate = 0.2
[tariffs.default]
electricity = "flat"
[carbon]
factors = { electricity = 0.2 }
[analytics.recommendations.early_start_late_shutdown]
confidence = 0.3
""")
    out = tmp_path / "recs.json"
    result = runner.invoke(app, ["recommend", "--readings", str(path), "--config", str(config),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    assert body["settings"]["early_start_late_shutdown"]["confidence"] == 0.3
    recs = body["recommendations"]
    keys = {"rule", "meter", "title", "annual_kwh", "annual_cost", "annual_co2_kg",
            "confidence", "evidence"}
    assert recs and all(set(r) == keys for r in recs)
    after = next(r for r in recs if r["rule"] == "after-hours-baseload")
    assert after["annual_kwh"] == pytest.approx(20 * 12 * 365, rel=0.03)
    assert after["annual_cost"] == pytest.approx(0.2 * after["annual_kwh"], rel=1e-3)
    costs = [r["annual_cost"] for r in recs]
    assert costs == sorted(costs, reverse=True)


def test_recommend_cli_without_config_warns(small):
    out = small["dir"] / "recs.json"
    result = runner.invoke(app, ["recommend", "--readings", str(small["readings"]),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no --config" in result.output and "scaled" in result.output
    recs = json.loads(out.read_text())["recommendations"]
    assert recs and all(r["annual_cost"] is None and r["annual_co2_kg"] is None for r in recs)


def test_jobs_on_duckdb(duck_store):
    jobs_round_trip(duck_store)


@pytest.mark.influx
def test_jobs_on_influxdb(influx_store):
    jobs_round_trip(influx_store)


def jobs_round_trip(store) -> None:
    """detect_job writes events and recommend_job documents through the Store protocol."""
    index = hourly_index("2018-12-01", "2020-01-01")
    m1 = office(index, seed=4)
    m1[pd.Timestamp("2019-12-10T03:00Z")] += 100.0
    m1[local_mask(index, hours=(19, 7))] += 20.0
    rng = np.random.default_rng(1)
    weather = pd.DataFrame({"temperature": 8 + rng.normal(0, 2, len(index))}, index=index)
    store.init()
    store.write_readings(readings(m1, "m1"))
    store.write_readings(weather_to_readings(weather, "wx"))
    config = parse_config({"sites": [{
        "id": "s", "timezone": TZ, "country": "GB", "weather_meter": "wx",
        "buildings": [{"id": "b", "meters": [{"id": "m1", "commodity": "electricity"}]}]}]})
    meters = config.meter_infos()
    result = detect_job(store, meters, "2019-12-01T00:00Z", "2020-01-01T00:00Z",
                        settings=config.analytics.anomalies)
    stored = store.read_events()
    assert len(stored) == len(result.events) > 0
    assert "spike" in set(stored["kind"]) and set(stored["meter"]) == {"m1"}
    run = store.get_document(ANOMALY_RUN_KIND,
                             "2019-12-01T00:00:00+00:00/2020-01-01T00:00:00+00:00")
    assert run["events"] == len(result.events) and run["settings"]["data_quality"]["spike_z"] == 8
    recs, _ = recommend_job(store, meters, end="2020-01-01T00:00Z", tariffs=config.tariffs,
                            carbon=config.carbon, settings=config.analytics.recommendations)
    docs = store.list_documents(RECOMMENDATION_KIND)
    assert set(docs) == {f"{r.rule}:{r.meter}" for r in recs}
    top = docs["after-hours-baseload:m1"]
    assert top["annual_kwh"] == pytest.approx(20 * 12 * 365, rel=0.05) and top["rank"] >= 1
    assert top["settings"] == {"min_share": 0.1, "confidence": 0.8}
    latest = store.get_document(RECOMMENDATION_RUN_KIND, "latest")
    assert latest["recommendations"] == len(recs) and "always_on" in latest["settings"]
    assert isinstance(latest["warnings"], list)


def test_store_commands_run_annotate_alert(tmp_path, receiver):
    index = hourly_index("2019-01-01", "2019-04-01")
    m1 = office(index, seed=5)
    m1[pd.Timestamp("2019-03-13T03:00Z")] += 100.0
    csv = write_csv(readings(m1, "m1"), tmp_path / "r.csv")
    config = tmp_path / "wattlens.toml"
    config.write_text(f"""
[store]
kind = "duckdb"
path = "{(tmp_path / "w.duckdb").as_posix()}"
[[sites]]
id = "s"
timezone = "Europe/London"
[[sites.buildings]]
id = "b"
[[sites.buildings.meters]]
id = "m1"
commodity = "electricity"
[alerts]
dashboard_url = "http://127.0.0.1:8050"
[[alerts.rules]]
name = "spikes"
kinds = ["spike"]
min_severity = 0.0
webhook = "{receiver.url}"
""")
    assert runner.invoke(app, ["import", "readings", str(csv), "--config", str(config)]
                         ).exit_code == 0
    ran = runner.invoke(app, ["anomalies", "run", "--config", str(config),
                              "--start", "2019-03-01", "--end", "2019-04-01"])
    assert ran.exit_code == 0, ran.output
    alerted = runner.invoke(app, ["anomalies", "alert", "--config", str(config),
                                  "--since", "2019-03-01"])
    assert alerted.exit_code == 0 and "1 sent" in alerted.output, alerted.output
    (body,) = receiver.bodies
    assert body["kind"] == "spike" and body["link"].endswith(f"?event={body['event_id']}")
    noted = runner.invoke(app, ["anomalies", "annotate", body["event_id"], "--status",
                                "non-routine", "--by", "ops", "--note", "meter test",
                                "--config", str(config)])
    assert noted.exit_code == 0, noted.output
    bad = runner.invoke(app, ["anomalies", "annotate", body["event_id"], "--status", "maybe",
                              "--by", "ops", "--config", str(config)])
    assert bad.exit_code == 2 and "status='maybe'" in bad.output
    from wattlens.store.duck import DuckDBStore

    store = DuckDBStore(tmp_path / "w.duckdb")
    try:
        event = store.read_events(kinds=["spike"]).iloc[0]
        assert (event["status"], event["annotated_by"], event["note"]) == (
            "non-routine", "ops", "meter test")
    finally:
        store.close()
