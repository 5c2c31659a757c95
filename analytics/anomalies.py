"""Anomaly detectors: pure functions from readings (and weather, forecasts) to events.

Each detector is registered by name with :func:`register_detector` and looks at one meter's
energy [kWh per interval] on a regular grid (missing readings are NaN inside, absent rows
outside). History before ``start`` teaches the detector what is normal; only [start, end) is
reported. A detector returns its findings and :class:`~wattlens.core.warnings.DataWarning` s
(missing temperature, too little history, ...) and reads its tunables from its frozen settings
model in :class:`AnomalySettings` (``[analytics.anomalies.<detector>]`` in the config); the
days and working hours come from the site's :class:`~wattlens.core.calendar.SiteCalendar`.
:func:`detect` runs the chosen detectors on every meter, merges contiguous findings of the
same kind and returns an events frame per :func:`wattlens.store.schema.validate_events`, the
warnings and the settings used.

Event kinds: ``forecast-residual``; ``gap``, ``zero-run``, ``stuck``, ``negative``, ``spike``,
``register-reset`` (data quality); ``after-hours``, ``weekend``, ``holiday`` (schedule);
``level-shift``, ``sensitivity-shift`` (change points).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from wattlens.analytics.tariffs import Tariff, TariffError, energy_price
from wattlens.core.base import Duration, Frozen, Registry
from wattlens.core.calendar import SiteCalendar, local_dates
from wattlens.core.intervals import infer_interval
from wattlens.core.warnings import DataWarning, unique
from wattlens.store.csvio import zeros_as_missing
from wattlens.store.schema import (
    EVENT_COLUMNS,
    validate_events,
    validate_forecasts,
    validate_readings,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings
class DegreeDaySettings(Frozen):
    """Degree-day bases of the weather normalisation."""

    hdd_base_c: float = Field(15.5, description="heating degree day base [degC] (UK)")
    cdd_base_c: float = Field(18.0, description="cooling degree day base [degC]")


class ForecastResidualSettings(Frozen):
    """``forecast-residual``: actuals outside the issued forecast's interval."""

    min_run: int = Field(3, ge=1, description="consecutive intervals outside the interval")


class DataQualitySettings(Frozen):
    """``data-quality``: gaps, zero runs, stuck meters, negatives, resets, spikes."""

    min_history: int = Field(
        48, ge=1, description="readings before the period needed to learn from history"
    )
    zero_share_max: float = Field(
        0.02, ge=0, le=1, description="largest share of zeros in history for zeros to be odd"
    )
    zero_min: int = Field(2, ge=1, description="shortest zero run reported [intervals]")
    stuck_min: int = Field(5, ge=2, description="shortest stuck run reported [intervals]")
    stuck_quantile: float = Field(
        99.5, gt=0, le=100, description="percentile of the history's repeat runs called usual"
    )
    reset_factor: float = Field(
        5.0, gt=0, description="a reading below -reset_factor x typical is a register reset"
    )
    spike_window: int = Field(
        5, ge=3, description="centred running-median window of the spike check [intervals]"
    )
    spike_min_learn: int = Field(
        24, ge=2, description="residuals needed to learn the spike scale [intervals]"
    )
    spike_z: float = Field(8.0, gt=0, description="robust z-score of a spike")
    spike_rel: float = Field(0.5, gt=0, description="least spike size as a share of the level")
    tail_factor: float = Field(
        1.2, gt=0, description="spiky meters: threshold x the history's 99.9th percentile"
    )


class ScheduleSettings(Frozen):
    """``schedule``: after-hours, weekend and holiday use above the meter's own norm."""

    norm_days: int = Field(56, ge=7, description="days before start the norm is learned from")
    min_norm_days: int = Field(4, ge=1, description="fewest learning days of a category")
    seasonal: bool = Field(True, description="same weeks a year earlier may raise the norm")
    k_sigma: float = Field(2.5, gt=0, description="robust sigmas of a day part's excess")
    rel: float = Field(0.1, ge=0, description="least excess as a share of the norm")
    big_z: float = Field(2.0, gt=0, description="sigmas of a large excess")
    big_rel: float = Field(0.5, ge=0, description="least large excess as a share of the norm")
    min_intervals: int = Field(2, ge=1, description="fewest readings of a reported day part")
    hot_share: float = Field(
        0.3, ge=0, le=1, description="an event spans readings above this share of the peak"
    )
    after_hours_merge: Duration = Field(
        "36h", description="after-hours findings this close are one event"
    )
    off_day_merge: Duration = Field(
        "2h", description="weekend / holiday findings this close are one event"
    )


class LevelShiftSettings(Frozen):
    """``level-shift``: lasting changes of baseload or temperature sensitivity."""

    history_days: int = Field(120, ge=14, description="days before start searched")
    min_days: int = Field(7, ge=2, description="fewest full days either side of a shift")
    full_day_share: float = Field(
        0.75, gt=0, le=1, description="share of a day's readings making it a full day"
    )
    k_sigma: float = Field(4.0, gt=0, description="robust sigmas of a baseload shift")
    rel: float = Field(0.1, ge=0, description="least baseload shift as a share of the level")
    min_weather_days: int = Field(
        30, ge=3, description="days with weather needed to weather-normalise the baseload"
    )
    sensitivity_rel: float = Field(
        0.3, ge=0, description="least slope change as a share of the slope before"
    )
    min_correlation: float = Field(
        0.6, ge=0, le=1, description="least correlation of daily energy with degree days"
    )


class AnomalySettings(Frozen):
    """Tunables of every detector, ``[analytics.anomalies.<detector>]`` in the config
    (``data_quality``, ``schedule``, ...); written into every result."""

    degree_days: DegreeDaySettings = Field(
        default_factory=DegreeDaySettings, description="degree-day bases"
    )
    forecast_residual: ForecastResidualSettings = Field(
        default_factory=ForecastResidualSettings, description="forecast-residual detector"
    )
    data_quality: DataQualitySettings = Field(
        default_factory=DataQualitySettings, description="data-quality detector"
    )
    schedule: ScheduleSettings = Field(
        default_factory=ScheduleSettings, description="schedule detector"
    )
    level_shift: LevelShiftSettings = Field(
        default_factory=LevelShiftSettings, description="level-shift detector"
    )

    def merge_gap(self, kind: str) -> pd.Timedelta:
        """How far apart two findings of ``kind`` may be and still be one event."""
        if kind == "after-hours":
            return pd.Timedelta(self.schedule.after_hours_merge)
        if kind in ("weekend", "holiday"):
            return pd.Timedelta(self.schedule.off_day_merge)
        return pd.Timedelta(0)


