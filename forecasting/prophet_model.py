"""Prophet per meter with calendar, weather and a recent-level correction.

The model (all in site-local wall-clock time, which is where occupancy lives):

- a straight trend, daily profiles conditional on the kind of day (working vs non-working:
  weekends, public holidays of the site's country, closures, bridge days), a weekly term,
  yearly seasonality when there is a year of history, lumped public-holiday, closure and
  bridge-day effects;
- regressors: a working-day level, heating and cooling degree terms
  ``max(Th − T, 0)``, ``max(T − Tc, 0)`` [degC] on the 24-hour trailing mean temperature,
  with balance points chosen from the data
  (:func:`wattlens.analytics.caltrack.degree_days.balance_points`),
  each also interacted with the working-day flag. A term is used only when the history holds
  :data:`MIN_DEGREE_HOURS` beyond its balance point, and the temperature is held flat outside
  the range seen in training (no extrapolation of a slope fitted on mild weather);
- a recent-level correction learnt at fit time: the mean residual of the 24 hours before
  issue, the residual of the last hour before issue and the residuals at the same time 1, 2,
  3 and 7 days earlier carry over with coefficients fitted by (slightly ridged) least squares
  on the history's own day-ahead residuals, from every local midnight of the history: one set
  per hour of lead time and kind of day (working / non-working) of the forecast time;
- residuals where the model's own prediction is implausible (what
  :mod:`wattlens.forecasting.guard` flags as a failure) are ignored by the correction;
- intervals: the 10 % / 90 % quantiles of the corrected in-sample errors per lead hour and
  kind of day, scaled by a split-conformal factor per kind of day and age of the fit: a
  second fit that leaves out the last :data:`CALIBRATION` issues day-ahead forecasts over it
  from every local midnight with the weather known at issue (the previous-day stand-in:
  calibrated for how forecasts are issued, so slightly wide under a perfect weather
  forecast), and the factor is the conformal quantile of those out-of-sample errors in units
  of the in-sample quantiles, taken separately for forecasts issued 0–7, 7–14 and 14+ days
  after the end of the fit's history (:data:`AGE_BIN`): errors grow as a fit ages, so
  calibrating a forecast issued the day after a refit on errors of a three-week-old fit made
  the intervals too wide (84 % instead of 80 %). A forecast takes the factor of its own fit's
  age (refreshed with each refit; no sampling, so predicting is a matrix product).

Prophet's naive ``ds`` never leaves this module.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import prophet
from prophet import Prophet
from prophet.models import CmdStanPyBackend
from prophet.serialize import model_from_json, model_to_json

from wattlens.analytics.caltrack.degree_days import (
    balance_points,
    cooling_degrees,
    heating_degrees,
)
from wattlens.core.calendar import SiteCalendar, local_dates
from wattlens.core.intervals import infer_interval
from wattlens.forecasting.features import (
    ForecastInputError,
    check_series,
    fill_at,
    temperature_at,
)
from wattlens.forecasting.guard import GuardSettings, Plausible
from wattlens.forecasting.models import (
    INTERVAL_WIDTH,
    ForecastModel,
    check_times,
    frame,
    register_model,
)

logging.getLogger("cmdstanpy").addHandler(logging.NullHandler())
logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
logging.getLogger("prophet").setLevel(logging.ERROR)

_Q = ((1 - INTERVAL_WIDTH) / 2, (1 + INTERVAL_WIDTH) / 2)
SMOOTH = pd.Timedelta(hours=24)
"""Trailing window of the temperature the degree terms use [h]."""
RECENT = pd.Timedelta(hours=24)
"""Window of actuals before issue whose mean residual drives the level correction [h]."""
LATEST = pd.Timedelta(hours=1)
"""Window of the latest actuals before issue, whose residual drives the first hours [h]."""
LEAD_BIN = pd.Timedelta(hours=1)
"""Lead times [h] within one bin share correction coefficients."""
LEAD_BINS = 24
"""Bins of lead time with their own coefficients; later leads use the last bin's."""
RIDGE = 0.01
"""Ridge penalty of the correction fit, relative to each feature's mean square."""
MIN_PAIRS_PER_COEF = 4
"""Day-ahead pairs needed per coefficient to fit a (kind of day, lead) cell on its own;
with fewer the cell shares the lead's coefficients across kinds of day, and with fewer
still one set fitted on every pair (none at all: no correction)."""
FOURIER = {"daily_working": 6, "daily_nonworking": 4, "weekly": 3, "yearly": 4}
"""Fourier orders of the seasonalities."""
CHANGEPOINTS = 0
"""Trend changepoints: none, a straight trend (Prophet's 25, or 5, let the trend bend on
old shifts and extrapolate them; the level correction follows recent shifts instead)."""
CARRY_LAGS = tuple(pd.Timedelta(days=d) for d in (1, 2, 3, 7))
"""Lags of the same-time residuals carried into the forecast (1, 2, 3 and 7 days)."""
MIN_DEGREE_HOURS = 240
"""Hours of history beyond a balance point needed to keep its degree term [h]."""
CALIBRATION = pd.Timedelta(days=21)
"""Held-out end of the history whose out-of-sample day-ahead errors calibrate the intervals
(at most a quarter of the history; none under :data:`MIN_CALIBRATION`)."""
MIN_CALIBRATION = pd.Timedelta(days=7)
"""Shortest held-out window worth calibrating on."""
AGE_BIN = pd.Timedelta(days=7)
"""Ages of a fit [days after the end of its history] sharing one conformal factor: one
weekly refit cadence per bin."""
AGE_BINS = 3
"""Bins of age with their own conformal factor (:data:`CALIBRATION` / :data:`AGE_BIN`); older
fits use the last bin's."""
MIN_CELL = 20
"""Errors needed for an interval cell (lead bin, kind of day) of its own; fewer share the
lead's errors across kinds of day, or all errors."""
STAN_TOLERANCES = {"tol_rel_obj": 1e6, "tol_rel_grad": 1e9}
"""L-BFGS stopping rules looser than CmdStan's defaults (1e4, 1e7): ~30 % faster fits whose
forecasts differ by ~0.1 %."""


