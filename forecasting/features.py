"""Input checks and weather features shared by every forecasting model.

Times are UTC tz-aware. What kind of day a time is (working day, weekend, public holiday,
closure, bridge day) is :meth:`wattlens.core.calendar.SiteCalendar.days`; the reading
interval is :func:`wattlens.core.intervals.infer_interval`; degree-day balance points are
:func:`wattlens.analytics.caltrack.degree_days.balance_points`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wattlens.store.schema import ContractError


class ForecastInputError(ValueError):
    """The data given to a model cannot produce a forecast; the message says why and the fix."""


def load_series(readings: pd.DataFrame, meter: str | None = None) -> pd.Series:
    """Energy readings of one meter [kWh per interval] as a Series on a UTC index, readings
    flagged ``suspect`` left out (missing readings stay absent)."""
    frame = readings
    if meter is not None:
        frame = frame[frame["meter"] == meter]
    if "quantity" in frame.columns:
        frame = frame[frame["quantity"] == "energy"]
    if "quality" in frame.columns:
        frame = frame[frame["quality"] != "suspect"]
    series = pd.Series(
        frame["value"].to_numpy(dtype=float),
        index=pd.DatetimeIndex(frame["time"]),
        name=meter or "value",
    )
    return check_series(series.sort_index(), meter or "load")


def check_series(series: pd.Series, name: str) -> pd.Series:
    """Reject naive or unparseable indexes and non-finite values (missing = absent)."""
    index = series.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ContractError(f"{name}: index is not a DatetimeIndex; index the series by UTC time")
    if index.tz is None:
        raise ContractError(
            f"{name}: timestamps are naive (no timezone); localise them first, e.g. "
            f"series.tz_localize('Europe/London'), or give ISO 8601 with an offset"
        )
    out = series.astype(float)
    out.index = index.tz_convert("UTC").astype("datetime64[ns, UTC]")
    out = out[np.isfinite(out.to_numpy())]
    return out[~out.index.duplicated(keep="last")].sort_index()


def temperature_at(weather: pd.DataFrame | None, times: pd.DatetimeIndex, name: str) -> np.ndarray:
    """Outdoor temperature [degC] at ``times``: hourly (or finer) weather reindexed, gaps up
    to 3 hours interpolated. Raises :class:`ForecastInputError` when weather does not cover
    ``times``."""
    if weather is None or "temperature" not in weather.columns:
        raise ForecastInputError(f"{name}: no temperature column in the weather given")
    temp = weather["temperature"].dropna()
    if temp.empty:
        raise ForecastInputError(f"{name}: the weather has no temperature values")
    if temp.index.tz is None:
        raise ContractError(f"{name}: weather timestamps are naive; give them as UTC")
    temp = temp[~temp.index.duplicated(keep="last")].sort_index()
    union = temp.index.union(times)
    filled = temp.reindex(union).interpolate(method="time", limit=3, limit_area="inside")
    values = filled.reindex(times).to_numpy(dtype=float)
    missing = ~np.isfinite(values)
    if missing.any():
        first = times[missing][0]
        raise ForecastInputError(
            f"{name}: weather does not cover {int(missing.sum())} of {len(times)} times "
            f"(first {first.isoformat()}; weather spans {temp.index[0].isoformat()} .. "
            f"{temp.index[-1].isoformat()}); supply temperature (observed or a weather "
            f"forecast) for the whole horizon"
        )
    return values
