"""M&V answer key on the OpenEEmeter il-* samples.

The samples' designed saving is 10 % of each year's *own-weather* total. M&V measures the
weather-adjusted saving (adjusted baseline − actual), which equals the designed 10 % only
where the design has no weather dependence; elsewhere il_samples.design_key computes it
exactly from metadata.json and the temperatures. Two checks:

- the designed loads rebuilt without noise at every granularity: the estimate must match
  the exact weather-adjusted key within ±1 percentage point (every design × granularity);
- the shipped sample files of the weather-neutral design (il-gas-intercept-only), noise
  included: within ±1 percentage point of the designed 10 % at every granularity.

benchmarks/bench_savings.py prints the whole table for the shipped files.
"""

from __future__ import annotations

import pytest

from analytics.savings import estimate_savings

from . import il_samples as il

pytestmark = pytest.mark.skipif(
    not il.available(), reason=f"OpenEEmeter samples not found at {il.SAMPLES}"
)

SUITED = {"hourly": "towt", "daily": "caltrack-daily", "billing_monthly": "caltrack-daily",
          "billing_bimonthly": "caltrack-daily"}


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
