"""CalTRACK daily and billing methods: HDD/CDD change-point models with balance-point search.

After CalTRACK 2.0 §3.2-3.4: usage per day [kWh/day] of each period (a day, or a billing
period) is regressed on the period's mean heating and cooling degree days [degC·day/day] of
the temperatures [degC] it is given: each day's mean temperature (CalTRACK 2.0, M&V's
``caltrack-daily``) or its hourly temperatures (mean degree hours after CalTRACK issue #120,
M&V's ``daily-degree-hours``). Four candidates — intercept-only, HDD-only, CDD-only, HDD+CDD —
are fitted for every balance point on a 1 degF grid from 30 to 90 degF (converted to degC);
a candidate qualifies when its slopes are positive with p < 0.1, at least 10 periods have
non-zero degree days and the baseline holds at least 20 degF·days of them; the qualified
candidate with the highest adjusted R² wins (the tunables are
:class:`DailySettings`). Billing periods are weighted by their length in days. All fits
are vectorised normal equations (numpy only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import NormalDist
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
from wattlens.core.intervals import infer_interval

ModelKind = Literal["intercept_only", "hdd_only", "cdd_only", "hdd_cdd"]


class DailySettings(Frozen):
    """Tunables of the CalTRACK daily/billing model (``[analytics.savings.caltrack_daily]``);
    the defaults are CalTRACK 2.0's."""

    balance_point_min_degf: float = Field(30.0, description="lowest balance point [degF]")
    balance_point_max_degf: float = Field(90.0, description="highest balance point [degF]")
    balance_point_step_degf: float = Field(1.0, gt=0, description="balance-point grid [degF]")
    min_nonzero_dd: int = Field(
        10, ge=1, description="fewest periods with non-zero degree days for a slope (daily data)"
    )
    min_total_dd_degf: float = Field(
        20.0, ge=0, description="fewest total degree days over the baseline for a slope "
        "[degF·day]",
    )
    p_value_max: float = Field(
        0.1, gt=0, lt=1, description="slopes must be positive and significant at this level"
    )
    min_dof: int = Field(
        3, ge=1, description="fewest residual degrees of freedom (n − slopes − 1) per candidate"
    )
    min_hours_per_day: int = Field(
        12, ge=1, le=24, description="hourly temperatures a local day needs to count"
    )
    min_period_coverage: float = Field(
        0.9, gt=0, le=1, description="share of a period's days that need a temperature"
    )

    def balance_points_degc(self) -> np.ndarray:
        """The candidate balance points [degC]."""
        step = self.balance_point_step_degf
        grid = np.arange(self.balance_point_min_degf, self.balance_point_max_degf + step / 2, step)
        return fahrenheit_to_celsius(grid)


class CaltrackError(ValueError):
    """The data cannot support a CalTRACK daily fit; the message says what is missing."""


def t_quantile(p: float, dof: float) -> float:
    """Quantile of Student's t with ``dof`` degrees of freedom (Cornish-Fisher expansion,
    accurate to ~1e-4 for dof >= 5; normal quantile for very large dof)."""
    z = NormalDist().inv_cdf(p)
    if not np.isfinite(dof) or dof > 1e6:
        return z
    v = max(float(dof), 1.0)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


def day_temperatures(
    temperature: pd.Series, tz: str, min_hours_per_day: int = 12
) -> dict[pd.Timestamp, np.ndarray]:
    """Hourly mean temperatures [degC] per local day (key: local midnight): their mean is
    the day's mean temperature (CalTRACK 2.0's degree days), their mean degree hours count the
    cold night of a mild day (CalTRACK issue #120); with daily temperature input each day
    holds its one value. Days with fewer than ``min_hours_per_day`` hourly values are left
    out."""
    temp = temperature.dropna().astype(float)
    if temp.empty:
        return {}
    hourly = temp.tz_convert(tz).resample("1h").mean().dropna()
    daily_input = infer_interval(temp.index, default=pd.Timedelta(0)) >= pd.Timedelta(hours=23)
    needed = 1 if daily_input else min_hours_per_day
    out: dict[pd.Timestamp, np.ndarray] = {}
    for day, values in hourly.groupby(hourly.index.normalize()):
        if len(values) >= needed:
            out[day] = values.to_numpy()
    return out


