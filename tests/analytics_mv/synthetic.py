"""Constructed meters whose answers are known: hourly load = hour-of-week profile + heating
and cooling slopes on a synthetic outdoor temperature, optionally reduced by a fixed
fraction from a date on."""

from __future__ import annotations

import numpy as np
import pandas as pd

TZ = "Europe/London"
BASE = ("2018-01-01", "2019-01-01")
REP = ("2019-01-01", "2020-01-01")
"""Baseline and reporting years of the constructed meters (local dates, end exclusive)."""


def temperature(start: str = "2018-01-01", end: str = "2020-01-01", seed: int = 1) -> pd.DataFrame:
    """Hourly outdoor temperature [degC]: annual and daily cycles plus weather noise."""
    times = pd.date_range(start, end, freq="1h", tz="UTC", inclusive="left")
    rng = np.random.default_rng(seed)
    day = np.asarray((times - times[0]) / pd.Timedelta(days=1))
    weather = np.convolve(rng.normal(0, 1.5, len(times)), np.ones(48) / 48 ** 0.5, "same")
    temp = 11 - 8 * np.cos(2 * np.pi * (day - 15) / 365.25) \
        + 4 * np.sin(2 * np.pi * (day % 1 - 0.375)) + weather
    return pd.DataFrame({"temperature": temp}, index=times.astype("datetime64[ns, UTC]"))


def load(
    weather: pd.DataFrame,
    meter: str = "m1",
    saving: float = 0.0,
    saving_from: str = "2019-01-01",
    noise: float = 0.05,
    seed: int = 2,
) -> pd.DataFrame:
    """Hourly energy readings [kWh]: base 20 kWh + 30 kWh in working hours, + 3 kWh/K below
    15 degC, + 4 kWh/K above 20 degC, multiplicative noise; times ``1 - saving`` from
    ``saving_from`` (local)."""
    times = weather.index
    local = times.tz_convert(TZ)
    working = (local.day_of_week < 5) & (local.hour >= 8) & (local.hour < 18)
    temp = weather["temperature"].to_numpy()
    value = 20 + 30 * working + 3 * np.maximum(15 - temp, 0) + 4 * np.maximum(temp - 20, 0)
    rng = np.random.default_rng(seed)
    value = value * (1 + rng.normal(0, noise, len(times)))
    after = times >= pd.Timestamp(saving_from, tz=TZ)
    value = np.where(after, value * (1 - saving), value)
    return pd.DataFrame({"time": times, "meter": meter, "quantity": "energy",
                         "value": value, "quality": "ok"})


def ar1_interval_coverage(rho: float, n: int, reps: int, confidence: float = 0.9,
                          seed: int = 3) -> float:
    """Share of simulated no-change meters whose G14 savings interval holds the true zero.

    Each meter: ``n`` baseline and ``n`` reporting observations of 100 + AR(1) noise (lag-1
    autocorrelation ``rho``, unit innovations), a constant baseline model fitted on the
    baseline, the interval from its CV(RMSE) and residual autocorrelation."""
    from wattlens.analytics.savings import FitStats, savings_uncertainty

    rng = np.random.default_rng(seed)
    noise = np.empty((reps, 2 * n))
    noise[:, 0] = rng.normal(size=reps) / np.sqrt(1 - rho**2)
    shocks = rng.normal(size=(reps, 2 * n))
    for i in range(1, 2 * n):
        noise[:, i] = rho * noise[:, i - 1] + shocks[:, i]
    base, rep = 100 + noise[:, :n], 100 + noise[:, n:]
    held = 0
    for b, r in zip(base, rep, strict=True):
        mean = b.mean()
        resid = b - mean
        stats = FitStats(
            cv_rmse_pct=float(np.sqrt((resid**2).sum() / (n - 1)) / mean * 100), nmbe_pct=0.0,
            r2=0.0, n=n, n_params=1, g14_pass=True,
            autocorrelation=float(np.corrcoef(resid[:-1], resid[1:])[0, 1]),
        )
        savings = mean * n - r.sum()
        held += abs(savings) <= savings_uncertainty(stats, n, mean * n, confidence)
    return held / reps
