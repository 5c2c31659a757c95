"""``wattlens savings`` end to end on CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.store.csvio import write_readings_csv

from . import synthetic


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("savings")
    weather = synthetic.temperature()
    readings = synthetic.load(weather, meter="b1-elec", saving=0.12)
    write_readings_csv(readings, folder / "readings.csv")
    weather.rename_axis("time").reset_index().assign(
        time=lambda f: f["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).to_csv(folder / "weather.csv", index=False)
    return folder / "readings.csv", folder / "weather.csv"


def _run(files: tuple[Path, Path], out: Path, *extra: str):
    readings, weather = files
    return CliRunner().invoke(app, [
        "savings", "--readings", str(readings), "--weather", str(weather), "--meter", "b1-elec",
        "--out", str(out), "--tz", synthetic.TZ, *extra,
    ])


def test_savings_cli_writes_the_documented_json(files, tmp_path: Path) -> None:
    out, series = tmp_path / "result.json", tmp_path / "series.csv"
    result = _run(files, out, "--baseline", "2018-01-01", "2019-01-01", "--reporting",
                  "2019-01-15", "2020-01-01", "--blackout", "2019-01-01", "2019-01-15",
                  "--model", "caltrack-daily", "--confidence", "0.95", "--series-out",
                  str(series))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["meter"] == "b1-elec" and data["model"] == "caltrack-daily"
    assert data["baseline"]["g14_pass"] is True
    assert data["baseline"]["n"] == 365
    rep = data["reporting"]
    assert rep["savings_pct"] == pytest.approx(12, abs=1)
    assert rep["savings_kwh"] == pytest.approx(rep["adjusted_baseline_kwh"] - rep["actual_kwh"])
    low, high = rep["savings_interval_kwh"]
    assert low < rep["savings_kwh"] < high
    frame = pd.read_csv(series)
    assert list(frame.columns) == ["time", "actual", "adjusted_baseline", "savings",
                                   "cumulative_savings"]
    assert frame["cumulative_savings"].iloc[-1] == pytest.approx(rep["savings_kwh"], rel=1e-6)


def test_savings_cli_rejects_reporting_before_baseline(files, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = _run(files, out, "--baseline", "2019-01-01", "2020-01-01", "--reporting",
                  "2018-01-01", "2019-01-01")
    assert result.exit_code == 2
    assert "starts before the baseline ends" in result.output
    assert not out.exists()
