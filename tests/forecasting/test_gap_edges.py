"""Partial readings at the edges of gaps are not whole intervals: forecasting leaves them out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wattlens.forecasting.features import load_series


def _readings(values: np.ndarray) -> pd.DataFrame:
    times = pd.date_range("2019-01-07", periods=len(values), freq="1h", tz="UTC")
    return pd.DataFrame({"time": times, "meter": "b2-elec", "quantity": "energy",
                         "value": values, "quality": "ok"})


def test_a_partial_reading_next_to_a_gap_is_left_out() -> None:
    values = np.full(14 * 24, 780.0) + np.tile(np.r_[np.zeros(12), np.full(12, 60.0)], 14)
    frame = _readings(values)
    edge = 7 * 24 + 10
    frame.loc[edge, "value"] = 386.1  # half an hour measured before the gap
    frame = frame.drop(index=range(edge + 1, edge + 9))
    series = load_series(frame, "b2-elec")
    assert frame["time"][edge] not in series.index
    assert len(series) == len(frame) - 1


def test_an_ordinary_low_reading_away_from_gaps_stays() -> None:
    values = np.full(14 * 24, 780.0)
    values[100] = 386.1  # low, but its neighbours are there: a real reading
    series = load_series(_readings(values), "b2-elec")
    assert len(series) == len(values) and series.iloc[100] == 386.1
