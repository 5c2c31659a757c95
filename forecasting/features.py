"""Calendar and weather features shared by every forecasting model.

Everything here takes UTC tz-aware times and converts to the site's local time only to decide
what kind of day it is (working day, weekend, public holiday, closure, bridge day) and the
local hour.
Degree-day balance points are chosen from the data by a grid search on daily means.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wattlens.core.calendar import Closure, UnknownCountry, holiday_mask, local_dates
from wattlens.store.schema import ContractError

BALANCE_GRID_DEGC = np.arange(8.0, 24.5, 1.0)
"""Candidate heating/cooling balance points [degC] searched by :func:`balance_points`."""
BRIDGE_MAX_DAYS = 2
"""Longest run of weekdays between days off whose days are bridge days [days]."""
BRIDGE_PAD = pd.Timedelta(days=14)
"""Calendar looked at either side of the dates judged, to see the runs they are in."""


class ForecastInputError(ValueError):
    """The data given to a model cannot produce a forecast; the message says why and the fix."""


@dataclass(frozen=True)
class Site:
    """What a model needs to know about where a meter is.

    ``country`` is an ISO code for the ``holidays`` package, optionally with a subdivision
    after a dash (``GB-ENG`` for England's bank holidays).
    """

    timezone: str = "UTC"
    country: str | None = None
    closures: tuple[Closure, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {
            "timezone": self.timezone,
            "country": self.country,
            "closures": [c.model_dump(mode="json") for c in self.closures],
        }

    @classmethod
    def from_json(cls, data: dict) -> Site:
        return cls(
            timezone=data["timezone"],
            country=data.get("country"),
            closures=tuple(Closure.model_validate(c) for c in data.get("closures", [])),
        )


def day_kind(times: pd.DatetimeIndex, site: Site) -> pd.DataFrame:
    """Per time: ``holiday`` (public holiday), ``closure``, ``bridge`` (see
    :func:`bridge_days`) and ``working`` (a weekday that is none of these) as 0/1 floats,
    judged on the site-local date."""
    dates = local_dates(times, site.timezone)
    holiday, closure = _days_off(dates, site)
    bridge = np.zeros(len(times), dtype=bool)
    if len(times) and (site.country or site.closures):
        days = pd.date_range(dates.min() - BRIDGE_PAD, dates.max() + BRIDGE_PAD, freq="D")
        bridge = bridge_days(days, site).reindex(dates).to_numpy(dtype=bool)
    weekday = dates.day_of_week < 5
    working = weekday & ~holiday & ~closure & ~bridge
    return pd.DataFrame(
        {
            "holiday": holiday.astype(float),
            "closure": closure.astype(float),
            "bridge": bridge.astype(float),
            "working": np.asarray(working, dtype=float),
        },
        index=times,
    )


def _days_off(dates: pd.DatetimeIndex, site: Site) -> tuple[np.ndarray, np.ndarray]:
    """Public-holiday and closure flags of local dates (naive midnights)."""
    holiday = np.zeros(len(dates), dtype=bool)
    if site.country and len(dates):
        try:
            holiday = holiday_mask(dates, site.country)
        except UnknownCountry as exc:
            raise ForecastInputError(str(exc)) from None
    closure = np.zeros(len(dates), dtype=bool)
    for c in site.closures:
        closure |= (dates >= pd.Timestamp(c.start)) & (dates <= pd.Timestamp(c.end))
    return holiday, closure


def bridge_days(days: pd.DatetimeIndex, site: Site) -> pd.Series:
    """Bridge days of consecutive local ``days`` (naive midnights) as a boolean Series.

    A bridge day is a weekday in a run of at most :data:`BRIDGE_MAX_DAYS` weekdays between
    days off, next to a public holiday or closure (the weekdays between Christmas and New
    Year, a Friday after a Thursday holiday): many organisations close or run down then,
    though no calendar says so. Runs touching either end of ``days`` are not judged.
    """
    holiday, closure = _days_off(days, site)
    special = holiday | closure
    work = np.asarray((days.day_of_week < 5) & ~special)
    bridge = np.zeros(len(days), dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], work.astype(int), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):  # working runs [start, stop)
        if start == 0 or stop == len(days) or stop - start > BRIDGE_MAX_DAYS:
            continue
        before = np.flatnonzero(work[:start])
        after = np.flatnonzero(work[stop:])
        left = before[-1] + 1 if len(before) else 0
        right = stop + after[0] if len(after) else len(days)
        if special[left:start].any() or special[stop:right].any():
            bridge[start:stop] = True
    return pd.Series(bridge, index=days)


def infer_interval(times: pd.DatetimeIndex) -> pd.Timedelta:
    """The reading interval: the most common spacing of ``times`` (at least 1 minute)."""
    if len(times) < 2:
        raise ForecastInputError("need at least two readings to infer the reading interval")
    diffs = pd.Series(np.diff(times.asi8))
    step = pd.Timedelta(int(diffs.mode().iloc[0]), unit="ns")
    return max(step, pd.Timedelta("1min"))


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


def balance_points(
    daily_load: pd.Series, daily_temp: pd.Series, working: pd.Series | None = None
) -> tuple[float | None, float | None]:
    """Heating and cooling balance points [degC] chosen from the data.

    Fits daily load ~ a + b·working + h·max(Th − T, 0) + c·max(T − Tc, 0) over the grid
    :data:`BALANCE_GRID_DEGC` (Tc ≥ Th) and keeps the pair with the least squared error.
    Slopes must be positive; a side left out is None, and both are None when the degree
    terms cut the squared error by less than 1 %. ``daily_temp`` is the daily mean
    temperature [degC].
    """
    frame = pd.concat({"y": daily_load, "t": daily_temp}, axis=1).dropna()
    if working is not None:
        frame["w"] = working.reindex(frame.index).fillna(0.0)
    else:
        frame["w"] = 0.0
    if len(frame) < 14:
        return None, None
    y = frame["y"].to_numpy()
    t = frame["t"].to_numpy()
    base = np.column_stack([np.ones(len(y)), frame["w"].to_numpy()])
    sse0 = _sse(base, y)
    best: tuple[float, float | None, float | None] = (sse0, None, None)
    for th in [None, *BALANCE_GRID_DEGC]:
        for tc in [None, *BALANCE_GRID_DEGC]:
            if th is not None and tc is not None and tc < th:
                continue
            cols = [base]
            if th is not None:
                cols.append(np.maximum(th - t, 0.0)[:, None])
            if tc is not None:
                cols.append(np.maximum(t - tc, 0.0)[:, None])
            x = np.column_stack(cols)
            coef, sse = _fit(x, y)
            if th is not None and coef[2] <= 0:
                continue
            if tc is not None and coef[-1] <= 0:
                continue
            if sse < best[0]:
                best = (sse, th, tc)
    if best[0] > 0.99 * sse0:
        return None, None
    return tuple(None if b is None else float(b) for b in best[1:])  # type: ignore[return-value]


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return coef, float(resid @ resid)


def _sse(x: np.ndarray, y: np.ndarray) -> float:
    return _fit(x, y)[1]