# --------------------------------------------------------------------------- helpers
def degree_days(
    temperature: pd.Series, tz: str, bases: DegreeDaySettings | None = None
) -> pd.DataFrame:
    """Daily mean temperature [degC], HDD and CDD [K·day] per local day from hourly
    temperature [degC] (index UTC)."""
    bases = bases or DegreeDaySettings()
    temperature = temperature.dropna()
    day = local_dates(temperature.index, tz)
    mean = temperature.groupby(day).mean()
    return pd.DataFrame(
        {
            "temperature": mean,
            "hdd": (bases.hdd_base_c - mean).clip(lower=0),
            "cdd": (mean - bases.cdd_base_c).clip(lower=0),
        }
    )


def regular_series(values: pd.Series, step: pd.Timedelta, end: pd.Timestamp) -> pd.Series:
    """``values`` (index UTC time) on a regular grid from its first reading to ``end``;
    missing readings become NaN."""
    values = values.sort_index()
    if values.empty:
        return values.astype("float64")
    grid = pd.date_range(values.index[0], end - pd.Timedelta(1, "ns"), freq=step)
    return values.reindex(grid).astype("float64")


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges [i, j) where ``mask`` is true."""
    if not len(mask):
        return []
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def squash(x: float) -> float:
    """Map an abnormality ratio (0 = normal, 1 = at the threshold) to a severity in 0..1."""
    return float(np.clip(1.0 - np.exp(-max(x, 0.0)), 0.0, 1.0))


# --------------------------------------------------------------------------- change points
def _prefix(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.concatenate([[0.0], np.cumsum(a)]) for a in arrays]


def segment_cost(y: np.ndarray, x: np.ndarray | None = None) -> Callable[[int, int], float]:
    """Cost of a segment [i, j): squared error around its mean (``x`` None) or around its own
    least-squares line y = a + b·x. O(1) per call after O(n) prefix sums."""
    if x is None:
        s, ss = _prefix(y, y * y)

        def mean_cost(i: int, j: int) -> float:
            n = j - i
            sy = s[j] - s[i]
            return float(ss[j] - ss[i] - sy * sy / n)

        return mean_cost
    sx, sy, sxx, sxy, syy = _prefix(x, y, x * x, x * y, y * y)

    def line_cost(i: int, j: int) -> float:
        n = j - i
        x1, y1 = sx[j] - sx[i], sy[j] - sy[i]
        vxx = sxx[j] - sxx[i] - x1 * x1 / n
        vxy = sxy[j] - sxy[i] - x1 * y1 / n
        vyy = syy[j] - syy[i] - y1 * y1 / n
        return float(vyy - (vxy * vxy / vxx if vxx > 1e-12 else 0.0))

    return line_cost


def binary_segmentation(
    cost: Callable[[int, int], float], n: int, penalty: float, min_size: int
) -> list[int]:
    """Change points (indices where a new segment starts) by binary segmentation: split a
    segment where the cost drops most, while the drop exceeds ``penalty``."""
    points: list[int] = []
    stack = [(0, n)]
    while stack:
        i, j = stack.pop()
        if j - i < 2 * min_size:
            continue
        whole = cost(i, j)
        best, best_gain = -1, penalty
        for k in range(i + min_size, j - min_size + 1):
            gain = whole - cost(i, k) - cost(k, j)
            if gain > best_gain:
                best, best_gain = k, gain
        if best > 0:
            points.append(best)
            stack.extend([(i, best), (best, j)])
    return sorted(points)


def robust_sigma(values: np.ndarray) -> float:
    """Noise scale from first differences: 1.4826·MAD(diff)/√2 (insensitive to steps)."""
    diffs = np.diff(values[np.isfinite(values)])
    if len(diffs) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2))


# --------------------------------------------------------------------------- registry
@dataclass
class DetectionContext:
    """Everything a detector may use besides the meter's own readings."""

    start: pd.Timestamp
    end: pd.Timestamp
    calendar: SiteCalendar = SiteCalendar()
    weather: pd.DataFrame | None = None
    forecasts: pd.DataFrame | None = None
    settings: AnomalySettings = AnomalySettings()

    @property
    def tz(self) -> str:
        return self.calendar.timezone

    @cached_property
    def temperature(self) -> pd.Series | None:
        """Outdoor temperature [degC] of ``weather`` (NaN dropped), or None without any."""
        if self.weather is None or "temperature" not in self.weather.columns:
            return None
        temperature = self.weather["temperature"].dropna()
        return temperature if not temperature.empty else None

    @cached_property
    def degree_days(self) -> pd.DataFrame | None:
        """:func:`degree_days` of :attr:`temperature` per local day, or None."""
        if self.temperature is None:
            return None
        return degree_days(self.temperature, self.tz, self.settings.degree_days)


@dataclass
class Finding:
    """One anomaly before it becomes an event row. ``excess`` is the excess energy
    [kWh per interval] indexed by UTC time (empty when not meaningful)."""

    meter: str
    kind: str
    start: pd.Timestamp
    end: pd.Timestamp
    severity: float
    excess: pd.Series
    details: dict[str, Any]


Found = tuple[list[Finding], list[DataWarning]]
"""What a detector returns: its findings and the warnings (with numbers) it raised."""
Detector = Callable[[str, pd.Series, pd.Timedelta, DetectionContext], Found]
DETECTORS: Registry[Detector] = Registry("detector")
"""Registered detectors by name: ``fn(meter, series, step, ctx) -> (findings, warnings)``."""
register_detector = DETECTORS.register


@dataclass
class DetectionResult:
    """Events (per :data:`wattlens.store.schema.EVENT_COLUMNS`), warnings with numbers and
    the settings they were found with."""

    events: pd.DataFrame
    warnings: list[DataWarning]
    settings: AnomalySettings