@dataclass(frozen=True)
class DailyModel:
    """A fitted CalTRACK daily/billing model. Usage per day [kWh/day] =
    intercept + heating_slope·HDD(heating_bp) + cooling_slope·CDD(cooling_bp)."""

    kind: ModelKind
    intercept: float
    heating_slope: float = 0.0
    heating_bp: float | None = None
    cooling_slope: float = 0.0
    cooling_bp: float | None = None
    r2: float = 0.0
    adj_r2: float = 0.0
    n: int = 0
    n_params: int = 1
    """Fitted parameters, balance points included (ASHRAE's 1P/3P/5P change-point models):
    a searched balance point uses up a degree of freedom like a slope does."""

    def usage_per_day(self, temp: np.ndarray) -> np.ndarray:
        """Predicted usage [kWh/day] at temperatures ``temp`` [degC] (average the result
        over a period's temperatures for the period's usage per day)."""
        out = np.full(np.shape(temp), self.intercept, dtype=float)
        if self.heating_bp is not None:
            out += self.heating_slope * heating_degrees(temp, self.heating_bp)
        if self.cooling_bp is not None:
            out += self.cooling_slope * cooling_degrees(temp, self.cooling_bp)
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _solve_batched(xtwx: np.ndarray, xtwy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve many small normal equations; returns (beta, inverse) with NaN where singular."""
    det_ok = np.abs(np.linalg.det(xtwx)) > 1e-10
    inv = np.full_like(xtwx, np.nan)
    inv[det_ok] = np.linalg.inv(xtwx[det_ok])
    beta = np.einsum("...ij,...j->...i", inv, xtwy)
    return beta, inv


@dataclass(frozen=True)
class _Data:
    """One fit's data: usage per day ``y`` [kWh/day], weights ``w``, and the mean heating
    and cooling degree days per day of each period at every balance point ``bps``."""

    y: np.ndarray
    w: np.ndarray
    bps: np.ndarray
    hdd: np.ndarray
    cdd: np.ndarray
    min_nonzero: int
    min_total: float
    p_value_max: float

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def sst(self) -> float:
        ybar = (self.w * self.y).sum() / self.w.sum()
        return float((self.w * (self.y - ybar) ** 2).sum())

    def adj_r2(self, sse: np.ndarray, slopes: int) -> tuple[np.ndarray, np.ndarray]:
        """R² and adjusted R² of candidates with ``slopes`` slopes and squared errors ``sse``."""
        r2 = 1 - sse / self.sst
        return r2, 1 - (1 - r2) * (self.n - 1) / max(self.n - slopes - 1, 1)

    def enough(self, dd: np.ndarray) -> np.ndarray:
        """Per balance point: enough periods with degree days, and enough of them in total
        [degC·day] (a period's degree days per day times its weight, its days for bills)."""
        return ((dd > 0).sum(0) >= self.min_nonzero) & ((self.w[:, None] * dd).sum(0)
                                                         >= self.min_total)

    def significant(
        self, beta: np.ndarray, inv: np.ndarray, sse: np.ndarray, k: int, slopes: int
    ) -> np.ndarray:
        """Coefficient ``k`` positive and significant at ``p_value_max``."""
        dof = max(self.n - slopes - 1, 1)
        se = np.sqrt(np.maximum(np.diagonal(inv, axis1=-2, axis2=-1)[..., k] * (sse / dof), 0))
        crit = t_quantile(1 - self.p_value_max / 2, dof)
        return (beta[..., k] > 0) & (beta[..., k] > crit * se)


def _prepare(
    usage_per_day: np.ndarray,
    period_temps: list[np.ndarray],
    weights: np.ndarray | None,
    settings: DailySettings,
) -> _Data:
    """The data of one fit, degree days per day computed at every candidate balance point."""
    y = np.asarray(usage_per_day, dtype=float)
    n = len(y)
    if n < 3:
        raise CaltrackError(f"only {n} periods with usage and temperature; need at least 3")
    bps = settings.balance_points_degc()
    return _Data(
        y=y,
        w=np.ones(n) if weights is None else np.asarray(weights, dtype=float),
        bps=bps,
        hdd=np.vstack([heating_degrees(t[:, None], bps[None, :]).mean(0) for t in period_temps]),
        cdd=np.vstack([cooling_degrees(t[:, None], bps[None, :]).mean(0) for t in period_temps]),
        min_nonzero=min(settings.min_nonzero_dd, max(n // 4, 2)),
        min_total=settings.min_total_dd_degf * 5 / 9,
        p_value_max=settings.p_value_max,
    )


def _single_slope(d: _Data, kind: ModelKind) -> DailyModel | None:
    """The best qualified HDD-only or CDD-only candidate, vectorised over balance points."""
    dd = d.hdd if kind == "hdd_only" else d.cdd
    w, y = d.w, d.y
    sw, swy = w.sum(), (w * y).sum()
    s1, s2 = (w[:, None] * dd).sum(0), (w[:, None] * dd * dd).sum(0)
    xtwx = np.stack([np.stack([np.full_like(s1, sw), s1], -1), np.stack([s1, s2], -1)], -2)
    xtwy = np.stack([np.full_like(s1, swy), (w[:, None] * dd * y[:, None]).sum(0)], -1)
    beta, inv = _solve_batched(xtwx, xtwy)
    sse = (w * y * y).sum() - np.einsum("bi,bi->b", beta, xtwy)
    r2, adj = d.adj_r2(sse, 1)
    ok = d.significant(beta, inv, sse, 1, 1) & d.enough(dd)
    ok &= np.isfinite(adj)
    if not ok.any():
        return None
    i = int(np.nanargmax(np.where(ok, adj, -np.inf)))
    slope, bp = float(beta[i, 1]), float(d.bps[i])
    heating = kind == "hdd_only"
    return DailyModel(
        kind=kind,
        intercept=float(beta[i, 0]),
        heating_slope=slope if heating else 0.0,
        heating_bp=bp if heating else None,
        cooling_slope=0.0 if heating else slope,
        cooling_bp=None if heating else bp,
        r2=float(r2[i]), adj_r2=float(adj[i]), n=d.n, n_params=3,
    )


def _heating_and_cooling(d: _Data) -> DailyModel | None:
    """The best qualified HDD+CDD candidate over all balance-point pairs with heating bp <=
    cooling bp."""
    w, y, bps, hdd, cdd = d.w, d.y, d.bps, d.hdd, d.cdd
    sw, swy = w.sum(), (w * y).sum()
    wh, wc = w[:, None] * hdd, w[:, None] * cdd
    sh, sc = wh.sum(0), wc.sum(0)
    shh, scc, shc = (wh * hdd).sum(0), (wc * cdd).sum(0), wh.T @ cdd
    shy, scy = (wh * y[:, None]).sum(0), (wc * y[:, None]).sum(0)
    m = len(bps)
    xtwx = np.empty((m, m, 3, 3))
    xtwx[..., 0, 0] = sw
    xtwx[..., 0, 1] = xtwx[..., 1, 0] = sh[:, None]
    xtwx[..., 0, 2] = xtwx[..., 2, 0] = sc[None, :]
    xtwx[..., 1, 1] = shh[:, None]
    xtwx[..., 2, 2] = scc[None, :]
    xtwx[..., 1, 2] = xtwx[..., 2, 1] = shc
    xtwy = np.stack(
        [np.full((m, m), swy), np.repeat(shy[:, None], m, 1), np.repeat(scy[None, :], m, 0)], -1
    )
    beta, inv = _solve_batched(xtwx, xtwy)
    sse = (w * y * y).sum() - np.einsum("abi,abi->ab", beta, xtwy)
    r2, adj = d.adj_r2(sse, 2)
    ok = d.significant(beta, inv, sse, 1, 2) & d.significant(beta, inv, sse, 2, 2)
    ok &= d.enough(hdd)[:, None] & d.enough(cdd)[None, :]
    ok &= bps[:, None] <= bps[None, :]
    ok &= np.isfinite(adj)
    if not ok.any():
        return None
    i, j = np.unravel_index(int(np.nanargmax(np.where(ok, adj, -np.inf))), ok.shape)
    return DailyModel(
        kind="hdd_cdd", intercept=float(beta[i, j, 0]),
        heating_slope=float(beta[i, j, 1]), heating_bp=float(bps[i]),
        cooling_slope=float(beta[i, j, 2]), cooling_bp=float(bps[j]),
        r2=float(r2[i, j]), adj_r2=float(adj[i, j]), n=d.n, n_params=5,
    )


def fit_daily_model(
    usage_per_day: np.ndarray,
    period_temps: list[np.ndarray],
    weights: np.ndarray | None = None,
    settings: DailySettings | None = None,
) -> DailyModel:
    """Fit the CalTRACK candidates and return the best qualified one.

    ``usage_per_day`` [kWh/day] per period; ``period_temps`` the temperatures [degC] of
    each period, equally weighted (its days' means, or its hours for the hourly degree-day
    method): a period's degree days per day are their mean excess over the balance point;
    ``weights`` the period lengths [days] (billing) or None (equal weights).
    """
    settings = settings or DailySettings()
    d = _prepare(usage_per_day, period_temps, weights, settings)
    ybar = (d.w * d.y).sum() / d.w.sum()
    best = DailyModel(kind="intercept_only", intercept=float(ybar), n=d.n, n_params=1)
    if d.sst <= 0 or d.n - 2 < settings.min_dof:
        return best
    candidates = [best, _single_slope(d, "hdd_only"), _single_slope(d, "cdd_only")]
    if d.n - 3 >= settings.min_dof:
        candidates.append(_heating_and_cooling(d))
    return max((c for c in candidates if c is not None), key=lambda c: c.adj_r2)