def _ds(times: pd.DatetimeIndex, tz: str) -> pd.Series:
    """Prophet's naive ``ds``: site-local wall-clock time."""
    return pd.Series(times.tz_convert(tz).tz_localize(None).astype("datetime64[ns]"))


def _trailing_mean(weather: pd.DataFrame) -> pd.Series:
    """24-hour trailing mean of the weather's outdoor temperature [degC], on its own times."""
    temp = weather["temperature"].dropna().sort_index()
    temp = temp[~temp.index.duplicated(keep="last")]
    return temp.rolling(SMOOTH, min_periods=1).mean()


def _smoothed_temperature(weather: pd.DataFrame | None, times: pd.DatetimeIndex) -> np.ndarray:
    """24-hour trailing mean outdoor temperature [degC] at ``times``, interpolated between
    the weather's times like :func:`wattlens.forecasting.features.temperature_at` (which raises when
    the weather does not cover ``times``)."""
    if weather is None or "temperature" not in weather.columns:
        return temperature_at(weather, times, "weather")  # raises: no temperature
    return temperature_at(_trailing_mean(weather).to_frame("temperature"), times, "weather")


def _smoothed_temperature_safe(weather: pd.DataFrame, times: pd.DatetimeIndex) -> np.ndarray:
    """Like :func:`_smoothed_temperature` but NaN where weather is missing (for fitting)."""
    return fill_at(_trailing_mean(weather), times)


