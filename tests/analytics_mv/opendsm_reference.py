"""OpenDSM's savings on the parity cases, run under the OpenDSM venv (.venv-opendsm: OpenDSM
needs pandas < 3, wattlens pandas 3) by test_mv_opendsm_parity.py, never imported by it.

Reads the cases as JSON on stdin — a list of {"name", "model": "hourly"|"daily", "tz",
"meter": {time ISO UTC: kWh}, "temperature_degf": {time ISO UTC: degF}, "baseline",
"reporting": [start, end] local dates, end exclusive} — and prints {"name": savings %} with
savings = (predicted − observed) / predicted over the reporting rows both have, using
OpenDSM's CalTRACK hourly model (TOWT) and its legacy CalTRACK daily model, disqualification
ignored (wattlens is forced the same way).
"""

from __future__ import annotations

import json
import sys
import warnings

import pandas as pd
from opendsm import eemeter as em


def _series(values: dict[str, float], tz: str, name: str) -> pd.Series:
    index = pd.to_datetime(list(values), utc=True).tz_convert(tz)
    return pd.Series(list(values.values()), index=index, name=name, dtype=float)


def _window(series: pd.Series, span: list[str], tz: str) -> pd.Series:
    start, end = (pd.Timestamp(v, tz=tz) for v in span)
    return series[(series.index >= start) & (series.index < end)]


def savings_pct(case: dict) -> float:
    tz = case["tz"]
    meter = _series(case["meter"], tz, "observed")
    temp = _series(case["temperature_degf"], tz, "temperature")
    parts = {k: (_window(meter, case[k], tz), _window(temp, case[k], tz))
             for k in ("baseline", "reporting")}
    if case["model"] == "hourly":
        base = em.HourlyCaltrackBaselineData.from_series(*parts["baseline"],
                                                         is_electricity_data=True)
        rep = em.HourlyCaltrackReportingData.from_series(*parts["reporting"],
                                                         is_electricity_data=True)
        model = em.HourlyCaltrackModel().fit(base)
        frame = model.predict(rep)
    else:
        base = em.DailyBaselineData.from_series(*parts["baseline"], is_electricity_data=True)
        rep = em.DailyReportingData.from_series(*parts["reporting"], is_electricity_data=True)
        model = em.DailyModel(model="legacy").fit(base, ignore_disqualification=True)
        frame = model.predict(rep, ignore_disqualification=True)
    frame = frame.dropna(subset=["observed", "predicted"])
    predicted, observed = frame["predicted"].sum(), frame["observed"].sum()
    return float((predicted - observed) / predicted * 100)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    cases = json.load(sys.stdin)
    json.dump({case["name"]: savings_pct(case) for case in cases}, sys.stdout)
