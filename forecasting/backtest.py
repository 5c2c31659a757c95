"""Rolling-origin backtests and forecast accuracy metrics.

At each origin (site-local midnight) a model issues the next ``horizon`` hours using only
readings before the origin; it is refitted every ``refit`` days on the preceding ``history``
days. Weather over the horizon is the spec's ``weather`` mode
(:data:`~wattlens.forecasting.features.WEATHER_MODES`): ``observed`` (a perfect weather
forecast, which flatters accuracy) or ``issue-time`` (only weather known at the origin: a
stored weather forecast when given, else the previous-day stand-in); the output says which.
Every issue goes through :func:`wattlens.forecasting.guard.issue` (implausible forecasts
replaced by a baseline and counted). Metrics are computed over every issued time with an
actual reading.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wattlens.core.calendar import SiteCalendar
from wattlens.core.intervals import IntervalError, infer_interval
from wattlens.core.warnings import DataWarning, unique
from wattlens.forecasting.features import (
    ForecastInputError,
    check_series,
    check_weather_mode,
    issue_time_weather,
)
from wattlens.forecasting.guard import FALLBACK, GuardSettings, issue
from wattlens.forecasting.models import INTERVAL_WIDTH, ForecastModel, fit_model
from wattlens.forecasting.runner import MeterFailure, run_per_meter
from wattlens.store.schema import ContractError

G14_CV_RMSE_PCT = 30.0
"""ASHRAE Guideline 14 hourly calibration limit on CV(RMSE) [%]."""
G14_NMBE_PCT = 10.0
"""ASHRAE Guideline 14 hourly calibration limit on |NMBE| [%]."""
RECENT_ACTUALS = pd.Timedelta(days=28)
"""Actuals before the origin handed to ``predict`` (persistence and level correction)."""
WEATHER_LEAD = pd.Timedelta(days=10)
"""Weather before the horizon handed to ``predict``: the level correction needs the model's
residuals over the 8 days before issue, each with a 24 h trailing mean temperature."""


@dataclass(frozen=True)
class BacktestSpec:
    """What to backtest: a model, horizon [h], refit cadence [days], history [days],
    optional local start/end dates (end exclusive), the weather mode over the horizon, the
    guard's settings and ``every``: backtest only every n-th fit window (1: all of them; 4
    over a year: one week in four, 13 weeks spread over the four seasons)."""

    model: str
    horizon_hours: int = 24
    refit_days: int = 7
    history_days: int = 365
    start: dt.date | None = None
    end: dt.date | None = None
    weather: str = "observed"
    guard: GuardSettings = field(default_factory=GuardSettings)
    every: int = 1

    def __post_init__(self) -> None:
        check_weather_mode(self.weather)
        if self.every < 1:
            raise ValueError(f"backtest every={self.every}: take every n-th fit window with "
                             f"n >= 1 (1 backtests all of them)")


@dataclass
class MeterBacktest:
    """One meter's backtest: issued forecasts, metrics, or the reason it failed."""

    meter: str
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: list[str] = field(default_factory=list)
    fits: int = 0
    fit_seconds: float = 0.0
    warnings: list[DataWarning] = field(default_factory=list)
    weather_sources: set[str] = field(default_factory=set)


def origins(start: dt.date, end: dt.date, tz: str) -> pd.DatetimeIndex:
    """UTC instants of the site-local midnights from ``start`` to ``end`` (exclusive)."""
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    local = days.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
    return local.tz_convert("UTC").astype("datetime64[ns, UTC]")


def default_window(load: pd.Series, tz: str, history_days: int) -> tuple[dt.date, dt.date]:
    """Backtest local dates when none are given: from a full ``history`` after the first
    reading (or two weeks if the data are shorter) to the day after the last reading."""
    first = load.index[0].tz_convert(tz)
    last = load.index[-1].tz_convert(tz)
    start = (first + pd.Timedelta(days=history_days)).date() + dt.timedelta(days=1)
    if start > last.date():
        start = (first + pd.Timedelta(days=14)).date() + dt.timedelta(days=1)
    return start, last.date() + dt.timedelta(days=1)


