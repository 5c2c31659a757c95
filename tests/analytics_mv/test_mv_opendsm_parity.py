"""Parity with OpenDSM, the reference CalTRACK implementation (issue #15 item 3).

The same data go to wattlens and to OpenDSM (tests/analytics_mv/opendsm_reference.py, run in
the OpenDSM venv ``.venv-opendsm`` that ``make`` builds from requirements-opendsm.txt:
OpenDSM needs pandas < 3). Cases: the shipped OpenEEmeter samples (hourly and daily) and
complete local days of two Cambridge buildings (baseline 2018, reporting 2019). Savings [%]
must agree within ±0.1 point for wattlens ``caltrack-hourly`` vs OpenDSM's hourly CalTRACK
(TOWT) model and within ±0.5 point for ``caltrack-daily`` vs OpenDSM's legacy daily model.

OpenDSM is slow here: ~25 s to import and 60–150 s per fit on the 2-core machine, so CI runs
the cases of :data:`CI_CASES` (one hourly and one daily OpenEEmeter sample, one Cambridge
building daily; ~35 s on a quiet machine, minutes under load) and
``benchmarks/bench_savings.py`` prints every case.

Hourly: wattlens's TOWT defaults are the reference's two rules: each occupancy gets its own
temperature knots, merged on its own hours, and an hour of the week is occupied when more
than 65 % of its hours, counted alike, have positive residuals. The alternative
(``bins_per_occupancy = false``, ``occupancy_share = "weighted"``: one set of knots merged on
all hours, the share weighted by segment weight, ≥ 65 %) differs from OpenDSM by −0.107
point on il-electricity-cdd-hdd: occupied hours are few (1 to 11 of 168 per segment), so
shared knots give their slopes bins holding fewer than 20 occupied hours.

Daily: OpenDSM's ``DailyModel(model="legacy")`` is not CalTRACK 2.0's grid search but
OpenDSM's optimiser with legacy settings: a continuous balance point found by NLopt (SBPLX)
minimising the squared error plus an elastic-net penalty (``regularization_alpha`` 0.001) on
the slope and on the balance point's distance from the ends of the temperature range, with
no p-value or minimum-degree-day rule. wattlens follows the spec (1 degF grid, ordinary least
squares, p < 0.1 and sufficiency rules, adjusted R²). Both see the same 366 baseline days and
daily mean temperatures. On il-electricity-cdd-only both pick a cooling-only model: wattlens
62 degF, 3.610 kWh/day/degF, intercept 7.571 kWh/day (R² 0.88439, the least-squares
optimum on the grid); OpenDSM 62.849 degF, 3.803 kWh/day/degF, intercept 7.852 kWh/day
(squared error 0.19 % higher, baseline predicted 0.30 % low: not even the least-squares fit
at its own balance point, 7.979 and 3.795). Savings: wattlens 4.515 %, OpenDSM 3.789 %;
least squares at OpenDSM's balance point 4.113 %, so OpenDSM's balance point accounts for
0.40 point and its penalised, inexact coefficients for 0.32. The grid is not the cause: the
continuous least-squares optimum (62.15 degF) gives 4.451 %. The difference (+0.726) is
OpenDSM's departure from the spec; the case is reported by the bench, not asserted.

Measured on the cases (OpenDSM 1.2.7; savings %, wattlens − OpenDSM): hourly
il-electricity-cdd-hdd −0.004, il-electricity-cdd-only +0.003, il-gas-hdd-only −0.001, b14
+0.000, b9 −0.001 (the alternative rules: −0.107, +0.098, −0.018, +0.046, −0.028); daily
il-electricity-cdd-hdd
+0.042, il-electricity-cdd-only +0.726 (explained above), b14 −0.077, b9 +0.047.

Where wattlens deliberately differs, the cases avoid the difference and say so here:

- only complete local days go to either side: OpenDSM spreads the reading after a gap across
  the gap and counts the day complete, wattlens leaves incomplete days out (a flaw in
  OpenDSM's sense of "complete", not a modelling choice);
- wattlens's uncertainty (t on ν = (n − p)·n′/n) is not compared: OpenDSM's interval is
  another formula;
- OpenDSM ignores its disqualification here as wattlens is forced: the il samples' baseline
  is 366 days and Cambridge's weather has short gaps.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from wattlens.analytics.caltrack.hourly import TowtSettings
from wattlens.analytics.savings import SavingsSettings, estimate_savings

from . import il_samples as il

ROOT = Path(__file__).resolve().parents[2]
OPENDSM_PYTHON = Path(os.environ.get("WATTLENS_OPENDSM_PYTHON",
                                     ROOT / ".venv-opendsm" / "bin" / "python"))
CAMBRIDGE = ROOT / ".." / "shared" / "data" / "cambridge"
BUILDINGS = ("b14", "b9")
CI_CASES = ("il-electricity-cdd-hdd-hourly", "il-electricity-cdd-hdd-daily", "b14-daily")
LONDON = "Europe/London"
TOLERANCE = {"hourly": 0.1, "daily": 0.5}
WATTLENS_MODEL = {"hourly": "caltrack-hourly", "daily": "caltrack-daily"}
SHARED_KNOTS = SavingsSettings(towt=TowtSettings(bins_per_occupancy=False,
                                                 occupancy_share="weighted"))
"""The TOWT alternative to the reference's rules, which the bench prints beside them."""

