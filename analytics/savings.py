"""Verified savings (M&V) per IPMVP Option C (whole meter) and B (equipment meter).

A baseline model is fitted on the baseline period, projected onto the reporting period's
conditions (the *adjusted baseline*), and avoided energy = adjusted baseline − actual
[kWh, %], cumulative over the reporting period. Blackout and non-routine windows are left
out of both periods. Baseline models register by name in :data:`BASELINE_MODELS`:

- ``caltrack-daily`` — CalTRACK 2.0 daily/billing HDD/CDD change-point model
  (:mod:`wattlens.analytics.caltrack.daily`) on degree days of each local day's mean
  temperature; hourly data are summed to complete local days, billing readings (one per bill,
  interval ≥ 20 days) are fitted as billing periods;
- ``daily-degree-hours`` — the same model on degree days computed as mean degree hours
  (wattlens's variant: it counts the cold night of a mild day; docs/mv-method.md);
- ``caltrack-hourly`` (also ``towt``) — CalTRACK hourly time-of-week-and-temperature model
  (:mod:`wattlens.analytics.caltrack.hourly`);
- plug-ins from packages above this one, registered when imported: ``prophet`` comes with
  :mod:`wattlens.forecasting.mv` (analytics never imports forecasting).

Baseline fit statistics follow ASHRAE Guideline 14 (CV(RMSE), NMBE with n − p degrees of
freedom, R²); the fractional savings uncertainty (FSU) is G14's formula with the lag-1
autocorrelation correction (Reddy & Claridge 2000; G14-2014 Annex B)::

    ΔE_save = t(conf, ν) · 1.26 · CV · sqrt((n/n') · (1 + 2/n') · (1/m)) · E_adjusted
    n' = n · (1 − ρ) / (1 + ρ),   ν = (n − p) · n'/n

ν, the t value's degrees of freedom, is the residual share (n − p)/n of the effective sample
n′: each parameter uses one observation's worth of information, and an autocorrelated
observation carries n′/n of an independent one. G14's literal n′ − p goes to zero or below
when a many-parameter model (TOWT: ~170 parameters per segment) meets strong autocorrelation,
and t with it to infinity; ν stays positive while n > p and equals n − p without
autocorrelation. A result where n′ ≤ p says so in a ``savings.effective-dof`` warning.

Data-sufficiency checks (CalTRACK 2.0 §2) are returned as warnings with numbers
(:class:`~wattlens.core.warnings.DataWarning`): blank values and zeros (missing or real, per
commodity), outliers beyond 3 × IQR, incomplete local days per period, coverage of data and
temperature per period. Those CalTRACK disqualifies on (:data:`DISQUALIFYING`) stop the
estimate with :class:`Disqualified` unless ``force`` is given, and a forced result says so.
Misuse (reporting before baseline, no data, too little baseline, no temperature) raises
:class:`SavingsError`. The tunables are
:class:`SavingsSettings`, written into every result. :func:`difference_in_differences` gives
a comparison-group estimate.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from wattlens.analytics.anomalies import GapEdgeSettings, gap_edge_mask, regular_series
from wattlens.analytics.caltrack import (
    CaltrackError,
    DailySettings,
    TowtError,
    TowtSettings,
    day_temperatures,
    fit_daily_model,
    fit_towt,
    t_quantile,
)
from wattlens.core.base import Frozen, Registry
from wattlens.core.calendar import SiteCalendar
from wattlens.core.intervals import IntervalError, infer_interval
from wattlens.core.meters import Commodity
from wattlens.core.warnings import DataWarning

Granularity = Literal["hourly", "daily", "billing"]
"""hourly = any sub-daily interval; billing = one reading per bill (≥ 20 days)."""

G14_LIMITS: dict[str, tuple[float, float]] = {
    "hourly": (30.0, 10.0),
    "daily": (30.0, 10.0),
    "billing": (15.0, 5.0),
}
"""ASHRAE Guideline 14 model acceptance [CV(RMSE) %, |NMBE| %]: hourly 30/10 and monthly
15/5 (the hourly limits are applied to daily data)."""
G14_FACTOR = 1.26
"""The empirical 1.26 of G14's savings-uncertainty formula."""
DISQUALIFYING = frozenset({
    "savings.short-baseline", "savings.data-coverage", "savings.temperature-coverage",
    "savings.negative-values",
})
"""Warning codes on which CalTRACK 2.0 §2 disqualifies a meter: the estimate stops unless
forced."""
ZeroRule = Literal["auto", "missing", "reading"]


class SavingsSettings(Frozen):
    """Tunables of M&V (``[analytics.savings]``) and of each baseline model
    (``[analytics.savings.<model>]``, ``-`` written ``_``); written into every result."""

    confidence: float = Field(
        0.9, gt=0, lt=1, description="two-sided confidence of the savings interval"
    )
    min_baseline_days: float = Field(
        30, gt=0, description="fewest days of baseline readings a model is fitted on [days]"
    )
    caltrack_baseline_days: float = Field(
        365, gt=0, description="CalTRACK's baseline length; shorter ones get a warning [days]"
    )
    min_coverage: float = Field(
        0.9, gt=0, le=1, description="share of a period with data and temperature (CalTRACK)"
    )
    min_residual_dof: int = Field(
        5, ge=1, description="fewer residual degrees of freedom (n − p) get a warning: six "
        "bimonthly bills fitted with two slopes and two balance points fit almost any pair of "
        "balance points",
    )
    zeros: ZeroRule = Field(
        "auto", description="zero energy readings: missing, reading (real zero use) or auto — "
        "missing for electricity (a meter that reads 0 kWh has usually stopped reporting, as "
        "OpenDSM assumes), real for gas, heat and water (no heating in summer)",
    )
    zero_run_days: float = Field(
        1.0, gt=0, description="zeros kept as readings: runs of zeros at least this long "
        "get a warning that they look like missing data [days]",
    )
    outlier_iqr: float = Field(
        3.0, gt=0, description="readings beyond this many interquartile ranges outside the "
        "quartiles are flagged as outliers (CalTRACK: 3), not removed",
    )
    gap_edge: GapEdgeSettings = Field(
        default_factory=GapEdgeSettings, description="partial readings at the edges of gaps "
        "(interval and daily data), left out of M&V as out of forecasting",
    )
    caltrack_daily: DailySettings = Field(
        default_factory=DailySettings, description="CalTRACK daily/billing model"
    )
    towt: TowtSettings = Field(default_factory=TowtSettings, description="CalTRACK hourly TOWT")

    def used_by(self, model: str) -> dict[str, Any]:
        """The settings a result of baseline ``model`` was made with, as JSON: the general
        ones and the model's own section (plug-ins without one: the general ones only)."""
        own = MODEL_SECTIONS.get(model)
        out = self.model_dump(mode="json", exclude=set(MODEL_SECTIONS.values()))
        if own is not None:
            out[own] = getattr(self, own).model_dump(mode="json")
        return out


MODEL_SECTIONS = {"caltrack-daily": "caltrack_daily", "daily-degree-hours": "caltrack_daily",
                  "towt": "towt", "caltrack-hourly": "towt"}
"""The :class:`SavingsSettings` section of each built-in baseline model."""


class SavingsError(ValueError):
    """The savings question cannot be answered with these inputs; the message says why."""