def _finding(
    meter: str,
    kind: str,
    series: pd.Series,
    step: pd.Timedelta,
    i: int,
    j: int,
    severity: float,
    excess: pd.Series | None,
    details: dict[str, Any],
) -> Finding:
    """A finding over grid positions [i, j) of ``series``."""
    return Finding(
        meter=meter,
        kind=kind,
        start=series.index[i],
        end=series.index[j - 1] + step,
        severity=severity,
        excess=excess if excess is not None else pd.Series(dtype="float64"),
        details=details,
    )


# --------------------------------------------------------------------------- forecast residual
@register_detector("forecast-residual")
def forecast_residual(
    meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
) -> Found:
    """Actuals outside the issued forecast's interval for ``min_run`` or more consecutive
    intervals, on the same side. Uses, for each time, the latest forecast issued before it."""
    min_run = ctx.settings.forecast_residual.min_run
    if ctx.forecasts is None:
        return [], [DataWarning("anomalies.no-forecasts",
                                "forecast-residual: no forecasts given; detector skipped")]
    fc = ctx.forecasts[ctx.forecasts["meter"] == meter]
    fc = fc[(fc["issued_at"] <= fc["time"]) & (fc["time"] >= ctx.start) & (fc["time"] < ctx.end)]
    if fc.empty:
        return [], [DataWarning(
            "anomalies.no-forecast-before-target",
            f"forecast-residual: meter {meter!r} has no forecast issued before its target "
            f"times in [{ctx.start.isoformat()}, {ctx.end.isoformat()}); skipped",
            {"meter": meter, "start": ctx.start.isoformat(), "end": ctx.end.isoformat()})]
    fc = fc.sort_values("issued_at").drop_duplicates("time", keep="last").set_index("time")
    period = series[(series.index >= ctx.start) & (series.index < ctx.end)]
    frame = fc.reindex(period.index)
    actual = period.to_numpy()
    upper, lower, yhat = (frame[c].to_numpy() for c in ("yhat_upper", "yhat_lower", "yhat"))
    half = np.maximum((upper - lower) / 2, 1e-9)
    findings = []
    for sign, mask in ((1, actual > upper), (-1, actual < lower)):
        for i, j in runs(np.nan_to_num(mask, nan=0.0).astype(bool)):
            if j - i < min_run:
                continue
            bound = upper[i:j] if sign > 0 else lower[i:j]
            ratio = float(np.mean(np.abs(actual[i:j] - bound) / half[i:j]))
            excess = pd.Series(actual[i:j] - yhat[i:j], index=period.index[i:j])
            findings.append(_finding(meter, "forecast-residual", period, step, i, j,
                                     squash(ratio), excess, {
                "direction": "above" if sign > 0 else "below",
                "intervals": j - i,
                "actual_kwh": float(np.sum(actual[i:j])),
                "forecast_kwh": float(np.sum(yhat[i:j])),
                "mean_exceedance_of_half_interval": ratio,
                "model": str(frame["model"].iloc[i]),
            }))
    return findings, []


# --------------------------------------------------------------------------- data quality
def _history(series: pd.Series, ctx: DetectionContext) -> pd.Series:
    return series[series.index < ctx.start]


def _period_slice(series: pd.Series, ctx: DetectionContext) -> tuple[int, int]:
    idx = series.index
    return int(idx.searchsorted(ctx.start)), int(idx.searchsorted(ctx.end))


def _run_lengths(values: np.ndarray) -> np.ndarray:
    """Lengths of runs of identical consecutive finite values."""
    same = np.concatenate([[False], np.isfinite(values[1:]) & (np.diff(values) == 0)])
    lengths = [j - i + 1 for i, j in runs(same)]
    return np.asarray(lengths, dtype=float)


@dataclass
class _Quality:
    """One meter's data-quality inputs: the report period and what was learned."""

    meter: str
    step: pd.Timedelta
    period: pd.Series
    learn: pd.Series
    typical: float
    settings: DataQualitySettings

    @property
    def values(self) -> np.ndarray:
        return self.period.to_numpy()

    def finding(self, kind: str, i: int, j: int, severity: float, excess: pd.Series | None,
                details: dict[str, Any]) -> Finding:
        return _finding(self.meter, kind, self.period, self.step, i, j, severity, excess,
                        details)


@register_detector("data-quality")
def data_quality(
    meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
) -> Found:
    """Gaps, runs of zeros where a zero means missing, stuck (flat-lined) meters, negative
    values, spikes and register resets (a negative reading larger than ``reset_factor`` ×
    the typical reading); see :class:`DataQualitySettings`."""
    settings = ctx.settings.data_quality
    history = _history(series, ctx)
    learned = int(history.notna().sum())
    learn = history if learned >= settings.min_history else series
    warnings = []
    if learn is series:
        warnings.append(DataWarning(
            "anomalies.short-history",
            f"data-quality: meter {meter!r} has {learned} readings before "
            f"{ctx.start.isoformat()} (want >= {settings.min_history}); learned from the "
            f"period itself",
            {"meter": meter, "readings": learned, "wanted": settings.min_history}))
    i0, i1 = _period_slice(series, ctx)
    if i1 <= i0:
        return [], warnings
    typical = float(np.nanmedian(np.abs(learn.to_numpy()))) if learn.notna().any() else 0.0
    q = _Quality(meter, step, series.iloc[i0:i1], learn, typical, settings)
    findings = _gaps(q) + _zero_runs(q) + _stuck(q) + _negatives(q)
    spikes, warned = _spikes(q, series, len(history) if learn is history else None, (i0, i1))
    return findings + spikes, warnings + warned


def _gaps(q: _Quality) -> list[Finding]:
    """Missing readings (a meter that stops reporting is a gap up to the end of everyone's
    data)."""
    out = []
    for i, j in runs(np.isnan(q.values)):
        hours = (j - i) * q.step / pd.Timedelta("1h")
        out.append(q.finding("gap", i, j, squash(hours / 24), None,
                             {"intervals": j - i, "hours": hours, "typical_kwh": q.typical}))
    return out


