"""Input checks and weather features shared by every forecasting model.

Times are UTC tz-aware. What kind of day a time is (working day, weekend, public holiday,
closure, bridge day) is :meth:`wattlens.core.calendar.SiteCalendar.days`; the reading
interval is :func:`wattlens.core.intervals.infer_interval`; degree-day balance points are
:func:`wattlens.analytics.caltrack.degree_days.balance_points`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wattlens.analytics.anomalies import flag_gap_edges
from wattlens.store.schema import READINGS_COLUMNS, ContractError


class ForecastInputError(ValueError):
    """The data given to a model cannot produce a forecast; the message says why and the fix."""


def load_series(readings: pd.DataFrame, meter: str | None = None) -> pd.Series:
    """Energy readings of one meter [kWh per interval] as a Series on a UTC index, readings
    flagged ``suspect`` left out (missing readings stay absent). A readings frame's partial
    readings at gap edges are flagged first (:func:`flag_gap_edges`), so neither training
    nor persistence takes them for whole intervals."""
    frame = readings
    if meter is not None:
        frame = frame[frame["meter"] == meter]
    if "quantity" in frame.columns:
        frame = frame[frame["quantity"] == "energy"]
    if set(READINGS_COLUMNS) <= set(frame.columns) and len(frame):
        frame = flag_gap_edges(frame)
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


GAP_FILL = pd.Timedelta(hours=3)
"""Weather gaps are filled from values at most this far away [h]: interpolated between known
values on both sides, held from the one side at the edges (so a horizon ending an hour after
the weather still has temperature)."""


def fill_at(values: pd.Series, times: pd.DatetimeIndex, limit: pd.Timedelta = GAP_FILL
            ) -> np.ndarray:
    """``values`` (finite, on a sorted unique UTC index) at ``times``: exact where known,
    linear in time where known values lie within ``limit`` on both sides, else the nearest
    value within ``limit`` on one side, else NaN."""
    if values.empty:
        return np.full(len(times), np.nan)
    known = pd.DatetimeIndex(values.index).as_unit("ns").asi8
    v = values.to_numpy(dtype=float)
    t = pd.DatetimeIndex(times).as_unit("ns").asi8
    after = np.searchsorted(known, t, side="left")  # first known >= t
    before = np.searchsorted(known, t, side="right") - 1  # last known <= t
    has_b = before >= 0
    has_a = after < len(known)
    tb = np.where(has_b, known[np.clip(before, 0, None)], np.iinfo(np.int64).min // 2)
    ta = np.where(has_a, known[np.clip(after, None, len(known) - 1)], np.iinfo(np.int64).max // 2)
    vb = v[np.clip(before, 0, len(v) - 1)]
    va = v[np.clip(after, 0, len(v) - 1)]
    near_b = has_b & (t - tb <= limit.value)
    near_a = has_a & (ta - t <= limit.value)
    span = np.where(ta > tb, ta - tb, 1).astype(float)
    w = np.clip((t - tb) / span, 0.0, 1.0)
    out = np.full(len(t), np.nan)
    out = np.where(near_b, vb, out)
    out = np.where(near_a & ~near_b, va, out)
    both = near_b & near_a
    out[both] = (vb + w * (va - vb))[both]
    return out


def temperature_at(weather: pd.DataFrame | None, times: pd.DatetimeIndex, name: str) -> np.ndarray:
    """Outdoor temperature [degC] at ``times`` from hourly (or finer) weather, gaps filled by
    :func:`fill_at` (within :data:`GAP_FILL`). Raises :class:`ForecastInputError` when the
    weather does not cover ``times``."""
    if weather is None or "temperature" not in weather.columns:
        raise ForecastInputError(f"{name}: no temperature column in the weather given")
    temp = weather["temperature"].dropna()
    if temp.empty:
        raise ForecastInputError(f"{name}: the weather has no temperature values")
    if temp.index.tz is None:
        raise ContractError(f"{name}: weather timestamps are naive; give them as UTC")
    temp = temp[~temp.index.duplicated(keep="last")].sort_index()
    values = fill_at(temp, times)
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


WEATHER_MODES = ("observed", "issue-time")
"""Weather over a forecast's horizon: ``observed`` (what happened: a perfect weather forecast,
which flatters accuracy) or ``issue-time`` (only what was known when the forecast was issued:
see :func:`issue_time_weather`)."""

STAND_IN = "previous-day"
"""Name of the issue-time stand-in when no weather forecast is stored: each hour of the
horizon takes the observed weather at the same time on the latest day before issue."""


def check_weather_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`WEATHER_MODES`, else a ValueError naming them."""
    if mode not in WEATHER_MODES:
        raise ValueError(f"weather mode {mode!r} is unknown; choose one of {WEATHER_MODES}")
    return mode


def issue_time_weather(
    observed: pd.DataFrame | None,
    origin: pd.Timestamp,
    end: pd.Timestamp,
    forecast: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """Weather known at ``origin`` for a horizon up to ``end`` (UTC) and what it is made of.

    Observations before ``origin``; over ``[origin, end)`` the stored weather ``forecast``
    (e.g. Open-Meteo's forecast API) where it has temperature, and elsewhere the
    :data:`STAND_IN`: the observation at ``t - k days``, ``k`` the smallest whole number of
    days that lands before ``origin`` (yesterday's same hours for a day-ahead forecast).
    """
    if observed is None or "temperature" not in observed.columns:
        return observed, "none"
    past = observed[observed.index < origin]
    hours = pd.date_range(origin.ceil("h"), end, freq="h", inclusive="left")
    parts = [past]
    source = STAND_IN
    have = pd.DatetimeIndex([], tz="UTC")
    if forecast is not None and "temperature" in forecast.columns:
        ahead = forecast[(forecast.index >= origin) & (forecast.index < end)].dropna(
            subset=["temperature"])
        if len(ahead):
            parts.append(ahead)
            have = ahead.index
            source = "stored forecast" if have.size >= hours.size else \
                f"stored forecast + {STAND_IN}"
    todo = hours.difference(have)
    if todo.size:
        day = pd.Timedelta(days=1)
        k = np.floor((todo - origin) / day).astype(int) + 1
        lagged = past.reindex(todo - k * day)
        lagged.index = todo
        parts.append(lagged.dropna(how="all"))
    out = pd.concat(parts).sort_index()
    return out[~out.index.duplicated(keep="last")], source
