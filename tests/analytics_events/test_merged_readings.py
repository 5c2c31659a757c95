"""A reading that carries a poll gap's energy (two or more intervals merged into it, as the
soak test's live ingest stores after a missed poll) is never read as one interval's energy:
the above-forecast detector raised a short false event from its inflated rate."""

from __future__ import annotations

import pandas as pd
import pytest

from wattlens.analytics.anomalies import (
    AboveForecastSettings,
    AnomalySettings,
    Finding,
    detect,
    episodes,
    native_intervals,
)

from .synthetic import hourly_index
from .test_events import LONDON, _hourly_forecast, stored

MERGED = pd.Timestamp("2026-12-07T10:00Z")


def _readings(quality: str) -> pd.DataFrame:
    """60 kWh/h flat (the forecast's own rate); no readings at 11:00 and 12:00, so the one at
    10:00 carries three hours (180 kWh), flagged ``quality``."""
    series = pd.Series(60.0, index=hourly_index("2026-11-01", "2026-12-07T16:00"))
    series = series.drop([MERGED + pd.Timedelta("1h"), MERGED + pd.Timedelta("2h")])
    series[MERGED] = 180.0
    rows = stored(series)
    rows.loc[rows["time"] == MERGED, "quality"] = quality
    return rows


@pytest.mark.parametrize("quality", ["suspect", "ok"])
def test_a_merged_gap_reading_raises_no_above_forecast_event(quality):
    result = detect(_readings(quality), "2026-12-07T00:00Z", "2026-12-07T16:00Z",
                    calendar=LONDON, forecasts=_hourly_forecast("2026-12-07T00:00Z"),
                    settings=AnomalySettings(
                        above_forecast=AboveForecastSettings(sustain="30min")))
    assert "above-forecast" not in set(result.events["kind"])
    # the gap itself is still reported, from after the merged reading's first hour at most
    assert (result.events["kind"] == "gap").any()


def test_a_reading_before_a_gap_has_an_unknown_span():
    times = pd.DatetimeIndex(["2026-12-07T09:00Z", "2026-12-07T10:00Z", "2026-12-07T13:00Z",
                              "2026-12-07T14:00Z"])
    hours, known = native_intervals(times)
    assert list(hours) == [1.0, 1.0, 1.0, 1.0]
    assert list(known) == [True, False, True, True]


def test_an_excess_interrupted_by_unjudged_hours_is_one_event():
    """Plant left on 12:00–16:00 whose 13:00–15:00 readings could not be judged (a poll gap,
    a store outage): one above-forecast episode, not two (the soak test saw two)."""
    t = pd.Timestamp("2026-02-04T12:00Z")
    h = pd.Timedelta("1h")

    def found(i: int) -> Finding:
        return Finding("m", "above-forecast", t + i * h, t + (i + 1) * h, 0.9,
                       pd.Series([10.0], index=[t + i * h]), {"hours": 1.0})

    settings = AnomalySettings()
    merged = episodes([found(0), found(3)], settings)
    assert [(e.start, e.end) for e in merged] == [(t, t + 4 * h)]
    apart = episodes([found(0), found(5)], settings)  # 4 h apart: two excesses
    assert len(apart) == 2