def _zero_runs(q: _Quality) -> list[Finding]:
    """Runs of zeros where zero is not a normal reading of this meter."""
    learned = q.learn.dropna().to_numpy()
    zero_share = float(np.mean(learned == 0)) if len(learned) else 0.0
    if zero_share >= q.settings.zero_share_max:
        return []
    zero_min = q.settings.zero_min
    return [
        q.finding("zero-run", i, j, squash((j - i) / (4 * zero_min)), None,
                  {"intervals": j - i, "history_zero_share": zero_share,
                   "typical_kwh": q.typical})
        for i, j in runs(q.values == 0) if j - i >= zero_min
    ]


def _stuck(q: _Quality) -> list[Finding]:
    """Identical non-zero readings for longer than this meter ever normally repeats."""
    pv = q.values
    hist_runs = _run_lengths(q.learn.to_numpy())
    usual = float(np.percentile(hist_runs, q.settings.stuck_quantile)) if len(hist_runs) \
        else 1.0
    stuck_len = max(q.settings.stuck_min, int(np.ceil(2 * usual)))
    same = np.concatenate([[False], np.diff(pv) == 0]) & (pv != 0)
    out = []
    for i, j in runs(same):
        start = i - 1  # the first reading of the run is the one the others repeat
        if j - start >= stuck_len:
            out.append(q.finding("stuck", start, j, squash((j - start) / stuck_len), None,
                                 {"intervals": j - start, "value_kwh": float(pv[start]),
                                  "usual_longest_repeat": usual,
                                  "threshold_intervals": stuck_len}))
    return out


def _negatives(q: _Quality) -> list[Finding]:
    """Negative readings, and register resets (far below zero)."""
    pv, typical, factor = q.values, q.typical, q.settings.reset_factor
    reset = pv < -factor * max(typical, 1e-9)
    out = [
        q.finding("register-reset", i, j, 1.0, None,
                  {"value_kwh": float(pv[i:j].min()), "typical_kwh": typical,
                   "threshold_kwh": -factor * typical})
        for i, j in runs(reset)
    ]
    for i, j in runs((pv < 0) & ~reset):
        out.append(q.finding("negative", i, j, squash(float(-pv[i:j].min()) / max(typical, 1e-9)),
                             pd.Series(pv[i:j], index=q.period.index[i:j]),
                             {"intervals": j - i, "min_kwh": float(pv[i:j].min()),
                              "typical_kwh": typical}))
    return out


def _spikes(q: _Quality, series: pd.Series, history_len: int | None,
            bounds: tuple[int, int]) -> Found:
    """Spikes: a robust z-score of the residual from a centred running median above
    ``spike_z`` — or above ``tail_factor`` × the learning residuals' 99.9th percentile for
    meters that are spiky anyway — and at least ``spike_rel`` of the level; a reading next
    to a gap is not judged. Residuals are learned from the first ``history_len`` readings
    (None: from the whole series)."""
    s = q.settings
    if q.step >= pd.Timedelta("1D"):
        return [], [DataWarning(
            "anomalies.coarse-readings",
            f"data-quality: meter {q.meter!r} reads every {q.step}; the spike check needs "
            f"sub-daily readings (a weekly cycle breaks the running median); skipped",
            {"meter": q.meter, "interval_h": q.step / pd.Timedelta("1h")})]
    window = s.spike_window
    expected_all = series.rolling(window, center=True, min_periods=window).median()
    resid_all = (series - expected_all).to_numpy()
    learn_resid = resid_all[:history_len] if history_len is not None else resid_all
    learn_resid = learn_resid[np.isfinite(learn_resid)]
    if len(learn_resid) < s.spike_min_learn:
        return [], []
    scale = 1.4826 * float(np.median(np.abs(learn_resid - np.median(learn_resid))))
    scale = max(scale, 0.01 * q.typical, 1e-9)
    # a meter whose history is spiky anyway (boiler cycling) earns a higher threshold
    z_limit = max(s.spike_z,
                  s.tail_factor * float(np.quantile(np.abs(learn_resid), 0.999)) / scale)
    i0, i1 = bounds
    pv = q.values
    resid = resid_all[i0:i1]
    expected = expected_all.to_numpy()[i0:i1]
    z = resid / scale
    level = np.maximum(np.abs(expected), q.typical)
    spike = (np.abs(z) > z_limit) & (np.abs(resid) > s.spike_rel * level) & (pv >= 0)
    out = []
    for i, j in runs(np.nan_to_num(spike, nan=0.0).astype(bool)):
        peak = int(i + np.argmax(np.abs(z[i:j])))
        out.append(q.finding("spike", i, j, squash(float(np.abs(z[peak])) / (2 * z_limit)),
                             pd.Series(resid[i:j], index=q.period.index[i:j]),
                             {"intervals": j - i, "value_kwh": float(pv[peak]),
                              "expected_kwh": float(expected[peak]),
                              "robust_z": float(z[peak]), "z_threshold": z_limit,
                              "scale_kwh": scale}))
    return out, []


# --------------------------------------------------------------------------- schedule
def _design(days: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(days)), days["hdd"], days["cdd"]])


SCHEDULE_KINDS = ("after-hours", "weekend", "holiday")


def schedule_frame(series: pd.Series, calendar: SiteCalendar) -> pd.DataFrame:
    """The readings judged by :func:`schedule` (NaN dropped), with ``category`` (the event
    kind they may raise), ``part`` of the day (morning, daytime, evening), local ``day`` and
    ``hour``. Working days give ``after-hours`` outside the working hours; weekends give
    ``weekend``; weekday public holidays, closures and bridge days give ``holiday`` (judged
    like a weekend day). Readings within working hours of working days are left out."""
    days = calendar.days(series.index)
    hour = days["hour"].to_numpy()
    hours = calendar.working_hours
    in_hours = (hour >= hours.start) & (hour < hours.end)
    category = np.where(
        days["weekend"], "weekend",
        np.where(~days["working"], "holiday", np.where(in_hours, "", "after-hours")),
    )
    part = np.where(hour < hours.start, "morning", np.where(in_hours, "daytime", "evening"))
    frame = pd.DataFrame({"value": series.to_numpy(), "category": category, "part": part,
                          "day": days["day"].to_numpy(), "hour": hour},
                         index=series.index).dropna(subset=["value"])
    return frame[frame["category"] != ""]


