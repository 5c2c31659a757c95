"""Anomaly detectors: pure functions from readings (and weather, forecasts) to events.

Each detector is registered by name with :func:`register_detector` and looks at one meter's
energy [kWh per interval] on a regular grid (missing readings are NaN inside, absent rows
outside). History before ``start`` teaches the detector what is normal; only [start, end) is
reported. :func:`detect` runs the chosen detectors on every meter, merges contiguous findings
of the same kind and returns an events frame per :func:`wattlens.store.schema.validate_events` plus
warnings with numbers (missing temperature, too little history, ...).

Event kinds: ``forecast-residual``; ``gap``, ``zero-run``, ``stuck``, ``negative``, ``spike``,
``register-reset`` (data quality); ``after-hours``, ``weekend``, ``holiday`` (schedule);
``level-shift``, ``sensitivity-shift`` (change points).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from wattlens.analytics.tariffs import Tariff, TariffError, energy_price
from wattlens.core.base import Frozen
from wattlens.core.calendar import holiday_mask, local_dates
from wattlens.store.csvio import zeros_as_missing
from wattlens.store.schema import (
    EVENT_COLUMNS,
    validate_events,
    validate_forecasts,
    validate_readings,
)

log = logging.getLogger(__name__)


class AnomalySettings(Frozen):
    """Tunables of every detector, ``[analytics.anomalies.<detector>]``
    in the config; written into every result."""


HDD_BASE_C = 15.5
"""Base temperature of heating degree days [degC] (UK convention)."""
CDD_BASE_C = 18.0
"""Base temperature of cooling degree days [degC]."""


# --------------------------------------------------------------------------- calendar
def local_calendar(index: pd.DatetimeIndex, tz: str, country: str | None) -> pd.DataFrame:
    """Local-time features of UTC instants: ``day`` (local date, tz-naive midnight), ``hour``,
    ``weekend``, ``holiday`` (public holiday of ``country`` on a weekday; ``GB-ENG`` style
    codes add the subdivision's own holidays) and ``working``."""
    local = index.tz_convert(tz)
    day = local_dates(index, tz)
    weekend = np.asarray(local.day_of_week >= 5)
    holiday = np.zeros(len(index), dtype=bool)
    if country:
        holiday = holiday_mask(day, country) & ~weekend
    return pd.DataFrame(
        {
            "day": day,
            "hour": np.asarray(local.hour),
            "weekend": weekend,
            "holiday": holiday,
            "working": ~weekend & ~holiday,
        },
        index=index,
    )


def degree_days(temperature: pd.Series, tz: str) -> pd.DataFrame:
    """Daily mean temperature [degC], HDD and CDD [K·day] per local day from hourly
    temperature [degC] (index UTC)."""
    temperature = temperature.dropna()
    day = local_dates(temperature.index, tz)
    mean = temperature.groupby(day).mean()
    return pd.DataFrame(
        {
            "temperature": mean,
            "hdd": (HDD_BASE_C - mean).clip(lower=0),
            "cdd": (mean - CDD_BASE_C).clip(lower=0),
        }
    )


def infer_step(times: pd.Series | pd.DatetimeIndex) -> pd.Timedelta:
    """The meter's reading interval: the most common spacing of its timestamps."""
    diffs = pd.Series(pd.DatetimeIndex(times).sort_values()).diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        return pd.Timedelta("1h")
    return pd.Timedelta(diffs.mode().iloc[0])


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
    tz: str = "UTC"
    country: str | None = None
    weather: pd.DataFrame | None = None
    forecasts: pd.DataFrame | None = None
    open_hour: int = 7
    close_hour: int = 19
    warnings: list[str] = field(default_factory=list)

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
        return None if self.temperature is None else degree_days(self.temperature, self.tz)

    def warn(self, message: str) -> None:
        """Record a warning once."""
        if message not in self.warnings:
            self.warnings.append(message)


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


Detector = Callable[[str, pd.Series, pd.Timedelta, DetectionContext], list[Finding]]
DETECTORS: dict[str, Detector] = {}
"""Registered detectors by name."""


def register_detector(name: str) -> Callable[[Detector], Detector]:
    """Register ``fn(meter, series, step, ctx) -> list[Finding]`` under ``name``."""

    def decorator(fn: Detector) -> Detector:
        DETECTORS[name] = fn
        return fn

    return decorator


@dataclass
class DetectionResult:
    """Events (per :data:`wattlens.store.schema.EVENT_COLUMNS`) and warnings with numbers."""

    events: pd.DataFrame
    warnings: list[str]


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
    meter: str, series: pd.Series, step: pd.Timedelta, ctx: DetectionContext, min_run: int = 3
) -> list[Finding]:
    """Actuals outside the issued forecast's interval for ``min_run`` or more consecutive
    intervals, on the same side. Uses, for each time, the latest forecast issued before it."""
    if ctx.forecasts is None:
        ctx.warn("forecast-residual: no forecasts given; detector skipped")
        return []
    fc = ctx.forecasts[ctx.forecasts["meter"] == meter]
    fc = fc[(fc["issued_at"] <= fc["time"]) & (fc["time"] >= ctx.start) & (fc["time"] < ctx.end)]
    if fc.empty:
        ctx.warn(f"forecast-residual: meter {meter!r} has no forecast issued before its target "
                 f"times in [{ctx.start.isoformat()}, {ctx.end.isoformat()}); skipped")
        return []
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
    return findings


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


