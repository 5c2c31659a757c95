"""Forecasts that never blow up, intervals that mean what they say, honest weather."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wattlens.core.calendar import SiteCalendar
from wattlens.forecasting.backtest import BacktestSpec, backtest_meter, summarise
from wattlens.forecasting.baselines import PersistenceWeek
from wattlens.forecasting.features import (
    ForecastInputError,
    fill_at,
    issue_time_weather,
    temperature_at,
)
from wattlens.forecasting.guard import FALLBACK, issue
from wattlens.forecasting.models import fit_model
from wattlens.forecasting.prophet_model import ProphetModel, _balance_points
from wattlens.sample import sample_readings, sample_weather

SITE = SiteCalendar(timezone="Europe/London", country="GB-ENG")
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cambridge"


def _meter(readings: pd.DataFrame, meter: str) -> pd.Series:
    rows = readings[readings["meter"] == meter]
    return pd.Series(rows["value"].to_numpy(float), index=pd.DatetimeIndex(rows["time"]),
                     name=meter).sort_index()


def _november(load: pd.Series, weather: pd.DataFrame, days: int = 14
              ) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Fit Prophet on April-September 2019, then issue day-ahead forecasts for the first
    ``days`` of November (actuals known up to each issue): raw and through the guard."""
    summer = load[(load.index >= "2019-04-01") & (load.index < "2019-10-01")]
    model = fit_model("prophet", summer, weather, SITE)
    raw, guarded, warnings = [], [], []
    for day in pd.date_range("2019-11-01", periods=days, freq="D", tz="Europe/London"):
        times = pd.date_range(day, periods=24, freq="h").tz_convert("UTC")
        known = load[(load.index < times[0]) & (load.index >= times[0] - pd.Timedelta(28, "D"))]
        raw.append(model.predict(times, weather, known))
        pred, found = issue(model, times, weather, known, summer, SITE)
        guarded.append(pred)
        warnings += found
    return pd.concat(raw), pd.concat(guarded), warnings


def test_november_forecast_after_summer_only_fit_stays_within_the_meter_range() -> None:
    # b119-gas of the shipped sample: a summer fit knows no heating season; unguarded, the
    # November forecasts go negative (the -406 kWh/h pattern at a smaller scale)
    load = _meter(sample_readings(), "b119-gas")
    raw, guarded, _ = _november(load, sample_weather())
    seen = load[load.index < "2019-11-01"]
    assert raw["yhat"].min() < 0  # the failure the guard exists for
    assert guarded["yhat"].between(0.0, seen.max()).all()
    for column in ("yhat_lower", "yhat_upper"):  # bounds: never negative, never absurd
        assert guarded[column].between(0.0, 2 * seen.max()).all(), column


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/cambridge is not present")
def test_shared_b0_gas_blow_up_is_replaced_by_persistence_and_flagged() -> None:
    # b0 gas heats only 04:00-21:00 in summer (zeros = missing at night): the summer fit's
    # night hours are unconstrained and forecast ~10x the meter's maximum in November
    frame = pd.read_csv(SHARED / "buildings" / "UCam_Building_b0" / "gas" / "2019.csv")
    frame.columns = ["time", "value"]
    load = pd.Series(frame["value"].to_numpy(float),
                     index=pd.to_datetime(frame["time"]).dt.tz_localize("UTC"), name="b0-gas")
    load = load[load > 0]
    weather = sample_weather()
    raw, guarded, warnings = _november(load, weather, days=7)
    summer_max = load[(load.index >= "2019-04-01") & (load.index < "2019-10-01")].max()
    assert raw["yhat"].max() > 3 * summer_max  # reproduced
    assert warnings and all(w.code == "forecast.implausible" for w in warnings)
    assert "replaced by persistence-week" in warnings[0].message
    assert (guarded[FALLBACK] != "").sum() == 24 * len(warnings)
    assert guarded["yhat"].between(0, load[load.index < "2019-11-08"].max()).all()


def _mild_history(make_meter) -> tuple[pd.Series, pd.DataFrame, ProphetModel]:
    """Six weeks whose coldest 24-hour mean is ~10 degC, the model fitted on them."""
    load, weather = make_meter(days=42)
    weather = weather.assign(temperature=weather["temperature"] + 5.0)
    return load, weather, fit_model("prophet", load, weather, SITE)


def test_temperature_is_held_flat_outside_the_training_range(make_meter) -> None:
    load, weather, model = _mild_history(make_meter)
    coldest = model.params["temp_range"][0]
    assert model.params["heat_balance"] is not None and coldest > 8
    times = pd.date_range(load.index[-1] + pd.Timedelta("1h"), periods=24, freq="h")
    flat = pd.DataFrame({"temperature": coldest},
                        index=pd.date_range(times[0] - pd.Timedelta("2D"), times[-1], freq="h"))
    colder = flat.assign(temperature=coldest - 4.0)  # the 6 degC Sunday after 9.8 at least
    far_colder = flat.assign(temperature=-10.0)
    at_edge = model.predict(times, flat)["yhat"].to_numpy()
    np.testing.assert_allclose(model.predict(times, colder)["yhat"], at_edge)
    np.testing.assert_allclose(model.predict(times, far_colder)["yhat"], at_edge)