class Disqualified(SavingsError):
    """CalTRACK's data sufficiency disqualifies the meter; ``warnings`` say why."""

    def __init__(self, meter: str, reasons: list[DataWarning]) -> None:
        self.reasons = reasons
        listed = "; ".join(w.message for w in reasons)
        super().__init__(
            f"meter {meter!r} is disqualified by CalTRACK data sufficiency: {listed}. Fix the "
            f"data or periods, or pass --force (force=True) to estimate anyway; the result then "
            f"records that it was forced"
        )


@dataclass(frozen=True)
class Period:
    """A half-open time window [start, end) in UTC."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> float:
        return (self.end - self.start) / pd.Timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start.isoformat()} .. {self.end.isoformat()}"


def parse_period(start: Any, end: Any, tz: str, name: str) -> Period:
    """A period from two dates/timestamps; naive values are local time in ``tz``; ``end`` is
    exclusive (a bare date means that local midnight)."""
    stamps = []
    for label, value in (("start", start), ("end", end)):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise SavingsError(
                f"{name} {label} {value!r} is not a date; write e.g. 2019-01-01"
            ) from None
        stamp = stamp.tz_localize(tz) if stamp.tzinfo is None else stamp
        stamps.append(stamp.tz_convert("UTC"))
    if stamps[1] <= stamps[0]:
        raise SavingsError(f"{name} ends ({stamps[1]}) before it starts ({stamps[0]}); swap them")
    return Period(stamps[0], stamps[1])


@dataclass
class FitStats:
    """Baseline goodness of fit (ASHRAE Guideline 14) at the model's granularity."""

    cv_rmse_pct: float
    nmbe_pct: float
    r2: float
    n: int
    n_params: int
    autocorrelation: float
    g14_pass: bool

    @property
    def residual_dof(self) -> int:
        """n − p."""
        return self.n - self.n_params

    @property
    def n_effective(self) -> float:
        """n′ = n·(1 − ρ)/(1 + ρ), at least 2 (negative ρ does not add observations)."""
        rho = max(self.autocorrelation, 0.0)
        return max(self.n * (1 - rho) / (1 + rho), 2.0)

    @property
    def t_dof(self) -> float:
        """ν = (n − p)·n′/n, the savings interval's t degrees of freedom, at least 1 (see the
        module docstring for why not G14's n′ − p)."""
        return max(self.residual_dof * self.n_effective / max(self.n, 1), 1.0)

    def t_value(self, confidence: float) -> float:
        """Student's t at two-sided ``confidence`` on :attr:`t_dof`."""
        return t_quantile(0.5 + confidence / 2, self.t_dof)


@dataclass
class ReportingStats:
    """Avoided energy over the reporting period [kWh] and its uncertainty."""

    actual_kwh: float
    adjusted_baseline_kwh: float
    savings_kwh: float
    savings_pct: float
    fsu_pct: float | None
    savings_interval_kwh: tuple[float, float]
    confidence: float
    n: int


@dataclass
class SavingsResult:
    """Everything an M&V report needs. ``series``: per reporting observation (time, actual,
    adjusted_baseline, savings, cumulative_savings [kWh]); ``form``: the fitted model's
    form (e.g. ``hdd_cdd``); ``settings``: what it was made with."""

    meter: str
    model: str
    granularity: Granularity
    baseline: FitStats
    reporting: ReportingStats
    warnings: list[DataWarning]
    series: pd.DataFrame
    model_detail: dict[str, Any] = field(default_factory=dict)
    form: str = ""
    settings: SavingsSettings = field(default_factory=SavingsSettings)
    disqualified: list[str] = field(default_factory=list)
    forced: bool = False
    audit: dict[str, Any] = field(default_factory=dict)
    """How to recompute the result (:func:`audit_trail`): time zone, periods, input hashes,
    software versions."""

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON shape: the numbers, how they were made (model form, parameters,
        degrees of freedom, settings) and the warnings."""
        b, r = self.baseline, self.reporting
        return {
            "meter": self.meter,
            "model": self.model,
            "model_form": self.form,
            "granularity": self.granularity,
            "baseline": {
                "cv_rmse_pct": _num(b.cv_rmse_pct),
                "nmbe_pct": _num(b.nmbe_pct),
                "r2": _num(b.r2),
                "n": b.n,
                "n_params": b.n_params,
                "residual_dof": b.residual_dof,
                "autocorrelation": _num(b.autocorrelation),
                "n_effective": _num(b.n_effective),
                "g14_pass": b.g14_pass,
            },
            "reporting": {
                "actual_kwh": _num(r.actual_kwh),
                "adjusted_baseline_kwh": _num(r.adjusted_baseline_kwh),
                "savings_kwh": _num(r.savings_kwh),
                "savings_pct": _num(r.savings_pct),
                "fsu_pct": _num(r.fsu_pct),
                "savings_interval_kwh": [_num(v) for v in r.savings_interval_kwh],
                "confidence": r.confidence,
                "n": r.n,
            },
            "sufficiency": {
                "disqualified": self.disqualified,
                "forced": self.forced,
                "note": ("CalTRACK data sufficiency disqualifies this meter; the estimate was "
                         "forced and is not a CalTRACK result") if self.forced else "",
            },
            "settings": self.settings.used_by(self.model),
            "warnings": [w.to_dict() for w in self.warnings],
            "coefficients": self.model_detail,
            "uncertainty": {
                "method": "ASHRAE Guideline 14 (2014) Annex B with lag-1 autocorrelation: "
                          "t(conf, nu) * 1.26 * CV * sqrt((n/n') * (1 + 2/n') / m) * "
                          "E_adjusted, n' = n (1 - rho)/(1 + rho), nu = (n - p) n'/n",
                "confidence": r.confidence,
                "n": b.n,
                "n_params": b.n_params,
                "autocorrelation": _num(b.autocorrelation),
                "n_effective": _num(b.n_effective),
                "t_dof": _num(b.t_dof),
                "t_value": _num(b.t_value(r.confidence)),
                "cv_rmse_pct": _num(b.cv_rmse_pct),
                "m": r.n,
                "half_width_kwh": _num((r.savings_interval_kwh[1]
                                        - r.savings_interval_kwh[0]) / 2),
            },
            **self.audit,
        }


def data_hash(*frames: pd.DataFrame | pd.Series) -> str:
    """SHA-256 of the frames' canonical CSV text (times UTC ISO 8601, values %.6f), to check
    that a recomputation uses the same data."""
    digest = hashlib.sha256()
    for frame in frames:
        canon = (frame.rename_axis("time").reset_index() if isinstance(frame, pd.Series)
                 else frame.copy())
        for column in canon.columns:
            if isinstance(canon[column].dtype, pd.DatetimeTZDtype):
                canon[column] = canon[column].dt.tz_convert("UTC").dt.strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
        digest.update(canon.to_csv(index=False, float_format="%.6f").encode())
    return digest.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of wattlens and the numerical libraries a result was computed with."""
    try:
        own = version("wattlens")
    except PackageNotFoundError:
        own = "unknown (not installed)"
    return {"wattlens": own, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__}