@register_detector("data-quality")
def data_quality(
    meter: str,
    series: pd.Series,
    step: pd.Timedelta,
    ctx: DetectionContext,
    spike_z: float = 8.0,
    spike_rel: float = 0.5,
    tail_factor: float = 1.2,
    stuck_min: int = 5,
    zero_min: int = 2,
    reset_factor: float = 5.0,
) -> list[Finding]:
    """Gaps, runs of zeros where a zero means missing, stuck (flat-lined) meters, negative
    values, spikes and register resets (a negative reading larger than ``reset_factor`` ×
    the typical reading).

    A spike is a robust z-score of the residual from a centred 5-interval running median
    above ``spike_z`` — or above ``tail_factor`` × the history's 99.9th percentile for meters
    that are spiky anyway — and at least ``spike_rel`` of the level; a reading next to a gap
    is not judged."""
    history = _history(series, ctx)
    learn = history if history.notna().sum() >= 48 else series
    if learn is series:
        ctx.warn(f"data-quality: meter {meter!r} has {int(history.notna().sum())} readings "
                 f"before {ctx.start.isoformat()} (want >= 48); learned from the period itself")
    typical = float(np.nanmedian(np.abs(learn.to_numpy()))) if learn.notna().any() else 0.0
    i0, i1 = _period_slice(series, ctx)
    if i1 <= i0:
        return []
    values = series.to_numpy()
    period = series.iloc[i0:i1]
    pv = values[i0:i1]
    findings: list[Finding] = []

    def add(kind: str, i: int, j: int, severity: float, excess: pd.Series | None,
            details: dict[str, Any]) -> None:
        findings.append(_finding(meter, kind, period, step, i, j, severity, excess, details))

    # gaps (a meter that stops reporting is a gap up to the end of everyone's data)
    for i, j in runs(np.isnan(pv)):
        hours = (j - i) * step / pd.Timedelta("1h")
        add("gap", i, j, squash(hours / 24), None,
            {"intervals": j - i, "hours": hours, "typical_kwh": typical})
    # zero runs where zero is not a normal reading of this meter
    zero_share = float(np.mean(learn.dropna().to_numpy() == 0)) if learn.notna().any() else 0.0
    if zero_share < 0.02:
        for i, j in runs(pv == 0):
            if j - i >= zero_min:
                add("zero-run", i, j, squash((j - i) / (4 * zero_min)), None,
                    {"intervals": j - i, "history_zero_share": zero_share,
                     "typical_kwh": typical})
    # stuck: identical non-zero readings for longer than this meter ever normally repeats
    hist_runs = _run_lengths(learn.to_numpy())
    usual = float(np.percentile(hist_runs, 99.5)) if len(hist_runs) else 1.0
    stuck_len = max(stuck_min, int(np.ceil(2 * usual)))
    same = np.concatenate([[False], np.diff(pv) == 0]) & (pv != 0)
    for i, j in runs(same):
        start = i - 1  # the first reading of the run is the one the others repeat
        if j - start >= stuck_len:
            add("stuck", start, j, squash((j - start) / stuck_len), None,
                {"intervals": j - start, "value_kwh": float(pv[start]),
                 "usual_longest_repeat": usual, "threshold_intervals": stuck_len})
    # negative readings and register resets
    reset = pv < -reset_factor * max(typical, 1e-9)
    for i, j in runs(reset):
        add("register-reset", i, j, 1.0, None,
            {"value_kwh": float(pv[i:j].min()), "typical_kwh": typical,
             "threshold_kwh": -reset_factor * typical})
    for i, j in runs((pv < 0) & ~reset):
        add("negative", i, j, squash(float(-pv[i:j].min()) / max(typical, 1e-9)),
            pd.Series(pv[i:j], index=period.index[i:j]),
            {"intervals": j - i, "min_kwh": float(pv[i:j].min()), "typical_kwh": typical})
    # spikes: robust z-score of the residual from a centred 5-interval running median
    expected_all = series.rolling(5, center=True, min_periods=5).median()
    resid_all = (series - expected_all).to_numpy()
    learn_resid = resid_all[: len(history)] if learn is history else resid_all
    learn_resid = learn_resid[np.isfinite(learn_resid)]
    if step >= pd.Timedelta("1D"):
        ctx.warn(f"data-quality: meter {meter!r} reads every {step}; the spike check needs "
                 f"sub-daily readings (a weekly cycle breaks the running median); skipped")
    elif len(learn_resid) >= 24:
        scale = 1.4826 * float(np.median(np.abs(learn_resid - np.median(learn_resid))))
        scale = max(scale, 0.01 * typical, 1e-9)
        # a meter whose history is spiky anyway (boiler cycling) earns a higher threshold
        z_limit = max(spike_z, tail_factor * float(np.quantile(np.abs(learn_resid), 0.999))
                      / scale)
        resid = resid_all[i0:i1]
        expected = expected_all.to_numpy()[i0:i1]
        z = resid / scale
        level = np.maximum(np.abs(expected), typical)
        spike = (np.abs(z) > z_limit) & (np.abs(resid) > spike_rel * level) & (pv >= 0)
        for i, j in runs(np.nan_to_num(spike, nan=0.0).astype(bool)):
            peak = int(i + np.argmax(np.abs(z[i:j])))
            add("spike", i, j, squash(float(np.abs(z[peak])) / (2 * z_limit)),
                pd.Series(resid[i:j], index=period.index[i:j]),
                {"intervals": j - i, "value_kwh": float(pv[peak]),
                 "expected_kwh": float(expected[peak]), "robust_z": float(z[peak]),
                 "z_threshold": z_limit,
                 "scale_kwh": scale})
    return findings


