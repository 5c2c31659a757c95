"""Constructed meters whose anomalies and opportunities are known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

TZ = "Europe/London"


def hourly_index(start: str, end: str) -> pd.DatetimeIndex:
    """UTC hours in [start, end) (dates read in UTC)."""
    return pd.date_range(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"),
                         freq="1h", inclusive="left")


def office(index: pd.DatetimeIndex, base: float = 10.0, day: float = 50.0,
           noise: float = 0.3, seed: int = 0, open_hour: int = 7,
           close_hour: int = 19) -> pd.Series:
    """An office: ``base`` kW always, ``day`` kW on weekdays open_hour–close_hour local
    (public holidays of England run like weekdays unless the caller changes them), plus small
    seeded Gaussian noise. Energy [kWh per hour]."""
    local = index.tz_convert(TZ)
    working = (local.day_of_week < 5) & (local.hour >= open_hour) & (local.hour < close_hour)
    rng = np.random.default_rng(seed)
    values = np.where(working, day, base) + rng.normal(0, noise, len(index))
    return pd.Series(values, index=index)


def local_mask(index: pd.DatetimeIndex, *, hours: tuple[int, int] | None = None,
               weekdays: tuple[int, ...] | None = None) -> np.ndarray:
    """Hours of ``index`` whose local hour is in [hours) and weekday in ``weekdays``."""
    local = index.tz_convert(TZ)
    mask = np.ones(len(index), dtype=bool)
    if hours is not None:
        lo, hi = hours
        mask &= (local.hour >= lo) & (local.hour < hi) if lo < hi else \
            (local.hour >= lo) | (local.hour < hi)
    if weekdays is not None:
        mask &= np.isin(local.day_of_week, weekdays)
    return mask


def readings(series: pd.Series, meter: str = "m1") -> pd.DataFrame:
    """A readings frame (absent rows where the series is NaN)."""
    series = series.dropna()
    return pd.DataFrame({"time": series.index, "meter": meter, "value": series.to_numpy()})
