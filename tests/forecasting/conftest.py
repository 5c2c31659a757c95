"""Small synthetic meters for the forecasting tests: weeks, not years."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

TZ = "Europe/London"


def synthetic(
    days: int = 38, start: str = "2019-01-07", seed: int = 0, noise: float = 0.05
) -> tuple[pd.Series, pd.DataFrame]:
    """An office-like hourly load [kWh per interval] with a working-day profile, weekends
    and heating below 15 degC, and its weather (temperature [degC]) one day longer."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=(days + 1) * 24, freq="h", tz="UTC")
    hours = np.arange(len(times))
    temp = 8 + 5 * np.sin(2 * np.pi * (hours - 9) / 24) + 3 * np.sin(2 * np.pi * hours / (24 * 9))
    local = times.tz_convert(TZ)
    working = (local.day_of_week < 5) & (local.hour >= 8) & (local.hour < 18)
    load = 20 + 30 * working + 1.5 * np.maximum(15 - temp, 0)
    load = load * (1 + noise * rng.standard_normal(len(times)))
    weather = pd.DataFrame({"temperature": temp}, index=times.rename("time"))
    series = pd.Series(load[: days * 24], index=times[: days * 24], name="m1")
    return series, weather


@pytest.fixture
def meter_data() -> tuple[pd.Series, pd.DataFrame]:
    return synthetic()


@pytest.fixture
def make_meter():
    """The :func:`synthetic` generator, for tests that need several meters."""
    return synthetic