# --------------------------------------------------------------------------- schedule
def _design(days: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(days)), days["hdd"], days["cdd"]])


@register_detector("schedule")
def schedule(
    meter: str,
    series: pd.Series,
    step: pd.Timedelta,
    ctx: DetectionContext,
    k_sigma: float = 2.5,
    rel: float = 0.1,
    big_z: float = 2.0,
    big_rel: float = 0.5,
    min_intervals: int = 2,
    norm_days: int = 56,
    seasonal: bool = True,
) -> list[Finding]:
    """After-hours (working days outside ``open_hour``–``close_hour`` local time), weekend
    and holiday use above the meter's own norm.

    The norm per category and local hour is the median of the last ``norm_days`` before
    ``start`` (holidays are held to the weekend norm), shifted by the day's heating/cooling
    degree days when temperature explains the history; with ``seasonal`` and a year of
    history, the same weeks 52 weeks earlier raise the norm where they were higher.

    Each day splits into morning (before opening), daytime and evening (after closing); a
    part is reported when its summed excess over the norm exceeds ``k_sigma`` robust sigmas
    of the same sum on the learning days and ``rel`` of the norm (or ``big_z`` sigmas and
    ``big_rel`` of the norm); the event spans the part's readings above 30 % of its largest
    excess."""
    if step > pd.Timedelta("1h"):
        ctx.warn(f"schedule: meter {meter!r} reads every {step}; local-hour checks need "
                 f"hourly or finer readings; skipped")
        return []
    cal = local_calendar(series.index, ctx.tz, ctx.country)
    hour = cal["hour"].to_numpy()
    in_hours = (hour >= ctx.open_hour) & (hour < ctx.close_hour)
    category = np.where(
        cal["holiday"], "holiday",
        np.where(cal["weekend"], "weekend", np.where(in_hours, "", "after-hours")),
    )
    part = np.where(hour < ctx.open_hour, "morning", np.where(in_hours, "daytime", "evening"))
    frame = pd.DataFrame({"value": series.to_numpy(), "category": category, "part": part,
                          "day": cal["day"].to_numpy(), "hour": hour},
                         index=series.index).dropna(subset=["value"])
    frame = frame[frame["category"] != ""]
    learn_from = ctx.start - pd.Timedelta(days=norm_days)
    dd = ctx.degree_days
    findings: list[Finding] = []
    for kind in ("after-hours", "weekend", "holiday"):
        report = frame[(frame["category"] == kind) & (frame.index >= ctx.start)
                       & (frame.index < ctx.end)]
        if report.empty:
            continue
        learn_kind = "weekend" if kind == "holiday" else kind  # a holiday should look like one
        learn = frame[(frame["category"] == learn_kind) & (frame.index < ctx.start)
                      & (frame.index >= learn_from)]
        if learn["day"].nunique() < 4:
            ctx.warn(f"schedule: meter {meter!r} has {learn['day'].nunique()} {learn_kind} "
                     f"days in the {norm_days} days before {ctx.start.date()} (want >= 4); "
                     f"{kind} check skipped")
            continue
        norm = learn.groupby("hour")["value"].median()
        learn = learn.assign(expected=learn["hour"].map(norm))
        dd_fit = _degree_day_fit(learn, dd)
        learn["expected"] += _degree_day_shift(dd_fit, learn, dd)
        year = pd.Timedelta(days=364)  # 52 weeks: same weekdays a year earlier
        ago = frame[(frame["category"] == learn_kind) & (frame.index >= ctx.start - year)
                    & (frame.index < ctx.end - year)]
        report_norm = norm
        if seasonal and ago["day"].nunique() >= 4:
            # what was normal in the same weeks a year ago is normal now (term times,
            # darker mornings): the norm is the higher of the two
            report_norm = np.maximum(norm, ago.groupby("hour")["value"].median()
                                     .reindex(norm.index).fillna(norm))
        report = report.assign(
            expected=report["hour"].map(report_norm).fillna(float(norm.mean())))
        report["expected"] += _degree_day_shift(dd_fit, report, dd)
        learn_sums = (learn["value"] - learn["expected"]).groupby(
            [learn["day"], learn["part"]]).sum()
        spread = {}
        for day_part, sums in learn_sums.groupby(level="part"):
            centre = float(sums.median())
            spread[day_part] = (centre, 1.4826 * float(np.median(np.abs(sums - centre))))
        every = (float(learn_sums.median()),
                 1.4826 * float(np.median(np.abs(learn_sums - learn_sums.median()))))
        report = report.assign(excess=report["value"] - report["expected"])
        parts = report.groupby(["day", "part"]).agg(
            n=("excess", "size"), excess=("excess", "sum"),
            norm=("expected", lambda v: float(np.abs(v).sum())))
        parts["centre"] = [spread.get(p, every)[0] for p in parts.index.get_level_values(1)]
        parts["sigma"] = np.maximum.reduce([
            np.array([spread.get(p, every)[1] for p in parts.index.get_level_values(1)]),
            0.02 * parts["norm"].to_numpy(), np.full(len(parts), 1e-9)])
        parts["total"] = parts["excess"] - parts["centre"]
        parts["z"] = parts["total"] / parts["sigma"]
        flagged = parts[(parts["n"] >= min_intervals) & (
            ((parts["z"] > k_sigma) & (parts["total"] > rel * parts["norm"]))
            | ((parts["z"] > big_z) & (parts["total"] > big_rel * parts["norm"])))]
        groups = report.groupby(["day", "part"])
        for (day, day_part), stat in flagged.iterrows():
            rows = groups.get_group((day, day_part))
            sigma, total, z, norm_sum = stat["sigma"], stat["total"], stat["z"], stat["norm"]
            hot = np.flatnonzero(rows["excess"].to_numpy() > max(0.3 * rows["excess"].max(), 0))
            if not len(hot):
                continue
            threshold = min(max(k_sigma * sigma, rel * norm_sum),
                            max(big_z * sigma, big_rel * norm_sum))
            rows = rows.iloc[hot[0]: hot[-1] + 1]
            findings.append(Finding(
                meter=meter, kind=kind, start=rows.index[0], end=rows.index[-1] + step,
                severity=squash(total / threshold), excess=rows["excess"],
                details={"day": str(pd.Timestamp(day).date()), "part": day_part,
                         "intervals": int(len(rows)), "actual_kwh": float(rows["value"].sum()),
                         "norm_kwh": float(rows["expected"].sum()), "sigma_kwh": sigma,
                         "robust_z": z, "threshold_kwh": threshold,
                         "hours": f"{ctx.open_hour:02d}-{ctx.close_hour:02d} local"}))
    return findings


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
def level_shift(
    meter: str,
    series: pd.Series,
    step: pd.Timedelta,
    ctx: DetectionContext,
    min_days: int = 7,
    k_sigma: float = 4.0,
    rel: float = 0.1,
    history_days: int = 120,
) -> list[Finding]:
    """A lasting change of baseload (daily mean of the three lowest readings, temperature
    effects removed when weather is given) or of temperature sensitivity (slope of daily
    energy on degree days), found by binary segmentation over the last ``history_days``
    before ``start`` and the period; reported when it starts in [start, end)."""
    if step > pd.Timedelta("1D"):
        ctx.warn(f"level-shift: meter {meter!r} reads every {step}; needs daily or finer "
                 f"readings; skipped")
        return []
    local_day = local_dates(series.index, ctx.tz)
    per_day = int(round(pd.Timedelta("1D") / step))
    grouped = series.groupby(local_day)
    count = grouped.count()
    ok = count >= 0.75 * per_day
    present = series.notna().to_numpy()
    lows = pd.DataFrame({"day": local_day[present], "v": series.to_numpy()[present]})
    lows = lows.sort_values(["day", "v"])
    lows = lows[lows.groupby("day").cumcount() < 3]
    base = lows.groupby("day")["v"].mean().reindex(count.index)[ok]
    total = (grouped.mean() * per_day)[ok]
    first = local_dates(ctx.start, ctx.tz)
    window = base.index >= first - pd.Timedelta(days=history_days)
    base, total = base[window], total[window]
    if (base.index < first).sum() < min_days or (base.index >= first).sum() < min_days:
        ctx.warn(f"level-shift: meter {meter!r} has {int((base.index < first).sum())} full "
                 f"days before and {int((base.index >= first).sum())} in the period (want >= "
                 f"{min_days} each); skipped")
        return []
    dd = ctx.degree_days
    signal = base
    if dd is not None:
        joined = dd.reindex(base.index)
        hist = joined.notna().all(axis=1) & (base.index < first)
        if hist.sum() >= 30:
            coef, *_ = np.linalg.lstsq(_design(joined[hist]), base[hist].to_numpy(), rcond=None)
            fill = joined.fillna(joined.mean())
            signal = base - (_design(fill) @ coef - coef[0])
    findings = _baseload_shifts(meter, series, ctx, first, signal, base, min_days, k_sigma, rel)
    if dd is None:
        ctx.warn("level-shift: no temperature given; baseload is not weather-normalised and "
                 "temperature-sensitivity shifts are not checked")
    else:
        findings += _sensitivity_shifts(meter, ctx, first, total, dd, min_days)
    return findings


