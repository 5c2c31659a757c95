"""Degree days and the data-driven balance-point search, written once for every model.

Heating degrees ``max(bp − T, 0)`` and cooling degrees ``max(T − bp, 0)`` [degC] of outdoor
temperatures ``T`` against balance points ``bp`` broadcast like numpy arrays, so one call
gives a whole grid of candidates. CalTRACK daily/billing
(:mod:`wattlens.analytics.caltrack.daily`) searches its 1 degF grid with its own
qualification rules (positive significant slopes, adjusted R²); :func:`balance_points` is the
least-squares search on daily means with a working-day term that forecasting's Prophet model
uses for its degree regressors.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd


@overload
def fahrenheit_to_celsius(degf: np.ndarray) -> np.ndarray: ...
@overload
def fahrenheit_to_celsius(degf: float) -> float: ...
def fahrenheit_to_celsius(degf: np.ndarray | float) -> np.ndarray | float:
    """[degF] → [degC]."""
    return (degf - 32.0) * 5.0 / 9.0


BALANCE_GRID_DEGC = np.arange(8.0, 24.5, 1.0)
"""Candidate heating/cooling balance points [degC] searched by :func:`balance_points`."""
MIN_DAYS = 14
"""Fewest days with load and temperature :func:`balance_points` searches on."""
MIN_GAIN = 0.01
"""Share of the squared error the degree terms must remove to be kept."""


def heating_degrees(temp: np.ndarray, bp: np.ndarray | float) -> np.ndarray:
    """``max(bp − temp, 0)`` [degC], broadcast."""
    return np.maximum(np.asarray(bp) - np.asarray(temp), 0.0)


def cooling_degrees(temp: np.ndarray, bp: np.ndarray | float) -> np.ndarray:
    """``max(temp − bp, 0)`` [degC], broadcast."""
    return np.maximum(np.asarray(temp) - np.asarray(bp), 0.0)


def balance_points(
    daily_load: pd.Series,
    daily_temp: pd.Series,
    working: pd.Series | None = None,
    grid: np.ndarray = BALANCE_GRID_DEGC,
) -> tuple[float | None, float | None]:
    """Heating and cooling balance points [degC] chosen from the data.

    Fits daily load ~ a + b·working + h·max(Th − T, 0) + c·max(T − Tc, 0) over ``grid``
    (Tc ≥ Th) and keeps the pair with the least squared error. Slopes must be positive; a
    side left out is None, and both are None when the degree terms cut the squared error by
    less than :data:`MIN_GAIN` or fewer than :data:`MIN_DAYS` days are given.
    ``daily_temp`` is the daily mean temperature [degC].
    """
    frame = pd.concat({"y": daily_load, "t": daily_temp}, axis=1).dropna()
    if working is not None:
        frame["w"] = working.reindex(frame.index).fillna(0.0)
    else:
        frame["w"] = 0.0
    if len(frame) < MIN_DAYS:
        return None, None
    y = frame["y"].to_numpy()
    t = frame["t"].to_numpy()
    base = np.column_stack([np.ones(len(y)), frame["w"].to_numpy()])
    sse0 = _fit(base, y)[1]
    best: tuple[float, float | None, float | None] = (sse0, None, None)
    for th in [None, *grid]:
        for tc in [None, *grid]:
            if th is not None and tc is not None and tc < th:
                continue
            cols = [base]
            if th is not None:
                cols.append(heating_degrees(t, th)[:, None])
            if tc is not None:
                cols.append(cooling_degrees(t, tc)[:, None])
            coef, sse = _fit(np.column_stack(cols), y)
            if th is not None and coef[2] <= 0:
                continue
            if tc is not None and coef[-1] <= 0:
                continue
            if sse < best[0]:
                best = (sse, th, tc)
    if best[0] > (1 - MIN_GAIN) * sse0:
        return None, None
    return tuple(None if b is None else float(b) for b in best[1:])  # type: ignore[return-value]


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return coef, float(resid @ resid)
