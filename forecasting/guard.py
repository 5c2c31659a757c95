"""The last line of defence between a model and a stored forecast.

:func:`issue` predicts, checks the forecast against the meter's history and, when it is
implausible (above the historical maximum × :attr:`GuardSettings.max_factor`, or further
below the historical minimum — or zero, whichever is lower — than
:attr:`GuardSettings.min_margin` × the maximum), replaces it by the first baseline of
:attr:`GuardSettings.fallbacks` that knows each time and returns a :class:`DataWarning` saying so:
an implausible forecast is never stored silently. Forecasts and their bounds are then clipped
at the meter's floor (0, or the historical minimum of a meter that reads negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from wattlens.core.base import Frozen
from wattlens.core.calendar import SiteCalendar
from wattlens.core.warnings import DataWarning
from wattlens.forecasting.baselines import Persistence
from wattlens.forecasting.features import ForecastInputError
from wattlens.forecasting.models import MODELS, ForecastModel, fit_model, frame

FALLBACK = "fallback"
"""Column of :func:`issue`'s frame: the baseline that replaced the model's forecast, or ""."""


class GuardSettings(Frozen):
    """When a forecast counts as a failure and what replaces it."""

    max_factor: float = Field(
        2.0, gt=1.0,
        description="A forecast above the meter's historical maximum × this is implausible [-]")
    min_margin: float = Field(
        0.1, ge=0.0,
        description="A forecast below min(historical minimum, 0) − this × the historical "
                    "maximum is implausible [-]")
    fallbacks: tuple[str, ...] = Field(
        ("persistence-week", "persistence-day", "persistence-ensemble"),
        min_length=1,
        description="Persistence baselines replacing an implausible forecast: each time takes "
                    "the first that has a lagged reading for it")

    @field_validator("fallbacks")
    @classmethod
    def _persistence_only(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        known = persistence_names()
        for name in names:
            if name not in known:
                raise ValueError(f"guard fallback {name!r} is not a persistence baseline; "
                                 f"choose from {', '.join(known)}")
        return names


def persistence_names() -> list[str]:
    """The registered persistence baselines (what may replace an implausible forecast; this
    module imports them, so no other model module is loaded)."""
    return sorted(name for name in MODELS.names() if issubclass(MODELS[name], Persistence))


@dataclass(frozen=True)
class Plausible:
    """The range of forecasts [kWh per interval] a meter's history makes plausible, and the
    floor forecasts are clipped at."""

    low: float
    high: float
    floor: float

    @classmethod
    def of(cls, lowest: float, highest: float, settings: GuardSettings) -> Plausible:
        """From the history's lowest and highest reading [kWh per interval]."""
        floor = min(lowest, 0.0)
        scale = max(abs(highest), abs(lowest))
        return cls(floor - settings.min_margin * scale, highest * settings.max_factor
                   if highest > 0 else scale * (settings.max_factor - 1), floor)

    def failed(self, values: np.ndarray) -> np.ndarray:
        """True where ``values`` are implausible (NaN counts as implausible)."""
        v = np.asarray(values, dtype=float)
        return ~((v >= self.low) & (v <= self.high))


def clip(pred: pd.DataFrame, floor: float) -> pd.DataFrame:
    """``pred`` with ``yhat`` and its bounds raised to at least ``floor`` [kWh per interval]."""
    out = pred.copy()
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        out[column] = np.maximum(out[column].to_numpy(dtype=float), floor)
    return out


def issue(
    model: ForecastModel,
    times: pd.DatetimeIndex,
    weather: pd.DataFrame | None,
    actuals: pd.Series | None,
    history: pd.Series,
    site: SiteCalendar,
    settings: GuardSettings | None = None,
) -> tuple[pd.DataFrame, list[DataWarning]]:
    """``model``'s forecast at ``times``, checked against ``history`` (the readings it was
    fitted on, or at least the last year of them) and clipped at the floor; a failed
    forecast is replaced by the baselines (column :data:`FALLBACK` names them) with a
    warning; times no baseline knows keep the model's value clipped to the history's range."""
    settings = settings or GuardSettings()
    bounds = Plausible.of(float(history.min()), float(history.max()), settings)
    pred = model.predict(times, weather, actuals)
    bad = bounds.failed(pred["yhat"].to_numpy())
    if not bad.any():
        return clip(pred, bounds.floor).assign(**{FALLBACK: ""}), []
    worst = pred["yhat"].to_numpy()[bad]
    worst = worst[np.argmax(np.abs(np.nan_to_num(worst, nan=np.inf)))]
    problem = (f"{model.name} forecast {int(bad.sum())} of {len(times)} values outside the "
               f"plausible range {bounds.low:.3g} .. {bounds.high:.3g} (from the history's "
               f"{history.min():.3g} .. {history.max():.3g}; worst {worst:.3g})")
    yhat = np.full(len(times), np.nan)
    quantiles: tuple[float, float] | None = None
    used = []
    for name in settings.fallbacks:
        try:
            base = fit_model(name, history, weather, site)
        except ForecastInputError:
            continue
        if not isinstance(base, Persistence):  # refused by GuardSettings
            raise TypeError(f"guard fallback {name!r} is not a persistence baseline")
        take = ~np.isfinite(yhat)
        values = base.lagged(pd.DatetimeIndex(pred["time"]), actuals)
        if (take & np.isfinite(values)).any():
            yhat[take] = values[take]
            used.append(name)
            quantiles = quantiles or base.quantiles
    held = ~np.isfinite(yhat)  # no baseline knows these times: the model's, within history
    yhat[held] = np.clip(pred["yhat"].to_numpy()[held], bounds.floor, float(history.max()))
    lo, hi = quantiles or (0.0, 0.0)
    out = frame(pd.DatetimeIndex(pred["time"]), yhat, yhat + lo, yhat + hi)
    replaced = " then ".join(used) or "nothing"
    warning = DataWarning(
        "forecast.implausible",
        f"{problem}; replaced by {replaced}"
        + (f" ({int(held.sum())} times without lagged readings clipped to the history)"
           if held.any() else ""),
        {"model": model.name, "fallback": used, "values": int(bad.sum()),
         "held": int(held.sum()), "low": bounds.low, "high": bounds.high,
         "issued_at": pd.Timestamp(pred["time"].iloc[0]).isoformat()})
    return clip(out, bounds.floor).assign(**{FALLBACK: replaced}), [warning]