def _day_bounds(day: pd.Timestamp, tz: str) -> pd.Timestamp:
    return day.tz_localize(tz, nonexistent="shift_forward", ambiguous=False).tz_convert("UTC")


def _baseload_shifts(
    meter: str, series: pd.Series, ctx: DetectionContext, first: pd.Timestamp,
    signal: pd.Series, base: pd.Series, min_days: int, k_sigma: float, rel: float,
) -> list[Finding]:
    y = signal.to_numpy()
    sigma = max(robust_sigma(y), 1e-6 * max(float(np.nanmean(np.abs(y))), 1e-9))
    penalty = 2 * sigma**2 * np.log(len(y)) * 3
    points = binary_segmentation(segment_cost(y), len(y), penalty, min_days)
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
        threshold = max(k_sigma * sigma, rel * abs(level))
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
    total: pd.Series, dd: pd.DataFrame, min_days: int, rel: float = 0.3,
) -> list[Finding]:
    joined = dd.reindex(total.index)
    keep = joined.notna().all(axis=1)
    y, days = total[keep].to_numpy(), total.index[keep]
    corr_h = np.corrcoef(y, joined["hdd"][keep])[0, 1] if joined["hdd"][keep].std() > 0 else 0
    corr_c = np.corrcoef(y, joined["cdd"][keep])[0, 1] if joined["cdd"][keep].std() > 0 else 0
    name = "hdd" if np.nan_to_num(corr_h) >= np.nan_to_num(corr_c) else "cdd"
    if max(np.nan_to_num(corr_h), np.nan_to_num(corr_c)) < 0.6 or len(y) < 4 * min_days:
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
        if abs(slope_after - slope_before) <= rel * abs(slope_before):
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
                     HDD_BASE_C if name == "hdd" else CDD_BASE_C,
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


