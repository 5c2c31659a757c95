"""The audit trail in every result (issue #15 item 6): a result JSON alone names the model
and its coefficients, every number of the uncertainty, the periods, time zone, software and
the hashes of the data it was computed from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.caltrack.daily import t_quantile
from wattlens.analytics.savings import data_hash, estimate_savings

from . import synthetic

TZ, BASE, REP = synthetic.TZ, synthetic.BASE, synthetic.REP


@pytest.mark.parametrize("model", ["caltrack-daily", "towt"])
def test_result_json_carries_what_an_auditor_needs(weather, model: str) -> None:
    load = synthetic.load(weather, saving=0.1)
    data = estimate_savings(load, weather, "m1", BASE, REP, model=model, tz=TZ).to_json()
    unc, rep = data["uncertainty"], data["reporting"]
    # the interval from the recorded numbers alone
    n, n_eff, p, m = unc["n"], unc["n_effective"], unc["n_params"], unc["m"]
    rho = unc["autocorrelation"]
    assert n_eff == pytest.approx(max(n * (1 - max(rho, 0)) / (1 + max(rho, 0)), 2), rel=1e-5)
    assert unc["t_dof"] == pytest.approx((n - p) * n_eff / n, rel=1e-5)
    assert unc["t_value"] == pytest.approx(
        t_quantile(0.5 + unc["confidence"] / 2, unc["t_dof"]), rel=1e-5)
    half = (unc["t_value"] * 1.26 * unc["cv_rmse_pct"] / 100
            * np.sqrt((n / n_eff) * (1 + 2 / n_eff) / m) * rep["adjusted_baseline_kwh"])
    low, high = rep["savings_interval_kwh"]
    assert (high - low) / 2 == pytest.approx(half, rel=1e-4)
    assert m == rep["n"] and unc["confidence"] == rep["confidence"] == 0.9
    # the model and its coefficients
    if model == "caltrack-daily":
        coef = data["coefficients"]["caltrack"]
        assert data["model_form"] == coef["kind"]
        assert {"intercept", "heating_slope", "heating_bp", "cooling_slope",
                "cooling_bp"} <= set(coef)
    else:
        assert data["coefficients"]["towt"]["n_params"] == p
        assert data["coefficients"]["towt"]["segments"]
    # where, when, with what
    assert data["timezone"] == TZ
    assert data["periods"]["baseline"][0] == pd.Timestamp("2018-01-01", tz=TZ).tz_convert(
        "UTC").isoformat()
    assert data["periods"]["reporting_observations_used"]
    assert data["software"]["wattlens"] and data["software"]["pandas"] == pd.__version__
    series = pd.Series(load["value"].to_numpy(), index=pd.DatetimeIndex(load["time"]),
                       name="value")
    assert data["inputs"]["readings_sha256"] == data_hash(series)
    assert data["inputs"]["temperature_sha256"] == data_hash(weather["temperature"])
    changed = series.copy()
    changed.iloc[5] += 0.001
    assert data_hash(changed) != data["inputs"]["readings_sha256"]