@register_model("prophet")
class ProphetModel(ForecastModel):
    """Prophet per meter (see the module docstring)."""

    version: ClassVar[str] = f"prophet-{prophet.__version__}+wl7"
    growth: ClassVar[str] = "linear"
    """Prophet's trend: linear with changepoints, for forecasting."""

    def __init__(self, m: Prophet, site: SiteCalendar, params: dict[str, Any]) -> None:
        self.m = m
        self.site = site
        self.params = params

    @classmethod
    def fit(
        cls, history: pd.Series, weather: pd.DataFrame | None, site: SiteCalendar
    ) -> ProphetModel:
        history = check_series(history, "history")
        interval = infer_interval(history.index)
        use_weather = weather is not None and "temperature" in weather.columns
        th = tc = None
        temp = None
        if use_weather:
            # fit only on hours with weather; balance points from daily means
            temp = _smoothed_temperature_safe(weather, history.index)
            history = history[np.isfinite(temp)]
            temp = temp[np.isfinite(temp)]
            th, tc = _balance_points(history, temp, site)
        if len(history) < 2:
            raise ForecastInputError("prophet: no readings with weather to fit on")
        span = history.index[-1] - history.index[0]
        params: dict[str, Any] = {
            "interval_ns": int(interval.value),
            "heat_balance": th,
            "cool_balance": tc,
            "temp_range": None if temp is None else [float(temp.min()), float(temp.max())],
            "range": [float(history.min()), float(history.max())],
            "yearly": bool(span >= pd.Timedelta(days=360)),
            "growth": cls.growth,
            "use_weather": bool(use_weather),
            "conformal": np.ones((2, AGE_BINS)).tolist(),
            "fitted_until": int((history.index[-1] + interval).value),
        }
        model = cls._fit_once(history, temp, site, params)
        cut = _calibration_start(history.index, site)
        if cut is not None:
            early_rows = history.index < cut
            try:
                early = cls._fit_once(history[early_rows], None if temp is None
                                      else temp[early_rows], site, dict(params))
            except (ValueError, RuntimeError):  # e.g. Stan fails on the shorter history
                return model  # in-sample intervals (factor 1)
            params["conformal"] = early._conformal_factors(history, temp, cut)
        return model

    @classmethod
    def _fit_once(cls, history: pd.Series, temp: np.ndarray | None, site: SiteCalendar,
                  params: dict[str, Any]) -> ProphetModel:
        """Fit Prophet and the correction on ``history``; sets ``params``' ``correction``
        and in-sample ``quantiles`` [kWh per interval] per kind of day and lead bin."""
        design = _design(history.index, site, params, temp=temp)
        design["y"] = history.to_numpy()
        model = cls(_make_prophet(params, design, site), site, params)
        model.m.fit(design)
        pairs = _pairs(model._residuals(history, design), site,
                       pd.Timedelta(params["interval_ns"]))
        coef, err = _fit_correction(pairs)
        params["correction"] = coef.tolist()
        params["quantiles"] = _cell_quantiles(err, pairs).tolist()
        return model

    def _residuals(self, actual: pd.Series, design: pd.DataFrame) -> pd.Series:
        """Actual minus raw prediction [kWh per interval]; NaN where the prediction is
        implausible (a failed forecast teaches the correction nothing)."""
        raw = self._raw(design)
        resid = actual.to_numpy() - raw
        resid[self._plausible().failed(raw)] = np.nan
        return pd.Series(resid, index=actual.index)

    def _plausible(self) -> Plausible:
        lowest, highest = self.params["range"]
        return Plausible.of(lowest, highest, GuardSettings())

    def _issue_time_shift(self, history: pd.Series, temp: np.ndarray | None,
                          times: pd.DatetimeIndex, origins: pd.DatetimeIndex) -> np.ndarray:
        """How much larger each residual at ``times`` [kWh per interval] would have been
        with the weather known at its issue ``origins``: under the previous-day stand-in
        (:func:`wattlens.forecasting.features.issue_time_weather`) the 24-hour trailing mean
        temperature of every hour of a day-ahead horizon is the one of the 24 hours before
        issue, so the intervals are calibrated for forecasts issued without future weather."""
        if temp is None or not len(times) or self.params["temp_range"] is None:
            return np.zeros(len(times))
        smoothed = pd.Series(temp, index=history.index)
        at_issue = fill_at(smoothed, origins - pd.Timedelta(hours=1))
        known = np.isfinite(at_issue)
        shift = np.zeros(len(times))
        if known.any():
            observed = _design(times[known], self.site, self.params,
                               temp=fill_at(smoothed, times[known]))
            issued = _design(times[known], self.site, self.params, temp=at_issue[known])
            shift[known] = self._raw(observed) - self._raw(issued)
        return shift

    def _conformal_factors(self, history: pd.Series, temp: np.ndarray | None,
                           cut: pd.Timestamp) -> list[list[float]]:
        """Split-conformal factors, shape (2 kinds of day, :data:`AGE_BINS`): this model
        (fitted before ``cut``) issues day-ahead forecasts from every local midnight from
        ``cut`` on, with issue-time weather (:meth:`_issue_time_shift`); each error in units
        of its cell's in-sample quantile (lower for negative errors, upper for positive) is a
        score, and the factor of a kind of day and age bin (issue time − ``cut``) is the
        conformal :data:`INTERVAL_WIDTH` quantile of its scores — with fewer than
        :data:`MIN_CELL`, of the kind's scores of every age, else of all scores."""
        design = _design(history.index, self.site, self.params, temp=temp)
        pairs = _pairs(self._residuals(history, design), self.site,
                       pd.Timedelta(self.params["interval_ns"]))
        late = pairs.origin >= cut
        coef = np.asarray(self.params["correction"])
        q = np.asarray(self.params["quantiles"])
        kinds, bins = pairs.working[late], pairs.bins[late]
        y = pairs.y[late] + self._issue_time_shift(history, temp, pairs.time[late],
                                                   pairs.origin[late])
        err = y - np.sum(pairs.x[late] * coef[kinds, bins], axis=1)
        lo, hi = q[kinds, bins, 0], q[kinds, bins, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(err >= 0, err / np.maximum(hi, 1e-9), err / np.minimum(lo, -1e-9))
        ages = _age_bin(pairs.origin[late] - cut)
        factors = np.ones((2, AGE_BINS))
        for kind in (0, 1):
            for age in range(AGE_BINS):
                for chosen in (score[(kinds == kind) & (ages == age)], score[kinds == kind],
                               score):
                    if len(chosen) >= MIN_CELL:
                        factors[kind, age] = _conformal_quantile(chosen)
                        break
        return factors.tolist()

    @property
    def n_params(self) -> int:
        """Regression coefficients (seasonalities, holidays, regressors) plus the trend's
        level and slope."""
        return int(np.shape(self.m.params["beta"])[-1]) + 2

    def _raw(self, design: pd.DataFrame) -> np.ndarray:
        """Prophet's point prediction [kWh per interval], before the level correction."""
        return self.m.predict(design.drop(columns=["y"], errors="ignore"))["yhat"].to_numpy()

    def predict(
        self,
        times: pd.DatetimeIndex,
        weather: pd.DataFrame | None,
        actuals: pd.Series | None = None,
    ) -> pd.DataFrame:
        times = check_times(times)
        if not self.params["use_weather"]:
            weather = None
        design = _design(times, self.site, self.params, weather)
        raw = self._raw(design)
        correction = np.zeros(len(times))
        if actuals is not None:
            r = self._recent_residuals(actuals, times[0], weather)
            if r is not None:
                correction = _correction(r, times, self.site, self.params)
        y = raw + correction
        kinds = self.site.days(times)["working"].to_numpy().astype(int)
        lead_ns = (times - times[0]).to_numpy().astype("timedelta64[ns]").astype(np.int64)
        q = np.asarray(self.params["quantiles"])[kinds, _lead_bin(lead_ns)]
        age = _age_bin(pd.DatetimeIndex(times[:1]) - pd.Timestamp(self.params["fitted_until"],
                                                                  tz="UTC"))
        scale = np.asarray(self.params["conformal"])[kinds, age[0]]
        return frame(times, y, y + scale * q[:, 0], y + scale * q[:, 1])

    def _recent_residuals(
        self, actuals: pd.Series, origin: pd.Timestamp, weather: pd.DataFrame | None
    ) -> pd.Series | None:
        """Residuals [kWh per interval] of the actuals in the correction's window before
        ``origin``, or None when the model cannot be evaluated there (no weather)."""
        recent = check_series(actuals, "actuals")
        window = max(CARRY_LAGS) + RECENT
        recent = recent[(recent.index < origin) & (recent.index >= origin - window)]
        if weather is not None and len(weather):  # residuals only where weather is known
            recent = recent[recent.index >= weather.index.min() + SMOOTH]
        if not len(recent):
            return None
        try:
            design = _design(recent.index, self.site, self.params, weather)
        except ForecastInputError:  # no weather before issue: forecast uncorrected
            return None
        return self._residuals(recent, design).dropna()

    def state(self) -> dict[str, Any]:
        return {"prophet": model_to_json(self.m), "site": self.site.to_json(),
                "params": self.params}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ProphetModel:
        return cls(model_from_json(state["prophet"]), SiteCalendar.from_json(state["site"]),
                   state["params"])


def _design(
    times: pd.DatetimeIndex,
    site: SiteCalendar,
    params: dict[str, Any],
    weather: pd.DataFrame | None = None,
    temp: np.ndarray | None = None,
) -> pd.DataFrame:
    """Prophet's input frame: ds, calendar flags and degree terms, on the smoothed
    temperature ``temp`` at ``times`` when given, else on the one from ``weather``."""
    kinds = site.days(times)
    out = pd.DataFrame({"ds": _ds(times, site.timezone)})
    working = kinds["working"].to_numpy(dtype=float)
    out["working"] = working
    out["nonworking"] = 1.0 - working
    out["is_working"] = working.astype(bool)
    out["is_nonworking"] = ~out["is_working"]
    th, tc = params["heat_balance"], params["cool_balance"]
    if th is None and tc is None:
        return out
    if temp is None and weather is None:
        raise ForecastInputError("prophet: this model uses temperature; give weather")
    if temp is None:
        temp = _smoothed_temperature(weather, times)
    if params.get("temp_range"):
        temp = np.clip(temp, *params["temp_range"])  # held flat beyond the training range
    if th is not None:
        out["hdd"] = heating_degrees(temp, th)
        out["hdd_w"] = out["hdd"] * working
    if tc is not None:
        out["cdd"] = cooling_degrees(temp, tc)
        out["cdd_w"] = out["cdd"] * working
    return out


def _holidays(design: pd.DataFrame, site: SiteCalendar) -> pd.DataFrame | None:
    """Lumped public-holiday, closure and bridge days for Prophet (local dates)."""
    if not site.country and not site.closures:
        return None
    days = pd.date_range(design["ds"].min().normalize(), design["ds"].max().normalize()
                         + pd.Timedelta(days=800), freq="D")
    utc_noon = (days + pd.Timedelta(hours=12)).tz_localize(
        site.timezone, nonexistent="shift_forward", ambiguous=False
    )
    kinds = site.days(pd.DatetimeIndex(utc_noon).tz_convert("UTC"))
    rows = []
    for name in ("holiday", "closure", "bridge"):
        hit = days[kinds[name].to_numpy() > 0]
        rows.append(pd.DataFrame({"holiday": name, "ds": hit}))
    table = pd.concat(rows, ignore_index=True)
    return table if len(table) else None


class _FastBackend(CmdStanPyBackend):
    """Prophet's CmdStanPy backend, writing Stan's input with the C JSON encoder (stanio
    falls back to a pure-Python encoder that takes longer than the fit itself)."""

    def fit(self, stan_init: dict[str, Any], stan_data: dict[str, Any], **kwargs: Any
            ) -> dict[str, Any]:
        inits, data = self.prepare_data(stan_init, stan_data)
        paths = []
        try:
            for body in (data, inits):
                fd, path = tempfile.mkstemp(suffix=".json", prefix="wattlens-prophet-")
                with os.fdopen(fd, "w") as handle:
                    handle.write(json.dumps(body))
                paths.append(path)
            args = {"data": paths[0], "inits": paths[1], "iter": 10_000,
                    "algorithm": "Newton" if data["T"] < 100 else "LBFGS"}
            if args["algorithm"] == "LBFGS":
                args.update(STAN_TOLERANCES)
            args.update(kwargs)
            try:
                self.stan_fit = self.model.optimize(**args)
            except RuntimeError:
                if args["algorithm"] == "Newton":
                    raise
                args["algorithm"] = "Newton"
                for key in STAN_TOLERANCES:
                    args.pop(key, None)
                self.stan_fit = self.model.optimize(**args)
        finally:
            for path in paths:
                os.unlink(path)
        params = self.stan_to_dict_numpy(self.stan_fit.column_names,
                                         self.stan_fit.optimized_params_np)
        return {name: value.reshape((1, -1)) for name, value in params.items()}


def _make_prophet(params: dict[str, Any], design: pd.DataFrame, site: SiteCalendar) -> Prophet:
    m = Prophet(
        growth=params.get("growth", "linear"),
        n_changepoints=CHANGEPOINTS,
        yearly_seasonality=FOURIER["yearly"] if params["yearly"] else False,
        weekly_seasonality=False,
        daily_seasonality=False,
        holidays=_holidays(design, site),
        uncertainty_samples=0,
        changepoint_prior_scale=0.05,
    )
    m.stan_backend = _FastBackend()
    m.add_seasonality("daily_working", period=1, fourier_order=FOURIER["daily_working"],
                      condition_name="is_working")
    m.add_seasonality("daily_nonworking", period=1, fourier_order=FOURIER["daily_nonworking"],
                      condition_name="is_nonworking")
    m.add_seasonality("weekly", period=7, fourier_order=FOURIER["weekly"])
    m.add_regressor("working", standardize=False)
    for name in ("hdd", "hdd_w", "cdd", "cdd_w"):
        if name in design.columns:
            m.add_regressor(name)
    return m


def _min_count(window: pd.Timedelta, interval: pd.Timedelta) -> int:
    """Readings needed in ``window`` for its mean residual to count (a quarter of them)."""
    return max(1, int(0.25 * (window / interval)))


def _window_means(r: np.ndarray, ends: np.ndarray, steps: int, need: int) -> np.ndarray:
    """Mean of the finite ``r[end - steps:end]`` for each end, NaN with fewer than ``need``."""
    ok = np.isfinite(r)
    total = np.concatenate([[0.0], np.cumsum(np.where(ok, r, 0.0))])
    count = np.concatenate([[0], np.cumsum(ok)])
    start = np.maximum(ends - steps, 0)
    n = count[ends] - count[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= need, (total[ends] - total[start]) / n, np.nan)


def _age_bin(age: pd.TimedeltaIndex) -> np.ndarray:
    """Conformal age bin of forecasts issued ``age`` after the end of a fit's history."""
    days = np.asarray(age // AGE_BIN, dtype=np.int64)
    return np.clip(days, 0, AGE_BINS - 1)


def _lead_bin(lead_ns: np.ndarray) -> np.ndarray:
    """Coefficient bin of each lead time after issue [ns]."""
    return np.minimum(lead_ns // LEAD_BIN.value, LEAD_BINS - 1)


@dataclass(frozen=True)
class _Pairs:
    """Day-ahead pairs issued at every local midnight of a residual series: features ``x``
    (pairs, features), target residual ``y`` [kWh per interval], kind of day ``working``
    (0/1) and lead ``bins`` of the target time, and the ``origin`` (UTC) of each pair."""

    x: np.ndarray
    y: np.ndarray
    working: np.ndarray
    bins: np.ndarray
    origin: pd.DatetimeIndex
    time: pd.DatetimeIndex


def _pairs(resid: pd.Series, site: SiteCalendar, interval: pd.Timedelta) -> _Pairs:
    """The day-ahead pairs of ``resid`` (NaN residuals are unknown).

    Features of a forecast time: the mean residual of the :data:`RECENT` before issue (the
    level), the mean residual of the :data:`LATEST` before issue and the residuals
    :data:`CARRY_LAGS` earlier, each minus the level; unknown ones are 0."""
    n_feat = 2 + len(CARRY_LAGS)
    grid = pd.date_range(resid.index[0], resid.index[-1], freq=interval)
    horizon = max(1, int(LEAD_BIN * LEAD_BINS / interval))
    lags = [max(1, int(lag / interval)) for lag in CARRY_LAGS]
    front = max(lags) + horizon
    r = np.concatenate([np.full(front, np.nan), resid.reindex(grid).to_numpy(dtype=float),
                        np.full(horizon, np.nan)])
    days = pd.date_range(local_dates(grid[:1], site.timezone)[0],
                         local_dates(grid[-1:], site.timezone)[0], freq="D")
    midnights = days.tz_localize(site.timezone, nonexistent="shift_forward", ambiguous=False)
    at = grid.get_indexer(midnights.tz_convert("UTC"))
    at = at[at >= 0] + front
    if not len(at):
        empty = np.zeros(0, dtype=int)
        none = pd.DatetimeIndex([], tz="UTC")
        return _Pairs(np.zeros((0, n_feat)), np.zeros(0), empty, empty, none, none)
    level = _window_means(r, at, max(1, int(RECENT / interval)), _min_count(RECENT, interval))
    latest = _window_means(r, at, max(1, int(LATEST / interval)), 1)
    pos = at[:, None] + np.arange(horizon)[None, :]  # (origins, leads)
    x = np.stack([np.broadcast_to(level[:, None], pos.shape),
                  np.broadcast_to((latest - level)[:, None], pos.shape),
                  *(r[pos - lag] - level[:, None] for lag in lags)], axis=-1)
    y = r[pos]
    ok = (np.isfinite(y) & np.isfinite(level)[:, None]).ravel()
    x = np.where(np.isfinite(x), x, 0.0).reshape(-1, n_feat)[ok]
    times = grid[np.clip(pos - front, 0, len(grid) - 1).ravel()[ok]]
    working = site.days(pd.DatetimeIndex(times))["working"].to_numpy().astype(int)
    bins = _lead_bin(np.tile(np.arange(horizon, dtype=np.int64) * interval.value, len(at))[ok])
    origin = grid[np.repeat(at - front, horizon)[ok]]
    return _Pairs(x, y.ravel()[ok], working, bins, pd.DatetimeIndex(origin),
                  pd.DatetimeIndex(times))


def _fit_correction(pairs: _Pairs) -> tuple[np.ndarray, np.ndarray]:
    """Correction coefficients, shape (2 kinds of day, :data:`LEAD_BINS`, features), fitted
    on the day-ahead ``pairs``, and the corrected errors [kWh per interval] of the pairs."""
    x, y, working, bins = pairs.x, pairs.y, pairs.working, pairs.bins
    coef = np.zeros((2, LEAD_BINS, x.shape[1]))
    err = y.copy()
    need = MIN_PAIRS_PER_COEF * x.shape[1]
    if len(y) >= need:  # short histories: one set for every lead and kind of day
        coef[:] = _ridge(x, y)
    for b in range(LEAD_BINS):
        in_bin = bins == b
        for kind in (0, 1):
            cell = in_bin & (working == kind)
            for rows in (cell, in_bin):
                if rows.sum() >= need:
                    coef[kind, b] = _ridge(x[rows], y[rows])
                    break
            err[cell] = y[cell] - x[cell] @ coef[kind, b]
    return coef, err


def _cell_quantiles(err: np.ndarray, pairs: _Pairs) -> np.ndarray:
    """10 % / 90 % quantiles of ``err``, shape (2 kinds of day, :data:`LEAD_BINS`, 2), per
    cell with :data:`MIN_CELL` errors, else of the lead bin's, else of all errors (zeros
    when there are none)."""
    q = np.zeros((2, LEAD_BINS, 2))
    if not len(err):
        return q
    q[:] = np.quantile(err, _Q)
    for b in range(LEAD_BINS):
        in_bin = pairs.bins == b
        for kind in (0, 1):
            for rows in (in_bin & (pairs.working == kind), in_bin):
                if rows.sum() >= MIN_CELL:
                    q[kind, b] = np.quantile(err[rows], _Q)
                    break
    return q


def _conformal_quantile(scores: np.ndarray) -> float:
    """The split-conformal :data:`INTERVAL_WIDTH` quantile of ``scores`` (the
    ``ceil((n + 1) · width)``-th smallest, the largest when that exceeds ``n``); 1 (keep the
    in-sample interval) without scores."""
    scores = np.sort(scores[np.isfinite(scores)])
    if not len(scores):
        return 1.0
    k = int(np.ceil((len(scores) + 1) * INTERVAL_WIDTH))
    return float(scores[min(k, len(scores)) - 1])


def _calibration_start(index: pd.DatetimeIndex, site: SiteCalendar) -> pd.Timestamp | None:
    """First local midnight of the held-out calibration window at the end of ``index``: the
    last :data:`CALIBRATION` or quarter of the history, None when under
    :data:`MIN_CALIBRATION`."""
    span = index[-1] - index[0]
    window = min(CALIBRATION, span / 4)
    if window < MIN_CALIBRATION:
        return None
    day = local_dates(pd.DatetimeIndex([index[-1] - window]), site.timezone)[0]
    local = pd.Timestamp(day).tz_localize(site.timezone, nonexistent="shift_forward",
                                          ambiguous=False)
    return local.tz_convert("UTC")


def _balance_points(history: pd.Series, temp: np.ndarray, site: SiteCalendar
                    ) -> tuple[float | None, float | None]:
    """Heating and cooling balance points [degC] of daily means, each kept only when at
    least :data:`MIN_DEGREE_HOURS` of ``temp`` lie beyond it."""
    kinds = site.days(history.index)
    daily = pd.DataFrame(
        {"y": history.to_numpy(), "t": temp, "w": kinds["working"].to_numpy(dtype=float)},
        index=pd.DatetimeIndex(kinds["day"]),
    ).groupby(level=0).mean()
    th, tc = balance_points(daily["y"], daily["t"], daily["w"])
    if th is not None and np.sum(temp < th) < MIN_DEGREE_HOURS:
        th = None
    if tc is not None and np.sum(temp > tc) < MIN_DEGREE_HOURS:
        tc = None
    return th, tc


def _ridge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with a :data:`RIDGE` penalty relative to each column's mean square."""
    penalty = np.diag(np.sqrt(RIDGE * len(y) * np.mean(x**2, axis=0)))
    coef, *_ = np.linalg.lstsq(np.vstack([x, penalty]),
                               np.concatenate([y, np.zeros(x.shape[1])]), rcond=None)
    return coef


def _correction(r: pd.Series, times: pd.DatetimeIndex, site: SiteCalendar, params: dict[str, Any]
                ) -> np.ndarray:
    """Correction [kWh per interval] at ``times`` from the residuals ``r`` before issue
    (``times[0]``); 0 when the last :data:`RECENT` has too few residuals."""
    origin = times[0]
    interval = pd.Timedelta(params["interval_ns"])
    last = r[r.index >= origin - RECENT]
    if len(last) < _min_count(RECENT, interval):
        return np.zeros(len(times))
    level = float(last.mean())
    latest = r[r.index >= origin - LATEST]
    x = np.column_stack([
        np.full(len(times), level),
        np.full(len(times), float(latest.mean()) - level if len(latest) else 0.0),
        *(_lagged_residual(r, times, origin, level, lag) for lag in CARRY_LAGS),
    ])
    working = site.days(times)["working"].to_numpy().astype(int)
    lead_ns = (times - origin).to_numpy().astype("timedelta64[ns]").astype(np.int64)
    coef = np.asarray(params["correction"])[working, _lead_bin(lead_ns)]
    return np.sum(x * coef, axis=1)


def _lagged_residual(
    r: pd.Series, times: pd.DatetimeIndex, origin: pd.Timestamp, level: float,
    lag: pd.Timedelta,
) -> np.ndarray:
    """Residual at ``times`` minus whole multiples of ``lag`` (the latest before
    ``origin``), minus the level; 0 where unknown."""
    steps = np.ceil((times - origin) / lag + 1e-9).astype(int)
    steps = np.maximum(steps, 1)
    source = times - steps * lag
    values = r.reindex(source).to_numpy(dtype=float) - level
    return np.where(np.isfinite(values), values, 0.0)


@register_model("prophet-flat")
class ProphetFlatModel(ProphetModel):
    """Prophet with a flat trend: an M&V baseline must not extrapolate the baseline period's
    drift into a reporting year (IPMVP adjusts for weather and calendar, not for time)."""

    growth: ClassVar[str] = "flat"