def audit_trail(inp: Inputs, fitted: Fitted, commodity: Commodity) -> dict[str, Any]:
    """What a result needs besides its numbers to be recomputed and checked: time zone,
    periods asked for and observations used, the data as used (hashes of the cleaned meter
    series [kWh] and the temperature [degC]), software versions."""
    def span(obs: pd.DataFrame) -> list[str] | None:
        times = pd.DatetimeIndex(obs["time"])
        return [times[0].isoformat(), times[-1].isoformat()] if len(times) else None

    return {
        "timezone": inp.tz,
        "commodity": commodity,
        "periods": {
            "baseline": [inp.baseline.start.isoformat(), inp.baseline.end.isoformat()],
            "reporting": [inp.reporting.start.isoformat(), inp.reporting.end.isoformat()],
            "excluded": [[w.start.isoformat(), w.end.isoformat()] for w in inp.excluded],
            "baseline_observations_used": span(fitted.baseline),
            "reporting_observations_used": span(fitted.reporting),
        },
        "inputs": {
            "interval": str(inp.interval),
            "readings_used": len(inp.load),
            "readings_sha256": data_hash(inp.load.rename("value")),
            "temperature_readings": len(inp.temperature),
            "temperature_sha256": data_hash(inp.temperature.rename("temperature")),
            "hashed": "the meter's cleaned readings (time, value [kWh]) and the outdoor "
                      "temperature (time, temperature [degC]) as CSV, times UTC ISO 8601, "
                      "values %.6f",
        },
        "software": software_versions(),
    }


def _num(value: float | None) -> float | None:
    """JSON-safe float: None for missing or non-finite values."""
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 6)


@dataclass
class Inputs:
    """What a baseline model gets: one meter's energy [kWh per interval] with excluded
    windows removed, its interval, outdoor temperature [degC], periods, the site's calendar
    and the settings."""

    load: pd.Series
    interval: pd.Timedelta
    granularity: Granularity
    temperature: pd.Series
    calendar: SiteCalendar
    baseline: Period
    reporting: Period
    excluded: list[Period]
    settings: SavingsSettings

    @property
    def tz(self) -> str:
        return self.calendar.timezone


@dataclass
class Fitted:
    """A baseline model's output: in-sample baseline and reporting observations (columns
    time, actual, predicted [kWh per observation]) at the model's granularity, its
    parameter count, its form, details and the warnings it raised."""

    baseline: pd.DataFrame
    reporting: pd.DataFrame
    n_params: int
    granularity: Granularity
    detail: dict[str, Any]
    form: str
    warnings: list[DataWarning] = field(default_factory=list)


BaselineModel = Callable[[Inputs], Fitted]
BASELINE_MODELS: Registry[BaselineModel] = Registry("baseline model")
"""Registered baseline models by name (``@BASELINE_MODELS.register("name")``)."""
register_baseline = BASELINE_MODELS.register


# ---- helpers ----------------------------------------------------------------------------


def infer_granularity(interval: pd.Timedelta) -> Granularity:
    """hourly (< 1 day), daily (1 day), billing (≥ 20 days)."""
    if interval < pd.Timedelta(hours=23):
        return "hourly"
    if interval < pd.Timedelta(days=20):
        return "daily"
    return "billing"


def _overlaps(
    starts: pd.DatetimeIndex, ends: pd.DatetimeIndex, windows: list[Period]
) -> np.ndarray:
    hit = np.zeros(len(starts), dtype=bool)
    for w in windows:
        hit |= np.asarray((starts < w.end) & (ends > w.start))
    return hit


def _within(starts: pd.DatetimeIndex, ends: pd.DatetimeIndex, period: Period) -> np.ndarray:
    return np.asarray((starts >= period.start) & (ends <= period.end))


def obs_frame(times: Sequence, actual: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """The observation frame a baseline model returns: time, actual, predicted [kWh]."""
    return pd.DataFrame(
        {
            "time": pd.DatetimeIndex(times),
            "actual": np.asarray(actual, dtype=float),
            "predicted": np.asarray(predicted, dtype=float),
        }
    )


def _lag1_autocorrelation(resid: np.ndarray, times: pd.DatetimeIndex) -> float:
    """Lag-1 autocorrelation of residuals over pairs of consecutive observations."""
    if len(resid) < 3:
        return 0.0
    steps = np.diff(times.asi8)
    consecutive = steps <= np.median(steps) * 1.5
    a, b = resid[:-1][consecutive], resid[1:][consecutive]
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.clip(np.corrcoef(a, b)[0, 1], -0.99, 0.99))


def fit_statistics(obs: pd.DataFrame, n_params: int, granularity: Granularity) -> FitStats:
    """CV(RMSE), NMBE (both with n − p), R² and G14 pass/fail of in-sample observations."""
    y, yhat = obs["actual"].to_numpy(), obs["predicted"].to_numpy()
    n = len(y)
    dof = max(n - n_params, 1)
    ybar = y.mean()
    resid = y - yhat
    sst = float(((y - ybar) ** 2).sum())
    cv = float(np.sqrt((resid**2).sum() / dof) / ybar * 100) if ybar else float("inf")
    nmbe = float(resid.sum() / (dof * ybar) * 100) if ybar else float("inf")
    r2 = float(1 - (resid**2).sum() / sst) if sst > 0 else 0.0
    cv_max, nmbe_max = G14_LIMITS[granularity]
    rho = _lag1_autocorrelation(resid, pd.DatetimeIndex(obs["time"]))
    return FitStats(
        cv_rmse_pct=cv,
        nmbe_pct=nmbe,
        r2=r2,
        n=n,
        n_params=n_params,
        autocorrelation=rho,
        g14_pass=bool(cv <= cv_max and abs(nmbe) <= nmbe_max),
    )


def savings_uncertainty(
    stats: FitStats,
    m: int,
    adjusted_baseline_kwh: float,
    confidence: float,
) -> float:
    """Absolute uncertainty of the reporting-period savings [kWh] at two-sided
    ``confidence``: ASHRAE G14 with the lag-1 autocorrelation correction. Its n/n' factor is
    already the variance of a sum of AR(1) errors; on simulated no-change meters with AR(1)
    residuals the interval holds the true zero ~85 % of the time at 90 % nominal for ρ from
    0 to 0.95 (tests/analytics_mv/test_mv_savings.py). t is taken on ν = (n − p)·n′/n
    (:attr:`FitStats.t_dof`)."""
    n, n_eff = stats.n, stats.n_effective
    t = stats.t_value(confidence)
    cv = stats.cv_rmse_pct / 100
    return float(
        t * G14_FACTOR * cv * np.sqrt((n / n_eff) * (1 + 2 / n_eff) / max(m, 1))
        * abs(adjusted_baseline_kwh)
    )


# ---- CalTRACK daily / billing ------------------------------------------------------------