@dataclass
class _Norm:
    """What :func:`schedule` learned for one kind: the hourly norm for the report, the
    degree-day fit and the robust (centre, sigma) of day-part excess sums per part and
    over all parts."""

    report_norm: pd.Series
    mean: float
    dd_fit: tuple[np.ndarray, np.ndarray] | None
    spread: dict[str, tuple[float, float]]
    every: tuple[float, float]


def _learn_norm(frame: pd.DataFrame, learn: pd.DataFrame, learn_kind: str,
                ctx: DetectionContext) -> _Norm:
    """The norm of ``learn`` (one category's learning readings) per local hour, shifted by
    degree days, raised by the same weeks a year earlier (``seasonal``), and the spread of
    the learning days' excess per day part."""
    settings, dd = ctx.settings.schedule, ctx.degree_days
    norm = learn.groupby("hour")["value"].median()
    learn = learn.assign(expected=learn["hour"].map(norm))
    dd_fit = _degree_day_fit(learn, dd)
    learn["expected"] += _degree_day_shift(dd_fit, learn, dd)
    year = pd.Timedelta(days=364)  # 52 weeks: same weekdays a year earlier
    ago = frame[(frame["category"] == learn_kind) & (frame.index >= ctx.start - year)
                & (frame.index < ctx.end - year)]
    report_norm = norm
    if settings.seasonal and ago["day"].nunique() >= settings.min_norm_days:
        # what was normal in the same weeks a year ago is normal now (term times,
        # darker mornings): the norm is the higher of the two
        report_norm = np.maximum(norm, ago.groupby("hour")["value"].median()
                                 .reindex(norm.index).fillna(norm))
    learn_sums = (learn["value"] - learn["expected"]).groupby(
        [learn["day"], learn["part"]]).sum()
    spread = {}
    for day_part, sums in learn_sums.groupby(level="part"):
        centre = float(sums.median())
        spread[day_part] = (centre, 1.4826 * float(np.median(np.abs(sums - centre))))
    every = (float(learn_sums.median()),
             1.4826 * float(np.median(np.abs(learn_sums - learn_sums.median()))))
    return _Norm(report_norm, float(norm.mean()), dd_fit, spread, every)


def _flag_parts(report: pd.DataFrame, model: _Norm, settings: ScheduleSettings
                ) -> pd.DataFrame:
    """Day parts of ``report`` (with ``excess`` and ``expected``) whose summed excess over
    the norm is abnormal: columns n, excess, norm, centre, sigma, total, z."""
    parts = report.groupby(["day", "part"]).agg(
        n=("excess", "size"), excess=("excess", "sum"),
        norm=("expected", lambda v: float(np.abs(v).sum())))
    names = parts.index.get_level_values(1)
    parts["centre"] = [model.spread.get(p, model.every)[0] for p in names]
    parts["sigma"] = np.maximum.reduce([
        np.array([model.spread.get(p, model.every)[1] for p in names]),
        0.02 * parts["norm"].to_numpy(), np.full(len(parts), 1e-9)])
    parts["total"] = parts["excess"] - parts["centre"]
    parts["z"] = parts["total"] / parts["sigma"]
    s = settings
    return parts[(parts["n"] >= s.min_intervals) & (
        ((parts["z"] > s.k_sigma) & (parts["total"] > s.rel * parts["norm"]))
        | ((parts["z"] > s.big_z) & (parts["total"] > s.big_rel * parts["norm"])))]


def _part_findings(meter: str, kind: str, report: pd.DataFrame, flagged: pd.DataFrame,
                   step: pd.Timedelta, ctx: DetectionContext) -> list[Finding]:
    """One finding per flagged day part, spanning its readings above ``hot_share`` of its
    largest excess."""
    s, hours = ctx.settings.schedule, ctx.calendar.working_hours
    groups = report.groupby(["day", "part"])
    findings = []
    for (day, day_part), stat in flagged.iterrows():
        rows = groups.get_group((day, day_part))
        sigma, total, z, norm_sum = stat["sigma"], stat["total"], stat["z"], stat["norm"]
        hot = np.flatnonzero(
            rows["excess"].to_numpy() > max(s.hot_share * rows["excess"].max(), 0))
        if not len(hot):
            continue
        threshold = min(max(s.k_sigma * sigma, s.rel * norm_sum),
                        max(s.big_z * sigma, s.big_rel * norm_sum))
        rows = rows.iloc[hot[0]: hot[-1] + 1]
        findings.append(Finding(
            meter=meter, kind=kind, start=rows.index[0], end=rows.index[-1] + step,
            severity=squash(total / threshold), excess=rows["excess"],
            details={"day": str(pd.Timestamp(day).date()), "part": day_part,
                     "intervals": int(len(rows)), "actual_kwh": float(rows["value"].sum()),
                     "norm_kwh": float(rows["expected"].sum()), "sigma_kwh": sigma,
                     "robust_z": z, "threshold_kwh": threshold,
                     "hours": f"{hours.start:02d}-{hours.end:02d} local"}))
    return findings


