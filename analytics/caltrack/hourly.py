"""CalTRACK hourly time-of-week-and-temperature (TOWT) baseline model.

After CalTRACK 2.0 §3 (hourly methods), itself after Mathieu et al. (2011):

- one coefficient per hour of the week (168 bins, local time of the site);
- outdoor temperature as a piecewise-linear function with knots at 30, 45, 55, 65, 75 and
  90 degF, fitted separately for *occupied* and *unoccupied* hours of the week, each with
  its own knots: bins holding fewer than 20 hours of that occupancy are merged from the
  outside in (``bins_per_occupancy``, as CalTRACK's reference implementation eemeter/OpenDSM
  ``fit_temperature_bins`` does);
- an hour of the week is *occupied* when more than 65 % of its hours (counted alike, as the
  reference does; or weighted by segment weight — ``occupancy_share``) lie above a simple
  HDD/CDD fit (fixed balance points 50 and 65 degF) — the building uses more than weather
  alone explains;
- "three-month weighted" segmentation: one model per calendar month, fitted on that month
  (weight 1) and its two neighbours (weight 0.5).

These defaults are :class:`TowtSettings`. Fits use weighted least squares with numpy only; a
year of hourly data fits in well under a second. Loads are energy [kWh per interval] at
whatever interval is given (hourly is the CalTRACK case); predictions are in the same unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from wattlens.analytics.caltrack.degree_days import (
    cooling_degrees,
    fahrenheit_to_celsius,
    heating_degrees,
)
from wattlens.core.base import Frozen

Segmentation = Literal["three_month_weighted", "none"]



class TowtSettings(Frozen):
    """Tunables of the CalTRACK hourly TOWT model (``[analytics.savings.towt]``); the
    defaults are CalTRACK 2.0's as its reference implementation (eemeter/OpenDSM) reads them,
    which wattlens reproduces to 0.005 point (docs/mv-method.md, parity)."""

    knots_degf: tuple[float, ...] = Field(
        (30.0, 45.0, 55.0, 65.0, 75.0, 90.0), description="temperature knots [degF]"
    )
    min_hours_per_bin: int = Field(
        20, ge=1, description="fewest hours a temperature bin needs before it is merged"
    )
    occupancy_balance_degf: tuple[float, float] = Field(
        (50.0, 65.0), description="heating and cooling balance points of the occupancy fit [degF]"
    )
    occupancy_threshold: float = Field(
        0.65, gt=0, lt=1, description="share of positive residuals making an hour occupied"
    )
    occupancy_share: Literal["weighted", "hours"] = Field(
        "hours", description="weighted: segment-weighted share >= threshold; hours: share of "
        "hours counted alike > threshold (eemeter/OpenDSM)",
    )
    bins_per_occupancy: bool = Field(
        True, description="give occupied and unoccupied hours their own knots, each merged on "
        "its own hours (eemeter/OpenDSM); false: one set of knots from all hours",
    )
    segmentation: Segmentation = Field(
        "three_month_weighted", description="one model per month (three_month_weighted) or none"
    )

    def knots_degc(self) -> tuple[float, ...]:
        """The temperature knots [degC]."""
        return tuple(float(fahrenheit_to_celsius(f)) for f in self.knots_degf)

    def occupancy_balance_degc(self) -> tuple[float, float]:
        """Heating and cooling balance points of the occupancy fit [degC]."""
        heat, cool = self.occupancy_balance_degf
        return float(fahrenheit_to_celsius(heat)), float(fahrenheit_to_celsius(cool))


TEMPERATURE_GAP_LIMIT = pd.Timedelta("3h")
"""Longest temperature gap bridged by linear interpolation when aligning to load times."""
HOURS_PER_WEEK = 168


class TowtError(ValueError):
    """Misuse of the TOWT model (no data, no temperature, wrong types)."""


def hour_of_week(times: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Hour of the week in local time ``tz``: 0 = Monday 00:00-01:00 ... 167."""
    local = pd.DatetimeIndex(times).tz_convert(tz)
    return np.asarray(local.day_of_week * 24 + local.hour, dtype=int)


def _local_month(times: pd.DatetimeIndex, tz: str) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(times).tz_convert(tz).month, dtype=int)