@pytest.mark.parametrize(("cold_days", "kept"), [(3, False), (15, True)])
def test_degree_terms_need_hours_beyond_the_balance_point(cold_days: int, kept: bool) -> None:
    # 60 days at 28 degC (above every candidate balance point) but for a few cold ones with
    # strong heating: 3 cold days (72 h) are too few to learn a heating slope from, 15
    # (360 h) are enough
    rng = np.random.default_rng(2)
    times = pd.date_range("2019-03-04", periods=60 * 24, freq="h", tz="UTC")
    temp = np.full(len(times), 28.0)
    temp[10 * 24:(10 + cold_days) * 24] = 4.0
    load = pd.Series(10 + 3 * np.maximum(14 - temp, 0) + rng.normal(0, 0.5, len(times)),
                     index=times)
    th, _ = _balance_points(load, temp, SITE)
    assert (th is not None) == kept, th


def test_an_implausible_forecast_is_replaced_flagged_and_its_residual_ignored(
        make_meter, monkeypatch) -> None:
    # the -406 kWh/h case: Sunday forecast far below zero while the meter used ~20
    load, weather, model = _mild_history(make_meter)
    local = load.index.tz_convert(SITE.timezone)
    sunday = load[local.dayofweek == 6].index[-24:]
    monday = pd.date_range(sunday[-1] + pd.Timedelta("1h"), periods=24, freq="h")
    raw_fn = model._raw

    def broken(design: pd.DataFrame) -> np.ndarray:
        out = np.array(raw_fn(design))
        out[design["ds"].dt.dayofweek.to_numpy() == 6] = -406.0
        return out

    history = load[load.index < monday[0]]
    honest = model.predict(monday, weather, history[history.index < sunday[0]])
    monkeypatch.setattr(model, "_raw", broken)
    # Monday: the Sunday residuals (+426 each) are ignored, as if Sunday were missing
    np.testing.assert_allclose(model.predict(monday, weather, history)["yhat"],
                               honest["yhat"])
    # Sunday itself: replaced by last week's Sunday, flagged, never negative
    pred, warnings = issue(model, sunday, weather, load[load.index < sunday[0]],
                           load[load.index < sunday[0]], SITE)
    assert len(warnings) == 1 and warnings[0].code == "forecast.implausible"
    assert warnings[0].data["fallback"] == ["persistence-week"]
    assert (pred[FALLBACK] == "persistence-week").all()
    week = PersistenceWeek.fit(load[load.index < sunday[0]], None, SITE)
    np.testing.assert_allclose(pred["yhat"], week.predict(sunday, None, load)["yhat"])
    assert (pred[["yhat", "yhat_lower", "yhat_upper"]].to_numpy() >= 0).all()