@register_detector("schedule")
def schedule(meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
             ) -> Found:
    """After-hours (working days outside the calendar's working hours), weekend and
    holiday (weekday public holidays, closures, bridge days) use above the meter's own norm.

    The norm per category and local hour is the median of the last ``norm_days`` before
    ``start`` (holidays are held to the weekend norm), shifted by the day's heating/cooling
    degree days when temperature explains the history; with ``seasonal`` and a year of
    history, the same weeks 52 weeks earlier raise the norm where they were higher.

    Each day splits into morning (before opening), daytime and evening (after closing); a
    part is reported when its summed excess over the norm exceeds ``k_sigma`` robust sigmas
    of the same sum on the learning days and ``rel`` of the norm (or ``big_z`` sigmas and
    ``big_rel`` of the norm); the event spans the part's readings above ``hot_share`` of its
    largest excess."""
    settings = ctx.settings.schedule
    if step > pd.Timedelta("1h"):
        return [], [DataWarning(
            "anomalies.coarse-readings",
            f"schedule: meter {meter!r} reads every {step}; local-hour checks need hourly or "
            f"finer readings; skipped",
            {"meter": meter, "interval_h": step / pd.Timedelta("1h")})]
    frame = schedule_frame(series, ctx.calendar)
    learn_from = ctx.start - pd.Timedelta(days=settings.norm_days)
    findings: list[Finding] = []
    warnings: list[DataWarning] = []
    for kind in SCHEDULE_KINDS:
        report = frame[(frame["category"] == kind) & (frame.index >= ctx.start)
                       & (frame.index < ctx.end)]
        if report.empty:
            continue
        learn_kind = "weekend" if kind == "holiday" else kind  # a holiday should look like one
        learn = frame[(frame["category"] == learn_kind) & (frame.index < ctx.start)
                      & (frame.index >= learn_from)]
        n_days = learn["day"].nunique()
        if n_days < settings.min_norm_days:
            warnings.append(DataWarning(
                "anomalies.few-norm-days",
                f"schedule: meter {meter!r} has {n_days} {learn_kind} days in the "
                f"{settings.norm_days} days before {ctx.start.date()} (want >= "
                f"{settings.min_norm_days}); {kind} check skipped",
                {"meter": meter, "kind": kind, "days": int(n_days),
                 "wanted": settings.min_norm_days}))
            continue
        model = _learn_norm(frame, learn, learn_kind, ctx)
        report = report.assign(
            expected=report["hour"].map(model.report_norm).fillna(model.mean))
        report["expected"] += _degree_day_shift(model.dd_fit, report, ctx.degree_days)
        report = report.assign(excess=report["value"] - report["expected"])
        flagged = _flag_parts(report, model, settings)
        findings += _part_findings(meter, kind, report, flagged, step, ctx)
    return findings, warnings