def metrics(
    actual: np.ndarray, yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> dict[str, Any]:
    """Accuracy of forecasts against actuals (same length, finite actuals only).

    CV(RMSE) % = 100·RMSE/mean(actual); NMBE % = 100·Σ(actual − forecast)/(n·mean(actual));
    MAE [kWh per interval]; MAPE % over non-zero actuals; coverage % of actuals inside
    [lower, upper]; pinball = mean quantile loss at 10 % (lower), 50 % (yhat), 90 % (upper);
    ``g14_pass`` = ASHRAE Guideline 14 hourly limits (CV(RMSE) ≤ 30 %, |NMBE| ≤ 10 %).
    """
    a = np.asarray(actual, dtype=float)
    f = np.asarray(yhat, dtype=float)
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    n = len(a)
    if n == 0:
        return {"n": 0}
    mean = float(a.mean())
    err = a - f
    rmse = float(np.sqrt(np.mean(err**2)))
    nonzero = a != 0
    q_lo, q_hi = (1 - INTERVAL_WIDTH) / 2, (1 + INTERVAL_WIDTH) / 2
    pinball = float(np.mean([_pinball(a, lo, q_lo), _pinball(a, f, 0.5), _pinball(a, hi, q_hi)]))
    cv = 100.0 * rmse / mean if mean != 0 else float("nan")
    nmbe = 100.0 * float(err.sum()) / (n * mean) if mean != 0 else float("nan")
    return {
        "cv_rmse_pct": cv,
        "nmbe_pct": nmbe,
        "mae": float(np.mean(np.abs(err))),
        "mape_pct": float(100.0 * np.mean(np.abs(err[nonzero] / a[nonzero])))
        if nonzero.any() else float("nan"),
        "coverage_pct": float(100.0 * np.mean((a >= lo) & (a <= hi))),
        "pinball": pinball,
        "n": n,
        "g14_pass": bool(cv <= G14_CV_RMSE_PCT and abs(nmbe) <= G14_NMBE_PCT),
    }


def _pinball(actual: np.ndarray, quantile_forecast: np.ndarray, q: float) -> float:
    diff = actual - quantile_forecast
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


@dataclass(frozen=True)
class Plan:
    """One meter's backtest cut into fit windows: the checked ``load``, its reading
    ``interval`` and the origins of each window (the first origin of a window fits the
    model, the others reuse it) — or the ``error`` that stops the meter."""

    load: pd.Series
    interval: pd.Timedelta | None = None
    windows: tuple[pd.DatetimeIndex, ...] = ()
    error: str | None = None


def plan(meter: str, load: pd.Series, site: SiteCalendar, spec: BacktestSpec) -> Plan:
    """Check ``load`` and cut the backtest's origins into windows of ``spec.refit_days``,
    keeping every ``spec.every``-th window (the first one included)."""
    try:
        load = check_series(load, meter)
    except ContractError as exc:
        return Plan(load, error=str(exc))
    if load.empty:
        return Plan(load, error=f"{meter}: no readings (all missing)")
    start, end = spec.start, spec.end
    if start is None or end is None:
        d_start, d_end = default_window(load, site.timezone, spec.history_days)
        start, end = start or d_start, end or d_end
    try:
        interval = infer_interval(load.index)
    except IntervalError as exc:
        return Plan(load, error=f"{meter}: {exc}")
    days = origins(start, end, site.timezone)
    step = spec.refit_days
    return Plan(load, interval, tuple(days[i:i + step]
                                      for i in range(0, len(days), step * spec.every)))


def backtest_window(
    meter: str,
    load: pd.Series,
    weather: pd.DataFrame | None,
    site: SiteCalendar,
    spec: BacktestSpec,
    interval: pd.Timedelta,
    window: pd.DatetimeIndex,
) -> MeterBacktest:
    """One fit window of a backtest (unscored): fit at the first origin (or, if that fails,
    the next), then issue at every origin of ``window`` through the guard."""
    result = MeterBacktest(meter)
    horizon = pd.Timedelta(hours=spec.horizon_hours)
    history = pd.Timedelta(days=spec.history_days)
    model: ForecastModel | None = None
    train = load.iloc[:0]
    issued: list[pd.DataFrame] = []
    for origin in window:
        if model is None:
            train = load[(load.index >= origin - history) & (load.index < origin)]
            train.name = meter
            began = time.perf_counter()
            try:
                model = fit_model(spec.model, train, _slice(weather, origin - history
                                                            - WEATHER_LEAD, origin), site)
                result.fits += 1
            except (ForecastInputError, ContractError, ValueError, RuntimeError) as exc:
                result.skipped.append(f"{origin.isoformat()}: fit failed: {exc}")
                continue
            finally:
                result.fit_seconds += time.perf_counter() - began
        times = pd.date_range(origin, origin + horizon, freq=interval, inclusive="left")
        recent = load[(load.index >= origin - RECENT_ACTUALS) & (load.index < origin)]
        wx = _slice(weather, origin - WEATHER_LEAD, origin + horizon)
        if spec.weather == "issue-time":
            wx, source = issue_time_weather(wx, origin, origin + horizon)
            result.weather_sources.add(source)
        try:
            pred, warnings = issue(model, times, wx, recent, train, site, spec.guard)
        except (ForecastInputError, ContractError, ValueError) as exc:
            result.skipped.append(f"{origin.isoformat()}: predict failed: {exc}")
            continue
        result.warnings.extend(warnings)
        issued.append(pred.assign(issued_at=origin, meter=meter))
    if issued:
        result.forecasts = pd.concat(issued, ignore_index=True)[
            ["time", "meter", "issued_at", "yhat", "yhat_lower", "yhat_upper", FALLBACK]]
    return result


def score(meter: str, load: pd.Series, parts: list[MeterBacktest]) -> MeterBacktest:
    """Join a meter's fit windows and score the issued forecasts against ``load``; the
    meter fails only if no origin issued."""
    result = MeterBacktest(meter)
    for part in parts:
        result.skipped += part.skipped
        result.fits += part.fits
        result.fit_seconds += part.fit_seconds
        result.warnings += part.warnings
        result.weather_sources |= part.weather_sources
        if part.error:
            result.skipped.append(part.error)
    frames = [p.forecasts for p in parts if len(p.forecasts)]
    if not frames:
        reasons = result.skipped[-1] if result.skipped else "no origin in the backtest window"
        result.error = f"{meter}: no forecast issued ({len(result.skipped)} origins skipped; " \
                       f"last: {reasons})"
        return result
    forecasts = pd.concat(frames, ignore_index=True).sort_values(["issued_at", "time"],
                                                                 ignore_index=True)
    result.forecasts = forecasts
    actual = load.reindex(pd.DatetimeIndex(forecasts["time"])).to_numpy()
    ok = np.isfinite(actual)
    result.metrics = metrics(actual[ok], *(forecasts[c].to_numpy()[ok]
                                           for c in ("yhat", "yhat_lower", "yhat_upper")))
    result.metrics.update({"origins": int(forecasts["issued_at"].nunique()),
                           "origins_skipped": len(result.skipped),
                           "origins_replaced": len(result.warnings)})
    if result.metrics["n"] == 0:
        result.error = f"{meter}: forecasts issued but no actual readings to score them against"
    return result


def backtest_meter(
    meter: str,
    load: pd.Series,
    weather: pd.DataFrame | None,
    site: SiteCalendar,
    spec: BacktestSpec,
) -> MeterBacktest:
    """Rolling-origin backtest of one meter, in this process. Origins where the model
    cannot be fitted or cannot predict are skipped with their reason; the meter fails only
    if no origin issues."""
    p = plan(meter, load, site, spec)
    if p.error or p.interval is None:
        return MeterBacktest(meter, error=p.error)
    return score(meter, p.load, [backtest_window(meter, p.load, weather, site, spec,
                                                 p.interval, w) for w in p.windows])


def backtest_many(
    loads: Mapping[str, pd.Series],
    weather: pd.DataFrame | None,
    sites: Mapping[str, SiteCalendar],
    spec: BacktestSpec,
    client: Any,
    console: Any = None,
) -> dict[str, MeterBacktest]:
    """Backtest every meter of ``loads`` on the dask ``client``, one task (and one step of
    the progress bar) per meter-fit; ``weather`` is sent to the workers once."""
    plans = {m: plan(m, load, sites[m], spec) for m, load in loads.items()}
    tasks = {f"{m}#{i}": (m, p.load, sites[m], spec, p.interval, w)
             for m, p in plans.items() for i, w in enumerate(p.windows)}
    done = run_per_meter(_window_task, tasks, (weather,), client=client,
                         description=f"backtest {spec.model} (meter-fits)", console=console)
    out = {}
    for m, p in plans.items():
        if p.error:
            out[m] = MeterBacktest(m, error=p.error)
            continue
        parts = []
        for i in range(len(p.windows)):
            part = done[f"{m}#{i}"]
            parts.append(MeterBacktest(m, error=part.reason) if isinstance(part, MeterFailure)
                         else part)
        out[m] = score(m, p.load, parts)
    return out


def _window_task(key: str, meter: str, load: pd.Series, site: SiteCalendar,
                 spec: BacktestSpec, interval: pd.Timedelta, window: pd.DatetimeIndex,
                 weather: pd.DataFrame | None) -> MeterBacktest:
    """Worker side of :func:`backtest_many` (argument order matches ``run_per_meter``)."""
    return backtest_window(meter, load, weather, site, spec, interval, window)


def _slice(weather: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp
           ) -> pd.DataFrame | None:
    if weather is None:
        return None
    return weather[(weather.index >= start) & (weather.index < end)]


def summarise(model: str, horizon_hours: int, results: dict[str, MeterBacktest],
              weather: str = "observed", guard: GuardSettings | None = None) -> dict[str, Any]:
    """The metrics document: per meter metrics (or error) and medians across meters, the
    weather mode (and what the issue-time weather was made of), the guard's settings and
    its warnings."""
    meters: dict[str, Any] = {}
    sources: set[str] = set()
    warnings: list[DataWarning] = []
    for meter, res in sorted(results.items()):
        if res.error:
            meters[meter] = {"error": res.error}
        else:
            meters[meter] = {k: None if isinstance(v, float) and not np.isfinite(v) else v
                             for k, v in res.metrics.items()}
            if res.skipped:
                meters[meter]["skipped_first"] = res.skipped[0]
        sources |= res.weather_sources
        warnings.extend(res.warnings)
    scored = [m for m in meters.values() if "error" not in m]

    def median(key: str) -> float | None:
        values = [m[key] for m in scored if m[key] is not None]
        return float(np.median(values)) if values else None

    return {
        "model": model,
        "horizon_hours": horizon_hours,
        "weather": weather if weather == "observed" else
        f"{weather} ({', '.join(sorted(sources)) or 'no issue'})",
        "interval_width": INTERVAL_WIDTH,
        "settings": {"guard": (guard or GuardSettings()).model_dump(mode="json")},
        "warnings": [w.to_dict() for w in unique(warnings)],
        "meters": meters,
        "aggregate": {
            "median_cv_rmse_pct": median("cv_rmse_pct"),
            "median_nmbe_pct": median("nmbe_pct"),
            "median_mae": median("mae"),
            "median_coverage_pct": median("coverage_pct"),
            "g14_pass_meters": sum(bool(m["g14_pass"]) for m in scored),
            "meters_scored": len(scored),
            "meters_failed": len(meters) - len(scored),
            "origins_replaced": sum(m.get("origins_replaced", 0) for m in scored),
        },
    }