def _days_of(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> pd.DatetimeIndex:
    """Local midnights of the days whose middle (noon) lies in [start, end): a bill from
    00:00 standard time that reads 01:00 in summer time still covers whole days."""
    local_start, local_end = start.tz_convert(tz), end.tz_convert(tz)
    dates = pd.date_range(local_start.date() - pd.Timedelta(days=1),
                          local_end.date() + pd.Timedelta(days=1), freq="D")
    days = dates.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward").dropna()
    noon = days + pd.Timedelta(hours=12)
    return days[(noon >= local_start) & (noon < local_end)]


def _hourly_to_days(inp: Inputs) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Complete local days of interval data: start, end, usage [kWh], days."""
    local = inp.load.tz_convert(inp.tz)
    grouped = local.groupby(local.index.normalize())
    totals, counts = grouped.sum(), grouped.count()
    starts = pd.DatetimeIndex(totals.index)
    ends = starts + pd.DateOffset(days=1)
    expected = np.asarray((ends - starts) / inp.interval)
    complete = counts.to_numpy() >= np.round(expected)
    complete_days = set(starts[complete].tz_convert("UTC"))
    warnings = []
    for label, period in (("baseline", inp.baseline), ("reporting", inp.reporting)):
        days = _days_of(period.start, period.end, inp.tz).tz_convert("UTC")
        days = days[~_overlaps(days, days + pd.Timedelta(days=1), inp.excluded)]
        incomplete = [d for d in days if d not in complete_days]
        if incomplete:
            empty = sum(d.tz_convert(inp.tz) not in totals.index for d in incomplete)
            warnings.append(DataWarning(
                "savings.incomplete-days",
                f"{label}: {len(incomplete)} of {len(days)} local days have incomplete "
                f"interval data ({empty} of them none at all) and were left out of the daily "
                f"model",
                {"period": label, "days": len(incomplete), "empty": int(empty),
                 "of": len(days)},
            ))
    frame = pd.DataFrame({"start": starts, "end": ends, "usage": totals.to_numpy(), "days": 1.0})
    return frame[complete], warnings


def _bills(inp: Inputs) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Billing periods: each reading is a bill running to the next reading."""
    starts = inp.load.index.tz_convert(inp.tz)
    if len(starts) < 2:
        raise SavingsError("billing data: fewer than two bills; the bill ends are unknown")
    frame = pd.DataFrame(
        {"start": starts[:-1], "end": starts[1:], "usage": inp.load.to_numpy()[:-1]}
    )
    frame["days"] = (frame["end"] - frame["start"]) / pd.Timedelta(days=1)
    last = DataWarning(
        "savings.last-bill-left-out",
        f"billing data: the last bill (from {starts[-1].date()}) was left out because its "
        f"end date is unknown (a bill ends where the next one starts)",
        {"start": starts[-1].isoformat()},
    )
    return frame, [last]


def _daily_periods(inp: Inputs) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Observation periods for CalTRACK: start, end (UTC), usage [kWh], days."""
    warnings: list[DataWarning] = []
    if inp.granularity == "hourly":
        frame, warnings = _hourly_to_days(inp)
    elif inp.granularity == "daily":
        starts = (inp.load.index + inp.interval / 2).tz_convert(inp.tz).normalize()
        frame = pd.DataFrame(
            {"start": starts, "end": starts + pd.DateOffset(days=1),
             "usage": inp.load.to_numpy(), "days": 1.0}
        )
    else:
        frame, warnings = _bills(inp)
    frame["start"] = pd.DatetimeIndex(frame["start"]).tz_convert("UTC")
    frame["end"] = pd.DatetimeIndex(frame["end"]).tz_convert("UTC")
    return frame.reset_index(drop=True), warnings


def _split_periods(
    inp: Inputs, periods: pd.DataFrame, covered: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, list[DataWarning]]:
    """Baseline and reporting periods outside excluded windows and with temperature."""
    starts, ends = pd.DatetimeIndex(periods["start"]), pd.DatetimeIndex(periods["end"])
    excluded = _overlaps(starts, ends, inp.excluded)
    coverage = inp.settings.caltrack_daily.min_period_coverage
    out: dict[str, pd.DataFrame] = {}
    warnings = []
    for label, period in (("baseline", inp.baseline), ("reporting", inp.reporting)):
        rows = _within(starts, ends, period) & ~excluded
        missing_temp = rows & ~covered
        if missing_temp.any():
            warnings.append(DataWarning(
                "savings.periods-without-temperature",
                f"{label}: {int(missing_temp.sum())} of {int(rows.sum())} periods have "
                f"temperature for fewer than {coverage:.0%} of their days and were left out",
                {"period": label, "left_out": int(missing_temp.sum()), "of": int(rows.sum())},
            ))
        out[label] = periods[rows & covered]
    base = out["baseline"]
    if len(base) < 3:
        in_base = _within(starts, ends, inp.baseline) & ~excluded
        raise SavingsError(
            f"baseline {inp.baseline}: only {len(base)} usable periods — "
            f"{int(in_base.sum())} {'bills' if inp.granularity == 'billing' else 'complete days'}"
            f" of usage, {int((in_base & covered).sum())} of them with temperature; the "
            f"CalTRACK daily model needs at least 3 (days with missing intervals do not count: "
            f"try --model towt for gappy interval data, or give the baseline's weather)"
        )
    return base, out["reporting"], warnings


DegreeDays = Literal["daily_mean", "degree_hours"]


@register_baseline("caltrack-daily")
def caltrack_daily(inp: Inputs) -> Fitted:
    """CalTRACK 2.0 daily (or billing) HDD/CDD model with balance-point search on degree
    days of each local day's mean temperature."""
    return _daily_model(inp, "daily_mean")


@register_baseline("daily-degree-hours")
def daily_degree_hours(inp: Inputs) -> Fitted:
    """The CalTRACK daily/billing model on degree days computed as mean degree hours (equal
    to ``caltrack-daily`` for daily temperature input)."""
    return _daily_model(inp, "degree_hours")


def _daily_model(inp: Inputs, degree_days: DegreeDays) -> Fitted:
    """The CalTRACK daily/billing fit with ``degree_days`` of the daily mean or hourly."""
    settings = inp.settings.caltrack_daily
    periods, warnings = _daily_periods(inp)
    period_days = [
        _days_of(s, e, inp.tz)
        for s, e in zip(pd.DatetimeIndex(periods["start"]), pd.DatetimeIndex(periods["end"]),
                        strict=True)
    ]
    per_day = day_temperatures(inp.temperature, inp.tz, settings.min_hours_per_day)
    if degree_days == "daily_mean":
        per_day = {day: np.array([values.mean()]) for day, values in per_day.items()}
    covered = np.array(
        [len(days) > 0 and np.mean([d in per_day for d in days]) >= settings.min_period_coverage
         for days in period_days],
        dtype=bool,
    )
    base, rep, split_warnings = _split_periods(inp, periods, covered)
    days_b = base["days"].to_numpy()
    temps = [np.concatenate([per_day[d] for d in days if d in per_day]) for days in period_days]
    try:
        model = fit_daily_model(
            base["usage"].to_numpy() / days_b,
            [temps[i] for i in base.index],
            weights=days_b if inp.granularity == "billing" else None,
            settings=settings,
        )
    except CaltrackError as exc:
        raise SavingsError(f"baseline {inp.baseline}: {exc}") from None

    def predict(frame: pd.DataFrame) -> np.ndarray:
        per_day = np.array([model.usage_per_day(temps[i]).mean() for i in frame.index])
        return per_day * frame["days"].to_numpy()

    granularity: Granularity = "billing" if inp.granularity == "billing" else "daily"
    detail = {"caltrack": model.to_dict(),
              "degree_days": {"daily_mean": "of the local day's mean temperature",
                              "degree_hours": "mean degree hours"}[degree_days],
              "units": "kWh/day, degC"}
    return Fitted(
        baseline=obs_frame(base["start"], base["usage"], predict(base)),
        reporting=obs_frame(rep["start"], rep["usage"], predict(rep)),
        n_params=model.n_params,
        granularity=granularity,
        detail=detail,
        form=model.kind,
        warnings=warnings + split_warnings,
    )


# ---- interval models -----------------------------------------------------------------------


def interval_split(inp: Inputs, model: str) -> tuple[pd.Series, pd.Series]:
    """Baseline and reporting readings of interval data outside excluded windows;
    SavingsError naming ``model`` for daily or billing data."""
    if inp.granularity != "hourly":
        raise SavingsError(
            f"model {model!r} needs interval data (hourly or finer); this meter's interval is "
            f"{inp.interval} — use --model caltrack-daily"
        )
    times = inp.load.index
    ends = times + inp.interval
    keep = ~_overlaps(times, ends, inp.excluded)
    base = inp.load[_within(times, ends, inp.baseline) & keep]
    rep = inp.load[_within(times, ends, inp.reporting) & keep]
    return base, rep


def drop_unpredicted(
    rep: pd.Series, predicted: pd.Series
) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Reporting observations with a prediction, and a warning about those without."""
    ok = predicted.notna().to_numpy()
    warnings = []
    if (~ok).any():
        warnings.append(DataWarning(
            "savings.intervals-without-temperature",
            f"reporting: {int((~ok).sum())} of {len(ok)} intervals "
            f"({rep[~ok].sum():.1f} kWh) have no temperature within 3 h and were left out of "
            f"both actual and adjusted baseline",
            {"intervals": int((~ok).sum()), "of": len(ok), "kwh": float(rep[~ok].sum())},
        ))
    return obs_frame(rep.index[ok], rep.to_numpy()[ok], predicted.to_numpy()[ok]), warnings


@register_baseline("caltrack-hourly")
@register_baseline("towt")
def towt(inp: Inputs) -> Fitted:
    """CalTRACK hourly time-of-week-and-temperature model."""
    base, rep = interval_split(inp, "towt")
    try:
        model = fit_towt(base, inp.temperature, inp.tz, inp.settings.towt)
    except TowtError as exc:
        raise SavingsError(f"baseline {inp.baseline}: {exc}") from None
    fitted = model.predict(base.index, inp.temperature)
    ok = fitted.notna().to_numpy()
    reporting, warnings = drop_unpredicted(rep, model.predict(rep.index, inp.temperature))
    return Fitted(
        baseline=obs_frame(base.index[ok], base.to_numpy()[ok], fitted.to_numpy()[ok]),
        reporting=reporting,
        n_params=model.n_params,
        granularity="hourly",
        detail={"towt": model.to_dict()},
        form=f"caltrack-towt ({model.segmentation})",
        warnings=warnings,
    )


# ---- the estimate ------------------------------------------------------------------------


def _meter_series(readings: pd.DataFrame, meter: str) -> pd.Series:
    energy = readings[(readings["meter"] == meter) & (readings["quantity"] == "energy")]
    if energy.empty:
        meters = sorted(readings.loc[readings["quantity"] == "energy", "meter"].unique())
        raise SavingsError(
            f"meter {meter!r} has no energy readings; meters with energy readings: {meters}"
        )
    series = pd.Series(
        energy["value"].to_numpy(dtype=float),
        index=pd.DatetimeIndex(energy["time"]).tz_convert("UTC").astype("datetime64[ns, UTC]"),
        name=meter,
    ).sort_index()
    return series


def _flagged_times(readings: pd.DataFrame, meter: str) -> pd.DatetimeIndex:
    """UTC times of ``meter``'s energy readings stored with quality ``suspect`` (ingest
    plausibility limits, meter resets, gap-spanning increases)."""
    if "quality" not in readings.columns:
        return pd.DatetimeIndex([], tz="UTC")
    rows = readings[(readings["meter"] == meter) & (readings["quantity"] == "energy")
                    & (readings["quality"] == "suspect")]
    return pd.DatetimeIndex(rows["time"]).tz_convert("UTC")


def drop_suspect(load: pd.Series, flagged: pd.DatetimeIndex, settings: SavingsSettings
                 ) -> tuple[pd.Series, list[DataWarning]]:
    """``load`` [kWh per interval] without the readings stored ``suspect`` (at ``flagged``
    times) and, for interval and daily data, without the partial readings at gap edges
    (:func:`wattlens.analytics.anomalies.gap_edge_mask`, ``settings.gap_edge``), with a
    warning counting each. Gaps are missing rows and blank values, as in forecasting: run it
    before zeros are read as missing (:func:`clean_load`), or every low reading beside a
    zero would count as partial."""
    load, warnings = _leave_out(
        load, load.index.isin(flagged), "savings.suspect-readings",
        "readings stored flagged 'suspect' (implausible values, meter resets) were left out")
    try:
        step = infer_interval(load.index)
    except IntervalError:
        return load, warnings
    if infer_granularity(step) == "billing" or load.empty:
        return load, warnings
    grid = regular_series(load[~load.index.duplicated()], step, load.index[-1] + step)
    load, edge_warnings = _leave_out(
        load, load.index.isin(grid.index[gap_edge_mask(grid, settings.gap_edge)]),
        "savings.gap-edges", f"partial readings next to gaps (below "
        f"{settings.gap_edge.ratio:.0%} of their neighbours) were left out as missing",
        ratio=settings.gap_edge.ratio)
    return load, warnings + edge_warnings


def _leave_out(load: pd.Series, mask: np.ndarray, code: str, what: str, **data: Any
               ) -> tuple[pd.Series, list[DataWarning]]:
    """``load`` without the readings of ``mask``, and a warning ``code`` counting them:
    "<count> <what> (first at <time>)", its data the count and ``data``."""
    if not mask.any():
        return load, []
    count = int(mask.sum())
    return load[~mask], [DataWarning(
        code, f"{count} {what} (first at {load.index[mask][0].isoformat()})",
        {"readings": count, **data})]


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) positions of the runs of True in ``flags``."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def clean_load(load: pd.Series, commodity: Commodity, settings: SavingsSettings
               ) -> tuple[pd.Series, list[DataWarning]]:
    """The meter's readings [kWh] with blank values dropped and zeros handled by
    ``settings.zeros``, and warnings counting both."""
    load, warnings = _leave_out(load, load.isna().to_numpy(), "savings.blank-values",
                                "readings have a blank value and were read as missing")
    rule = settings.zeros
    if rule == "auto":
        rule = "missing" if commodity == "electricity" else "reading"
    zero = (load == 0).to_numpy()
    if rule == "missing" and zero.any():
        warnings.append(DataWarning(
            "savings.zeros-missing",
            f"{int(zero.sum())} zero readings of this {commodity} meter were read as missing "
            f"(zeros = {settings.zeros}); set zeros = 'reading' if they are real zero use",
            {"readings": int(zero.sum()), "rule": settings.zeros, "commodity": commodity},
        ))
        return load[~zero], warnings
    if zero.any():
        times = load.index
        steps = np.diff(times.asi8).astype(float) / 1e9
        step = np.median(steps) if len(steps) else 0.0
        long_runs = [(a, b) for a, b in _runs(zero)
                     if (b - a) * step >= settings.zero_run_days * 86400 and b - a >= 2]
        if long_runs:
            longest = max(long_runs, key=lambda r: r[1] - r[0])
            warnings.append(DataWarning(
                "savings.zero-runs",
                f"{len(long_runs)} runs of zero readings last {settings.zero_run_days:g} days "
                f"or more (longest {longest[1] - longest[0]} readings from "
                f"{times[longest[0]].isoformat()}); they look like missing data but count as "
                f"zero use (zeros = {settings.zeros}, {commodity}) — set zeros = 'missing' "
                f"(--zeros missing) if the meter was not reporting",
                {"runs": len(long_runs), "readings": int(sum(b - a for a, b in long_runs)),
                 "rule": settings.zeros, "commodity": commodity},
            ))
    return load, warnings


def _outliers(inp: Inputs) -> list[DataWarning]:
    """Readings beyond ``outlier_iqr`` interquartile ranges outside the quartiles, per period
    (flagged, not removed, as CalTRACK does)."""
    warnings = []
    k = inp.settings.outlier_iqr
    for label, period in (("baseline", inp.baseline), ("reporting", inp.reporting)):
        values = inp.load[_within(inp.load.index, inp.load.index + inp.interval, period)]
        if len(values) < 4:
            continue
        q1, q3 = np.percentile(values, [25, 75])
        low, high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
        out = values[(values < low) | (values > high)]
        if len(out):
            warnings.append(DataWarning(
                "savings.outliers",
                f"{label}: {len(out)} of {len(values)} readings lie beyond {k:g} × IQR of the "
                f"quartiles (outside [{low:.3g}, {high:.3g}] kWh; first at "
                f"{out.index[0].isoformat()}); flagged, not removed — check them",
                {"period": label, "readings": len(out), "of": len(values),
                 "low_kwh": float(low), "high_kwh": float(high)},
            ))
    return warnings


def _negative(inp: Inputs) -> list[DataWarning]:
    """Negative readings in either period (CalTRACK disqualifies them)."""
    times = inp.load.index
    rows = (_within(times, times + inp.interval, inp.baseline)
            | _within(times, times + inp.interval, inp.reporting))
    negative = inp.load[rows & (inp.load < 0).to_numpy()]
    if negative.empty:
        return []
    return [DataWarning(
        "savings.negative-values",
        f"{len(negative)} negative readings (first at {negative.index[0].isoformat()}); a "
        f"consumption meter cannot run backwards — net metering needs a separate meter",
        {"readings": len(negative)},
    )]


def _coverage_warnings(inp: Inputs) -> list[DataWarning]:
    """CalTRACK data sufficiency, as warnings with numbers."""
    base, settings = inp.baseline, inp.settings
    need = settings.min_coverage
    daily_temperature = (infer_interval(inp.temperature.index, default=pd.Timedelta(0))
                         >= pd.Timedelta(hours=23))
    warnings = []
    if base.days < settings.caltrack_baseline_days - 0.5:
        warnings.append(DataWarning(
            "savings.short-baseline",
            f"baseline covers {base.days:.0f} days; CalTRACK requires "
            f"{settings.caltrack_baseline_days:.0f} (12 months) so that every season is in "
            f"the model",
            {"days": base.days, "required": settings.caltrack_baseline_days},
        ))
    for label, period in (("baseline", base), ("reporting", inp.reporting)):
        times = inp.load.index
        rows = _within(times, times + inp.interval, period)
        excluded_days = sum(
            max((min(w.end, period.end) - max(w.start, period.start)).total_seconds(), 0)
            for w in inp.excluded
        ) / 86400
        days_with_data = len(pd.DatetimeIndex(times[rows]).tz_convert(inp.tz).normalize().unique())
        if inp.granularity == "billing":
            share = inp.interval * int(rows.sum()) / (period.end - period.start)
        else:
            share = days_with_data / max(period.days - excluded_days, 1)
        if share < need:
            # bills rarely line up with the periods: short coverage there is not disqualifying
            warnings.append(DataWarning(
                "savings.billing-coverage" if inp.granularity == "billing"
                else "savings.data-coverage",
                f"{label}: data on {min(share, 1):.0%} of days ({days_with_data} of "
                f"{period.days - excluded_days:.0f}); CalTRACK requires {need:.0%}",
                {"period": label, "share": float(share), "required": need},
            ))
        temp = inp.temperature[
            (inp.temperature.index >= period.start) & (inp.temperature.index < period.end)
        ].dropna()
        if daily_temperature:
            unit, slots = "days", len(temp.index.tz_convert(inp.tz).normalize().unique())
            total = period.days
        else:
            unit, slots = "hours", len(temp.index.floor("h").unique())
            total = period.days * 24
        temp_share = slots / max(total, 1)
        if temp_share < need:
            warnings.append(DataWarning(
                "savings.temperature-coverage",
                f"{label}: temperature on {temp_share:.0%} of {unit} ({slots} of "
                f"{total:.0f}); CalTRACK requires {need:.0%}",
                {"period": label, "share": float(temp_share), "required": need},
            ))
    return warnings


def _periods(
    baseline: tuple[Any, Any],
    reporting: tuple[Any, Any],
    blackout: tuple[Any, Any] | None,
    exclude: Sequence[tuple[Any, Any]],
    tz: str,
) -> tuple[Period, Period, list[Period]]:
    """Baseline, reporting and excluded windows (non-routine ones, then the blackout)."""
    base_p = parse_period(*baseline, tz=tz, name="baseline")
    rep_p = parse_period(*reporting, tz=tz, name="reporting")
    if rep_p.start < base_p.end:
        raise SavingsError(
            f"reporting period ({rep_p}) starts before the baseline ends ({base_p.end}); the "
            f"reporting period must follow the baseline"
        )
    excluded = [parse_period(*w, tz=tz, name="excluded window") for w in exclude]
    if blackout is not None:
        excluded.append(parse_period(*blackout, tz=tz, name="blackout"))
    return base_p, rep_p, excluded


def _temperature(weather: pd.DataFrame) -> pd.Series:
    """Outdoor temperature [degC] of the weather frame; SavingsError when it has none."""
    if "temperature" not in weather.columns:
        raise SavingsError(
            f"weather has no 'temperature' column (columns: {list(weather.columns)}); give "
            f"outdoor temperature [degC]"
        )
    if not isinstance(weather.index, pd.DatetimeIndex) or weather.index.tz is None:
        raise SavingsError("weather: expected a frame indexed by tz-aware (UTC) times")
    return weather["temperature"].dropna().astype(float)


def _calendar(tz: str, country: str | None) -> SiteCalendar:
    """The site's calendar; SavingsError naming the bad timezone or country."""
    try:
        return SiteCalendar(timezone=tz, country=country)
    except ValidationError as exc:
        raise SavingsError(
            f"site calendar (tz={tz!r}, country={country!r}): "
            f"{exc.errors()[0]['msg']}"
        ) from None


