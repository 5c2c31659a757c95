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
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from wattlens.analytics.tariffs import Tariff, TariffError, marginal_price
from wattlens.core.base import Duration, Frozen, Registry
from wattlens.core.calendar import SiteCalendar, local_dates
from wattlens.core.intervals import infer_interval, interval_hours
from wattlens.core.warnings import DataWarning, unique
from wattlens.store.csvio import zeros_as_missing
from wattlens.store.schema import (
    EVENT_COLUMNS,
    event_id,
    validate_events,
    validate_forecasts,
    validate_readings,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings
class GapEdgeSettings(Frozen):
    """Partial readings next to a gap (a meter that reported only part of an interval)."""

    ratio: float = Field(
        0.6, gt=0, lt=1, description="suspect below this share of its references' median"
    )


class DegreeDaySettings(Frozen):
    """Degree-day bases of the weather normalisation."""

    hdd_base_c: float = Field(15.5, description="heating degree day base [degC] (UK)")
    cdd_base_c: float = Field(18.0, description="cooling degree day base [degC]")
    min_r2: float = Field(
        0.3, ge=0, le=1, description="least R² of a degree-day fit for it to be used (schedule "
        "norms, baseload): a fit that explains less only adds noise"
    )


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
    gap_merge: Duration = Field(
        "36h", description="gaps this close are one event (a meter reporting intermittently)"
    )


class ScheduleSettings(Frozen):
    """``schedule``: after-hours, weekend and holiday use above the meter's own norm."""

    norm_days: int = Field(
        84, ge=7, description="days before the learning cut the norm is learned from"
    )
    min_norm_days: int = Field(4, ge=1, description="fewest learning days of a category")
    seasonal: bool = Field(True, description="same weeks a year earlier may raise the norm")
    seasonal_weeks: int = Field(
        3, ge=0, description="weeks either side of the same week a year earlier (seasonal)"
    )
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


class AboveForecastSettings(Frozen):
    """``above-forecast``: the newest readings, at their native interval, above the issued
    forecast's upper band for their hour, sustained (the live detector of ``wattlens run``)."""

    sustain: Duration = Field(
        "30min", description="how long readings must stay above the band to raise an event"
    )
    margin: float = Field(
        0.1, ge=0, description="a reading counts when its rate exceeds upper x (1 + margin)"
    )
    merge: Duration = Field(
        "3h", description="excesses this close are one event: an excess interrupted by missing "
        "or unjudged readings (a poll gap, a store outage) goes on"
    )


class MaterialitySettings(Frozen):
    """When an event is worth raising. Waste (schedule kinds, forecast-residual,
    above-forecast): its excess energy is at least ``share_of_day`` of the meter's typical
    daily energy and, when a tariff prices it, costs at least ``min_cost``; ``above-forecast``
    (live) projects its excess rate over a day, so a fault is raised before a day passes.
    Data findings (gaps, zero runs, stuck, negative, resets, spikes) and lasting changes
    (level and sensitivity shifts): the energy in doubt (a gap: what the same slots used the
    weeks before; a change: its effect over one day) is at least ``data_share_of_day``."""

    share_of_day: float = Field(
        0.1, ge=0, description="least waste as a share of the meter's typical daily energy"
    )
    min_cost: float = Field(
        10.0, ge=0, description="least cost of the waste [tariff currency]; unpriced: not tested"
    )
    data_share_of_day: float = Field(
        0.02, ge=0, description="least energy in doubt of data findings and lasting changes, "
        "as a share of the typical daily energy"
    )
    typical_days: int = Field(
        28, ge=3, description="days before the block whose median daily energy is typical"
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
    above_forecast: AboveForecastSettings = Field(
        default_factory=AboveForecastSettings, description="above-forecast (live) detector"
    )
    materiality: MaterialitySettings = Field(
        default_factory=MaterialitySettings, description="which events are worth raising"
    )
    gap_edge: GapEdgeSettings = Field(
        default_factory=GapEdgeSettings, description="partial readings at the edges of gaps"
    )
    grid_min: Duration = Field(
        "15min", description="finest grid of the history-based detectors; finer readings "
        "are summed into it (above-forecast reads them as they are)"
    )

    def merge_gap(self, kind: str) -> pd.Timedelta:
        """How far apart two findings of ``kind`` may be and still be one event."""
        if kind == "gap":
            return pd.Timedelta(self.data_quality.gap_merge)
        if kind == "after-hours":
            return pd.Timedelta(self.schedule.after_hours_merge)
        if kind in ("weekend", "holiday"):
            return pd.Timedelta(self.schedule.off_day_merge)
        if kind == "above-forecast":
            return pd.Timedelta(self.above_forecast.merge)
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
    """Everything a detector may use besides the meter's own readings. A detector reports
    in [start, end) and learns only from readings before ``learn_end`` (default ``start``;
    :func:`detect` sets it to the local Monday 00:00 of the week, so every window judges a
    day alike); ``window_end`` is the end of the whole detection run (default ``end``);
    ``cache`` holds what detectors compute once per meter and run (keys start with the
    meter id)."""

    start: pd.Timestamp
    end: pd.Timestamp
    calendar: SiteCalendar = SiteCalendar()
    weather: pd.DataFrame | None = None
    forecasts: pd.DataFrame | None = None
    settings: AnomalySettings = AnomalySettings()
    learn_end: pd.Timestamp | None = None
    window_end: pd.Timestamp | None = None
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def learned_before(self) -> pd.Timestamp:
        """The end of the history a detector may learn from."""
        return self.start if self.learn_end is None else self.learn_end

    @property
    def run_end(self) -> pd.Timestamp:
        """The end of the whole detection run."""
        return self.end if self.window_end is None else self.window_end

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
        """:func:`degree_days` of :attr:`temperature` per local day, or None (computed once
        per ``cache``)."""
        key = ("", "degree-days")
        if key not in self.cache:
            self.cache[key] = None if self.temperature is None else \
                degree_days(self.temperature, self.tz, self.settings.degree_days)
        return self.cache[key]


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
    actual_kwh: float = float("nan")
    expected_kwh: float = float("nan")
    band_kwh: tuple[float, float] | None = None
    typical_day_kwh: float = float("nan")


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
    return series[series.index < ctx.learned_before]


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
    learn = history if learned >= settings.min_history else series[series.index < ctx.end]
    warnings = []
    if learn is series:
        warnings.append(DataWarning(
            "anomalies.short-history",
            f"data-quality: meter {meter!r} has {learned} readings before "
            f"{ctx.learned_before.isoformat()} (want >= {settings.min_history}); learned from the "
            f"period itself",
            {"meter": meter, "readings": learned, "wanted": settings.min_history}))
    i0, i1 = _period_slice(series, ctx)
    if i1 <= i0:
        return [], warnings
    typical = float(np.nanmedian(np.abs(learn.to_numpy()))) if learn.notna().any() else 0.0
    q = _Quality(meter, step, series.iloc[i0:i1], learn, typical, settings)
    findings = _gaps(q, series) + _zero_runs(q) + _stuck(q) + _negatives(q)
    spikes, warned = _spikes(q, series, len(history) if learn is history else None, (i0, i1))
    return findings + spikes, warnings + warned


def _gaps(q: _Quality, series: pd.Series) -> list[Finding]:
    """Missing readings (a meter that stops reporting is a gap up to the end of everyone's
    data). A gap's expected energy is what the same slots used, as a median, over the four
    weeks before (missing counted as zero): a meter that routinely reports nothing at night
    has nothing missing then."""
    out = []
    weeks = [series.shift(freq=pd.Timedelta(days=7 * w)) for w in range(1, 5)]
    for i, j in runs(np.isnan(q.values)):
        hours = (j - i) * q.step / pd.Timedelta("1h")
        slots = q.period.index[i:j]
        before = np.column_stack([w.reindex(slots).fillna(0.0).to_numpy() for w in weeks])
        expected = float(np.median(before, axis=1).sum())
        f = q.finding("gap", i, j, squash(hours / 24), None,
                      {"intervals": j - i, "hours": hours, "typical_kwh": q.typical,
                       "expected_kwh": expected})
        f.expected_kwh = expected
        out.append(f)
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
SCHEDULE_KINDS = ("after-hours", "weekend", "holiday")
DAY_TYPES = {"after-hours": "working day", "first-working": "first working day after days off",
             "saturday": "Saturday", "sunday": "Sunday", "holiday": "holiday or closure"}
"""Day types a schedule norm is learned for: working days after a working day, the first
working day after days off (a longer pre-heat on Mondays is routine), Saturdays, Sundays and
holidays (weekday public holidays, closures and bridge days: held to the Sunday norm and to
the meter's own holidays, see :func:`schedule`)."""


def schedule_frame(series: pd.Series, calendar: SiteCalendar) -> pd.DataFrame:
    """The readings judged by :func:`schedule` (NaN dropped), with ``category`` (the event
    kind they may raise), ``daytype`` (the norm they are judged against, see
    :data:`DAY_TYPES`), ``part`` of the day (morning, daytime, evening), local ``day`` and
    ``hour``. Working days give ``after-hours`` outside the working hours; weekends give
    ``weekend``; weekday public holidays, closures and bridge days give ``holiday``.
    Readings within working hours of working days are left out."""
    days = calendar.days(series.index)
    hour = days["hour"].to_numpy()
    hours = calendar.working_hours
    in_hours = (hour >= hours.start) & (hour < hours.end)
    category = np.where(
        days["weekend"], "weekend",
        np.where(~days["working"], "holiday", np.where(in_hours, "", "after-hours")),
    )
    local_day = pd.DatetimeIndex(days["day"])
    saturday = local_day.day_of_week.to_numpy() == 5
    unique_days = local_day.unique()
    noon_before = (unique_days - pd.Timedelta(days=1) + pd.Timedelta(hours=12)).tz_localize(
        calendar.timezone, nonexistent="shift_forward", ambiguous=False)
    after_off = pd.Series(~calendar.days(noon_before)["working"].to_numpy(), index=unique_days)
    first = after_off.reindex(local_day).to_numpy(dtype=bool)
    daytype = np.where(category == "after-hours",
                       np.where(first, "first-working", "after-hours"),
                       np.where((category == "weekend") & saturday, "saturday", "sunday"))
    part = np.where(hour < hours.start, "morning", np.where(in_hours, "daytime", "evening"))
    labels = {"category": category, "daytype": daytype, "part": part}
    frame = pd.DataFrame({"value": series.to_numpy(),
                          **{k: pd.Series(v, dtype=object).to_numpy() for k, v in labels.items()},
                          "day": days["day"].to_numpy(), "hour": hour},
                         index=series.index).dropna(subset=["value"])
    return frame[frame["category"] != ""]


@dataclass
class _Norm:
    """What :func:`schedule` learned for one day type: its ``references`` (the hourly norm
    of the learning days and, with ``seasonal``, of the same weeks a year earlier, each with
    the mean degree days of its own days), the degree-day fit and the robust (centre, sigma)
    of day-part excess sums per part and over all parts."""

    references: list[tuple[pd.Series, np.ndarray | None]]
    mean: float
    dd_fit: tuple[np.ndarray, np.ndarray] | None
    spread: dict[str, tuple[float, float]]
    every: tuple[float, float]
    label: str

    def expected(self, rows: pd.DataFrame, dd: pd.DataFrame | None) -> np.ndarray:
        """Expected energy [kWh per interval] of ``rows`` (columns hour, day): the highest
        reference for their hour, each moved by the degree days of the row's day relative to
        those of the reference's own days (a colder year-ago week is not counted twice)."""
        out = np.full(len(rows), -np.inf)
        for norm, centre in self.references:
            hourly = rows["hour"].map(norm).fillna(self.mean).to_numpy()
            out = np.maximum(out, hourly + _degree_day_shift(self.dd_fit, rows, dd, centre))
        return out


def _year_ago(frame: pd.DataFrame, ctx: DetectionContext) -> np.ndarray:
    """Which rows of ``frame`` fall in the same weeks 52 weeks before the report period
    (± ``seasonal_weeks``)."""
    year = pd.Timedelta(days=364)  # 52 weeks: same weekdays a year earlier
    around = pd.Timedelta(days=7 * ctx.settings.schedule.seasonal_weeks)
    return np.asarray((frame.index >= ctx.start - year - around)
                      & (frame.index < ctx.end - year + around))


def _learn_norm(frame: pd.DataFrame, learn: pd.DataFrame, daytype: str,
                ctx: DetectionContext) -> _Norm:
    """The norm of ``learn`` (one day type's learning readings) per local hour, shifted by
    degree days, raised by the same weeks a year earlier (``seasonal``), and the spread of
    the learning days' excess per day part."""
    settings, dd = ctx.settings.schedule, ctx.degree_days
    norm = learn.groupby("hour")["value"].median()
    learn = learn.assign(expected=learn["hour"].map(norm))
    # the learning days' mean excess over the hourly norm, on their degree days
    dd_fit = degree_day_fit((learn["value"] - learn["expected"]).groupby(learn["day"]).mean(),
                            dd, 10, ctx.settings.degree_days.min_r2)
    learn["expected"] += _degree_day_shift(dd_fit, learn, dd)
    references: list[tuple[pd.Series, np.ndarray | None]] = [(norm, None)]
    ago = frame[(frame["daytype"] == daytype) & _year_ago(frame, ctx)]
    if settings.seasonal and ago["day"].nunique() >= settings.min_norm_days:
        # what was normal in the same weeks a year ago is normal now (term times, darker
        # mornings) at today's temperature: the expected use is the higher of the two
        ago_dd = None if dd is None else dd.reindex(ago["day"].unique())[["hdd", "cdd"]]
        references.append((
            ago.groupby("hour")["value"].median().reindex(norm.index).fillna(norm),
            None if ago_dd is None or ago_dd.isna().any().any() else ago_dd.mean().to_numpy()))
    learn_sums = (learn["value"] - learn["expected"]).groupby(
        [learn["day"], learn["part"]]).sum()
    spread = {}
    for day_part, sums in learn_sums.groupby(level="part"):
        centre = float(sums.median())
        spread[day_part] = (centre, 1.4826 * float(np.median(np.abs(sums - centre))))
    every = (float(learn_sums.median()),
             1.4826 * float(np.median(np.abs(learn_sums - learn_sums.median()))))
    return _Norm(references, float(norm.mean()), dd_fit, spread, every, DAY_TYPES[daytype])


def _flag_parts(report: pd.DataFrame, model: _Norm, settings: ScheduleSettings
                ) -> pd.DataFrame:
    """Day parts of ``report`` (with ``excess`` and ``expected``) whose summed excess over
    the norm is abnormal: columns n, excess, norm, centre, sigma, total, z."""
    grouped = report.assign(norm=report["expected"].abs(), n=1).groupby(["day", "part"])
    parts = grouped[["n", "excess", "norm"]].sum()
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


def _part_findings(meter: str, kind: str, model: _Norm, report: pd.DataFrame,
                   flagged: pd.DataFrame, step: pd.Timedelta, ctx: DetectionContext
                   ) -> list[Finding]:
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
        expected = float(rows["expected"].sum())
        findings.append(Finding(
            meter=meter, kind=kind, start=rows.index[0], end=rows.index[-1] + step,
            severity=squash(total / threshold), excess=rows["excess"],
            details={"day": str(pd.Timestamp(day).date()), "part": day_part,
                     "norm": model.label, "weather_normalised": model.dd_fit is not None,
                     "intervals": int(len(rows)), "actual_kwh": float(rows["value"].sum()),
                     "norm_kwh": expected, "sigma_kwh": sigma,
                     "robust_z": z, "threshold_kwh": threshold,
                     "hours": f"{hours.start:02d}-{hours.end:02d} local"},
            actual_kwh=float(rows["value"].sum()), expected_kwh=expected,
            band_kwh=(max(expected - threshold, 0.0), expected + threshold)))
    return findings


@register_detector("schedule")
def schedule(meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
             ) -> Found:
    """After-hours (working days outside the calendar's working hours), weekend and
    holiday (weekday public holidays, closures, bridge days) use above the meter's own norm
    for that day type (:data:`DAY_TYPES`: working day, Saturday, Sunday), hour and season.

    The norm per day type and local hour is the median of the last ``norm_days`` before
    the learning cut, shifted by the day's heating/cooling degree days when temperature
    explains the history; with ``seasonal`` and a year of history, the same weeks 52 weeks
    earlier (at today's temperature) raise the norm where they were higher. Holidays are held
    to the Sunday norm and, as well, to the meter's own holiday norm — its holidays, closures
    and bridge days of the last ``norm_days`` and (``seasonal``) of the same weeks a year
    earlier, when there are ``min_norm_days`` of them, judged by the whole day (heating
    through a Christmas closure as the year before is routine).

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
    key = (meter, "schedule-frame")
    if key not in ctx.cache:
        ctx.cache[key] = schedule_frame(series, ctx.calendar)
    frame = ctx.cache[key]
    learn_end = ctx.learned_before
    recent = (frame.index < learn_end) & (
        frame.index >= learn_end - pd.Timedelta(days=settings.norm_days))
    # the meter's own holidays, closures and bridge days: recent and a year earlier
    holidays = frame[(frame["category"] == "holiday")
                     & (recent | (_year_ago(frame, ctx) & settings.seasonal))]
    findings: list[Finding] = []
    warnings: list[DataWarning] = []
    period = frame[(frame.index >= ctx.start) & (frame.index < ctx.end)]
    for (kind, daytype), report in period.groupby(["category", "daytype"], sort=True):
        learn = frame[(frame["daytype"] == daytype) & recent]
        n_days = learn["day"].nunique()
        if n_days < settings.min_norm_days:
            warnings.append(DataWarning(
                "anomalies.few-norm-days",
                f"schedule: meter {meter!r} has {n_days} {DAY_TYPES[daytype]} days in the "
                f"{settings.norm_days} days before {learn_end.date()} (want >= "
                f"{settings.min_norm_days}); {kind} check skipped",
                {"meter": meter, "kind": kind, "days": int(n_days),
                 "wanted": settings.min_norm_days}))
            continue
        model = _learn_norm(frame, learn, str(daytype), ctx)
        report, flagged = _judge(report, model, ctx)
        if kind == "holiday" and holidays["day"].nunique() >= settings.min_norm_days:
            # closures keep their own routine (heating on or off), not one schedule: a
            # closure day must also be above the closure days before, judged whole
            own = _learn_norm(frame, holidays.assign(part="day"), "holiday", ctx)
            _, above_own = _judge(report.assign(part="day"), own, ctx)
            flagged = flagged[flagged.index.get_level_values("day").isin(
                above_own.index.get_level_values("day"))]
            model = replace(model, label="Sunday (and its holidays before)")
        findings += _part_findings(meter, str(kind), model, report, flagged, step, ctx)
    return findings, warnings


def _judge(report: pd.DataFrame, model: _Norm, ctx: DetectionContext
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``report`` with its ``expected`` use and ``excess`` over ``model``, and its flagged
    day parts (:func:`_flag_parts`)."""
    report = report.assign(expected=model.expected(report, ctx.degree_days))
    report = report.assign(excess=report["value"] - report["expected"])
    return report, _flag_parts(report, model, ctx.settings.schedule)


def degree_day_fit(y: pd.Series, dd: pd.DataFrame | None, min_days: int, min_r2: float
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """``y`` (one value per local day) regressed on the day's HDD and CDD: (mean degree days
    of the fitted days, coefficients [intercept, per HDD, per CDD]), or None without weather,
    with fewer than ``min_days`` days with weather, or when degree days explain little
    (R² < ``min_r2``)."""
    if dd is None:
        return None
    joined = dd.reindex(y.index)[["hdd", "cdd"]].dropna()
    if len(joined) < min_days:
        return None
    values = y.reindex(joined.index).to_numpy(dtype=float)
    x = joined.to_numpy()
    centre = x.mean(axis=0)
    design = np.column_stack([np.ones(len(x)), x - centre])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    total = float(np.sum((values - values.mean()) ** 2))
    r2 = 1 - float(np.sum((values - design @ coef) ** 2)) / total if total > 0 else 0.0
    return (centre, coef) if r2 >= min_r2 else None


def _degree_day_shift(fit: tuple[np.ndarray, np.ndarray] | None, rows: pd.DataFrame,
                      dd: pd.DataFrame | None, centre: np.ndarray | None = None) -> np.ndarray:
    """Per-reading shift of the hourly norm [kWh per interval] from the day's degree days:
    the slope ``fit`` by :func:`degree_day_fit` applied to the days of ``rows`` relative to
    ``centre`` (default: the fitted days' mean); zeros without a fit or when a day of
    ``rows`` has no weather."""
    zero = np.zeros(len(rows))
    if fit is None or dd is None:
        return zero
    target = dd.reindex(rows["day"].unique())
    if target.isna().any().any():
        return zero
    fit_centre, coef = fit
    per_day = (target[["hdd", "cdd"]].to_numpy()
               - (fit_centre if centre is None else centre)) @ coef[1:]
    return rows["day"].map(pd.Series(per_day, index=target.index)).to_numpy()


# --------------------------------------------------------------------------- level shift
@register_detector("level-shift")
def level_shift(meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
                ) -> Found:
    """A lasting change of baseload (daily mean of the three lowest readings, temperature
    effects removed when degree days explain it: R² >= ``degree_days.min_r2``) or of
    temperature sensitivity (slope of daily energy on degree days), found by binary
    segmentation over the last ``history_days`` before ``start`` and the period; reported
    when it starts in [start, end)."""
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
    fit = degree_day_fit(base[base.index < first], dd, s.min_weather_days,
                         ctx.settings.degree_days.min_r2)
    if fit is not None and dd is not None:
        joined = dd.reindex(base.index)[["hdd", "cdd"]]
        centre, coef = fit
        signal = base - (joined.fillna(joined.mean()).to_numpy() - centre) @ coef[1:]
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
        stop = min(_day_bounds(signal.index[b - 1] + pd.Timedelta(days=1), ctx.tz), ctx.run_end)
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
        stop = min(_day_bounds(days[b - 1] + pd.Timedelta(days=1), ctx.tz), ctx.run_end)
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


# --------------------------------------------------------------------------- above forecast
def native_intervals(times: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """The interval [h] each reading covers, and whether that span is known. A reading
    covers up to the next one; the last covers as long as the spacing before it (a lone
    reading: one hour). A reading followed by a gap (the next over twice as far as the one
    before) has an unknown span: the meter may have stopped after one interval, or the reading
    may carry the whole gap's energy (a poll gap merged into it); it is given the spacing
    before it and marked unknown, so no rate is judged from it."""
    t = pd.DatetimeIndex(times).as_unit("ns").asi8
    if len(t) < 2:
        return np.ones(len(t)), np.ones(len(t), dtype=bool)
    spacing = np.diff(t)
    after = np.append(spacing, spacing[-1])
    before = np.insert(spacing, 0, spacing[0])
    unknown = after > 2 * before
    return np.where(unknown, before, after) / pd.Timedelta("1h").value, ~unknown


@register_detector("above-forecast")
def above_forecast(meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext
                   ) -> Found:
    """The newest readings at their native interval (not the regular grid: a 1-minute
    reading counts as one minute, a partial hour is never taken for a whole one; a reading
    before a gap, whose span is unknown, is not judged: see :func:`native_intervals`; the
    ``suspect`` ones, such as merged poll gaps, are left out by :func:`detect`) whose rate
    [kWh/h] exceeds the issued forecast's upper band for their hour by ``margin``, for at
    least ``sustain`` without a break. Uses, for each hour, the latest forecast issued
    before it; the excess is measured against the forecast itself."""
    s = ctx.settings.above_forecast
    if ctx.forecasts is None:
        return [], [DataWarning("anomalies.no-forecasts",
                                "above-forecast: no forecasts given; detector skipped")]
    fc = ctx.forecasts[(ctx.forecasts["meter"] == meter)
                       & (ctx.forecasts["issued_at"] <= ctx.forecasts["time"])]
    raw = ctx.cache.get((meter, "raw"), series.dropna())
    raw = raw[(raw.index >= ctx.start) & (raw.index < ctx.end)]
    if fc.empty or raw.empty:
        return [], []
    fc = fc.sort_values("issued_at").drop_duplicates("time", keep="last")
    fc = fc.set_index("time").sort_index()
    fc_h = infer_interval(fc.index, default=pd.Timedelta("1h")) / pd.Timedelta("1h")
    times = pd.DatetimeIndex(raw.index).as_unit("ns")
    hours, known = native_intervals(times)
    pos = fc.index.searchsorted(times, side="right") - 1
    covered = (pos >= 0) & (times < fc.index[np.clip(pos, 0, None)]
                            + pd.Timedelta(hours=fc_h))
    at = np.clip(pos, 0, None)
    upper = fc["yhat_upper"].to_numpy()[at] / fc_h
    yhat = fc["yhat"].to_numpy()[at] / fc_h
    rate = raw.to_numpy() / hours
    above = covered & known & (rate > upper * (1 + s.margin)) & (rate > 0)
    # a reading that does not follow on from the one before (a gap) starts a new run
    gap = np.diff(times.asi8) > 1.5 * hours[:-1] * pd.Timedelta("1h").value
    broken = np.concatenate([[False], gap])
    sustain_h = pd.Timedelta(s.sustain) / pd.Timedelta("1h")
    findings = []
    for i, j in _unbroken_runs(above, broken):
        span_h = float(hours[i:j].sum())
        if span_h + 1e-9 < sustain_h:
            continue
        excess = pd.Series((rate[i:j] - yhat[i:j]) * hours[i:j], index=times[i:j])
        expected = float((yhat[i:j] * hours[i:j]).sum())
        top = float((upper[i:j] * hours[i:j]).sum())
        ratio = float(np.mean((rate[i:j] - upper[i:j]) / np.maximum(upper[i:j], 1e-9)))
        findings.append(Finding(
            meter=meter, kind="above-forecast", start=times[i],
            end=times[j - 1] + pd.Timedelta(hours=float(hours[j - 1])),
            severity=squash(ratio / max(s.margin, 0.05)), excess=excess,
            details={"readings": j - i, "hours": round(span_h, 4),
                     "mean_rate_kwh_h": float(rate[i:j].mean()),
                     "forecast_rate_kwh_h": float(yhat[i:j].mean()),
                     "upper_rate_kwh_h": float(upper[i:j].mean()),
                     "model": str(fc["model"].iloc[int(at[i])])},
            actual_kwh=float(raw.to_numpy()[i:j].sum()), expected_kwh=expected,
            band_kwh=(float((fc["yhat_lower"].to_numpy()[at[i:j]] / fc_h
                             * hours[i:j]).sum()), top)))
    return findings, []


def _unbroken_runs(mask: np.ndarray, broken: np.ndarray) -> list[tuple[int, int]]:
    """:func:`runs` of ``mask``, split where ``broken`` starts a new run."""
    out = []
    for i, j in runs(mask):
        cuts = [i, *(k for k in range(i + 1, j) if broken[k]), j]
        out += list(zip(cuts[:-1], cuts[1:], strict=True))
    return out


# --------------------------------------------------------------------------- gap edges
def gap_edge_mask(series: pd.Series, settings: GapEdgeSettings | None = None) -> np.ndarray:
    """True where a reading of ``series`` (a regular grid, NaN = missing) sits right next to
    a gap and is below ``ratio`` x the median of its references (the readings just beside
    it, and the same slot one day and one week earlier, where present): a partial reading
    (the meter reported only part of the interval). Such readings are ``suspect``: kept,
    but never learned from, used by persistence forecasts or M&V."""
    settings = settings or GapEdgeSettings()
    values = series.to_numpy(dtype=float)
    present = np.isfinite(values)
    before = np.concatenate([[False], ~present[:-1]])  # the series' ends are not gaps
    after = np.concatenate([~present[1:], [False]])
    edge = present & (before | after)
    step = series.index[1] - series.index[0] if len(series) > 1 else pd.Timedelta("1h")
    lags = [int(pd.Timedelta(days=d) / step) for d in (1, 7)]
    out = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(edge):
        refs = [values[j] for j in (i - 1, i + 1, *(i - lag for lag in lags))
                if 0 <= j < len(values) and j != i]
        refs = [r for r in refs if np.isfinite(r)]
        if refs and values[i] < settings.ratio * float(np.median(refs)):
            out[i] = True
    return out


def flag_gap_edges(readings: pd.DataFrame, settings: GapEdgeSettings | None = None
                   ) -> pd.DataFrame:
    """``readings`` with the partial energy readings at gap edges (:func:`gap_edge_mask`,
    per meter on its own interval) marked quality ``suspect``. Forecasting (persistence,
    training), M&V and charts call this and drop or draw ``suspect`` as gaps."""
    readings = validate_readings(readings)
    quality = readings["quality"].to_numpy(dtype=object).copy()
    energy = readings["quantity"] == "energy"
    for _meter, rows in readings[energy].groupby("meter", sort=False):
        step = infer_interval(rows["time"], default=pd.Timedelta("1h"))
        values = pd.Series(rows["value"].to_numpy(float), index=pd.DatetimeIndex(rows["time"]))
        values = values[~values.index.duplicated()]
        grid = regular_series(values, step, values.index[-1] + step)
        suspect = grid.index[gap_edge_mask(grid, settings)]
        hit = rows.index[pd.DatetimeIndex(rows["time"]).isin(suspect)]
        quality[readings.index.get_indexer(hit)] = "suspect"
    return readings.assign(quality=quality)


# --------------------------------------------------------------------------- events
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "usage": ("above-forecast", "forecast-residual", "after-hours", "weekend", "holiday",
              "spike"),
    "data": ("gap", "zero-run", "stuck", "negative", "register-reset"),
}
"""Findings of kinds in one group that overlap on a meter are one event listing its reasons;
an event's id is its meter, group and start. Other kinds (``level-shift``,
``sensitivity-shift``) are each a group of their own."""
CHANGE_KINDS = ("level-shift", "sensitivity-shift")
"""Lasting changes (they go on until someone acts)."""
WASTE_KINDS = ("after-hours", "weekend", "holiday", "forecast-residual", "above-forecast")
"""Kinds judged as waste by :class:`MaterialitySettings` (``share_of_day``, ``min_cost``)."""
SEVERITY_WORDS = ((0.9, "critical"), (0.75, "high"), (0.5, "moderate"), (0.0, "low"))
"""Severity words by lowest severity (see :func:`event_severity`)."""


def kind_group(kind: str) -> str:
    """The group (:data:`KIND_GROUPS`) of an event kind."""
    return next((g for g, kinds in KIND_GROUPS.items() if kind in kinds), kind)


def event_severity(materiality: float, confidence: float) -> float:
    """Severity in 0..1: ``1 - exp(-m·c)`` with ``m`` the excess over the materiality
    threshold (1 = just material) and ``c`` the detector's confidence in 0..1 (how far its
    statistic passed its own threshold, squashed). Monotonic in both; words by
    :data:`SEVERITY_WORDS`: low < 0.5 ≤ moderate < 0.75 ≤ high < 0.9 ≤ critical."""
    return float(np.clip(1.0 - np.exp(-max(materiality, 0.0) * max(confidence, 0.0)), 0, 1))


def severity_word(severity: float) -> str:
    """The word of a severity (:data:`SEVERITY_WORDS`)."""
    return next(word for low, word in SEVERITY_WORDS if severity >= low)


def merge_findings(findings: Sequence[Finding], gap: pd.Timedelta) -> list[Finding]:
    """Merge findings of the same meter and kind that touch or are at most ``gap`` apart."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.meter, f.kind, f.start)):
        last = merged[-1] if merged else None
        if last and last.meter == f.meter and last.kind == f.kind and f.start <= last.end + gap:
            merged[-1] = _joined(last, f)
        else:
            merged.append(f)
    return merged


def _add(a: float, b: float) -> float:
    return float(np.nansum([a, b])) if not (np.isnan(a) and np.isnan(b)) else float("nan")


def _joined(last: Finding, f: Finding) -> Finding:
    """Two findings of one kind as one."""
    parts = [p for p in (last.excess, f.excess) if not p.empty]
    details = dict(last.details)
    details["merged"] = int(details.get("merged", 1)) + 1
    for key, value in f.details.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and \
                key in ("intervals", "hours", "readings", "actual_kwh", "norm_kwh"):
            details[key] = details.get(key, 0) + value
    band = None
    if last.band_kwh is not None and f.band_kwh is not None:
        band = (last.band_kwh[0] + f.band_kwh[0], last.band_kwh[1] + f.band_kwh[1])
    return Finding(
        meter=f.meter, kind=f.kind, start=min(last.start, f.start), end=max(last.end, f.end),
        severity=max(last.severity, f.severity),
        excess=pd.concat(parts) if parts else last.excess, details=details,
        actual_kwh=_add(last.actual_kwh, f.actual_kwh),
        expected_kwh=_add(last.expected_kwh, f.expected_kwh), band_kwh=band or last.band_kwh,
        typical_day_kwh=last.typical_day_kwh)


@dataclass
class Episode:
    """One event before it becomes a row: overlapping findings of one kind group on one
    meter (the first of ``reasons`` is the primary, the most severe)."""

    meter: str
    start: pd.Timestamp
    end: pd.Timestamp
    reasons: list[Finding]

    @property
    def primary(self) -> Finding:
        return self.reasons[0]

    @property
    def typical_day_kwh(self) -> float:
        """The meter's typical daily energy [kWh] learned before the primary's week."""
        return self.primary.typical_day_kwh

    @property
    def group(self) -> str:
        return kind_group(self.primary.kind)

    @property
    def excess(self) -> pd.Series:
        """Excess [kWh per interval] of the primary reason (reasons overlap; never summed)."""
        return self.primary.excess.dropna()


def episodes(findings: Sequence[Finding], settings: AnomalySettings) -> list[Episode]:
    """Findings merged per kind (touching or within :meth:`AnomalySettings.merge_gap`), then
    overlapping findings of one kind group on one meter joined into episodes."""
    by_kind: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        by_kind.setdefault((f.meter, f.kind), []).append(f)
    merged = [m for (_, kind), group in sorted(by_kind.items())
              for m in merge_findings(group, settings.merge_gap(kind))]
    out: list[Episode] = []
    merged.sort(key=lambda f: (f.meter, kind_group(f.kind), f.start))
    for f in merged:
        last = out[-1] if out else None
        if last and last.meter == f.meter and last.group == kind_group(f.kind) \
                and f.start < last.end:
            last.reasons.append(f)
            last.end = max(last.end, f.end)
        else:
            out.append(Episode(f.meter, f.start, f.end, [f]))
    for e in out:
        e.reasons.sort(key=lambda f: (-f.severity, f.start))
    return out


def _when(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> str:
    """'Saturday 06:00–13:00' within a local day, else 'Sat 7 Dec 22:00 – Sun 8 Dec 03:00'."""
    a, b = start.tz_convert(tz), end.tz_convert(tz)
    if (b - pd.Timedelta(1, "ns")).date() == a.date():
        return f"{a:%A} {a:%d %b} {a:%H:%M}–{b:%H:%M}"
    return f"{a:%a %d %b %H:%M} – {b:%a %d %b %H:%M}"


USUAL = {"forecast-residual": "the issued forecast",
         "above-forecast": "the issued forecast (sustained above its upper band)",
         "spike": "the readings around it", "level-shift": "the baseload before"}
"""What a finding's expected energy is, by kind (schedule kinds: their norm; any other:
'what is usual'), for the explanation."""


def _usual(args: dict[str, Any]) -> str:
    """The explanation's 'above ...' part in English (see :func:`explanation_args`)."""
    if args["usual"] == "norm":
        weather = " at this temperature" if args["weather"] else ""
        return f"the usual {args['norm']} at these hours{weather}"
    return USUAL.get(args["usual"], "what is usual")


def explanation_args(e: Episode, excess_kwh: float, tz: str) -> dict[str, Any]:
    """What an event's one-sentence explanation says, as data: ``shape`` (the sentence: a
    data-quality kind, ``level-shift``, ``sensitivity-shift``, ``used`` or ``excess``),
    ``start``/``end`` (UTC ISO) and ``tz`` (the local window), ``also`` (the other reasons'
    kinds) and the shape's values: ``hours``, ``intervals``, ``value_kwh`` (a stuck or the
    lowest negative reading), ``before``/``after`` (kWh per interval, or per degree day) and
    ``up``, ``actual_kwh``, ``excess_kwh``, ``share_pct`` (excess over expected [%]),
    ``usual`` (what it was compared with: ``norm``, with ``norm`` the day type's name and
    ``weather``, or a kind of :data:`USUAL`). :func:`explanation` writes it in English; the
    dashboard in the reader's language."""
    f, d = e.primary, e.primary.details
    args: dict[str, Any] = {"start": e.start.isoformat(), "end": e.end.isoformat(), "tz": tz,
                            "also": sorted({r.kind for r in e.reasons[1:]} - {f.kind})}
    if f.kind == "gap":
        return {**args, "shape": "gap", "hours": float(d.get("hours", 0))}
    if f.kind == "zero-run":
        return {**args, "shape": "zero-run", "intervals": d.get("intervals")}
    if f.kind == "stuck":
        return {**args, "shape": "stuck", "value_kwh": float(d.get("value_kwh", 0)),
                "intervals": d.get("intervals")}
    if f.kind in ("negative", "register-reset"):
        return {**args, "shape": f.kind,
                "value_kwh": float(d.get("min_kwh", d.get("value_kwh", 0)))}
    if f.kind == "sensitivity-shift":
        return {**args, "shape": f.kind, "before": float(d.get("slope_before", 0)),
                "after": float(d.get("slope_after", 0))}
    if f.kind == "level-shift":
        return {**args, "shape": f.kind, "before": float(d.get("before_kwh_per_interval", 0)),
                "after": float(d.get("after_kwh_per_interval", 0)),
                "up": float(d.get("shift_kwh_per_interval", 0.0)) > 0}
    args.update(usual="norm" if f.kind in SCHEDULE_KINDS else f.kind,
                norm=str(d.get("norm", f.kind)), weather=bool(d.get("weather_normalised")),
                excess_kwh=float(excess_kwh))
    if np.isfinite(f.actual_kwh) and np.isfinite(f.expected_kwh) and f.expected_kwh > 0:
        return {**args, "shape": "used", "actual_kwh": float(f.actual_kwh),
                "share_pct": float(excess_kwh / f.expected_kwh * 100)}
    return {**args, "shape": "excess"}


def explanation(args: dict[str, Any]) -> str:
    """The English sentence of :func:`explanation_args` (the CLI's and alerts' text)."""
    when = _when(pd.Timestamp(args["start"]), pd.Timestamp(args["end"]), args["tz"])
    since = when.split(" –")[0]
    shape = args["shape"]
    if shape == "gap":
        text = f"{when}: no readings for {args['hours']:g} h"
    elif shape == "zero-run":
        text = f"{when}: {args['intervals']} readings of zero, unusual for this meter"
    elif shape == "stuck":
        text = f"{when}: the same reading {args['value_kwh']:.4g} kWh repeated " \
               f"{args['intervals']} times"
    elif shape in ("negative", "register-reset"):
        text = f"{when}: negative readings down to {args['value_kwh']:.4g} kWh " \
               f"({'a register reset' if shape == 'register-reset' else 'impossible use'})"
    elif shape == "sensitivity-shift":
        text = f"from {since} the use per degree day changed from " \
               f"{args['before']:.1f} to {args['after']:.1f} kWh"
    elif shape == "level-shift":
        text = f"from {since} the baseload moved {'up' if args['up'] else 'down'} " \
               f"from {args['before']:,.1f} to {args['after']:,.1f} kWh per interval"
    elif shape == "used":
        text = f"{when} used {args['actual_kwh']:,.0f} kWh, {args['excess_kwh']:,.0f} kWh " \
               f"({args['share_pct']:+.0f} %) above {_usual(args)}"
    else:
        text = f"{when}: {args['excess_kwh']:,.0f} kWh above {_usual(args)}"
    also = args["also"]
    return text + (f" (also {', '.join(also)})" if also else "") + "."


def typical_day_kwh(series: pd.Series, before: pd.Timestamp, tz: str, days: int) -> float:
    """Median daily energy [kWh] over the ``days`` local days before ``before`` (days with
    at least 75 % of their readings, scaled to a whole day); NaN without such days."""
    history = series[(series.index < before)
                     & (series.index >= before - pd.Timedelta(days=days))].dropna()
    if history.empty:
        return float("nan")
    step_h = interval_hours(history.index)
    per_day = 24 / step_h
    grouped = history.groupby(local_dates(history.index, tz))
    count = grouped.count()
    full = count >= 0.75 * per_day
    if not full.any():
        return float("nan")
    return float((grouped.mean()[full] * per_day).median())


@dataclass
class _Priced:
    """What pricing one episode gives: cost, currency and CO2 (NaN/None when unknown)."""

    cost: float = float("nan")
    currency: str | None = None
    co2_kg: float = float("nan")


def _price(e: Episode, tariff: Tariff | None, co2_factor: float | None, tz: str,
           warnings: list[DataWarning]) -> _Priced:
    excess = e.excess.clip(lower=0)
    out = _Priced()
    if co2_factor is not None:
        out.co2_kg = float(excess.sum() * co2_factor)
    if tariff is None or excess.empty:
        return out
    try:
        price = marginal_price(tariff, pd.DatetimeIndex(excess.index), tz)
    except TariffError as exc:
        warnings.append(DataWarning(
            "anomalies.cost-left-out", f"meter {e.meter!r}: event costs left out: {exc}",
            {"meter": e.meter, "tariff": tariff.id}))
        return out
    out.cost = float((excess.to_numpy() * price.to_numpy()).sum())
    out.currency = tariff.currency
    return out


def _affected_kwh(f: Finding) -> float:
    """Energy a finding is about [kWh]: its positive excess; for data-quality findings the
    energy it leaves missing or in doubt; for a lasting change its effect over one day."""
    d, excess = f.details, f.excess.dropna()
    if kind_group(f.kind) == "data":
        if f.kind == "gap":
            return f.expected_kwh
        typical = float(d.get("typical_kwh", np.nan))
        if not np.isfinite(typical) and np.isfinite(f.typical_day_kwh):
            typical = f.typical_day_kwh / 24
        wrong = abs(float(d.get("min_kwh", d.get("value_kwh", 0.0)))) \
            if f.kind in ("negative", "register-reset") else 0.0
        doubt = int(d.get("intervals", 1)) * typical + wrong
        return doubt if np.isfinite(typical) else float("nan")
    if f.kind in CHANGE_KINDS:
        per_day = len(excess) / max((f.end - f.start) / pd.Timedelta("1D"), 1e-9)
        return float(abs(excess.mean()) * per_day) if len(excess) else float("nan")
    if f.kind == "above-forecast":
        rate = excess.clip(lower=0).sum() / max(float(d["hours"]), 1e-9)
        return float(rate * 24)  # projected over a day: a live fault is judged early
    return float(excess.clip(lower=0).sum())


def materiality(f: Finding, settings: MaterialitySettings, cost: float = float("nan")
                ) -> float:
    """How material a finding is: its energy (:func:`_affected_kwh`) over its threshold
    (:class:`MaterialitySettings`); 0 when waste costs less than ``min_cost`` (a NaN ``cost``,
    unpriced, is not tested); 1 without a typical day to judge by. Material at >= 1."""
    waste = f.kind in WASTE_KINDS
    if f.kind == "above-forecast" and np.isfinite(cost):  # projected over a day, as the energy
        cost = cost * 24 / max(float(f.details["hours"]), 1e-9)
    if waste and np.isfinite(cost) and cost < settings.min_cost:
        return 0.0
    share = settings.share_of_day if waste else settings.data_share_of_day
    threshold = share * f.typical_day_kwh
    if not np.isfinite(threshold) or threshold <= 0:
        return 1.0
    affected = _affected_kwh(f)
    return affected / threshold if np.isfinite(affected) else 0.0


def episode_rows(
    found: Sequence[Episode], settings: AnomalySettings, tz: str,
    tariff: Tariff | dict[str, Tariff] | None = None,
    co2_factors: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Event rows of the material episodes (see :class:`MaterialitySettings`) and warnings.
    Each row's ``details`` carry ``reasons``, ``explanation`` (English) and
    ``explanation_args`` (:func:`explanation_args`, for other languages), ``severity_word``,
    ``expected_kwh``, ``band_kwh``, ``cost``/``currency`` (with a tariff: the
    :func:`~wattlens.analytics.tariffs.marginal_price` of the version valid at each interval,
    per-kWh surcharges included), ``co2_kg`` (with a factor) and the materiality test."""
    m = settings.materiality
    rows: list[dict[str, Any]] = []
    warnings: list[DataWarning] = []
    immaterial = 0
    for e in found:
        meter_tariff = tariff.get(e.meter) if isinstance(tariff, dict) else tariff
        priced = _price(e, meter_tariff, (co2_factors or {}).get(e.meter), tz, warnings)
        # material when any reason is; the most severe material reason leads the event
        ratios = {id(r): materiality(r, m, priced.cost) for r in e.reasons}
        leading = [r for r in e.reasons if ratios[id(r)] >= 1.0]
        if not leading:
            immaterial += 1
            continue
        before = e.primary
        e.reasons.sort(key=lambda r: (ratios[id(r)] < 1.0, -r.severity, r.start))
        if e.primary is not before:  # priced by the excess of the reason that leads
            priced = _price(e, meter_tariff, (co2_factors or {}).get(e.meter), tz, warnings)
        ratio = ratios[id(e.primary)]
        f = e.primary
        excess_kwh = float(e.excess.clip(lower=0).sum()) if e.group != "data" else 0.0
        if f.kind in ("level-shift", "sensitivity-shift", "negative"):
            excess_kwh = float(e.excess.sum())
        severity = event_severity(ratio, max(r.severity for r in e.reasons))
        args = explanation_args(e, excess_kwh, tz)
        details = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in f.details.items()}
        details.update({
            "reasons": [{"kind": r.kind, "start": r.start.isoformat(), "end": r.end.isoformat(),
                         "confidence": round(r.severity, 4)} for r in e.reasons],
            "explanation": explanation(args),
            "explanation_args": args,
            "severity_word": severity_word(severity),
            "typical_day_kwh": round(e.typical_day_kwh, 3),
            "materiality": round(ratio, 3),
        })
        if np.isfinite(f.expected_kwh):
            details["expected_kwh"] = round(f.expected_kwh, 3)
        if f.band_kwh is not None:
            details["band_kwh"] = [round(f.band_kwh[0], 3), round(f.band_kwh[1], 3)]
        if np.isfinite(f.actual_kwh):
            details["actual_kwh"] = round(f.actual_kwh, 3)
        if np.isfinite(priced.cost):
            details["cost"], details["currency"] = round(priced.cost, 2), priced.currency
        if np.isfinite(priced.co2_kg):
            details["co2_kg"] = round(priced.co2_kg, 2)
        rows.append({"event_id": event_id(e.meter, e.group, e.start), "meter": e.meter,
                     "start": e.start, "end": e.end, "kind": f.kind,
                     "severity": round(severity, 4), "excess_kwh": round(excess_kwh, 3),
                     "details": json.dumps(details, sort_keys=True, default=str)})
    if immaterial:
        warnings.append(DataWarning(
            "anomalies.immaterial",
            f"{immaterial} findings left out as immaterial (excess below "
            f"{m.share_of_day:.0%} of a typical day or cost below {m.min_cost:g})",
            {"findings": immaterial}))
    if not rows:
        return validate_events(pd.DataFrame(columns=EVENT_COLUMNS)), unique(warnings)
    return validate_events(pd.DataFrame(rows)), unique(warnings)


def reconcile(new: pd.DataFrame, stored: pd.DataFrame, start: pd.Timestamp,
              end: pd.Timestamp) -> pd.DataFrame:
    """``new`` events of a run that judged [``start``, ``end``), each taking the id of a
    ``stored`` event of the same meter and kind group it overlaps or touches: a run that
    continues an episode extends that event instead of adding one. Where the stored event
    reaches outside [start, end) (judged by another run), its span, severity and excess are
    kept as the larger of the two, so re-running an older window never shrinks an event.
    Stored events no new event touches are left alone."""
    if new.empty or stored.empty:
        return new
    stored = stored.assign(group=stored["kind"].map(kind_group)).sort_values("start")
    rows = []
    for _, row in new.iterrows():
        row = row.copy()
        same = stored[(stored["meter"] == row["meter"])
                      & (stored["group"] == kind_group(row["kind"]))
                      & (stored["start"] <= row["end"]) & (stored["end"] >= row["start"])]
        if not same.empty:
            first = same.iloc[0]
            row["event_id"] = first["event_id"]
            outside = first["start"] < start or same["end"].max() > end
            row["start"] = min(first["start"], row["start"])
            if outside:
                row["end"] = max(same["end"].max(), row["end"])
                row["severity"] = max(float(same["severity"].max()), float(row["severity"]))
                row["excess_kwh"] = max(float(same["excess_kwh"].max()),
                                        float(row["excess_kwh"]))
        rows.append(row)
    out = pd.DataFrame(rows)
    # two new events joined to one stored event become one (the later extends the earlier)
    keep = []
    for _, group in out.sort_values("start").groupby("event_id", sort=False):
        row = group.iloc[0].copy()
        row["end"] = group["end"].max()
        row["severity"] = group["severity"].max()
        row["excess_kwh"] = group["excess_kwh"].max()
        keep.append(row)
    return validate_events(pd.DataFrame(keep)[EVENT_COLUMNS])


# --------------------------------------------------------------------------- running
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


def day_start(at: pd.Timestamp, tz: str) -> pd.Timestamp:
    """Local midnight [UTC] of the local day holding ``at``."""
    return at.tz_convert(tz).normalize().tz_convert("UTC")


def blocks(start: pd.Timestamp, end: pd.Timestamp, tz: str
           ) -> list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]]:
    """The (learn_end, report start, report end) of each local week (Monday 00:00) that
    [local midnight of ``start``, ``end``) touches: a day is always judged with what was
    learned before its week, whichever window holds it."""
    first = start.tz_convert(tz).normalize()
    monday = (first - pd.DateOffset(days=first.day_of_week)).normalize()
    out = []
    while monday.tz_convert("UTC") < end:
        nxt = monday + pd.DateOffset(days=7)
        out.append((monday.tz_convert("UTC"), max(monday, first).tz_convert("UTC"),
                    min(nxt.tz_convert("UTC"), end)))
        monday = nxt
    return out


def grid_series(raw: pd.Series, step: pd.Timedelta, native: pd.Timedelta, end: pd.Timestamp
                ) -> pd.Series:
    """Energy readings [kWh] summed into a regular grid of ``step`` up to ``end`` (missing
    slots NaN); a last slot the readings (every ``native``) do not yet fill is left out, so
    a partial current interval is never taken for a whole one."""
    if raw.empty:
        return raw.astype("float64")
    origin = raw.index[0].floor(step) if step <= pd.Timedelta("1D") else raw.index[0]
    slots = raw.index.floor(step) if step <= pd.Timedelta("1D") else raw.index
    summed = raw.groupby(slots).sum(min_count=1)
    last = summed.index[-1]
    if native < step and raw.index[-1] + native < last + step:
        end = min(end, last)
    grid = pd.date_range(origin, end - pd.Timedelta(1, "ns"), freq=step)
    return summed.reindex(grid).astype("float64")


def _meter_findings(meter: str, series: pd.Series, step: pd.Timedelta, names: list[str],
                    ctx: DetectionContext) -> Found:
    """Every detector of ``names`` on one meter for one block."""
    found: list[Finding] = []
    warnings: list[DataWarning] = []
    for name in names:
        more, warned = DETECTORS[name](meter, series, step, ctx)
        found += more
        warnings += warned
    return found, warnings


def detect(
    readings: pd.DataFrame,
    start: Any,
    end: Any,
    *,
    weather: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    calendar: SiteCalendar | None = None,
    tariff: Tariff | dict[str, Tariff] | None = None,
    co2_factors: dict[str, float] | None = None,
    detectors: Sequence[str] | None = None,
    missing_zero: bool = False,
    settings: AnomalySettings | None = None,
) -> DetectionResult:
    """Run ``detectors`` (default: all registered) on every energy meter of ``readings``.

    ``readings`` should include history before ``start`` (a year is best) to learn normal
    behaviour; ``weather`` is wide (index UTC time, temperature [degC]); ``forecasts`` are
    forecasts as issued; ``calendar`` (default UTC, no holidays) is the site's days and
    working hours; ``co2_factors`` [kgCO2/kWh] per meter.

    The period reported is [local midnight of ``start``, ``end``), judged week by week
    (:func:`blocks`) with norms learned before each week, so any window holding a day gives
    that day the same events. Readings marked ``suspect`` and partial readings at gap edges
    (:func:`gap_edge_mask`) are left out. Findings become material events
    (:func:`episode_rows`). Returns validated events, warnings and the settings."""
    start_ts, end_ts = _period(start, end)
    settings = settings or AnomalySettings()
    names = list(detectors) if detectors else DETECTORS.names()
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {DETECTORS.names()}")
    calendar = calendar or SiteCalendar()
    tz = calendar.timezone
    start_ts = day_start(start_ts, tz)
    readings = validate_readings(readings)
    energy = readings[readings["quantity"] == "energy"]
    forecasts = validate_forecasts(forecasts) if forecasts is not None else None
    cache: dict[tuple[str, str], Any] = {}
    base = DetectionContext(start=start_ts, end=end_ts, calendar=calendar, weather=weather,
                            forecasts=forecasts, settings=settings, cache=cache)
    warnings: list[DataWarning] = []
    if weather is not None and base.temperature is None:
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
        return DetectionResult(episode_rows([], settings, tz)[0], warnings, settings)
    data_end = min(end_ts, energy["time"].max() + infer_interval(energy["time"]))
    # in_period and data_end above count zeros, so trailing zeros still become gaps
    kept = zeros_as_missing(energy) if missing_zero else energy
    suspect = 0
    found: list[Episode] = []
    finest = pd.Timedelta(settings.grid_min)
    plan = blocks(start_ts, end_ts, tz)
    for meter, rows in kept.groupby("meter", sort=True):
        rows = rows[(rows["time"] < end_ts) & (rows["quality"] != "suspect")]
        if rows.empty:
            continue
        raw = pd.Series(rows["value"].to_numpy(float),
                        index=pd.DatetimeIndex(rows["time"]).astype("datetime64[ns, UTC]"))
        raw = raw[~raw.index.duplicated(keep="last")]
        native = infer_interval(raw.index, default=pd.Timedelta("1h"))
        step = max(native, finest)
        series = grid_series(raw, step, native, data_end)
        if series.empty:
            continue
        edges = gap_edge_mask(series, settings.gap_edge)
        suspect += int(edges.sum())
        series[edges] = np.nan
        cache[(str(meter), "raw")] = raw
        meter_found: list[Finding] = []
        for learn_end, b_start, b_end in plan:
            ctx = DetectionContext(
                start=b_start, end=b_end, calendar=calendar, weather=weather,
                forecasts=forecasts, settings=settings, learn_end=learn_end,
                window_end=end_ts, cache=cache)
            more, warned = _meter_findings(str(meter), series, step, names, ctx)
            typical = typical_day_kwh(series, learn_end, tz, settings.materiality.typical_days)
            for f in more:
                f.typical_day_kwh = typical
            meter_found += more
            warnings += warned
        found += episodes(meter_found, settings)
    if suspect:
        warnings.append(DataWarning(
            "anomalies.gap-edge-readings",
            f"{suspect} partial readings at gap edges left out (suspect)",
            {"readings": suspect}))
    events, warned = episode_rows(found, settings, tz, tariff, co2_factors)
    warnings = unique(warnings + warned)
    log.info("anomalies: %d meters, %d events in [%s, %s), %d warnings",
             energy["meter"].nunique(), len(events), start_ts.isoformat(), end_ts.isoformat(),
             len(warnings))
    return DetectionResult(events, warnings, settings)
