"""CalTRACK hourly time-of-week-and-temperature (TOWT) as a registered forecasting model.

Wraps :mod:`wattlens.analytics.caltrack.hourly` unchanged (no recent-level correction: the
baseline as CalTRACK defines it). Intervals are ``yhat ± z·residual_std`` with ``z`` the normal
quantile of :data:`~wattlens.forecasting.models.INTERVAL_WIDTH`.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from wattlens.analytics.caltrack.hourly import TowtError, TowtModel, fit_towt
from wattlens.core.calendar import SiteCalendar
from wattlens.forecasting.features import ForecastInputError, check_series, temperature_at
from wattlens.forecasting.models import (
    INTERVAL_WIDTH,
    ForecastModel,
    check_times,
    frame,
    register_model,
)

_Z = NormalDist().inv_cdf((1 + INTERVAL_WIDTH) / 2)


def _temperature(weather: pd.DataFrame | None, name: str) -> pd.Series:
    if weather is None or "temperature" not in weather.columns:
        raise ForecastInputError(f"{name}: TOWT needs weather with a temperature column")
    return weather["temperature"].dropna()


@register_model("towt")
class Towt(ForecastModel):
    """CalTRACK hourly TOWT (168 hour-of-week terms, occupancy-split temperature bins)."""

    version: ClassVar[str] = "caltrack2-1"

    def __init__(self, towt: TowtModel) -> None:
        self.towt = towt

    @property
    def n_params(self) -> int:
        """Effective coefficients of one monthly segment."""
        return self.towt.n_params

    @classmethod
    def fit(
        cls, history: pd.Series, weather: pd.DataFrame | None, site: SiteCalendar
    ) -> Towt:
        history = check_series(history, "history")
        try:
            return cls(fit_towt(history, _temperature(weather, "towt"), site.timezone))
        except TowtError as exc:
            raise ForecastInputError(f"towt: {exc}") from None

    def predict(
        self,
        times: pd.DatetimeIndex,
        weather: pd.DataFrame | None,
        actuals: pd.Series | None = None,
    ) -> pd.DataFrame:
        times = check_times(times)
        temperature_at(weather, times, "towt")  # raises when weather misses the horizon
        yhat = self.towt.predict(times, _temperature(weather, "towt")).to_numpy()
        if not np.isfinite(yhat).all():
            raise ForecastInputError("towt: weather does not cover the forecast times")
        half = _Z * self.towt.residual_std
        return frame(times, yhat, yhat - half, yhat + half)

    def state(self) -> dict[str, Any]:
        return {"towt": self.towt.to_dict()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Towt:
        return cls(TowtModel.from_dict(state["towt"]))

