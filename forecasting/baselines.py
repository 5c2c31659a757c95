"""Persistence baselines a sceptical analyst tries first, with the same interface as Prophet.

Lags are in site-local days (the same wall-clock hour yesterday / last week), so a daylight
saving change does not shift the profile by an hour. Each baseline uses only the actuals
known at issue time; when the wanted day is missing it falls back to the next older one.
Intervals are the 10 % / 90 % quantiles of the method's own day-ahead errors on the history.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from wattlens.core.calendar import SiteCalendar
from wattlens.forecasting.features import ForecastInputError, check_series
from wattlens.forecasting.models import (
    INTERVAL_WIDTH,
    ForecastModel,
    check_times,
    frame,
    register_model,
)

TAIL = pd.Timedelta(days=28)
"""History kept in the fitted state, used when ``predict`` gets no actuals [days]."""

_Q = ((1 - INTERVAL_WIDTH) / 2, (1 + INTERVAL_WIDTH) / 2)


def _local(times: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    return times.tz_convert(tz).tz_localize(None)


class Persistence(ForecastModel):
    """Forecast = actuals on earlier local days at the same wall-clock time."""

    version: ClassVar[str] = "1"
    lags: ClassVar[tuple[int, ...]]
    """Candidate lags [local days], tried oldest-last."""
    average: ClassVar[int] = 1
    """How many available lags are averaged (1 = the most recent available)."""

    def __init__(self, tz: str, quantiles: tuple[float, float], tail: pd.Series) -> None:
        self.tz = tz
        self.quantiles = quantiles
        self.tail = tail

    @property
    def n_params(self) -> int:
        """None: the point forecast is the actuals themselves."""
        return 0

    @classmethod
    def fit(
        cls, history: pd.Series, weather: pd.DataFrame | None, site: SiteCalendar
    ) -> Persistence:
        history = check_series(history, "history")
        in_sample = cls._forecast(history, history.index, site.timezone, cutoff=None)
        err = (history - in_sample).dropna()
        if err.empty:
            raise ForecastInputError(
                f"{cls.name}: no day in the history has the lagged day it needs; give a "
                f"longer history without gaps"
            )
        lo, hi = (float(v) for v in np.quantile(err.to_numpy(), _Q))
        return cls(site.timezone, (lo, hi), history[history.index >= history.index[-1] - TAIL])

    @classmethod
    def _forecast(
        cls, actuals: pd.Series, times: pd.DatetimeIndex, tz: str, cutoff: pd.Timestamp | None
    ) -> pd.Series:
        """Lagged actuals at ``times``; only lags landing before ``cutoff`` (UTC) are used."""
        local_actuals = pd.Series(actuals.to_numpy(), index=_local(actuals.index, tz))
        local_actuals = local_actuals[~local_actuals.index.duplicated(keep="last")]
        target = _local(times, tz)
        cut = None if cutoff is None else cutoff.tz_convert(tz).tz_localize(None)
        found = np.zeros((len(times), cls.average))
        found[:] = np.nan
        count = np.zeros(len(times), dtype=int)
        for k in cls.lags:
            source = target - pd.Timedelta(days=k)
            values = local_actuals.reindex(source).to_numpy(dtype=float, copy=True)
            if cut is not None:
                values[np.asarray(source >= cut)] = np.nan
            take = np.isfinite(values) & (count < cls.average)
            found[take, count[take]] = values[take]
            count += take
        if cls.average == 1:
            return pd.Series(found[:, 0], index=times)
        total = np.nansum(found, axis=1)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return pd.Series(mean, index=times)

    def predict(
        self,
        times: pd.DatetimeIndex,
        weather: pd.DataFrame | None,
        actuals: pd.Series | None = None,
    ) -> pd.DataFrame:
        times = check_times(times)
        yhat = self.lagged(times, actuals)
        origin = times[0]
        missing = ~np.isfinite(yhat)
        if missing.any():
            raise ForecastInputError(
                f"{self.name}: no actuals on the lagged days for {int(missing.sum())} of "
                f"{len(times)} times (first {times[missing][0].isoformat()}); the last "
                f"{max(self.lags)} local days before {origin.isoformat()} are missing"
            )
        return frame(times, yhat, yhat + self.quantiles[0], yhat + self.quantiles[1])

    def lagged(self, times: pd.DatetimeIndex, actuals: pd.Series | None = None) -> np.ndarray:
        """The point forecast at ``times`` [kWh per interval] from the actuals before
        ``times[0]`` (the kept tail when None); NaN where no lagged day has a reading."""
        known = self.tail if actuals is None else check_series(actuals, "actuals")
        known = known[known.index < times[0]]
        return self._forecast(known, times, self.tz, cutoff=times[0]).to_numpy()

    def state(self) -> dict[str, Any]:
        return {
            "tz": self.tz,
            "quantiles": list(self.quantiles),
            "tail": {
                "time": [t.isoformat() for t in self.tail.index],
                "value": self.tail.tolist(),
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Persistence:
        tail = pd.Series(
            state["tail"]["value"],
            index=pd.DatetimeIndex(pd.to_datetime(state["tail"]["time"], utc=True)),
            dtype=float,
        )
        return cls(state["tz"], tuple(state["quantiles"]), tail)


@register_model("persistence-day")
class PersistenceDay(Persistence):
    """Same local time on the latest day before issue (yesterday for day-ahead)."""

    lags = tuple(range(1, 15))


@register_model("persistence-week")
class PersistenceWeek(Persistence):
    """Same local time and weekday one week earlier (two or three if missing)."""

    lags = (7, 14, 21)


@register_model("persistence-ensemble")
class PersistenceEnsemble(Persistence):
    """Mean of the same local time over the last 7 available days."""

    lags = tuple(range(1, 22))
    average = 7
