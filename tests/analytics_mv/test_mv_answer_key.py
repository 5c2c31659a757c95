"""M&V answer key on the OpenEEmeter il-* samples.

The samples' designed saving is 10 % of each year's *own-weather* total; M&V measures the
weather-adjusted saving (adjusted baseline − actual), which the samples do not state and
which is not 10 % for every design (il_samples explains). Three checks:

- the shipped files of the weather-neutral design (il-gas-intercept-only), noise included:
  within ±1 percentage point of the designed 10 % at every granularity;
- every shipped file (4 designs × hourly, daily, monthly and bimonthly bills): the estimate
  of the model suited to the data is within ±1 point of the file's own weather-adjusted
  saving under the correctly specified model (il_samples.oracle_savings), ±2 points on
  bimonthly bills (six baseline bills for a five-parameter search) and 1.1 on
  il-electricity-cdd-only-hourly (the reference implementation's own TOWT misses it by 1.036,
  wattlens's by 1.033: :data:`REFERENCE_MISS`), and that saving lies inside the reported 90 %
  savings interval;
- the designed loads rebuilt without noise at every granularity: the estimate matches the
  exact key of that generator within ±1 point.

The samples are generated from degree *hours*, so the correctly specified daily model is
``daily-degree-hours``; CalTRACK 2.0's ``caltrack-daily`` (degree days of the daily mean) is
misspecified on them by 1–2 points (4 on bimonthly bills), which the last test documents —
the evidence for keeping the degree-hour variant (docs/mv-method.md).

benchmarks/bench_savings.py prints the whole table for the shipped files.
"""

from __future__ import annotations

import pytest

from wattlens.analytics.savings import estimate_savings

from . import il_samples as il

pytestmark = pytest.mark.skipif(
    not il.available(), reason=f"OpenEEmeter samples not found at {il.SAMPLES}"
)

REFERENCE_MISS = {"il-electricity-cdd-only-hourly": 1.1}
"""Tolerances above ±1 point where OpenDSM's TOWT itself misses the key by more (1.036 point:
5.918 % against 6.954 %; docs/mv-method.md, parity)."""
SUITED = {"hourly": "caltrack-hourly", "daily": "daily-degree-hours",
          "billing_monthly": "daily-degree-hours", "billing_bimonthly": "daily-degree-hours"}


def _baseline(freq: str) -> tuple[str, str]:
    # bills must lie wholly inside the baseline: start it at the first bill
    return ("2015-11-22", il.BASELINE[1]) if freq.startswith("billing") else il.BASELINE


@pytest.mark.parametrize("freq", il.FREQS)
@pytest.mark.parametrize("design", il.DESIGNS)
def test_designed_loads_give_the_weather_adjusted_key(design: str, freq: str) -> None:
    readings = il.design_readings(design, freq)
    result = estimate_savings(
        readings, il.weather(), design, _baseline(freq), il.REPORTING, blackout=il.BLACKOUT,
        model=SUITED[freq], tz=il.TZ,
    )
    windows = (il.windows_of(f"{design}-{freq}", result.series["time"])
               if freq.startswith("billing") else None)
    key = il.design_key(design, windows)
    assert abs(result.reporting.savings_pct - key) <= 1.0, (result.reporting, key)


@pytest.mark.parametrize("freq", il.FREQS)
@pytest.mark.parametrize("design", il.DESIGNS)
def test_sample_files_match_their_weather_adjusted_saving(design: str, freq: str) -> None:
    sample = f"{design}-{freq}"
    result = estimate_savings(
        il.readings(sample), il.weather(), sample, _baseline(freq), il.REPORTING,
        blackout=il.BLACKOUT, model=SUITED[freq], tz=il.TZ, confidence=0.9,
    )
    rep = result.reporting
    oracle = il.oracle_savings(sample, _baseline(freq), il.REPORTING)
    tolerance = 2.0 if freq == "billing_bimonthly" else REFERENCE_MISS.get(sample, 1.0)
    assert abs(rep.savings_pct - oracle) <= tolerance, (rep, oracle)
    if result.baseline.n - result.baseline.n_params < 5:
        assert any("residual degrees of freedom" in w.message for w in result.warnings)
    low, high = (100 * v / rep.adjusted_baseline_kwh for v in rep.savings_interval_kwh)
    assert low <= oracle <= high, (low, oracle, high)


@pytest.mark.parametrize("freq", il.FREQS)
def test_weather_neutral_sample_files_within_one_point_of_ten_percent(freq: str) -> None:
    sample = f"il-gas-intercept-only-{freq}"
    result = estimate_savings(
        il.readings(sample), il.weather(), sample, _baseline(freq), il.REPORTING,
        blackout=il.BLACKOUT, model=SUITED[freq], tz=il.TZ,
    )
    assert abs(il.design_key("il-gas-intercept-only") - 9.75) < 0.01  # 365 vs 366 days
    assert abs(result.reporting.savings_pct - 10.0) <= 1.0, result.reporting
    low, high = result.reporting.savings_interval_kwh
    assert low < result.reporting.savings_kwh < high


@pytest.mark.parametrize("freq", ["daily", "billing_monthly"])
def test_caltrack_daily_mean_form_is_misspecified_on_degree_hour_designs(freq: str) -> None:
    # the weather-neutral design has no degree days to misspecify: the spec form is exact
    # there; on the cooling design the daily mean hides hot afternoons of mild days
    sample = f"il-electricity-cdd-only-{freq}"
    kwargs = dict(blackout=il.BLACKOUT, tz=il.TZ)
    spec = estimate_savings(il.readings(sample), il.weather(), sample, _baseline(freq),
                            il.REPORTING, model="caltrack-daily", **kwargs)
    hours = estimate_savings(il.readings(sample), il.weather(), sample, _baseline(freq),
                             il.REPORTING, model="daily-degree-hours", **kwargs)
    oracle = il.oracle_savings(sample, _baseline(freq), il.REPORTING)
    assert spec.model_detail["degree_days"].startswith("of the local day's mean")
    assert abs(hours.reporting.savings_pct - oracle) < abs(spec.reporting.savings_pct - oracle)
    assert abs(spec.reporting.savings_pct - oracle) <= 2.5