def _check_sufficient(inp: Inputs, meter: str) -> None:
    """SavingsError when a period has no readings or no temperature, or the baseline has
    fewer than ``min_baseline_days`` of readings."""
    load, temperature, interval = inp.load, inp.temperature, inp.interval
    for label, period in (("baseline", inp.baseline), ("reporting", inp.reporting)):
        inside = _within(load.index, load.index + interval, period)
        if not inside.any():
            raise SavingsError(
                f"{label} {period}: meter {meter!r} has no readings in it (its readings run "
                f"{load.index[0]} .. {load.index[-1]}); choose a period with data"
            )
        temp_inside = temperature[(temperature.index >= period.start)
                                  & (temperature.index < period.end)]
        if temp_inside.empty:
            raise SavingsError(
                f"{label} {period}: no temperature readings in it; the weather runs "
                f"{_span(temperature)} — give weather covering both periods"
            )
    base_inside = load[_within(load.index, load.index + interval, inp.baseline)]
    base_days = len(base_inside) * interval / pd.Timedelta(days=1)
    minimum = inp.settings.min_baseline_days
    if base_days < minimum:
        raise SavingsError(
            f"baseline {inp.baseline}: only {base_days:.1f} days of readings; at least "
            f"{minimum:g} are needed to fit a baseline (CalTRACK asks for 365)"
        )


