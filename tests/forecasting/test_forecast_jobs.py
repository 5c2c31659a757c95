"""``forecast run``: forecasts stored as issued in both stores, fitted models saved and reused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.config import Config
from wattlens.forecasting.features import issue_time_weather
from wattlens.forecasting.jobs import RunSpec, model_path, run_forecasts
from wattlens.forecasting.models import model_from_json
from wattlens.forecasting.prophet_model import ProphetModel
from wattlens.forecasting.runner import dask_client
from wattlens.store.csvio import weather_to_readings

ISSUED = pd.Timestamp("2019-02-14T00:00Z")


def _config(tmp_path: Path) -> Config:
    meters = [{"id": m, "commodity": "electricity"} for m in ("b1-elec", "b2-elec", "short")]
    return Config.model_validate({
        "data_dir": str(tmp_path / "data"),
        "store": {"kind": "duckdb", "path": str(tmp_path / "w.duckdb")},
        "sites": [{"id": "cam", "timezone": "Europe/London", "country": "GB-ENG",
                   "weather_meter": "wx",
                   "closures": [{"start": "2019-01-28", "end": "2019-01-28"}],
                   "buildings": [{"id": "b", "meters": meters}]}],
    })


def _readings(make_meter) -> pd.DataFrame:
    frames = []
    for i, meter in enumerate(["b1-elec", "b2-elec"]):
        load, weather = make_meter(seed=i)
        frames.append(pd.DataFrame({"time": load.index, "meter": meter, "value": load.values}))
    frames.append(frames[0].tail(24 * 5).assign(meter="short"))
    frames.append(weather_to_readings(weather, "wx"))
    return pd.concat(frames, ignore_index=True)


def test_forecasts_are_stored_as_issued_and_models_reused(store, tmp_path: Path,
                                                          make_meter) -> None:
    cfg = _config(tmp_path)
    store.write_readings(_readings(make_meter))
    spec = RunSpec("prophet", ISSUED, horizon_hours=24, refit_days=7, history_days=60)
    with dask_client(workers=2, processes=False) as client:
        first = run_forecasts(cfg.meter_infos(), cfg.data_dir, store, spec, client)
        assert first["b1-elec"]["status"] == "issued" and first["b1-elec"]["refitted"]
        assert first["short"]["status"] == "failed"
        assert "at least 14 days" in first["short"]["reason"]
        later = RunSpec("prophet", ISSUED + pd.Timedelta("6h"), 12, 7, 60)
        second = run_forecasts(cfg.meter_infos(), cfg.data_dir, store, later, client)
    assert second["b1-elec"]["status"] == "issued" and not second["b1-elec"]["refitted"]
    stored = store.read_forecasts(["b1-elec"], model="prophet")
    assert sorted(stored["issued_at"].unique()) == [ISSUED, ISSUED + pd.Timedelta("6h")]
    assert len(stored) == 24 + 12 and set(stored["model_version"]) == {ProphetModel.version}
    # what is stored is exactly what the saved model predicts from the data known then
    saved = json.loads(model_path(cfg.data_dir, "b1-elec", "prophet").read_text())
    assert saved["fitted_at"] == ISSUED.isoformat()
    model = model_from_json(saved["model"])
    issue = stored[stored["issued_at"] == ISSUED].sort_values("time")
    known = store.read_readings(["b1-elec"], "energy", ISSUED - pd.Timedelta(days=60), ISSUED)
    wx = store.read_readings(["wx"], None, None, None).pivot(
        index="time", columns="quantity", values="value")
    times = pd.DatetimeIndex(issue["time"])
    # the weather known at issue: observations before it, yesterday's over the horizon
    assert first["b1-elec"]["weather"] == "issue-time (previous-day)"
    known_wx, _ = issue_time_weather(wx, ISSUED, times[-1] + pd.Timedelta("1h"))
    again = model.predict(times, known_wx, known.set_index("time")["value"])
    np.testing.assert_allclose(issue["yhat"].to_numpy(), again["yhat"].to_numpy(), rtol=1e-6)
    assert store.get_document("forecast_status", "short/prophet")["status"] == "failed"


def test_forecast_run_cli_on_duckdb(tmp_path: Path, make_meter) -> None:
    from wattlens.store.duck import DuckDBStore

    cfg = _config(tmp_path)
    duck = DuckDBStore(cfg.store.path)
    duck.write_readings(_readings(make_meter))
    duck.close()
    toml = tmp_path / "wattlens.toml"
    toml.write_text(
        f'data_dir = "{cfg.data_dir}"\n[store]\nkind = "duckdb"\npath = "{cfg.store.path}"\n'
        '[[sites]]\nid = "cam"\ntimezone = "Europe/London"\ncountry = "GB"\n'
        'weather_meter = "wx"\n'
        '[forecasting.guard]\nmax_factor = 3.5\nfallbacks = ["persistence-day"]\n'
    )
    result = CliRunner().invoke(app, ["forecast", "run", "--config", str(toml), "--model",
                                      "persistence-week", "--at", "2019-02-14T00:00:00Z",
                                      "--workers", "1", "--threads"])
    assert result.exit_code == 0, result.output
    assert "2 issued, 1 failed; the issued ones were written" in result.output  # short
    duck = DuckDBStore(cfg.store.path)
    try:
        stored = duck.read_forecasts(model="persistence-week")
        status = duck.get_document("forecast_status", "b1-elec/persistence-week")
    finally:
        duck.close()
    assert sorted(stored["meter"].unique()) == ["b1-elec", "b2-elec"]
    assert (stored["issued_at"] == ISSUED).all() and len(stored) == 48
    # the guard's settings come from [forecasting.guard] and are recorded with the result
    assert status["settings"]["guard"] == {"max_factor": 3.5, "min_margin": 0.1,
                                           "fallbacks": ["persistence-day"]}


def test_guard_settings_from_the_config_refuse_a_fallback_that_is_not_persistence(
        tmp_path: Path) -> None:
    cfg = Config.model_validate({"forecasting": {"guard": {"max_factor": 4}}})
    assert cfg.forecasting.guard.max_factor == 4.0
    with pytest.raises(ValidationError, match="'prophet' is not a persistence baseline; "
                                              "choose from persistence-day"):
        Config.model_validate({"forecasting": {"guard": {"fallbacks": ["prophet"]}}})
    with pytest.raises(ValidationError, match="max_factor"):
        Config.model_validate({"forecasting": {"guard": {"max_factor": 0.5}}})


def test_forecast_run_uses_the_stored_weather_forecast_and_says_so(store, tmp_path: Path,
                                                                   make_meter) -> None:
    cfg = _config(tmp_path)
    readings = _readings(make_meter)
    wx = readings[readings["meter"] == "wx"]
    store.write_readings(readings[(readings["meter"] != "wx") | (readings["time"] < ISSUED)])
    ahead = wx[wx["time"] >= ISSUED].assign(meter="wx-forecast")
    spec = RunSpec("prophet", ISSUED, 24, 7, 60)
    with dask_client(workers=1, processes=False) as client:
        before = run_forecasts(cfg.meter_infos(), cfg.data_dir, store, spec, client, ["b1-elec"])
        store.write_readings(ahead)  # the weather source's forecast mode writes this meter
        after = run_forecasts(cfg.meter_infos(), cfg.data_dir, store, spec, client, ["b1-elec"])
    assert before["b1-elec"]["weather"] == "issue-time (previous-day)"
    assert after["b1-elec"]["weather"] == "issue-time (stored forecast)"
    assert after["b1-elec"]["warnings"] == []
    assert after["b1-elec"]["settings"]["guard"]["fallbacks"][0] == "persistence-week"
