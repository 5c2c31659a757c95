"""M&V inputs leave out partial readings at gap edges and readings stored ``suspect``
(issue #14: "excluded from learning, from persistence forecasts and from M&V"), counted in
warnings, so a half-reported hour before a meter outage is not taken as real use."""

from __future__ import annotations

import pandas as pd
import pytest

from wattlens.analytics.savings import SavingsSettings, estimate_savings

from . import synthetic


def _estimate(readings: pd.DataFrame, weather: pd.DataFrame,
              settings: SavingsSettings | None = None):
    return estimate_savings(readings, weather, "m1", synthetic.BASE, synthetic.REP,
                            model="towt", tz=synthetic.TZ, settings=settings)


@pytest.fixture(scope="module")
def damaged(weather: pd.DataFrame) -> pd.DataFrame:
    """Meter m1 with a 6-hour outage in the baseline whose last reading before it holds only
    a fifth of the hour's use, and one implausible reading stored flagged ``suspect``."""
    readings = synthetic.load(weather, meter="m1", saving=0.1)
    outage = pd.date_range("2018-03-14 10:00", periods=6, freq="1h", tz="UTC")
    readings = readings[~readings["time"].isin(outage)].reset_index(drop=True)
    partial = readings.index[readings["time"] == pd.Timestamp("2018-03-14 09:00", tz="UTC")]
    readings.loc[partial, "value"] *= 0.2
    spike = readings.index[readings["time"] == pd.Timestamp("2018-06-05 03:00", tz="UTC")]
    readings.loc[spike, ["value", "quality"]] = [50_000.0, "suspect"]
    return readings


def test_gap_edge_and_suspect_readings_are_left_out_and_counted(damaged, weather) -> None:
    result = _estimate(damaged, weather)
    codes = {w.code: w for w in result.warnings}
    assert codes["savings.gap-edges"].data["readings"] == 1
    assert "2018-03-14T09:00:00+00:00" in codes["savings.gap-edges"].message
    assert codes["savings.suspect-readings"].data["readings"] == 1
    assert result.audit["inputs"]["readings_used"] == len(damaged) - 2
    assert result.settings.gap_edge.ratio == 0.6  # recorded with the result's settings
    clean = _estimate(synthetic.load(weather, meter="m1", saving=0.1), weather)
    assert not {"savings.gap-edges", "savings.suspect-readings"} & {
        w.code for w in clean.warnings}
    # the 50 MWh reading would otherwise dominate the baseline fit
    assert result.reporting.savings_pct == pytest.approx(clean.reporting.savings_pct, abs=0.1)


def test_the_ratio_is_a_setting(damaged, weather) -> None:
    strict = SavingsSettings.model_validate({"gap_edge": {"ratio": 0.1}})
    codes = {w.code for w in _estimate(damaged, weather, strict).warnings}
    assert "savings.gap-edges" not in codes  # a fifth of the usual is above a tenth
