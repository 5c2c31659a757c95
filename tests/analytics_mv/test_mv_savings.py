"""Savings on constructed meters with known answers; CalTRACK and TOWT models; bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import wattlens.forecasting.mv  # noqa: F401 - the plug-in registers the prophet baseline
from wattlens.analytics.caltrack.daily import fit_daily_model, t_quantile
from wattlens.analytics.caltrack.hourly import TowtModel, fit_towt
from wattlens.analytics.savings import (
    FitStats,
    SavingsError,
    _fit_warnings,
    difference_in_differences,
    estimate_savings,
    fit_statistics,
    non_routine_windows,
    savings_uncertainty,
)

from . import synthetic

TZ, BASE, REP = synthetic.TZ, synthetic.BASE, synthetic.REP


@pytest.fixture(scope="module")
def saving15(weather: pd.DataFrame) -> pd.DataFrame:
    return synthetic.load(weather, saving=0.15)


def test_t_quantile_matches_tables() -> None:
    assert t_quantile(0.95, 10) == pytest.approx(1.8125, abs=2e-3)
    assert t_quantile(0.975, 5) == pytest.approx(2.5706, abs=1e-2)
    assert t_quantile(0.95, 1e9) == pytest.approx(1.6449, abs=1e-4)


def test_fit_statistics_by_hand() -> None:
    obs = pd.DataFrame({
        "time": pd.date_range("2020-01-01", periods=4, freq="D", tz="UTC"),
        "actual": [10.0, 12.0, 8.0, 10.0], "predicted": [11.0, 11.0, 9.0, 9.0],
    })
    stats = fit_statistics(obs, n_params=2, granularity="daily")
    # SSE 4, n - p = 2, mean 10: CV = sqrt(2)/10; NMBE = 0 / (2*10); R2 = 1 - 4/8
    assert stats.cv_rmse_pct == pytest.approx(100 * np.sqrt(2) / 10)
    assert stats.nmbe_pct == pytest.approx(0.0)
    assert stats.r2 == pytest.approx(0.5)
    assert stats.g14_pass


def test_caltrack_recovers_a_known_heating_model() -> None:
    rng = np.random.default_rng(3)
    temps = rng.uniform(-5, 30, 365)
    usage = 10 + 2.0 * np.maximum(15 - temps, 0) + rng.normal(0, 0.5, 365)
    model = fit_daily_model(usage, [np.array([t]) for t in temps])
    assert model.kind == "hdd_only"
    assert model.heating_bp == pytest.approx(15, abs=0.6)
    assert model.heating_slope == pytest.approx(2.0, rel=0.05)
    assert model.intercept == pytest.approx(10, abs=0.5)
    flat = fit_daily_model(10 + rng.normal(0, 0.5, 365), [np.array([t]) for t in temps])
    assert flat.kind == "intercept_only"


def test_towt_fits_profile_and_round_trips_json(weather: pd.DataFrame) -> None:
    frame = synthetic.load(weather, noise=0.02)
    load = frame.set_index("time")["value"]
    base = load[: "2018-12-31"]
    model = fit_towt(base, weather["temperature"], TZ)
    later = load["2019-01-01":]
    pred = model.predict(later.index, weather["temperature"])
    r2 = 1 - ((later - pred) ** 2).sum() / ((later - later.mean()) ** 2).sum()
    assert r2 > 0.95
    exact = synthetic.load(weather, noise=0.0).set_index("time")["value"][: "2018-12-31"]
    noise_rms = float(np.sqrt(((base - exact) ** 2).mean()))
    # the residual is the noise plus what the 30/45/55/65/75/90 degF knots cannot bend to
    assert noise_rms <= model.residual_std <= 2 * noise_rms
    again = TowtModel.from_dict(json.loads(json.dumps(model.to_dict())))
    pd.testing.assert_series_equal(again.predict(later.index, weather["temperature"]), pred)


@pytest.mark.parametrize("model", ["towt", "caltrack-daily"])
def test_known_saving_is_recovered(weather, saving15, model: str) -> None:
    result = estimate_savings(saving15, weather, "m1", BASE, REP, model=model, tz=TZ)
    assert result.reporting.savings_pct == pytest.approx(15, abs=1)
    low, high = result.reporting.savings_interval_kwh
    assert 0 < low < result.reporting.savings_kwh < high
    assert result.baseline.g14_pass
    cumulative = result.series["cumulative_savings"]
    assert cumulative.iloc[-1] == pytest.approx(result.reporting.savings_kwh)
    monthly = cumulative.groupby(pd.DatetimeIndex(result.series["time"]).month).last()
    assert monthly.is_monotonic_increasing  # saving in every month of the year
    payload = result.to_json()
    assert set(payload) == {"meter", "model", "model_form", "granularity", "baseline",
                            "reporting", "settings", "warnings", "sufficiency",
                            "coefficients", "uncertainty", "timezone", "commodity", "periods",
                            "inputs", "software"}
    assert set(payload["baseline"]) == {"cv_rmse_pct", "nmbe_pct", "r2", "n", "n_params",
                                        "residual_dof", "autocorrelation", "n_effective",
                                        "g14_pass"}
    assert payload["baseline"]["residual_dof"] == result.baseline.n - result.baseline.n_params
    assert set(payload["reporting"]) == {
        "actual_kwh", "adjusted_baseline_kwh", "savings_kwh", "savings_pct", "fsu_pct",
        "savings_interval_kwh", "confidence", "n",
    }
    # how the result was made: the general settings and the model's own section only
    own = model.replace("-", "_")
    assert own in payload["settings"] and payload["settings"]["confidence"] == 0.9
    assert not ({"caltrack_daily", "towt"} - {own}) & set(payload["settings"])
    assert json.loads(json.dumps(payload)) == payload


def test_placebo_interval_contains_zero(weather) -> None:
    frame = synthetic.load(weather, saving=0.0, noise=0.10)
    result = estimate_savings(frame, weather, "m1", BASE, REP, model="caltrack-daily", tz=TZ)
    low, high = result.reporting.savings_interval_kwh
    assert low < 0 < high
    assert abs(result.reporting.savings_pct) < 1


def test_non_routine_event_is_excluded(weather, saving15) -> None:
    frame = saving15.copy()
    spike = (frame["time"] >= "2019-06-01") & (frame["time"] < "2019-06-15")
    frame.loc[spike, "value"] += 100.0  # a non-routine event: a fortnight of extra load
    hit = estimate_savings(frame, weather, "m1", BASE, REP, model="caltrack-daily", tz=TZ)
    assert hit.reporting.savings_pct < 10
    events = pd.DataFrame({
        "event_id": ["e1"], "meter": ["m1"], "kind": ["level_shift"],
        "start": [pd.Timestamp("2019-06-01", tz="UTC")],
        "end": [pd.Timestamp("2019-06-15", tz="UTC")],
    })
    annotations = pd.DataFrame({
        "event_id": ["e1", "e1"], "status": ["acknowledged", "non-routine"],
        "at": pd.to_datetime(["2019-07-01", "2019-07-02"], utc=True),
        "by": ["ann", "bob"], "note": ["seen", "building works"],
    })
    windows = non_routine_windows(events, "m1", annotations)
    assert windows == [(events["start"][0], events["end"][0])]
    clean = estimate_savings(frame, weather, "m1", BASE, REP, model="caltrack-daily", tz=TZ,
                             exclude=windows)
    assert clean.reporting.savings_pct == pytest.approx(15, abs=1)
    assert any("non-routine" in w.message for w in clean.warnings)
    excluded = next(w for w in clean.warnings if w.code == "savings.excluded-energy")
    assert excluded.data["kwh"] > 0 and excluded.data["windows"] >= 1


def test_difference_in_differences(weather) -> None:
    treated = synthetic.load(weather, meter="t", saving=0.10, seed=5)
    control = synthetic.load(weather, meter="c", saving=0.0, seed=6)
    frame = pd.concat([treated, control], ignore_index=True)
    result = difference_in_differences(frame, ["t"], ["c"], BASE, REP, tz=TZ)
    # the treated meter uses 10 % less than its counterfactual in the reporting year
    rep_daily = treated[treated["time"] >= "2019-01-01"]["value"].sum() / 365
    expected = rep_daily / 0.9 * 0.1
    assert result.savings_kwh_per_day == pytest.approx(expected, rel=0.15)
    assert result.interval_kwh_per_day[0] < result.savings_kwh_per_day
    assert result.interval_kwh_per_day[0] > 0
    assert result.savings_pct == pytest.approx(10, abs=1.5)


# ---- bad input ----------------------------------------------------------------------------


def test_reporting_before_baseline_is_an_error(weather, saving15) -> None:
    with pytest.raises(SavingsError, match="before the baseline ends"):
        estimate_savings(saving15, weather, "m1", REP, BASE, tz=TZ)


def test_period_without_data_is_an_error(weather, saving15) -> None:
    with pytest.raises(SavingsError, match="has no readings in it"):
        estimate_savings(saving15, weather, "m1", BASE, ("2021-01-01", "2022-01-01"), tz=TZ)


def test_too_little_baseline_is_an_error(weather, saving15) -> None:
    with pytest.raises(SavingsError, match=r"only 14\.0 days of readings"):
        estimate_savings(saving15, weather, "m1", ("2018-12-18", "2019-01-01"), REP, tz=TZ)


def test_short_baseline_warns_with_numbers(weather, saving15) -> None:
    result = estimate_savings(saving15, weather, "m1", ("2018-09-01", "2019-01-01"), REP,
                              model="towt", tz=TZ, force=True)
    assert any("baseline covers 122 days; CalTRACK requires 365" in w.message
               for w in result.warnings)


def test_missing_temperature(weather, saving15) -> None:
    with pytest.raises(SavingsError, match="no 'temperature' column"):
        estimate_savings(saving15, weather.rename(columns={"temperature": "t"}), "m1", BASE,
                         REP, tz=TZ)
    no_baseline_weather = weather[weather.index >= "2019-01-01"]
    with pytest.raises(SavingsError, match="baseline .* no temperature readings"):
        estimate_savings(saving15, no_baseline_weather, "m1", BASE, REP, tz=TZ)
    gappy = weather[(weather.index < "2019-03-01") | (weather.index >= "2019-06-01")]
    # three months without temperature disqualify the meter (CalTRACK); forced, it says why
    result = estimate_savings(saving15, gappy, "m1", BASE, REP, model="towt", tz=TZ, force=True)
    assert result.disqualified == ["savings.temperature-coverage"]
    assert any(w.message.startswith("reporting: temperature on 75% of hours")
               for w in result.warnings)
    assert any("have no temperature within 3 h" in w.message for w in result.warnings)


def test_model_needs_suitable_data(weather, saving15) -> None:
    daily = saving15.assign(time=saving15["time"].dt.floor("D")).groupby(
        ["time", "meter", "quantity", "quality"], as_index=False)["value"].sum()
    with pytest.raises(SavingsError, match="needs interval data"):
        estimate_savings(daily, weather, "m1", BASE, REP, model="towt", tz=TZ)
    with pytest.raises(SavingsError, match="unknown model"):
        estimate_savings(saving15, weather, "m1", BASE, REP, model="magic", tz=TZ)
    with pytest.raises(SavingsError, match="meter 'nope' has no energy readings"):
        estimate_savings(saving15, weather, "nope", BASE, REP, tz=TZ)


def test_g14_uncertainty_by_hand() -> None:
    stats = FitStats(cv_rmse_pct=20.0, nmbe_pct=0.0, r2=0.9, n=8760, n_params=10,
                     autocorrelation=0.8, g14_pass=True)
    n_eff = 8760 * 0.2 / 1.8
    by_hand = t_quantile(0.95, (8760 - 10) * n_eff / 8760) * 1.26 * 0.2 * np.sqrt(
        (8760 / n_eff) * (1 + 2 / n_eff) / 8760) * 1e6
    assert savings_uncertainty(stats, 8760, 1e6, 0.9) == pytest.approx(by_hand)


def test_interval_does_not_blow_up_when_autocorrelation_leaves_fewer_than_p() -> None:
    # the issue's closure fit: rho 0.96, n' ~ 161 < p = 176. G14's n' - p floored at 1 put
    # t(0.95, 1) = 6.3 into the interval, three times too wide; nu = (n - p) n'/n stays ~157
    n = 7889
    stats = FitStats(cv_rmse_pct=20.0, nmbe_pct=0.0, r2=0.9, n=n, n_params=176,
                     autocorrelation=0.96, g14_pass=True)
    assert stats.n_effective < stats.n_params
    assert stats.t_dof == pytest.approx((n - 176) * stats.n_effective / n)
    z_based = 1.6449 * 1.26 * 0.2 * np.sqrt(
        (n / stats.n_effective) * (1 + 2 / stats.n_effective) / 2000) * 1e6
    assert savings_uncertainty(stats, 2000, 1e6, 0.9) < 1.02 * z_based
    warnings = _fit_warnings(stats, "hourly", 5)
    effective = [w for w in warnings if w.code == "savings.effective-dof"]
    assert len(effective) == 1 and effective[0].data["n_params"] == 176
    # no warning when n' comfortably exceeds p
    plain = FitStats(cv_rmse_pct=20.0, nmbe_pct=0.0, r2=0.9, n=n, n_params=176,
                     autocorrelation=0.5, g14_pass=True)
    assert not [w for w in _fit_warnings(plain, "hourly", 5) if w.code == "savings.effective-dof"]


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_g14_interval_is_calibrated_on_simulated_no_change_meters(rho: float) -> None:
    # 90 % nominal; G14's interval is slightly narrow (~85 %) even for white noise. Without
    # the autocorrelation correction rho = 0.9 would hold zero only ~24 % of the time,
    # counting it twice (n' and m') ~100 %.
    coverage = synthetic.ar1_interval_coverage(rho, n=365, reps=400)
    assert 0.78 <= coverage <= 0.95, coverage


def test_prophet_baseline_through_the_forecasting_registry(weather, saving15) -> None:
    result = estimate_savings(saving15, weather, "m1", BASE, REP, model="prophet", tz=TZ,
                              country="GB")
    assert result.model == "prophet"
    # Prophet extrapolates its trend into the reporting year: less exact than TOWT here
    assert result.reporting.savings_pct == pytest.approx(15, abs=2.5)