def test_weather_gap_at_the_horizon_edge_is_filled(make_meter) -> None:
    load, weather = make_meter(days=20)
    times = weather.index[-24:]
    short = weather.iloc[:-1]  # the horizon's last hour has no weather
    np.testing.assert_allclose(temperature_at(short, times, "w")[-1],
                               short["temperature"].iloc[-1])
    model = fit_model("prophet", load, weather, SITE)
    assert len(model.predict(times, short, load)) == 24
    with pytest.raises(ForecastInputError, match="weather does not cover 1 of 24"):
        temperature_at(weather.iloc[:-4], times, "w")  # 4 hours: beyond the fill limit
    # inside: interpolated; a long gap: held only within 3 h of a known value
    values = pd.Series([0.0, 4.0, 10.0], index=pd.DatetimeIndex(
        ["2019-01-01 00:00", "2019-01-01 04:00", "2019-01-01 14:00"], tz="UTC"))
    at = pd.date_range("2019-01-01 01:00", periods=8, freq="h", tz="UTC")
    np.testing.assert_allclose(fill_at(values, at)[:3], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(fill_at(values, at)[3:], [4.0, 4.0, 4.0, 4.0, np.nan])


def _noisier_at_the_end(make_meter, last: pd.Timedelta) -> tuple[pd.Series, pd.DataFrame]:
    """A 12-week synthetic meter with 3 % noise, 3x that over its ``last`` days."""
    load, weather = make_meter(days=84, noise=0.03)
    rng = np.random.default_rng(1)
    late = load.index >= load.index[-1] - last
    load = load.copy()
    load[late] *= 1 + 0.09 * rng.standard_normal(late.sum())
    return load, weather


def test_conformal_factor_widens_intervals_when_out_of_sample_errors_grow(make_meter) -> None:
    # noise 3x larger over the last 3 weeks (the held-out calibration window): the in-sample
    # quantiles of the early fit understate it and the factors say so, at every age
    load, weather = _noisier_at_the_end(make_meter, pd.Timedelta(days=21))
    model = fit_model("prophet", load, weather, SITE)
    factors = np.asarray(model.params["conformal"])  # (kind of day, age bin)
    assert factors.min() > 1.5 and factors.mean() > 2.0, factors
    steady = fit_model("prophet", make_meter(days=84, noise=0.03)[0], weather, SITE)
    factors = np.asarray(steady.params["conformal"])
    assert factors.max() < 2.0 and factors.mean() < 1.6, factors


def test_conformal_factor_of_a_fresh_fit_comes_from_fresh_errors(make_meter) -> None:
    # errors grow only 7+ days into the held-out window: a fit a week old or more widens its
    # intervals, a forecast issued right after a refit does not (one factor for every age,
    # taken from errors of a fit up to three weeks old, made those intervals 84 % wide)
    load, weather = _noisier_at_the_end(make_meter, pd.Timedelta(days=13))
    model = fit_model("prophet", load, weather, SITE)
    factors = np.asarray(model.params["conformal"])  # (kind of day, age bin)
    assert factors.shape == (2, 3)
    assert factors[:, 0].max() < 1.8 and factors[:, 2].min() > 2.0, factors
    # a forecast takes the factor of its fit's age
    end = pd.Timestamp(model.params["fitted_until"], tz="UTC")
    ratios = []
    for days in (0, 8, 15, 40):
        times = pd.date_range(end + pd.Timedelta(days=days), periods=24, freq="h")
        wx = weather.reindex(weather.index.union(times)).ffill()  # flat weather ahead
        widths = []
        for factors in ([[1.0] * 3] * 2, [[1.0, 2.0, 3.0]] * 2):
            model.params["conformal"] = factors
            pred = model.predict(times, wx, load[load.index < times[0]])
            widths.append((pred["yhat_upper"] - pred["yhat_lower"]).to_numpy())
        ratios.append(float(np.median(widths[1] / widths[0])))
    assert ratios == pytest.approx([1.0, 2.0, 3.0, 3.0])  # older than 3 weeks: the last bin's


def test_stated_80_percent_covers_77_to_83_out_of_sample(make_meter) -> None:
    # three synthetic meters, six weekly refits each: 3,024 issued hours no fit saw
    covered = n = 0.0
    for seed in (4, 5, 6):
        load, weather = make_meter(days=150, seed=seed)
        spec = BacktestSpec("prophet", 24, 7, 84, dt_date("2019-04-15"),
                            dt_date("2019-05-27"), weather="issue-time")
        res = backtest_meter("m1", load, weather, SITE, spec)
        assert res.error is None and res.fits == 6, res.skipped
        covered += res.metrics["coverage_pct"] * res.metrics["n"] / 100
        n += res.metrics["n"]
    assert n == 3 * 42 * 24
    assert 77 <= 100 * covered / n <= 83, 100 * covered / n


def test_backtest_coverage_near_nominal_and_weather_named(make_meter) -> None:
    load, weather = make_meter(days=120, seed=3)
    spec = BacktestSpec("prophet", 24, 7, 84, dt_date("2019-04-08"), dt_date("2019-05-06"),
                        weather="issue-time")
    res = backtest_meter("m1", load, weather, SITE, spec)
    assert res.error is None and res.fits == 4
    assert 70 <= res.metrics["coverage_pct"] <= 90, res.metrics
    doc = summarise("prophet", 24, {"m1": res}, "issue-time")
    assert doc["weather"] == "issue-time (previous-day)"
    assert doc["settings"]["guard"]["max_factor"] == 2.0 and doc["warnings"] == []


def dt_date(text: str):
    return pd.Timestamp(text).date()


def test_issue_time_weather_uses_only_what_was_known() -> None:
    times = pd.date_range("2019-03-01", periods=24 * 4, freq="h", tz="UTC")
    observed = pd.DataFrame({"temperature": np.arange(len(times), dtype=float)}, index=times)
    origin = times[48]
    end = origin + pd.Timedelta(hours=30)
    wx, source = issue_time_weather(observed, origin, end)
    assert source == "previous-day"
    ahead = wx[wx.index >= origin]["temperature"].to_numpy()
    # first 24 h: yesterday's same hours; hours 24-29: the day before's
    np.testing.assert_allclose(ahead[:24], np.arange(24, 48))
    np.testing.assert_allclose(ahead[24:], np.arange(24, 30))
    assert (wx.index < end).all()
    forecast = pd.DataFrame({"temperature": -1.0}, index=pd.date_range(origin, end, freq="h",
                                                                       inclusive="left"))
    wx, source = issue_time_weather(observed, origin, end, forecast)
    assert source == "stored forecast" and (wx[wx.index >= origin]["temperature"] == -1).all()