def align_temperature(times: pd.DatetimeIndex, temperature: pd.Series) -> np.ndarray:
    """Outdoor temperature [degC] at ``times``: exact matches, else time-interpolated across
    gaps up to :data:`TEMPERATURE_GAP_LIMIT`; NaN where no temperature is close enough."""
    if not isinstance(temperature.index, pd.DatetimeIndex) or temperature.index.tz is None:
        raise TowtError(
            "temperature: expected a Series indexed by a tz-aware (UTC) DatetimeIndex; "
            "localise the index first"
        )
    temp = temperature.dropna().astype(float)
    temp = temp[~temp.index.duplicated(keep="last")].sort_index()
    temp.index = temp.index.tz_convert("UTC").astype("datetime64[ns, UTC]")
    target = pd.DatetimeIndex(times).tz_convert("UTC").astype("datetime64[ns, UTC]")
    if temp.empty:
        return np.full(len(target), np.nan)
    union = temp.index.union(target)
    joined = temp.reindex(union).interpolate(method="time", limit_area="inside")
    values = joined.reindex(target).to_numpy(dtype=float, copy=True)
    # Blank interpolated values whose nearest real observations are too far apart.
    src = temp.index.asi8
    pos = np.searchsorted(src, target.asi8)
    prev_t = np.where(pos > 0, src[np.clip(pos - 1, 0, len(src) - 1)], np.iinfo(np.int64).min)
    next_t = np.where(pos < len(src), src[np.clip(pos, 0, len(src) - 1)], np.iinfo(np.int64).max)
    exact = (pos < len(src)) & (src[np.clip(pos, 0, len(src) - 1)] == target.asi8)
    gap = (next_t.astype(float) - prev_t.astype(float)) / 1e9
    too_far = ~exact & ~(gap <= TEMPERATURE_GAP_LIMIT.total_seconds())
    values[too_far] = np.nan
    return values


def temperature_basis(temp: np.ndarray, knots: tuple[float, ...]) -> np.ndarray:
    """Piecewise-linear temperature features [degC]: one column per bin between ``knots``."""
    edges = (-np.inf, *knots, np.inf)
    cols = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if np.isinf(lo):
            cols.append(np.minimum(temp, hi))
        elif np.isinf(hi):
            cols.append(np.maximum(temp - lo, 0.0))
        else:
            cols.append(np.clip(temp - lo, 0.0, hi - lo))
    return np.column_stack(cols)