MERGE_GAP: dict[str, pd.Timedelta] = {
    "after-hours": pd.Timedelta("36h"),
    "weekend": pd.Timedelta("2h"),
    "holiday": pd.Timedelta("2h"),
}
"""How far apart two findings of a kind may be and still be one event (default: touching)."""


def findings_to_events(
    findings: Sequence[Finding], tariff: Tariff | dict[str, Tariff] | None = None,
    tz: str = "UTC",
    warn: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Event rows; with a tariff (one, or one per meter id), ``details.cost`` is the excess
    priced per interval [currency] and ``details.currency`` its currency. A tariff that
    cannot price an event leaves its cost out and calls ``warn`` with the reason."""
    rows = []
    for f in findings:
        details = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in f.details.items()}
        excess = f.excess.dropna()
        meter_tariff = tariff.get(f.meter) if isinstance(tariff, dict) else tariff
        if meter_tariff is not None and not excess.empty:
            try:
                price = energy_price(meter_tariff, pd.DatetimeIndex(excess.index), tz)
            except TariffError as exc:
                if warn is not None:
                    warn(f"meter {f.meter!r}: event costs left out: {exc}")
            else:
                details["cost"] = round(float((excess.to_numpy() * price.to_numpy()).sum()), 2)
                details["currency"] = meter_tariff.currency
        rows.append({"meter": f.meter, "start": f.start, "end": f.end, "kind": f.kind,
                     "severity": round(f.severity, 4),
                     "excess_kwh": round(float(excess.sum()), 3),
                     "details": json.dumps(details, sort_keys=True, default=str)})
    if not rows:
        return validate_events(pd.DataFrame(columns=[c for c in EVENT_COLUMNS if c != "event_id"]))
    return validate_events(pd.DataFrame(rows))


def detect(
    readings: pd.DataFrame,
    start: Any,
    end: Any,
    *,
    weather: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    tz: str = "UTC",
    country: str | None = None,
    tariff: Tariff | dict[str, Tariff] | None = None,
    detectors: Sequence[str] | None = None,
    missing_zero: bool = False,
    open_hour: int = 7,
    close_hour: int = 19,
) -> DetectionResult:
    """Run ``detectors`` (default: all registered) on every energy meter of ``readings``.

    ``readings`` should include history before ``start`` (a year is best) to learn normal
    behaviour; ``weather`` is wide (index UTC time, temperature [degC]); ``forecasts`` are
    forecasts as issued. Returns validated events in [start, end) and warnings."""
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if start_ts.tzinfo is None or end_ts.tzinfo is None:
        raise ValueError(f"start={start!r}/end={end!r} need a timezone, e.g. '2019-01-01T00:00Z'")
    start_ts, end_ts = start_ts.tz_convert("UTC"), end_ts.tz_convert("UTC")
    if end_ts <= start_ts:
        raise ValueError(f"end {end_ts.isoformat()} is not after start {start_ts.isoformat()}; "
                         f"give an end later than the start")
    names = list(detectors) if detectors else list(DETECTORS)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {sorted(DETECTORS)}")
    readings = validate_readings(readings)
    energy = readings[readings["quantity"] == "energy"]
    ctx = DetectionContext(
        start=start_ts, end=end_ts, tz=tz, country=country, weather=weather,
        forecasts=validate_forecasts(forecasts) if forecasts is not None else None,
        open_hour=open_hour, close_hour=close_hour,
    )
    if weather is not None and ctx.temperature is None:
        ctx.warn("weather has no temperature values; weather normalisation is off")
    in_period = energy[(energy["time"] >= start_ts) & (energy["time"] < end_ts)]
    if in_period.empty:
        ctx.warn(f"no energy readings between {start_ts.isoformat()} and {end_ts.isoformat()}; "
                 f"nothing to detect (check --start/--end against the data)")
        return DetectionResult(findings_to_events([]), ctx.warnings)
    data_end = min(end_ts, energy["time"].max() + infer_step(energy["time"]))
    findings: list[Finding] = []
    # in_period and data_end above count zeros, so trailing zeros still become gaps
    kept = zeros_as_missing(energy) if missing_zero else energy
    for meter, rows in kept.groupby("meter", sort=True):
        rows = rows[rows["time"] < end_ts]
        if rows.empty:
            continue
        step = infer_step(rows["time"])
        series = regular_series(rows.set_index("time")["value"], step, data_end)
        if series.empty:
            continue
        series.index = pd.DatetimeIndex(series.index).astype("datetime64[ns, UTC]")
        meter_findings: list[Finding] = []
        for name in names:
            meter_findings += DETECTORS[name](str(meter), series, step, ctx)
        by_kind: dict[str, list[Finding]] = {}
        for f in meter_findings:
            by_kind.setdefault(f.kind, []).append(f)
        for kind, group in by_kind.items():
            findings += merge_findings(group, MERGE_GAP.get(kind, pd.Timedelta(0)))
    events = findings_to_events(findings, tariff, tz, ctx.warn)
    log.info("anomalies: %d meters, %d events in [%s, %s), %d warnings",
             energy["meter"].nunique(), len(events), start_ts.isoformat(), end_ts.isoformat(),
             len(ctx.warnings))
    return DetectionResult(events, ctx.warnings)