if not OPENDSM_PYTHON.exists() and os.environ.get("CI"):
    raise RuntimeError(f"{OPENDSM_PYTHON} not found: `make` builds the OpenDSM venv from "
                       f"requirements-opendsm.txt")
pytestmark = [
    pytest.mark.skipif(not OPENDSM_PYTHON.exists(),
                       reason=f"OpenDSM venv {OPENDSM_PYTHON} not built (make venv-opendsm)"),
    pytest.mark.skipif(not il.available() or not CAMBRIDGE.exists(),
                       reason="../shared/data (OpenEEmeter samples, Cambridge) not found"),
]


def _iso(series: pd.Series) -> dict[str, float]:
    return dict(zip(pd.DatetimeIndex(series.index).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    series.to_numpy(dtype=float).tolist(), strict=True))


def _complete_days(hourly: pd.Series, tz: str) -> pd.Series:
    """Hourly readings of the local days that have every hour (23 or 25 at DST changes)."""
    local = hourly.index.tz_convert(tz)
    day = local.normalize()
    expected = pd.Series((day + pd.DateOffset(days=1) - day) / pd.Timedelta(hours=1),
                         index=hourly.index)
    counts = hourly.groupby(day).transform("count")
    return hourly[(counts.to_numpy() == expected.to_numpy())]


def _daily_totals(hourly: pd.Series, tz: str) -> pd.Series:
    local = hourly.tz_convert(tz)
    totals = local.groupby(local.index.normalize()).sum()
    return totals.tz_convert("UTC")


def _cases() -> list[dict]:
    cases = []
    temp_c = il.weather()["temperature"]
    for sample in ("il-electricity-cdd-hdd-hourly", "il-electricity-cdd-only-hourly",
                   "il-gas-hdd-only-hourly",
                   "il-electricity-cdd-hdd-daily", "il-electricity-cdd-only-daily"):
        frame = il.readings(sample)
        meter = pd.Series(frame["value"].to_numpy(), index=pd.DatetimeIndex(frame["time"]))
        cases.append({"name": sample, "model": "hourly" if sample.endswith("hourly") else
                      "daily", "tz": il.TZ, "meter": meter, "temperature": temp_c,
                      "baseline": list(il.BASELINE), "reporting": list(il.REPORTING)})
    weather = pd.concat(pd.read_csv(CAMBRIDGE / "weather" / "bedford" / f"{y}.csv")
                        for y in (2018, 2019))
    temp = pd.Series(weather["air_temperature [degC]"].to_numpy(),
                     index=pd.to_datetime(weather["datetime"], utc=True)).dropna()
    for building in BUILDINGS:
        raw = pd.concat(pd.read_csv(CAMBRIDGE / "buildings" / f"UCam_Building_{building}"
                                    / "electricity" / f"{y}.csv") for y in (2018, 2019))
        hourly = pd.Series(raw.iloc[:, 1].to_numpy(dtype=float),
                           index=pd.to_datetime(raw.iloc[:, 0], utc=True))
        hourly = _complete_days(hourly[hourly > 0], LONDON)
        for model, meter in (("hourly", hourly), ("daily", _daily_totals(hourly, LONDON))):
            cases.append({"name": f"{building}-{model}", "model": model, "tz": LONDON,
                          "meter": meter, "temperature": temp,
                          "baseline": ["2018-01-01", "2019-01-01"],
                          "reporting": ["2019-01-01", "2020-01-01"]})
    return cases


def compare(names: tuple[str, ...] | None = None) -> list[tuple[dict, float, float]]:
    """(case, wattlens savings %, OpenDSM savings %) of the parity cases ``names`` (all)."""
    cases = [c for c in _cases() if names is None or c["name"] in names]
    payload = [{**{k: v for k, v in c.items() if k not in ("meter", "temperature")},
                "meter": _iso(c["meter"]), "temperature_degf": _iso(c["temperature"] * 9 / 5
                                                                    + 32)}
               for c in cases]
    run = subprocess.run([str(OPENDSM_PYTHON), str(Path(__file__).with_name(
        "opendsm_reference.py"))], input=json.dumps(payload), capture_output=True, text=True,
        timeout=1800, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    theirs = json.loads(run.stdout)
    return [(case, ours(case), theirs[case["name"]]) for case in cases]


def ours(case: dict, settings: SavingsSettings | None = None) -> float:
    """wattlens's savings [%] of a parity case (forced like OpenDSM)."""
    meter = case["meter"]
    readings = pd.DataFrame({"time": pd.DatetimeIndex(meter.index).astype("datetime64[ns, UTC]"),
                             "meter": "m", "quantity": "energy", "value": meter.to_numpy(),
                             "quality": "ok"})
    weather = case["temperature"].rename("temperature").to_frame()
    weather.index = pd.DatetimeIndex(weather.index).astype("datetime64[ns, UTC]")
    result = estimate_savings(readings, weather, "m", tuple(case["baseline"]),
                              tuple(case["reporting"]), model=WATTLENS_MODEL[case["model"]],
                              tz=case["tz"], force=True, settings=settings)
    return result.reporting.savings_pct


@pytest.fixture(scope="module")
def parity() -> list[tuple[dict, float, float]]:
    return compare(CI_CASES)


def test_hourly_and_daily_savings_match_opendsm(parity) -> None:
    rows = [f"{c['name']}: wattlens {ours:.3f} %, OpenDSM {theirs:.3f} %"
            for c, ours, theirs in parity]
    for case, ours, theirs in parity:
        assert abs(ours - theirs) <= TOLERANCE[case["model"]], "\n".join(rows)