def _usable_knots(temp: np.ndarray, settings: TowtSettings) -> tuple[float, ...]:
    """The knots [degC] left when every temperature bin holds at least ``min_hours_per_bin``
    of ``temp``: a sparse first (last) bin loses its right (left) knot; only when both ends
    are full do sparse middle bins lose their right knots; repeated until nothing changes."""
    knots = sorted(settings.knots_degc())
    while knots:
        edges = [-np.inf, *knots, np.inf]
        sparse = [
            int(((temp > lo) & (temp <= hi)).sum()) < settings.min_hours_per_bin
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        drop = {edges[1]} if sparse[0] else set()
        if sparse[-1]:
            drop.add(edges[-2])
        if not drop:
            drop = {edges[i + 1] for i in range(1, len(sparse) - 1) if sparse[i]}
        if not drop:
            break
        knots = [k for k in knots if k not in drop]
    return tuple(knots)


def _occupancy(
    load: np.ndarray, temp: np.ndarray, how: np.ndarray, weight: np.ndarray,
    settings: TowtSettings,
) -> np.ndarray:
    """Occupied flag per hour of the week from the share of positive residuals of a weighted
    HDD/CDD fit (``settings.occupancy_share`` says how the share is counted)."""
    hb, cb = settings.occupancy_balance_degc()
    x = np.column_stack([np.ones_like(temp), heating_degrees(temp, hb), cooling_degrees(temp, cb)])
    sw = np.sqrt(weight)
    beta = np.linalg.lstsq(x * sw[:, None], load * sw, rcond=None)[0]
    positive = (load - x @ beta) > 0
    count = weight if settings.occupancy_share == "weighted" else np.ones_like(weight)
    above = np.bincount(how, weights=count * positive, minlength=HOURS_PER_WEEK)
    total = np.bincount(how, weights=count, minlength=HOURS_PER_WEEK)
    share = np.divide(above, total, out=np.zeros(HOURS_PER_WEEK), where=total > 0)
    if settings.occupancy_share == "weighted":
        return share >= settings.occupancy_threshold
    return share > settings.occupancy_threshold


def _design(
    how: np.ndarray, temp: np.ndarray, occupied: np.ndarray,
    occupied_knots: tuple[float, ...], unoccupied_knots: tuple[float, ...],
) -> np.ndarray:
    tow = np.zeros((len(how), HOURS_PER_WEEK))
    tow[np.arange(len(how)), how] = 1.0
    occ = occupied[how][:, None]
    return np.hstack([tow, temperature_basis(temp, occupied_knots) * occ,
                      temperature_basis(temp, unoccupied_knots) * ~occ])


@dataclass
class _Segment:
    """One fitted model: coefficients, occupancy and the knots [degC] of occupied and of
    unoccupied hours."""

    coef: np.ndarray
    occupied: np.ndarray
    occupied_knots: tuple[float, ...]
    unoccupied_knots: tuple[float, ...]

    def predict(self, how: np.ndarray, temp: np.ndarray) -> np.ndarray:
        return _design(how, temp, self.occupied, self.occupied_knots,
                       self.unoccupied_knots) @ self.coef

    def to_dict(self) -> dict[str, Any]:
        return {
            "coef": self.coef.tolist(),
            "occupied": self.occupied.astype(int).tolist(),
            "occupied_knots": list(self.occupied_knots),
            "unoccupied_knots": list(self.unoccupied_knots),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Segment:
        """Models written before separate knots hold one ``knots`` list for both."""
        shared = data.get("knots", [])
        return cls(
            coef=np.asarray(data["coef"], dtype=float),
            occupied=np.asarray(data["occupied"], dtype=bool),
            occupied_knots=tuple(float(k) for k in data.get("occupied_knots", shared)),
            unoccupied_knots=tuple(float(k) for k in data.get("unoccupied_knots", shared)),
        )


def _fit_segment(
    load: np.ndarray, temp: np.ndarray, how: np.ndarray, weight: np.ndarray,
    settings: TowtSettings,
) -> _Segment:
    used = weight > 0
    occupied = _occupancy(load[used], temp[used], how[used], weight[used], settings)
    if settings.bins_per_occupancy:
        occ = occupied[how[used]]
        occupied_knots = _usable_knots(temp[used][occ], settings)
        unoccupied_knots = _usable_knots(temp[used][~occ], settings)
    else:
        occupied_knots = unoccupied_knots = _usable_knots(temp[used], settings)
    x = _design(how[used], temp[used], occupied, occupied_knots, unoccupied_knots)
    xw = x * weight[used][:, None]
    # weighted least squares through the (small) normal equations; lstsq there gives the
    # minimum-norm answer for columns without data (unseen hours, empty temperature bins)
    coef = np.linalg.lstsq(xw.T @ x, xw.T @ load[used], rcond=None)[0]
    # Hours of the week never seen in training: use the mean of the seen ones rather than 0.
    seen = np.bincount(how[used], minlength=HOURS_PER_WEEK) > 0
    if not seen.all():
        coef[:HOURS_PER_WEEK][~seen] = coef[:HOURS_PER_WEEK][seen].mean()
    return _Segment(coef=coef, occupied=occupied, occupied_knots=occupied_knots,
                    unoccupied_knots=unoccupied_knots)


@dataclass
class TowtModel:
    """A fitted TOWT model. ``predict`` returns energy [kWh per interval] at the training
    interval; ``residual_std`` is the in-sample residual standard deviation [kWh per
    interval] (degrees of freedom corrected)."""

    tz: str
    segmentation: Segmentation
    segments: dict[int, _Segment]
    residual_std: float
    n_obs: int
    n_params: int

    def predict(self, times: pd.DatetimeIndex, temperature: pd.Series) -> pd.Series:
        """Predicted load [kWh per interval] at ``times`` (UTC) given outdoor temperature
        [degC]. NaN where temperature is missing (gap longer than 3 h)."""
        times = pd.DatetimeIndex(times)
        if times.tz is None:
            raise TowtError("times: expected a tz-aware (UTC) DatetimeIndex; localise it first")
        temp = align_temperature(times, temperature)
        how = hour_of_week(times, self.tz)
        out = np.full(len(times), np.nan)
        ok = np.isfinite(temp)
        if self.segmentation == "none":
            out[ok] = self.segments[0].predict(how[ok], temp[ok])
        else:
            month = _local_month(times, self.tz)
            fallback = self.segments.get(0)
            for m in range(1, 13):
                seg = self.segments.get(m, fallback)
                rows = ok & (month == m)
                if rows.any() and seg is not None:
                    out[rows] = seg.predict(how[rows], temp[rows])
        return pd.Series(out, index=times, name="yhat")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the fitted model."""
        return {
            "model": "caltrack-towt",
            "tz": self.tz,
            "segmentation": self.segmentation,
            "segments": {str(k): s.to_dict() for k, s in self.segments.items()},
            "residual_std": self.residual_std,
            "n_obs": self.n_obs,
            "n_params": self.n_params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TowtModel:
        """Rebuild a model written by :meth:`to_dict` (keys it does not use, such as the
        ``interval`` older versions wrote, are ignored)."""
        return cls(
            tz=data["tz"],
            segmentation=data["segmentation"],
            segments={int(k): _Segment.from_dict(v) for k, v in data["segments"].items()},
            residual_std=float(data["residual_std"]),
            n_obs=int(data["n_obs"]),
            n_params=int(data["n_params"]),
        )


def fit_towt(
    load: pd.Series,
    temperature: pd.Series,
    tz: str,
    settings: TowtSettings | None = None,
) -> TowtModel:
    """Fit a CalTRACK TOWT model.

    ``load``: energy [kWh per interval] indexed by UTC time, missing intervals absent;
    ``temperature``: outdoor temperature [degC] indexed by UTC time; ``tz``: the site's IANA
    timezone (hours of the week are local). Intervals without a temperature within 3 h are
    left out of the fit. ``settings``: knots, occupancy rule, segmentation.
    """
    settings = settings or TowtSettings()
    segmentation = settings.segmentation
    if not isinstance(load.index, pd.DatetimeIndex) or load.index.tz is None:
        raise TowtError("load: expected a Series indexed by a tz-aware (UTC) DatetimeIndex")
    load = load.dropna().astype(float).sort_index()
    load.index = load.index.tz_convert("UTC").astype("datetime64[ns, UTC]")
    load = load[~load.index.duplicated(keep="last")]
    temp = align_temperature(load.index, temperature)
    ok = np.isfinite(temp)
    if ok.sum() < HOURS_PER_WEEK:
        raise TowtError(
            f"load: only {int(ok.sum())} intervals have a temperature within "
            f"{TEMPERATURE_GAP_LIMIT} (of {len(load)}); TOWT needs at least {HOURS_PER_WEEK} "
            f"(a full week) — give the weather covering the baseline period"
        )
    times = load.index[ok]
    y = load.to_numpy()[ok]
    t = temp[ok]
    how = hour_of_week(times, tz)
    segments: dict[int, _Segment] = {}
    fitted = np.empty(len(y))
    if segmentation == "none":
        segments[0] = _fit_segment(y, t, how, np.ones(len(y)), settings)
        fitted = segments[0].predict(how, t)
    elif segmentation == "three_month_weighted":
        month = _local_month(times, tz)
        fallback_rows = np.zeros(len(y), dtype=bool)
        for m in range(1, 13):
            prev_m, next_m = (m - 2) % 12 + 1, m % 12 + 1
            weight = np.where(month == m, 1.0, 0.0) + np.where(
                (month == prev_m) | (month == next_m), 0.5, 0.0
            )
            rows = month == m
            if rows.any() and (weight > 0).sum() >= HOURS_PER_WEEK:
                segments[m] = _fit_segment(y, t, how, weight, settings)
                fitted[rows] = segments[m].predict(how[rows], t[rows])
            else:
                fallback_rows |= rows
        if len(segments) < 12:
            # months without enough data of their own are predicted by a whole-period model
            segments[0] = _fit_segment(y, t, how, np.ones(len(y)), settings)
            fitted[fallback_rows] = segments[0].predict(how[fallback_rows], t[fallback_rows])
    else:
        raise TowtError(
            f"segmentation {segmentation!r} is unknown; use 'three_month_weighted' or 'none'"
        )
    # degrees of freedom: the mean number of effective coefficients of one segment
    n_params_per_obs = float(np.mean([np.count_nonzero(s.coef) for s in segments.values()]))
    dof = max(len(y) - n_params_per_obs, 1.0)
    residual_std = float(np.sqrt(np.sum((y - fitted) ** 2) / dof))
    return TowtModel(
        tz=tz,
        segmentation=segmentation,
        segments=segments,
        residual_std=residual_std,
        n_obs=len(y),
        n_params=int(round(n_params_per_obs)),
    )
