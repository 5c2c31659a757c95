"""The forecasting model registry and the one interface every model follows.

A model is fitted on the history of one meter (energy [kWh per interval] on a UTC index,
missing readings absent), the site's weather (wide frame on a UTC index, ``temperature``
[degC]) and the site's :class:`~wattlens.core.calendar.SiteCalendar`; it then predicts any UTC
times given the weather there and the actuals known at issue time. Models register by name::

    @register_model("persistence-day")
    class PersistenceDay(ForecastModel): ...

and save to / load from JSON with :func:`model_to_json` / :func:`model_from_json`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from wattlens.core.base import Registry
from wattlens.core.calendar import SiteCalendar
from wattlens.forecasting.features import ForecastInputError, check_series

INTERVAL_WIDTH = 0.8
"""Nominal coverage of ``yhat_lower`` .. ``yhat_upper`` (the 10 % and 90 % quantiles)."""

MIN_HISTORY = pd.Timedelta(days=14)
"""Shortest history a model is fitted on."""

MODELS: Registry[type[ForecastModel]] = Registry("forecast model")
"""Registered models by name (the only module-level mutable state: a registry)."""


class ForecastModel(ABC):
    """One fitted forecasting model of one meter."""

    name: ClassVar[str]
    version: ClassVar[str]

    @classmethod
    @abstractmethod
    def fit(
        cls, history: pd.Series, weather: pd.DataFrame | None, site: SiteCalendar
    ) -> ForecastModel:
        """Fit on ``history`` (energy [kWh per interval], UTC index) and ``weather``."""

    @abstractmethod
    def predict(
        self,
        times: pd.DatetimeIndex,
        weather: pd.DataFrame | None,
        actuals: pd.Series | None = None,
    ) -> pd.DataFrame:
        """Columns ``time`` (UTC), ``yhat``, ``yhat_lower``, ``yhat_upper`` [kWh per interval].

        ``actuals`` are the readings known at issue time (all before ``times[0]``); models
        that use recent data (persistence, level correction) use only these.
        """

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model, as JSON-able values."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> ForecastModel:
        """Rebuild a fitted model from :meth:`state`."""

    @property
    @abstractmethod
    def n_params(self) -> int:
        """Parameters fitted to the history (degrees of freedom used), for fit statistics."""


def register_model(name: str) -> Callable[[type[ForecastModel]], type[ForecastModel]]:
    """Class decorator: register a :class:`ForecastModel` under ``name`` (its ``name``)."""
    add = MODELS.register(name)

    def deco(cls: type[ForecastModel]) -> type[ForecastModel]:
        add(cls)
        cls.name = name
        return cls

    return deco


def get_model(name: str) -> type[ForecastModel]:
    """The registered model class called ``name``."""
    _load_builtin()
    try:
        return MODELS[name]
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def model_names() -> list[str]:
    """Names of all registered models."""
    _load_builtin()
    return sorted(MODELS.names())


def _load_builtin() -> None:
    """Import the modules that register the built-in models."""
    import wattlens.forecasting.baselines  # noqa: F401
    import wattlens.forecasting.prophet_model  # noqa: F401
    import wattlens.forecasting.towt_model  # noqa: F401


def check_history(history: pd.Series, name: str = "history") -> pd.Series:
    """Validate the history of one meter; raise :class:`ForecastInputError` when it cannot
    be fitted (no readings, under two weeks, constant values)."""
    series = check_series(history, name)
    if series.empty:
        raise ForecastInputError(
            f"{name}: no readings in the fitting window (all missing); check the meter and "
            f"the time range"
        )
    span = series.index[-1] - series.index[0]
    if span < MIN_HISTORY:
        raise ForecastInputError(
            f"{name}: only {span} of history ({len(series)} readings); a model needs at "
            f"least {MIN_HISTORY.days} days — wait for more data or widen the history window"
        )
    if float(series.max() - series.min()) == 0.0:
        raise ForecastInputError(
            f"{name}: all {len(series)} readings equal {series.iloc[0]:g} — a stuck meter or "
            f"a filled gap; check the meter before forecasting it"
        )
    return series


def fit_model(
    name: str, history: pd.Series, weather: pd.DataFrame | None, site: SiteCalendar
) -> ForecastModel:
    """Validate ``history`` and fit the registered model ``name``."""
    cls = get_model(name)
    return cls.fit(check_history(history, str(history.name or "history")), weather, site)


def check_times(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Forecast times must be tz-aware; returned in UTC."""
    times = pd.DatetimeIndex(times)
    if times.tz is None:
        raise ForecastInputError(
            "forecast times are naive (no timezone); pass UTC tz-aware times"
        )
    return times.tz_convert("UTC").astype("datetime64[ns, UTC]")


def frame(times: pd.DatetimeIndex, yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray
          ) -> pd.DataFrame:
    """The prediction frame every model returns (bounds ordered around ``yhat``)."""
    yhat = np.asarray(yhat, dtype=float)
    lo = np.minimum(np.asarray(lower, dtype=float), yhat)
    hi = np.maximum(np.asarray(upper, dtype=float), yhat)
    return pd.DataFrame({"time": times, "yhat": yhat, "yhat_lower": lo, "yhat_upper": hi})


def model_to_json(model: ForecastModel) -> str:
    """Serialise a fitted model (name, version and state) to JSON text."""
    return json.dumps({"model": model.name, "version": model.version, "state": model.state()})


def model_from_json(text: str) -> ForecastModel:
    """Rebuild a fitted model saved by :func:`model_to_json`."""
    data = json.loads(text)
    cls = get_model(data["model"])
    if data.get("version") != cls.version:
        raise ValueError(
            f"saved {data['model']} model has version {data.get('version')!r}, this wattlens "
            f"has {cls.version!r}; refit it"
        )
    return cls.from_state(data["state"])
