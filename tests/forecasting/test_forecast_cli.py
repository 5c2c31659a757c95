"""``wattlens forecast backtest`` on small CSVs written here, on a real dask LocalCluster."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.cli import app

runner = CliRunner()


def _write_csvs(tmp_path: Path, make_meter) -> tuple[Path, Path]:
    frames = []
    for i, meter in enumerate(["b1-elec", "b2-elec"]):
        load, weather = make_meter(seed=i)
        frames.append(pd.DataFrame({"time": load.index, "meter": meter, "value": load.values}))
    load, _ = make_meter(seed=9)
    frames.append(pd.DataFrame({"time": load.index, "meter": "stuck", "value": 4.0}))
    tail = load[load.index >= "2019-02-07"]
    frames.append(pd.DataFrame({"time": tail.index, "meter": "new", "value": tail.values}))
    readings = pd.concat(frames, ignore_index=True)
    gaps = readings["time"].isin(pd.to_datetime(["2019-02-11T05:00Z", "2019-02-12T07:00Z",
                                                  "2019-01-20T07:00Z"]))
    readings.loc[gaps & readings["meter"].str.endswith("elec"), "value"] = 0.0  # gaps
    readings["time"] = readings["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    r_path, w_path = tmp_path / "readings.csv", tmp_path / "weather.csv"
    readings.to_csv(r_path, index=False)
    weather.rename_axis("time").reset_index().assign(
        time=lambda f: f["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(w_path, index=False)
    return r_path, w_path


@pytest.mark.parametrize("model", ["prophet", "persistence-week"])
def test_backtest_cli_writes_metrics_and_forecasts(tmp_path: Path, make_meter, model) -> None:
    r_path, w_path = _write_csvs(tmp_path, make_meter)
    out, fc = tmp_path / "metrics.json", tmp_path / "forecasts.csv"
    result = runner.invoke(app, [
        "forecast", "backtest", "--readings", str(r_path), "--weather", str(w_path),
        "--model", model, "--horizon", "24", "--refit", "7", "--history", "28",
        "--start", "2019-02-10", "--end", "2019-02-13", "--tz", "Europe/London",
        "--country", "GB", "--missing-zero", "--out", str(out), "--forecasts-out", str(fc),
        "--workers", "2", "--threads",
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["model"] == model and doc["horizon_hours"] == 24 and doc["weather"] == "observed"
    assert set(doc["meters"]) == {"b1-elec", "b2-elec", "stuck", "new"}
    for meter in ("b1-elec", "b2-elec"):
        m = doc["meters"][meter]
        assert {"cv_rmse_pct", "nmbe_pct", "mae", "mape_pct", "coverage_pct", "n"} <= set(m)
        assert m["n"] == 72 - 2  # three days; two readings were zeros = missing
        assert m["cv_rmse_pct"] < 25
    assert "stuck meter" in doc["meters"]["stuck"]["error"]
    assert "at least 14 days" in doc["meters"]["new"]["error"]
    agg = doc["aggregate"]
    cvs = sorted(doc["meters"][m]["cv_rmse_pct"] for m in ("b1-elec", "b2-elec"))
    assert agg["median_cv_rmse_pct"] == pytest.approx(sum(cvs) / 2)
    frame = pd.read_csv(fc)
    assert list(frame.columns) == ["time", "meter", "issued_at", "yhat", "yhat_lower",
                                   "yhat_upper"]
    assert len(frame) == 2 * 72
    assert frame["time"].str.endswith("Z").all()
    assert set(frame["issued_at"]) == {"2019-02-10T00:00:00Z", "2019-02-11T00:00:00Z",
                                       "2019-02-12T00:00:00Z"}
    # issue #13: the origins used are echoed, percentages are printed rounded
    assert doc["origins"] == {"first": "2019-02-10T00:00:00+00:00", "count": 3,
                              "last": "2019-02-12T00:00:00+00:00", "timezone": "Europe/London"}
    assert re.search(r"median CV\(RMSE\) \d+\.\d %, median NMBE -?\d+\.\d %",
                     " ".join(result.output.split())), result.output


def test_backtest_cli_rejects_naive_timestamps_and_unknown_model(tmp_path: Path,
                                                                 make_meter) -> None:
    r_path, w_path = _write_csvs(tmp_path, make_meter)
    naive = pd.read_csv(r_path)
    naive["time"] = naive["time"].str.rstrip("Z")
    naive.to_csv(tmp_path / "naive.csv", index=False)
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["forecast", "backtest", "--readings", str(tmp_path / "naive.csv"),
                                 "--weather", str(w_path), "--out", str(out)])
    assert result.exit_code == 2
    assert "without a timezone" in result.output and not out.exists()
    result = runner.invoke(app, ["forecast", "backtest", "--readings", str(r_path),
                                 "--weather", str(w_path), "--out", str(out), "--model", "arima"])
    assert result.exit_code == 2 and "unknown" in result.output


def test_backtest_cli_rejects_an_unknown_country_up_front(tmp_path: Path, make_meter) -> None:
    r_path, w_path = _write_csvs(tmp_path, make_meter)
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["forecast", "backtest", "--readings", str(r_path),
                                 "--weather", str(w_path), "--out", str(out), "--country", "XX"])
    assert result.exit_code == 2
    assert "--country" in result.output and "'XX' is not known" in result.output
    assert not out.exists()
