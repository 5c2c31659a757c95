"""The dashboard's pure reshaping and scoring functions on constructed data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.mv import data_hash
from wattlens.core.calendar import SiteCalendar
from wattlens.dashboard import transforms


def frame(values, start="2019-01-07", freq="1h", meter="m"):
    times = pd.date_range(start, periods=len(values), freq=freq, tz="UTC")
    return pd.DataFrame({"time": times, "meter": meter, "value": np.asarray(values, float)})


def test_choose_every_keeps_the_bucket_count_bounded():
    start = pd.Timestamp("2019-01-01", tz="UTC")
    assert transforms.choose_every(start, start + pd.Timedelta("7D"), 1000) == "15min"
    assert transforms.choose_every(start, start + pd.Timedelta("365D"), 16000) == "1h"
    assert transforms.choose_every(start, start + pd.Timedelta("3650D"), 100) == "1d"


def test_downsample_caps_points_and_keeps_extremes():
    values = np.sin(np.linspace(0, 60, 20000))
    values[12345] = 50.0  # a spike MinMaxLTTB must keep
    out = transforms.downsample(frame(values, freq="15min"), 500)
    assert len(out) <= 500 and out["value"].max() == 50.0
    small = frame([1.0, 2.0])
    assert transforms.downsample(small, 500).equals(small)


def test_scores_match_hand_computed_values_and_g14():
    actual = np.array([10.0, 12.0, 8.0, 10.0])
    predicted = np.array([11.0, 11.0, 9.0, 9.0])
    s = transforms.scores(actual, predicted, predicted - 1.5, predicted + 1.5)
    assert s["n"] == 4
    assert s["cv_rmse_pct"] == pytest.approx(10.0)  # RMSE 1 / mean 10
    assert s["nmbe_pct"] == pytest.approx(0.0)
    assert s["coverage_pct"] == pytest.approx(100.0)
    assert s["g14_pass"] is True
    biased = transforms.scores(actual, predicted * 0.8)
    assert biased["nmbe_pct"] == pytest.approx(20.0) and biased["g14_pass"] is False


def test_hierarchy_remainder_is_parent_minus_submeters():
    parent = frame([100.0, 80.0], freq="1D", meter="p")
    kids = pd.concat([frame([30.0, 20.0], freq="1D", meter="a"),
                      frame([50.0, 70.0], freq="1D", meter="b")])
    out = transforms.hierarchy(parent, kids)
    remainder = out[out["meter"] == "remainder"]["value"].tolist()
    assert remainder == [20.0, -10.0]  # negative = submeters exceed the parent: visible


def test_as_issued_picks_the_newest_forecast_within_the_lead():
    target = pd.Timestamp("2019-01-02 12:00", tz="UTC")
    forecasts = pd.DataFrame({
        "issued_at": [target - pd.Timedelta(h, "h") for h in (36, 12, 2)],
        "meter": "m", "model": "p", "model_version": "1", "time": target,
        "yhat": [1.0, 2.0, 3.0], "yhat_lower": 0.0, "yhat_upper": 4.0})
    day_ahead = transforms.as_issued(forecasts, pd.Timedelta(0), pd.Timedelta("24h"))
    assert day_ahead["yhat"].tolist() == [3.0]
    next_day = transforms.as_issued(forecasts, pd.Timedelta("24h"), pd.Timedelta("48h"))
    assert next_day["yhat"].tolist() == [1.0]


def test_profiles_split_day_types_in_local_time_with_holidays():
    # 2019-12-23 (Mon) .. 2019-12-29: 25 and 26 Dec are GB holidays
    values = np.arange(7 * 24, dtype=float)
    calendar = SiteCalendar(timezone="Europe/London", country="GB")
    out = transforms.profiles(frame(values, start="2019-12-23"), calendar)
    kinds = set(out["day_type"])
    assert kinds == set(transforms.DAY_TYPES)
    sunday = out[out["day_type"] == "Sunday / holiday"]
    # hour 0 of Christmas (48), Boxing Day (72) and Sunday 29th (144)
    assert sunday[sunday["hour"] == 0]["value"].iloc[0] == pytest.approx((48 + 72 + 144) / 3)


def test_typical_band_uses_the_same_hour_of_week():
    history = frame(np.tile(np.arange(168, dtype=float), 4), start="2019-01-07")
    times = pd.Series(pd.date_range("2019-02-04", periods=3, freq="1h", tz="UTC"))
    band = transforms.typical_band(history, times)
    assert band["expected"].tolist() == [0.0, 1.0, 2.0]
    assert transforms.typical_band(history.iloc[0:0], times).empty


def test_data_hash_changes_with_any_value():
    a = frame([1.0, 2.0, 3.0])
    b = a.assign(value=[1.0, 2.0, 3.000001])
    assert data_hash(a) == data_hash(a.copy()) and data_hash(a) != data_hash(b)
