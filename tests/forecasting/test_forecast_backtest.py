"""Backtest metrics by hand, rolling origins, no future leakage, per-meter failures."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from wattlens.core.calendar import SiteCalendar
from wattlens.forecasting.backtest import (
    BacktestSpec,
    backtest_meter,
    metrics,
    origins,
    plan,
    summarise,
)

SITE = SiteCalendar(timezone="Europe/London", country="GB-ENG")


def test_metrics_by_hand() -> None:
    actual = np.array([10.0, 20.0, 0.0, 30.0])
    yhat = np.array([12.0, 18.0, 1.0, 27.0])
    lower = np.array([11.0, 15.0, -1.0, 25.0])
    upper = np.array([13.0, 25.0, 2.0, 29.0])
    m = metrics(actual, yhat, lower, upper)
    # errors a - f = -2, 2, -1, 3; mean(actual) = 15
    assert m["n"] == 4
    assert m["cv_rmse_pct"] == pytest.approx(100 * math.sqrt((4 + 4 + 1 + 9) / 4) / 15)
    assert m["nmbe_pct"] == pytest.approx(100 * 2 / (4 * 15))
    assert m["mae"] == pytest.approx(2.0)
    assert m["mape_pct"] == pytest.approx(100 * (2 / 10 + 2 / 20 + 3 / 30) / 3)
    assert m["coverage_pct"] == pytest.approx(50.0)  # 10 < 11 and 30 > 29 fall outside
    p10 = np.mean([max(0.1 * d, -0.9 * d) for d in actual - lower])
    p50 = np.mean([max(0.5 * d, -0.5 * d) for d in actual - yhat])
    p90 = np.mean([max(0.9 * d, -0.1 * d) for d in actual - upper])
    assert m["pinball"] == pytest.approx((p10 + p50 + p90) / 3)
    assert m["g14_pass"] is True  # CV(RMSE) 14.1 % <= 30, NMBE 3.3 % <= 10
    assert metrics(actual, yhat * 2, lower, upper)["g14_pass"] is False


def test_origins_are_local_midnights_across_dst() -> None:
    # British Summer Time starts 2019-03-31 01:00 UTC: 1 April begins at 23:00 UTC
    got = origins(dt.date(2019, 3, 30), dt.date(2019, 4, 2), "Europe/London")
    assert [t.isoformat() for t in got] == ["2019-03-30T00:00:00+00:00",
                                            "2019-03-31T00:00:00+00:00",
                                            "2019-03-31T23:00:00+00:00"]


@pytest.mark.parametrize("model", ["prophet", "persistence-day"])
def test_no_future_leakage(model: str, meter_data) -> None:
    load, weather = meter_data
    spec = BacktestSpec(model, horizon_hours=24, refit_days=2, history_days=30,
                        start=dt.date(2019, 2, 8), end=dt.date(2019, 2, 13))
    base = backtest_meter("m1", load, weather, SITE, spec)
    assert base.error is None and base.fits == 3
    origin = pd.Timestamp("2019-02-10T00:00Z")
    changed = load.copy()
    changed[changed.index >= origin] *= 3.0
    after = backtest_meter("m1", changed, weather, SITE, spec)
    before = base.forecasts[base.forecasts["issued_at"] <= origin].reset_index(drop=True)
    again = after.forecasts[after.forecasts["issued_at"] <= origin].reset_index(drop=True)
    assert len(before) == 3 * 24
    pd.testing.assert_frame_equal(before, again)
    # and the change is seen once it is in the past (by the refit on 12 February at least)
    later = after.forecasts["issued_at"] > origin
    assert not np.allclose(after.forecasts.loc[later, "yhat"],
                           base.forecasts.loc[later, "yhat"])
    # every issued time is inside its horizon
    lead = base.forecasts["time"] - base.forecasts["issued_at"]
    assert lead.min() >= pd.Timedelta(0) and lead.max() < pd.Timedelta(hours=24)


def test_bad_meters_are_per_meter_results(meter_data) -> None:
    load, weather = meter_data
    spec = BacktestSpec("persistence-week", start=dt.date(2019, 2, 10),
                        end=dt.date(2019, 2, 12))
    results = {
        "good": backtest_meter("good", load, weather, SITE, spec),
        "short": backtest_meter("short", load[load.index >= "2019-02-01"], weather, SITE, spec),
        "constant": backtest_meter("constant", load * 0 + 3.0, weather, SITE, spec),
        "empty": backtest_meter("empty", load[:0], weather, SITE, spec),
        "naive": backtest_meter("naive", load.tz_localize(None), weather, SITE, spec),
    }
    assert results["good"].error is None and results["good"].metrics["n"] == 48
    assert "at least 14 days" in results["short"].error
    assert "stuck meter" in results["constant"].error
    assert "no readings" in results["empty"].error
    assert "naive" in results["naive"].error
    doc = summarise("persistence-week", 24, results)
    assert doc["weather"] == "observed"
    assert doc["aggregate"]["meters_scored"] == 1 and doc["aggregate"]["meters_failed"] == 4
    assert doc["aggregate"]["median_cv_rmse_pct"] == pytest.approx(
        results["good"].metrics["cv_rmse_pct"])


def test_weather_gap_skips_origins_not_the_meter(meter_data) -> None:
    load, weather = meter_data
    gap = weather[(weather.index < "2019-02-11") | (weather.index >= "2019-02-12")]
    spec = BacktestSpec("towt", start=dt.date(2019, 2, 10), end=dt.date(2019, 2, 13))
    res = backtest_meter("m1", load, gap, SITE, spec)
    assert res.error is None
    assert res.metrics["origins"] == 2 and res.metrics["origins_skipped"] == 1
    assert "weather does not cover" in res.skipped[0]


def test_every_keeps_one_fit_window_in_n(make_meter) -> None:
    # 4 weeks of origins, weekly refits: every=2 backtests weeks 1 and 3 only, whole
    load, weather = make_meter(days=60)
    start, end = dt.date(2019, 1, 28), dt.date(2019, 2, 25)
    spec = BacktestSpec("persistence-week", 24, 7, 21, start, end, every=2)
    p = plan("m1", load, SITE, spec)
    assert [len(w) for w in p.windows] == [7, 7]
    assert [w[0].tz_convert("Europe/London").date() for w in p.windows] == [
        start, dt.date(2019, 2, 11)]
    res = backtest_meter("m1", load, weather, SITE, spec)
    assert res.fits == 2 and res.metrics["origins"] == 14
    with pytest.raises(ValueError, match="every=0"):
        BacktestSpec("prophet", every=0)
