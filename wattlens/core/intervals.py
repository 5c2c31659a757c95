"""The reading interval of a meter, inferred once, one way, for every part of wattlens."""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_INTERVAL = pd.Timedelta("1min")


class IntervalError(ValueError):
    """Too few readings to tell the reading interval."""


def infer_interval(
    times: pd.Series | pd.DatetimeIndex, default: pd.Timedelta | None = None
) -> pd.Timedelta:
    """The reading interval: the most common positive spacing of the distinct ``times``
    (at least one minute; the shortest among equally common spacings).

    With fewer than two distinct times, ``default`` if given, else :class:`IntervalError`.
    """
    values = np.unique(pd.DatetimeIndex(times).as_unit("ns").asi8)
    if len(values) < 2:
        if default is not None:
            return default
        raise IntervalError(
            "need at least two readings to infer the reading interval; give more history or "
            "set the meter's interval"
        )
    steps, counts = np.unique(np.diff(values), return_counts=True)
    step = pd.Timedelta(int(steps[np.argmax(counts)]), unit="ns")
    return max(step, MIN_INTERVAL)


def interval_hours(times: pd.Series | pd.DatetimeIndex) -> float:
    """:func:`infer_interval` in hours (1 h for fewer than two readings)."""
    return infer_interval(times, default=pd.Timedelta("1h")) / pd.Timedelta("1h")


def to_interval(values: pd.Series, interval: pd.Timedelta) -> pd.Series:
    """Energy readings [kWh per reading] (index UTC time) as readings on ``interval``: readings
    finer than it (spaced less than ``interval`` from the next) are summed into the interval
    they fall in, kept only where they cover it whole — a partial interval is not a reading;
    the other readings stay as they are. Unchanged when no reading is finer (e.g. hourly
    history followed by one-minute live readings becomes hourly throughout)."""
    values = values.sort_index()
    if len(values) < 2:
        return values
    times = pd.DatetimeIndex(values.index)
    spans = np.diff(times.as_unit("ns").asi8)
    fine = np.append(spans, spans[-1]) < pd.Timedelta(interval).value
    if not fine.any():
        return values
    step = infer_interval(times[fine], default=MIN_INTERVAL)
    groups = values[fine].groupby(times[fine].floor(interval))
    summed = groups.sum()[groups.size() * step >= interval]
    out = pd.concat([values[~fine], summed]).sort_index()
    return out[~out.index.duplicated(keep="first")]
