"""CalTRACK data sufficiency (issue #15 item 5): zeros per commodity, the required time
zone, blank values, outliers, incomplete days per period, disqualification and --force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.analytics.savings import Disqualified, SavingsError, estimate_savings
from wattlens.cli import app

from . import il_samples as il
from . import synthetic

TZ, BASE, REP = synthetic.TZ, synthetic.BASE, synthetic.REP


@pytest.fixture(scope="module")
def load(weather: pd.DataFrame) -> pd.DataFrame:
    return synthetic.load(weather, saving=0.10)


def _codes(result) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for w in result.warnings:
        out.setdefault(w.code, []).append(w.data)
    return out


def test_zeros_are_missing_for_electricity_and_flagged_as_runs_for_gas(weather, load) -> None:
    # three days of zeros in the reporting year: a stopped meter, not zero use
    frame = load.copy()
    times = pd.DatetimeIndex(frame["time"])
    frame.loc[(times >= "2019-03-01") & (times < "2019-03-04"), "value"] = 0.0
    elec = estimate_savings(frame, weather, "m1", BASE, REP, model="towt", tz=TZ)
    assert _codes(elec)["savings.zeros-missing"][0]["readings"] == 72
    assert elec.reporting.savings_pct == pytest.approx(10, abs=0.7)
    gas = estimate_savings(frame, weather, "m1", BASE, REP, model="towt", tz=TZ,
                           commodity="gas")
    runs = _codes(gas)["savings.zero-runs"][0]
    assert runs["runs"] == 1 and runs["readings"] == 72
    assert gas.reporting.savings_pct > elec.reporting.savings_pct + 0.5


def test_time_zone_is_required(weather, load, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="tz"):
        estimate_savings(load, weather, "m1", BASE, REP)  # type: ignore[call-arg]
    result = CliRunner().invoke(app, [
        "savings", "--readings", "r.csv", "--weather", "w.csv", "--meter", "m1",
        "--baseline", *BASE, "--reporting", *REP, "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2 and "--tz" in result.output


@pytest.mark.skipif(not il.available(), reason="OpenEEmeter samples not found")
def test_openeemeter_daily_file_as_shipped_reads_its_blank_last_value(tmp_path: Path) -> None:
    sample = "il-electricity-cdd-hdd-daily"
    weather = tmp_path / "w.csv"
    il.weather().rename_axis("time").reset_index().assign(
        time=lambda f: f["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(weather, index=False)
    out = tmp_path / "o.json"
    result = CliRunner().invoke(app, [
        "savings", "--readings", str(il.SAMPLES / f"{sample}.csv.gz"), "--weather",
        str(weather), "--meter", sample, "--tz", il.TZ, "--baseline", *il.BASELINE,
        "--reporting", *il.REPORTING, "--blackout", *il.BLACKOUT, "--out", str(out),
        "--model", "daily-degree-hours"])  # the correctly specified form (test_mv_answer_key)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    blank = [w for w in data["warnings"] if w["code"] == "savings.blank-values"]
    assert blank and blank[0]["data"]["readings"] == 1
    oracle = il.oracle_savings(sample, il.BASELINE, il.REPORTING)
    assert abs(data["reporting"]["savings_pct"] - oracle) <= 1.0


def test_outliers_are_flagged_not_removed(weather, load) -> None:
    frame = load.copy()
    spike = frame.index[frame["time"] == pd.Timestamp("2018-05-02T12:00Z")][0]
    frame.loc[spike, "value"] *= 50
    result = estimate_savings(frame, weather, "m1", BASE, REP, model="towt", tz=TZ)
    flagged = _codes(result)["savings.outliers"]
    assert [f["period"] for f in flagged] == ["baseline"] and flagged[0]["readings"] == 1


def test_incomplete_days_are_counted_per_period_with_empty_days(weather, load) -> None:
    times = pd.DatetimeIndex(load["time"]).tz_convert(TZ)
    gone = ((times >= pd.Timestamp("2018-04-10", tz=TZ))
            & (times < pd.Timestamp("2018-04-12", tz=TZ)))  # two whole baseline days
    gone |= ((times >= pd.Timestamp("2019-07-01 06:00", tz=TZ))
             & (times < pd.Timestamp("2019-07-01 09:00", tz=TZ)))  # part of a reporting day
    result = estimate_savings(load[~gone], weather, "m1", BASE, REP, model="caltrack-daily",
                              tz=TZ)
    by_period = {d["period"]: d for d in _codes(result)["savings.incomplete-days"]}
    assert by_period["baseline"]["days"] == 2 and by_period["baseline"]["empty"] == 2
    assert by_period["reporting"]["days"] == 1 and by_period["reporting"]["empty"] == 0
    assert result.baseline.n == 365 - 2


def test_daily_weather_raises_no_false_temperature_coverage_warning(weather, load) -> None:
    daily = weather.tz_convert(TZ).resample("D").mean().tz_convert("UTC")
    result = estimate_savings(load, daily, "m1", BASE, REP, model="caltrack-daily", tz=TZ)
    assert "savings.temperature-coverage" not in _codes(result)


def test_disqualified_meter_stops_unless_forced(weather, load) -> None:
    short = ("2018-09-01", "2019-01-01")
    with pytest.raises(Disqualified, match="--force") as caught:
        estimate_savings(load, weather, "m1", short, REP, model="towt", tz=TZ)
    assert isinstance(caught.value, SavingsError)
    assert [w.code for w in caught.value.reasons] == ["savings.short-baseline"]
    forced = estimate_savings(load, weather, "m1", short, REP, model="towt", tz=TZ, force=True)
    assert forced.forced and forced.disqualified == ["savings.short-baseline"]
    data = forced.to_json()["sufficiency"]
    assert data["forced"] is True and "forced" in data["note"]
    assert not estimate_savings(load, weather, "m1", BASE, REP, model="towt", tz=TZ).forced


def test_negative_readings_disqualify(weather, load) -> None:
    frame = load.copy()
    frame.loc[frame.index[100], "value"] = -5.0
    with pytest.raises(Disqualified, match="negative"):
        estimate_savings(frame, weather, "m1", BASE, REP, model="towt", tz=TZ)
    assert np.isfinite(estimate_savings(frame, weather, "m1", BASE, REP, model="towt", tz=TZ,
                                        force=True).reporting.savings_pct)