def _inputs(
    readings: pd.DataFrame,
    weather: pd.DataFrame,
    meter: str,
    periods: tuple[Period, Period, list[Period]],
    calendar: SiteCalendar,
    settings: SavingsSettings,
    commodity: Commodity,
) -> tuple[Inputs, list[DataWarning]]:
    """The meter's data, cleaned (:func:`drop_suspect`, :func:`clean_load`) and checked for
    sufficiency, as a baseline model gets it, and the cleaning's warnings."""
    temperature = _temperature(weather)
    load, suspect = drop_suspect(_meter_series(readings, meter),
                                 _flagged_times(readings, meter), settings)
    load, warnings = clean_load(load, commodity, settings)
    warnings = suspect + warnings
    try:
        interval = infer_interval(load.index)
    except IntervalError:
        raise SavingsError(f"meter {meter!r}: a single reading; nothing to model") from None
    base_p, rep_p, excluded = periods
    inp = Inputs(
        load=load,
        interval=interval,
        granularity=infer_granularity(interval),
        temperature=temperature,
        calendar=calendar,
        baseline=base_p,
        reporting=rep_p,
        excluded=excluded,
        settings=settings,
    )
    _check_sufficient(inp, meter)
    return inp, warnings


def _model_name(model: str, granularity: Granularity) -> str:
    """The registered model ``model`` names (``auto``: towt for interval data, else
    caltrack-daily)."""
    name = model
    if model == "auto":
        name = "towt" if granularity == "hourly" else "caltrack-daily"
    if name not in BASELINE_MODELS:
        raise SavingsError(
            f"unknown model {model!r}; choose auto or one of {sorted(BASELINE_MODELS.names())}"
            f" (models of other packages register when imported: wattlens.forecasting.mv adds "
            f"prophet)"
        )
    return name


