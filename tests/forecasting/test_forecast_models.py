"""Model interface, features and bad input, on weeks of synthetic data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.caltrack.degree_days import balance_points
from wattlens.analytics.caltrack.hourly import TowtModel, fit_towt
from wattlens.core.calendar import Closure, SiteCalendar
from wattlens.forecasting.backtest import metrics
from wattlens.forecasting.features import ForecastInputError
from wattlens.forecasting.models import (
    ForecastModel,
    fit_model,
    get_model,
    model_from_json,
    model_names,
    model_to_json,
    register_model,
)
from wattlens.forecasting.prophet_model import (
    CARRY_LAGS,
    LEAD_BINS,
    _correction,
    _fit_correction,
    _pairs,
    _smoothed_temperature,
    _smoothed_temperature_safe,
)
from wattlens.store.schema import ContractError

SITE = SiteCalendar(timezone="Europe/London", country="GB-ENG")
ALL = ["prophet", "towt", "persistence-day", "persistence-week", "persistence-ensemble"]


def test_registry_has_every_model_and_rejects_unknown_and_duplicates() -> None:
    assert set(ALL) <= set(model_names())
    with pytest.raises(ValueError, match="unknown forecast model 'arima'.*persistence-day"):
        get_model("arima")
    with pytest.raises(ValueError, match="already registered"):
        register_model("prophet")(type("Other", (ForecastModel,), {}))


@pytest.mark.parametrize("name", ALL)
def test_fit_predict_and_json_round_trip(name: str, meter_data) -> None:
    load, weather = meter_data
    history, actual = load[:-24], load[-24:]
    model = fit_model(name, history, weather, SITE)
    assert model.n_params == 0 if name.startswith("persistence") else model.n_params > 0
    pred = model.predict(actual.index, weather, history)
    assert list(pred.columns) == ["time", "yhat", "yhat_lower", "yhat_upper"]
    assert list(pred["time"]) == list(actual.index)
    assert np.isfinite(pred[["yhat", "yhat_lower", "yhat_upper"]].to_numpy()).all()
    assert (pred["yhat_lower"] <= pred["yhat"]).all()
    assert (pred["yhat"] <= pred["yhat_upper"]).all()
    # a useful forecast of a regular synthetic meter (the 7-day mean blurs weekends in)
    m = metrics(actual.to_numpy(), pred["yhat"], pred["yhat_lower"], pred["yhat_upper"])
    assert m["cv_rmse_pct"] < (40 if name == "persistence-ensemble" else 20), m
    again = model_from_json(model_to_json(model)).predict(actual.index, weather, history)
    np.testing.assert_allclose(again[["yhat", "yhat_lower", "yhat_upper"]],
                               pred[["yhat", "yhat_lower", "yhat_upper"]], rtol=1e-9)


def test_prophet_uses_weather_and_beats_week_persistence(make_meter) -> None:
    # a cold snap in the last day: persistence cannot know it, the degree terms can
    load, weather = make_meter(days=36, noise=0.02)
    weather.iloc[-48:, 0] -= 8.0
    rebuilt = 20 + 1.5 * np.maximum(15 - weather["temperature"], 0)
    local = load.index.tz_convert("Europe/London")
    working = (local.day_of_week < 5) & (local.hour >= 8) & (local.hour < 18)
    load = pd.Series(rebuilt.reindex(load.index).to_numpy() + 30 * working, index=load.index)
    history, actual = load[:-24], load[-24:]
    scores = {}
    for name in ("prophet", "persistence-week"):
        pred = fit_model(name, history, weather, SITE).predict(actual.index, weather, history)
        scores[name] = metrics(actual.to_numpy(), pred["yhat"], pred["yhat_lower"],
                               pred["yhat_upper"])["cv_rmse_pct"]
    assert scores["prophet"] < 0.7 * scores["persistence-week"], scores


def test_site_calendar_days_holidays_closures_and_local_dates() -> None:
    site = SiteCalendar(timezone="Europe/London", country="GB-ENG",
                        closures=(Closure(start=dt.date(2019, 12, 23), end=dt.date(2019, 12, 24)),))
    times = pd.DatetimeIndex(
        ["2019-08-26T12:00Z",  # England's summer bank holiday (a Monday)
         "2019-08-27T12:00Z",  # ordinary Tuesday
         "2019-12-23T12:00Z",  # closure
         "2019-08-24T12:00Z",  # Saturday
         "2019-08-26T23:30Z"],  # already Tuesday 00:30 in London
    )
    kinds = site.days(times)
    assert kinds["holiday"].tolist() == [1, 0, 0, 0, 0]
    assert kinds["closure"].tolist() == [0, 0, 1, 0, 0]
    assert kinds["working"].tolist() == [0, 1, 0, 0, 1]
    # bridge days: the weekdays between Christmas and New Year, not an ordinary short week
    times = pd.DatetimeIndex(["2019-12-27T12:00Z",  # Friday after Boxing Day (Thursday)
                              "2019-12-30T12:00Z",  # Monday before New Year's Day (Wednesday)
                              "2019-12-20T12:00Z",  # ordinary Friday
                              "2019-04-23T12:00Z"])  # Tuesday after Easter Monday: 4-day week
    kinds = SiteCalendar(timezone="Europe/London", country="GB-ENG").days(times)
    assert kinds["bridge"].tolist() == [1, 1, 0, 0]
    assert kinds["working"].tolist() == [0, 0, 1, 1]
    assert SiteCalendar(timezone="Europe/London").days(times)["bridge"].tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="not known to the holidays package"):
        SiteCalendar(timezone="UTC", country="XX")


def test_models_saved_with_the_old_site_form_load() -> None:
    # before SiteCalendar, Prophet states saved {"timezone", "country", "closures"}
    old = {"timezone": "Europe/London", "country": "GB-ENG",
           "closures": [{"start": "2019-12-23", "end": "2019-12-24", "name": "closure"}]}
    site = SiteCalendar.from_json(old)
    assert site.timezone == "Europe/London" and site.closures[0].end == dt.date(2019, 12, 24)
    assert SiteCalendar.from_json(site.to_json()) == site


def test_balance_point_is_found_from_data() -> None:
    rng = np.random.default_rng(3)
    temp = pd.Series(rng.uniform(-2, 28, 200))
    load = 100 + 6 * np.maximum(14 - temp, 0) + 4 * np.maximum(temp - 21, 0) \
        + rng.normal(0, 2, 200)
    th, tc = balance_points(load, temp)
    assert th == pytest.approx(14, abs=1) and tc == pytest.approx(21, abs=1)
    flat = pd.Series(100 + rng.normal(0, 2, 200))
    assert balance_points(flat, temp) == (None, None)


@pytest.mark.parametrize("name", ALL)
def test_bad_input_is_a_clear_error(name: str, meter_data) -> None:
    load, weather = meter_data
    with pytest.raises(ForecastInputError, match="at least 14 days"):
        fit_model(name, load[: 10 * 24], weather, SITE)
    with pytest.raises(ForecastInputError, match="stuck meter"):
        fit_model(name, load * 0 + 5.0, weather, SITE)
    with pytest.raises(ForecastInputError, match="all missing"):
        fit_model(name, load[:0], weather, SITE)
    with pytest.raises(ContractError, match="naive"):
        fit_model(name, load.tz_localize(None), weather, SITE)
    model = fit_model(name, load[:-24], weather, SITE)
    with pytest.raises(ForecastInputError, match="naive"):
        model.predict(load.index[-24:].tz_localize(None), weather, load[:-24])
    if name in ("prophet", "towt"):
        short = weather[weather.index < load.index[-12]]
        with pytest.raises(ForecastInputError, match="weather does not cover"):
            model.predict(load.index[-24:], short, load[:-24])


def test_correction_carries_a_persistent_daily_level_over() -> None:
    # residuals = a daily level that persists (random walk day to day) + hourly noise: the
    # fitted correction carries yesterday's level over, the same-hour lags add nothing
    rng = np.random.default_rng(5)
    days = 365
    times = pd.date_range("2019-01-01", periods=days * 24, freq="h", tz="Europe/London")
    level = np.repeat(np.cumsum(rng.normal(0, 1.0, days)), 24)
    resid = pd.Series(level + rng.normal(0, 0.2, len(times)),
                      index=times.tz_convert("UTC").astype("datetime64[ns, UTC]"))
    coef, err = _fit_correction(_pairs(resid, SITE, pd.Timedelta("1h")))
    assert coef.shape == (2, LEAD_BINS, 2 + len(CARRY_LAGS))
    np.testing.assert_allclose(coef[..., 0].mean(axis=1), 1.0, atol=0.05)
    assert np.abs(coef[..., 2:].mean(axis=1)).max() < 0.3, coef[..., 2:].mean(axis=1)
    assert np.std(err) < 1.2 < 0.25 * np.std(resid)  # ~ the day-to-day step (sd 1)
    # a short history (under 24 pairs per lead) still gets one shared set
    short, _ = _fit_correction(_pairs(resid.iloc[: 16 * 24], SITE, pd.Timedelta("1h")))
    assert (short == short[0, 0]).all() and short[0, 0, 0] > 0.5
    # at issue time: the level of the last 24 h is carried over
    origin = resid.index[-24]
    params = {"interval_ns": pd.Timedelta("1h").value, "correction": coef.tolist()}
    out = _correction(resid[resid.index < origin], resid.index[-24:], SITE, params)
    assert abs(resid.iloc[-48:-24].mean()) > 10  # far from 0, so carrying it over is visible
    np.testing.assert_allclose(out, resid.iloc[-48:-24].mean(), atol=1.0)


@pytest.mark.parametrize("name", ["prophet", "persistence-day"])
def test_quarter_hourly_meter(name: str, make_meter) -> None:
    load, weather = make_meter(days=24)  # the last day is a Wednesday
    quarter = pd.Series(np.repeat(load.to_numpy() / 4, 4),
                        index=pd.date_range(load.index[0], periods=4 * len(load), freq="15min"))
    history, actual = quarter[:-96], quarter[-96:]
    pred = fit_model(name, history, weather, SITE).predict(actual.index, weather, history)
    assert len(pred) == 96 and list(pred["time"]) == list(actual.index)
    m = metrics(actual.to_numpy(), pred["yhat"], pred["yhat_lower"], pred["yhat_upper"])
    assert m["cv_rmse_pct"] < 20, m


def test_quarter_hourly_times_get_the_smooth_trailing_mean_temperature(make_meter) -> None:
    # hourly weather, 15-min meter: between the weather's hours the degree terms' temperature
    # is the 24 h trailing mean interpolated, never the raw temperature (a 5 degC daily swing)
    _, weather = make_meter(days=6)
    hourly = weather.index[30:-30]
    times = pd.date_range(hourly[0], hourly[-1], freq="15min")
    rolled = weather["temperature"].rolling("24h", min_periods=1).mean()
    smooth = _smoothed_temperature(weather, times)
    np.testing.assert_allclose(smooth[::4], rolled.reindex(hourly).to_numpy())
    np.testing.assert_allclose(smooth, np.interp(times.asi8, rolled.index.asi8, rolled.to_numpy()))
    assert np.abs(np.diff(smooth)).max() < 0.25  # the raw temperature moves ~1 degC an hour
    raw = weather["temperature"].reindex(times).to_numpy()
    assert np.nanmax(np.abs(smooth - raw)) > 2
    # fitting sees the same temperature as predicting
    np.testing.assert_allclose(_smoothed_temperature_safe(weather, times), smooth)


def test_towt_reads_json_saved_with_the_old_interval_key(meter_data) -> None:
    load, weather = meter_data
    model = fit_towt(load, weather["temperature"], SITE.timezone)
    saved = model.to_dict()
    assert "interval" not in saved
    old = TowtModel.from_dict({**saved, "interval": "P0DT1H0M0S"})
    pd.testing.assert_series_equal(old.predict(load.index, weather["temperature"]),
                                   model.predict(load.index, weather["temperature"]))