def _degree_day_fit(learn: pd.DataFrame,
                    dd: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The learning days' mean excess over the hourly norm regressed on HDD and CDD:
    (mean degree days, coefficients), or None without weather, with fewer than 10 learning
    days with weather, or when degree days explain little (R² < 0.3)."""
    if dd is None:
        return None
    daily = (learn["value"] - learn["hour"].map(
        learn.groupby("hour")["value"].median())).groupby(learn["day"]).mean()
    joined = dd.reindex(daily.index).dropna()
    if len(joined) < 10:
        return None
    y = daily.reindex(joined.index).to_numpy()
    x = joined[["hdd", "cdd"]].to_numpy()
    centre = x.mean(axis=0)
    design = np.column_stack([np.ones(len(x)), x - centre])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum((y - design @ coef) ** 2)) / total if total > 0 else 0.0
    return (centre, coef) if r2 >= 0.3 else None


def _degree_day_shift(fit: tuple[np.ndarray, np.ndarray] | None, rows: pd.DataFrame,
                      dd: pd.DataFrame | None) -> np.ndarray:
    """Per-reading shift of the hourly norm [kWh per interval] from the day's degree days:
    the slope ``fit`` by :func:`_degree_day_fit` applied to the days of ``rows`` relative to
    the learning mean; zeros without a fit or when a day of ``rows`` has no weather."""
    zero = np.zeros(len(rows))
    if fit is None or dd is None:
        return zero
    target = dd.reindex(rows["day"].unique())
    if target.isna().any().any():
        return zero
    centre, coef = fit
    per_day = (target[["hdd", "cdd"]].to_numpy() - centre) @ coef[1:]
    return rows["day"].map(pd.Series(per_day, index=target.index)).to_numpy()


# --------------------------------------------------------------------------- level shift
@register_detector("level-shift")
def level_shift(meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
                ) -> Found:
    """A lasting change of baseload (daily mean of the three lowest readings, temperature
    effects removed when weather is given) or of temperature sensitivity (slope of daily
    energy on degree days), found by binary segmentation over the last ``history_days``
    before ``start`` and the period; reported when it starts in [start, end)."""
    s = ctx.settings.level_shift
    if step > pd.Timedelta("1D"):
        return [], [DataWarning(
            "anomalies.coarse-readings",
            f"level-shift: meter {meter!r} reads every {step}; needs daily or finer "
            f"readings; skipped", {"meter": meter, "interval_h": step / pd.Timedelta("1h")})]
    local_day = local_dates(series.index, ctx.tz)
    per_day = int(round(pd.Timedelta("1D") / step))
    grouped = series.groupby(local_day)
    count = grouped.count()
    ok = count >= s.full_day_share * per_day
    present = series.notna().to_numpy()
    lows = pd.DataFrame({"day": local_day[present], "v": series.to_numpy()[present]})
    lows = lows.sort_values(["day", "v"])
    lows = lows[lows.groupby("day").cumcount() < 3]
    base = lows.groupby("day")["v"].mean().reindex(count.index)[ok]
    total = (grouped.mean() * per_day)[ok]
    first = local_dates(ctx.start, ctx.tz)
    window = base.index >= first - pd.Timedelta(days=s.history_days)
    base, total = base[window], total[window]
    before, after = int((base.index < first).sum()), int((base.index >= first).sum())
    if before < s.min_days or after < s.min_days:
        return [], [DataWarning(
            "anomalies.short-history",
            f"level-shift: meter {meter!r} has {before} full days before and {after} in the "
            f"period (want >= {s.min_days} each); skipped",
            {"meter": meter, "days_before": before, "days_in_period": after,
             "wanted": s.min_days})]
    dd = ctx.degree_days
    signal = base
    if dd is not None:
        joined = dd.reindex(base.index)
        hist = joined.notna().all(axis=1) & (base.index < first)
        if hist.sum() >= s.min_weather_days:
            coef, *_ = np.linalg.lstsq(_design(joined[hist]), base[hist].to_numpy(), rcond=None)
            fill = joined.fillna(joined.mean())
            signal = base - (_design(fill) @ coef - coef[0])
    findings = _baseload_shifts(meter, series, ctx, first, signal, base)
    if dd is None:
        return findings, [DataWarning(
            "anomalies.no-temperature",
            "level-shift: no temperature given; baseload is not weather-normalised and "
            "temperature-sensitivity shifts are not checked")]
    return findings + _sensitivity_shifts(meter, ctx, first, total, dd), []


def _day_bounds(day: pd.Timestamp, tz: str) -> pd.Timestamp:
    return day.tz_localize(tz, nonexistent="shift_forward", ambiguous=False).tz_convert("UTC")


def _baseload_shifts(
    meter: str, series: pd.Series, ctx: DetectionContext, first: pd.Timestamp,
    signal: pd.Series, base: pd.Series,
) -> list[Finding]:
    s = ctx.settings.level_shift
    y = signal.to_numpy()
    sigma = max(robust_sigma(y), 1e-6 * max(float(np.nanmean(np.abs(y))), 1e-9))
    penalty = 2 * sigma**2 * np.log(len(y)) * 3
    points = binary_segmentation(segment_cost(y), len(y), penalty, s.min_days)
    bounds = [0, *points, len(y)]
    raw = base.to_numpy()
    findings = []
    for a, cp, b in zip(bounds[:-2], bounds[1:-1], bounds[2:], strict=True):
        day = signal.index[cp]
        if day < first or _day_bounds(day, ctx.tz) >= ctx.end:
            continue
        shift = float(np.median(y[cp:b])) - float(np.median(y[a:cp]))
        level = float(np.median(raw[a:cp]))
        after = float(np.median(raw[cp:b]))
        threshold = max(s.k_sigma * sigma, s.rel * abs(level))
        raw_shift = after - level
        if abs(shift) <= threshold or raw_shift * shift <= 0 or abs(raw_shift) < threshold / 2:
            continue  # weather normalisation must not create a shift the raw baseload lacks
        start = _day_bounds(day, ctx.tz)
        stop = min(_day_bounds(signal.index[b - 1] + pd.Timedelta(days=1), ctx.tz), ctx.end)
        part = series[(series.index >= start) & (series.index < stop)].dropna()
        findings.append(Finding(
            meter=meter, kind="level-shift", start=start, end=stop,
            severity=squash(abs(shift) / threshold),
            excess=pd.Series(shift, index=part.index),
            details={"measure": "baseload (mean of the 3 lowest readings a day)",
                     "before_kwh_per_interval": level,
                     "after_kwh_per_interval": after,
                     "shift_kwh_per_interval": shift,
                     "weather_normalised": not signal.equals(base),
                     "sigma_kwh": sigma, "threshold_kwh": threshold,
                     "days_after": int(b - cp)}))
    return findings


def _sensitivity_shifts(
    meter: str, ctx: DetectionContext, first: pd.Timestamp,
    total: pd.Series, dd: pd.DataFrame,
) -> list[Finding]:
    s, bases = ctx.settings.level_shift, ctx.settings.degree_days
    min_days = s.min_days
    joined = dd.reindex(total.index)
    keep = joined.notna().all(axis=1)
    y, days = total[keep].to_numpy(), total.index[keep]
    corr_h = np.corrcoef(y, joined["hdd"][keep])[0, 1] if joined["hdd"][keep].std() > 0 else 0
    corr_c = np.corrcoef(y, joined["cdd"][keep])[0, 1] if joined["cdd"][keep].std() > 0 else 0
    name = "hdd" if np.nan_to_num(corr_h) >= np.nan_to_num(corr_c) else "cdd"
    strongest = max(np.nan_to_num(corr_h), np.nan_to_num(corr_c))
    if strongest < s.min_correlation or len(y) < 4 * min_days:
        return []
    x = joined[name][keep].to_numpy()
    cost = segment_cost(y, x)
    resid_var = cost(0, len(y)) / max(len(y) - 2, 1)
    penalty = 3 * resid_var * np.log(len(y)) * 2
    points = binary_segmentation(cost, len(y), penalty, 2 * min_days)
    bounds = [0, *points, len(y)]
    findings = []
    for a, cp, b in zip(bounds[:-2], bounds[1:-1], bounds[2:], strict=True):
        if days[cp] < first or _day_bounds(days[cp], ctx.tz) >= ctx.end:
            continue
        if np.std(x[a:cp]) == 0 or np.std(x[cp:b]) == 0:
            continue
        slope_before, icpt_before = np.polyfit(x[a:cp], y[a:cp], 1)
        slope_after, _ = np.polyfit(x[cp:b], y[cp:b], 1)
        if abs(slope_after - slope_before) <= s.sensitivity_rel * abs(slope_before):
            continue
        start = _day_bounds(days[cp], ctx.tz)
        stop = min(_day_bounds(days[b - 1] + pd.Timedelta(days=1), ctx.tz), ctx.end)
        after_days = pd.Series(x[cp:b], index=days[cp:b])
        extra_daily = (slope_after - slope_before) * after_days
        findings.append(Finding(
            meter=meter, kind="sensitivity-shift", start=start, end=stop,
            severity=squash(abs(slope_after - slope_before) / abs(slope_before or 1e-9)),
            excess=pd.Series(extra_daily.to_numpy(),
                             index=[_day_bounds(d, ctx.tz) for d in after_days.index]),
            details={"measure": f"kWh per {name.upper()}", "degree_day_base_c":
                     bases.hdd_base_c if name == "hdd" else bases.cdd_base_c,
                     "slope_before": float(slope_before), "slope_after": float(slope_after),
                     "intercept_before_kwh": float(icpt_before), "days_after": int(b - cp)}))
    return findings


# --------------------------------------------------------------------------- running
def merge_findings(findings: Sequence[Finding], gap: pd.Timedelta) -> list[Finding]:
    """Merge findings of the same meter and kind that touch or are at most ``gap`` apart."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.meter, f.kind, f.start)):
        last = merged[-1] if merged else None
        if last and last.meter == f.meter and last.kind == f.kind and f.start <= last.end + gap:
            parts = [p for p in (last.excess, f.excess) if not p.empty]
            details = dict(last.details)
            details["merged"] = int(details.get("merged", 1)) + 1
            for key, value in f.details.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and \
                        key in ("intervals", "hours"):
                    details[key] = details.get(key, 0) + value
            merged[-1] = Finding(
                meter=f.meter, kind=f.kind, start=last.start, end=max(last.end, f.end),
                severity=max(last.severity, f.severity),
                excess=pd.concat(parts) if parts else last.excess, details=details)
        else:
            merged.append(f)
    return merged


def findings_to_events(
    findings: Sequence[Finding], tariff: Tariff | dict[str, Tariff] | None = None,
    tz: str = "UTC",
) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Event rows and warnings; with a tariff (one, or one per meter id), ``details.cost`` is
    the excess priced per interval [currency] and ``details.currency`` its currency. A
    tariff that cannot price an event leaves its cost out with a warning saying why."""
    rows, warnings = [], []
    for f in findings:
        details = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in f.details.items()}
        excess = f.excess.dropna()
        meter_tariff = tariff.get(f.meter) if isinstance(tariff, dict) else tariff
        if meter_tariff is not None and not excess.empty:
            try:
                price = energy_price(meter_tariff, pd.DatetimeIndex(excess.index), tz)
            except TariffError as exc:
                warnings.append(DataWarning(
                    "anomalies.cost-left-out", f"meter {f.meter!r}: event costs left out: {exc}",
                    {"meter": f.meter, "tariff": meter_tariff.id}))
            else:
                details["cost"] = round(float((excess.to_numpy() * price.to_numpy()).sum()), 2)
                details["currency"] = meter_tariff.currency
        rows.append({"meter": f.meter, "start": f.start, "end": f.end, "kind": f.kind,
                     "severity": round(f.severity, 4),
                     "excess_kwh": round(float(excess.sum()), 3),
                     "details": json.dumps(details, sort_keys=True, default=str)})
    if not rows:
        empty = pd.DataFrame(columns=[c for c in EVENT_COLUMNS if c != "event_id"])
        return validate_events(empty), unique(warnings)
    return validate_events(pd.DataFrame(rows)), unique(warnings)


def _period(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``start`` and ``end`` as UTC timestamps; ValueError unless tz-aware and ordered."""
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if start_ts.tzinfo is None or end_ts.tzinfo is None:
        raise ValueError(f"start={start!r}/end={end!r} need a timezone, e.g. '2019-01-01T00:00Z'")
    start_ts, end_ts = start_ts.tz_convert("UTC"), end_ts.tz_convert("UTC")
    if end_ts <= start_ts:
        raise ValueError(f"end {end_ts.isoformat()} is not after start {start_ts.isoformat()}; "
                         f"give an end later than the start")
    return start_ts, end_ts


def _meter_findings(meter: str, series: pd.Series, step: pd.Timedelta, names: list[str],
                    ctx: DetectionContext) -> Found:
    """Every detector of ``names`` on one meter, findings of a kind merged."""
    found: list[Finding] = []
    warnings: list[DataWarning] = []
    for name in names:
        more, warned = DETECTORS[name](meter, series, step, ctx)
        found += more
        warnings += warned
    by_kind: dict[str, list[Finding]] = {}
    for f in found:
        by_kind.setdefault(f.kind, []).append(f)
    merged = []
    for kind, group in by_kind.items():
        merged += merge_findings(group, ctx.settings.merge_gap(kind))
    return merged, warnings


def detect(
    readings: pd.DataFrame,
    start: Any,
    end: Any,
    *,
    weather: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    calendar: SiteCalendar | None = None,
    tariff: Tariff | dict[str, Tariff] | None = None,
    detectors: Sequence[str] | None = None,
    missing_zero: bool = False,
    settings: AnomalySettings | None = None,
) -> DetectionResult:
    """Run ``detectors`` (default: all registered) on every energy meter of ``readings``.

    ``readings`` should include history before ``start`` (a year is best) to learn normal
    behaviour; ``weather`` is wide (index UTC time, temperature [degC]); ``forecasts`` are
    forecasts as issued; ``calendar`` (default UTC, no holidays) is the site's days and
    working hours. Returns validated events in [start, end), warnings and the settings."""
    start_ts, end_ts = _period(start, end)
    settings = settings or AnomalySettings()
    names = list(detectors) if detectors else DETECTORS.names()
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {DETECTORS.names()}")
    readings = validate_readings(readings)
    energy = readings[readings["quantity"] == "energy"]
    ctx = DetectionContext(
        start=start_ts, end=end_ts, calendar=calendar or SiteCalendar(), weather=weather,
        forecasts=validate_forecasts(forecasts) if forecasts is not None else None,
        settings=settings,
    )
    warnings: list[DataWarning] = []
    if weather is not None and ctx.temperature is None:
        warnings.append(DataWarning(
            "anomalies.no-weather",
            "weather has no temperature values; weather normalisation is off",
            {"weather_rows": len(weather)}))
    in_period = energy[(energy["time"] >= start_ts) & (energy["time"] < end_ts)]
    if in_period.empty:
        warnings.append(DataWarning(
            "anomalies.no-readings",
            f"no energy readings between {start_ts.isoformat()} and {end_ts.isoformat()}; "
            f"nothing to detect (check --start/--end against the data)",
            {"start": start_ts.isoformat(), "end": end_ts.isoformat()}))
        return DetectionResult(findings_to_events([])[0], warnings, settings)
    data_end = min(end_ts, energy["time"].max() + infer_interval(energy["time"]))
    findings: list[Finding] = []
    # in_period and data_end above count zeros, so trailing zeros still become gaps
    kept = zeros_as_missing(energy) if missing_zero else energy
    for meter, rows in kept.groupby("meter", sort=True):
        rows = rows[rows["time"] < end_ts]
        if rows.empty:
            continue
        step = infer_interval(rows["time"], default=pd.Timedelta("1h"))
        series = regular_series(rows.set_index("time")["value"], step, data_end)
        if series.empty:
            continue
        series.index = pd.DatetimeIndex(series.index).astype("datetime64[ns, UTC]")
        found, warned = _meter_findings(str(meter), series, step, names, ctx)
        findings += found
        warnings += warned
    events, warned = findings_to_events(findings, tariff, ctx.tz)
    warnings = unique(warnings + warned)
    log.info("anomalies: %d meters, %d events in [%s, %s), %d warnings",
             energy["meter"].nunique(), len(events), start_ts.isoformat(), end_ts.isoformat(),
             len(warnings))
    return DetectionResult(events, warnings, settings)