def _fit_warnings(stats: FitStats, granularity: Granularity, min_dof: int
                  ) -> list[DataWarning]:
    """Warnings about the baseline fit: G14 failed, too few residual degrees of freedom."""
    warnings = []
    if not stats.g14_pass:
        cv_max, nmbe_max = G14_LIMITS[granularity]
        warnings.append(DataWarning(
            "savings.g14-fail",
            f"baseline model fails ASHRAE Guideline 14 ({granularity}): CV(RMSE) "
            f"{stats.cv_rmse_pct:.1f} % (limit {cv_max:.0f} %), NMBE {stats.nmbe_pct:.2f} % "
            f"(limit ±{nmbe_max:.0f} %)",
            {"cv_rmse_pct": stats.cv_rmse_pct, "nmbe_pct": stats.nmbe_pct,
             "cv_rmse_limit_pct": cv_max, "nmbe_limit_pct": nmbe_max},
        ))
    if stats.residual_dof < min_dof:
        warnings.append(DataWarning(
            "savings.few-residual-dof",
            f"baseline: {stats.n} observations for a {stats.n_params}-parameter model leave "
            f"{stats.residual_dof} residual degrees of freedom (want >= {min_dof}); its "
            f"parameters, balance points above all, are weakly determined — monthly bills or "
            f"daily data pin them down better",
            {"n": stats.n, "n_params": stats.n_params, "residual_dof": stats.residual_dof},
        ))
    if stats.n_effective <= stats.n_params < stats.n:
        warnings.append(DataWarning(
            "savings.effective-dof",
            f"baseline residuals are autocorrelated (lag-1 ρ = {stats.autocorrelation:.2f}): "
            f"{stats.n} observations count as n′ = {stats.n_effective:.0f} independent ones, "
            f"no more than the model's {stats.n_params} parameters, so ASHRAE G14's n′ − p "
            f"degrees of freedom are not positive; t was taken on ν = (n − p)·n′/n = "
            f"{stats.t_dof:.0f} instead — the interval is an approximation, and a model with "
            f"fewer parameters (e.g. --model caltrack-daily) may describe these data better",
            {"n": stats.n, "n_effective": stats.n_effective, "n_params": stats.n_params,
             "autocorrelation": stats.autocorrelation, "t_dof": stats.t_dof},
        ))
    return warnings


def _excluded_warnings(inp: Inputs) -> list[DataWarning]:
    """How much energy the blackout and non-routine windows left out."""
    load = inp.load
    if not inp.excluded:
        return []
    excluded_kwh = float(load[_overlaps(load.index, load.index + inp.interval, inp.excluded)].sum())
    if not excluded_kwh:
        return []
    return [DataWarning(
        "savings.excluded-energy",
        f"{excluded_kwh:.1f} kWh in {len(inp.excluded)} blackout/non-routine window(s) left "
        f"out of baseline and reporting",
        {"kwh": excluded_kwh, "windows": len(inp.excluded)},
    )]


def _reporting(fitted: Fitted, stats: FitStats, confidence: float
               ) -> tuple[ReportingStats, pd.DataFrame]:
    """Avoided energy over the reporting period, its interval, and the per-observation
    series."""
    rep = fitted.reporting
    actual = float(rep["actual"].sum())
    adjusted = float(rep["predicted"].sum())
    savings = adjusted - actual
    delta = savings_uncertainty(stats, len(rep), adjusted, confidence)
    series = rep.rename(columns={"predicted": "adjusted_baseline"})
    series["savings"] = series["adjusted_baseline"] - series["actual"]
    series["cumulative_savings"] = series["savings"].cumsum()
    stats_rep = ReportingStats(
        actual_kwh=actual,
        adjusted_baseline_kwh=adjusted,
        savings_kwh=savings,
        savings_pct=savings / adjusted * 100 if adjusted else float("nan"),
        fsu_pct=abs(delta / savings) * 100 if savings else None,
        savings_interval_kwh=(savings - delta, savings + delta),
        confidence=confidence,
        n=len(rep),
    )
    return stats_rep, series


def estimate_savings(
    readings: pd.DataFrame,
    weather: pd.DataFrame,
    meter: str,
    baseline: tuple[Any, Any],
    reporting: tuple[Any, Any],
    blackout: tuple[Any, Any] | None = None,
    model: str = "auto",
    confidence: float | None = None,
    *,
    tz: str,
    country: str | None = None,
    exclude: Sequence[tuple[Any, Any]] = (),
    settings: SavingsSettings | None = None,
    commodity: Commodity = "electricity",
    force: bool = False,
) -> SavingsResult:
    """Avoided energy of ``meter`` over ``reporting`` against a baseline fitted on
    ``baseline``.

    ``readings``: readings frame (energy [kWh per interval]); ``weather``: wide frame on a UTC
    index with ``temperature`` [degC]; periods are (start, end) with ``end`` exclusive,
    naive values local to ``tz``; ``exclude``: non-routine windows left out of both periods;
    ``model``: a registered baseline model or ``auto`` (towt for interval data,
    caltrack-daily for daily and billing data); ``confidence`` of the savings interval
    (default ``settings.confidence``); ``settings``: the tunables (default: CalTRACK's);
    ``tz``: the site's IANA time zone (required: local days and hours of the week depend on
    it); ``commodity`` decides what a zero reading means (``settings.zeros``); ``force``
    estimates a meter that CalTRACK's sufficiency rules disqualify (:class:`Disqualified`
    otherwise), and the result records it.
    """
    settings = settings or SavingsSettings()
    confidence = settings.confidence if confidence is None else confidence
    if not 0 < confidence < 1:
        raise SavingsError(f"confidence {confidence} must be between 0 and 1, e.g. 0.9")
    calendar = _calendar(tz, country)
    periods = _periods(baseline, reporting, blackout, exclude, tz)
    inp, warnings = _inputs(readings, weather, meter, periods, calendar, settings, commodity)
    warnings += _coverage_warnings(inp) + _negative(inp) + _outliers(inp)
    disqualifying = [w for w in warnings if w.code in DISQUALIFYING]
    if disqualifying and not force:
        raise Disqualified(meter, disqualifying)
    name = _model_name(model, inp.granularity)
    fitted = BASELINE_MODELS[name](inp)
    if fitted.reporting.empty:
        raise SavingsError(
            f"reporting {inp.reporting}: no observations left after exclusions and temperature "
            f"checks"
        )
    stats = fit_statistics(fitted.baseline, fitted.n_params, fitted.granularity)
    warnings += fitted.warnings
    warnings += _fit_warnings(stats, fitted.granularity, settings.min_residual_dof)
    warnings += _excluded_warnings(inp)
    reporting_stats, series = _reporting(fitted, stats, confidence)
    return SavingsResult(
        meter=meter,
        model=name,
        granularity=fitted.granularity,
        baseline=stats,
        reporting=reporting_stats,
        warnings=warnings,
        series=series,
        model_detail=fitted.detail,
        form=fitted.form,
        settings=settings,
        disqualified=sorted({w.code for w in disqualifying}),
        audit=audit_trail(inp, fitted, commodity),
        forced=bool(disqualifying) and force,
    )


def _span(series: pd.Series) -> str:
    if series.empty:
        return "nowhere (no temperature at all)"
    return f"{series.index[0]} .. {series.index[-1]}"


def non_routine_windows(
    events: pd.DataFrame, meter: str, annotations: pd.DataFrame | None = None
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(start, end) windows of ``meter``'s events that are non-routine: kind
    ``non-routine`` or whose latest annotation has status ``non-routine``."""
    if events.empty:
        return []
    mine = events[events["meter"] == meter]
    flagged = mine["kind"] == "non-routine"
    if annotations is not None and not annotations.empty:
        latest = annotations.sort_values("at").groupby("event_id")["status"].last()
        flagged |= mine["event_id"].map(latest).eq("non-routine").to_numpy()
    chosen = mine[flagged]
    return list(zip(pd.DatetimeIndex(chosen["start"]), pd.DatetimeIndex(chosen["end"]),
                    strict=True))


# ---- comparison group ----------------------------------------------------------------------


@dataclass
class DidResult:
    """Difference in differences of daily energy [kWh/day] (treated − control, reporting −
    baseline); ``savings_*`` are positive when the treated meters used less."""

    treated: list[str]
    control: list[str]
    baseline_diff_kwh_per_day: float
    reporting_diff_kwh_per_day: float
    savings_kwh_per_day: float
    savings_kwh: float
    savings_pct: float
    interval_kwh_per_day: tuple[float, float]
    confidence: float
    n_baseline_days: int
    n_reporting_days: int


def _daily_mean(readings: pd.DataFrame, meters: list[str], tz: str) -> pd.Series:
    """Mean over ``meters`` of complete-day totals [kWh/day] on days every meter reported."""
    columns = []
    for meter in meters:
        series = _meter_series(readings, meter)
        interval = infer_interval(series.index, default=pd.Timedelta("1D"))
        local = series.tz_convert(tz)
        grouped = local.groupby(local.index.normalize())
        per_day = pd.Timedelta(days=1) / interval
        totals = grouped.sum()[grouped.count() >= np.floor(per_day * 0.96)]
        columns.append(totals.rename(meter))
    return pd.concat(columns, axis=1).dropna().mean(axis=1)


def difference_in_differences(
    readings: pd.DataFrame,
    treated: list[str],
    control: list[str],
    baseline: tuple[Any, Any],
    reporting: tuple[Any, Any],
    *,
    tz: str,
    confidence: float = 0.9,
) -> DidResult:
    """Comparison-group savings of ``treated`` vs ``control`` meters (testbed A/B trials):
    the change of the daily treated − control difference from baseline to reporting, with
    a confidence interval from the daily differences (lag-1 autocorrelation corrected)."""
    if not treated or not control:
        raise SavingsError("difference in differences needs at least one treated and one "
                           "control meter")
    overlap = set(treated) & set(control)
    if overlap:
        raise SavingsError(f"meters {sorted(overlap)} are both treated and control; pick one")
    base_p = parse_period(*baseline, tz=tz, name="baseline")
    rep_p = parse_period(*reporting, tz=tz, name="reporting")
    if rep_p.start < base_p.end:
        raise SavingsError(f"reporting period ({rep_p}) starts before the baseline ends")
    t_mean, c_mean = _daily_mean(readings, treated, tz), _daily_mean(readings, control, tz)
    diff = (t_mean - c_mean).dropna()
    days = pd.DatetimeIndex(diff.index).tz_convert("UTC")
    parts = {}
    for label, period in (("baseline", base_p), ("reporting", rep_p)):
        rows = (days >= period.start) & (days + pd.Timedelta(days=1) <= period.end)
        if rows.sum() < 7:
            raise SavingsError(
                f"{label} {period}: only {int(rows.sum())} days on which every treated and "
                f"control meter has complete data; need at least 7"
            )
        parts[label] = diff[rows]
    var = 0.0
    for part in parts.values():
        values = part.to_numpy()
        rho = _lag1_autocorrelation(values - values.mean(), pd.DatetimeIndex(part.index))
        n_eff = max(len(values) * (1 - rho) / (1 + rho), 2.0)
        var += values.var(ddof=1) / n_eff
    did = float(parts["reporting"].mean() - parts["baseline"].mean())
    dof = len(parts["baseline"]) + len(parts["reporting"]) - 2
    half = t_quantile(0.5 + confidence / 2, dof) * float(np.sqrt(var))
    treated_rep = float(t_mean.reindex(parts["reporting"].index).mean())
    counterfactual = treated_rep - did
    return DidResult(
        treated=list(treated),
        control=list(control),
        baseline_diff_kwh_per_day=float(parts["baseline"].mean()),
        reporting_diff_kwh_per_day=float(parts["reporting"].mean()),
        savings_kwh_per_day=-did,
        savings_kwh=-did * len(parts["reporting"]),
        savings_pct=-did / counterfactual * 100 if counterfactual else float("nan"),
        interval_kwh_per_day=(-did - half, -did + half),
        confidence=confidence,
        n_baseline_days=len(parts["baseline"]),
        n_reporting_days=len(parts["reporting"]),
    )

