"""Normalisation helpers: units, power → energy, duplicates, plausibility flags."""

from __future__ import annotations

import pandas as pd
import pytest

from wattlens.ingest.normalise import (
    THERM_KWH,
    collapse_duplicates,
    flag_suspicious,
    parse_local_time,
    power_to_interval,
    register_to_interval,
    to_canonical,
    unit_conversion,
)


@pytest.mark.parametrize(
    ("unit", "raw", "quantity", "canonical"),
    [("Wh", 1500.0, "energy", 1.5), ("kWh", 2.0, "energy", 2.0), ("MWh", 0.5, "energy", 500.0),
     ("W", 250.0, "power", 0.25), ("kW", 3.0, "power", 3.0), ("degF", 212.0, "temperature", 100.0),
     ("°C", 21.5, "temperature", 21.5), ("therm", 2.0, "energy", 2 * THERM_KWH),
     ("W/m²", 800.0, "ghi", 800.0), ("kwh", 1.0, "energy", 1.0)],
)
def test_units_convert_to_canonical(unit: str, raw: float, quantity: str,
                                    canonical: float) -> None:
    conversion = unit_conversion(unit)
    assert conversion.quantity == quantity
    assert to_canonical(pd.Series([raw]), conversion).iloc[0] == pytest.approx(canonical)


def test_gas_volume_needs_a_factor_and_water_stays_volume() -> None:
    with pytest.raises(ValueError, match="kwh_per_unit"):
        unit_conversion("m3")
    assert unit_conversion("m3", kwh_per_unit=11.2).factor == 11.2
    assert unit_conversion("m3", commodity="water").quantity == "volume"
    with pytest.raises(ValueError, match="only for gas volumes"):
        unit_conversion("kWh", kwh_per_unit=3.0)


def test_unknown_unit_names_the_unit_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unit 'kVAh' is not known; use one of .*'kWh'"):
        unit_conversion("kVAh")


def test_power_samples_become_estimated_interval_energy_without_filling_gaps() -> None:
    times = pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T00:30Z", "2024-01-01T02:10Z",
                            "2024-01-01T02:40Z", "2024-01-01T03:05Z"])
    samples = pd.DataFrame({"time": times, "value": [2.0, 4.0, 1.0, -1.0, 8.0]})
    out = power_to_interval(samples, "1h", complete_before=pd.Timestamp("2024-01-01T03:30Z"))
    assert list(out.frame["time"].dt.hour) == [0, 2]  # 01:00 absent, 03:00 incomplete
    assert list(out.frame["value"]) == [3.0, 1.0]
    assert set(out.frame["quality"]) == {"estimated"}
    assert len(out.problems) == 1 and "negative power" in out.problems["reason"].iloc[0]


def test_power_15min_interval_energy_is_mean_times_quarter_hour() -> None:
    times = pd.date_range("2024-01-01", periods=3, freq="5min", tz="UTC")
    out = power_to_interval(pd.DataFrame({"time": times, "value": [4.0, 4.0, 4.0]}), "15min")
    assert out.frame["value"].tolist() == [1.0]


def test_register_gap_is_flagged_not_filled() -> None:
    times = pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T05:00Z"])
    out = register_to_interval(pd.DataFrame({"time": times, "value": [10.0, 12.0, 20.0]}),
                               interval="1h")
    assert out.frame["value"].tolist() == [2.0, 8.0]
    assert out.frame["quality"].tolist() == ["ok", "suspect"]
    assert len(out.frame) == 2  # no rows invented for 02:00-04:00


def test_duplicates_collapse_and_conflicts_are_flagged() -> None:
    t = pd.Timestamp("2024-01-01", tz="UTC")
    frame = pd.DataFrame({"time": [t, t, t, t + pd.Timedelta("1h")],
                          "meter": ["a", "a", "b", "a"], "quantity": "energy",
                          "value": [1.0, 1.0, 5.0, 2.0], "quality": "ok"})
    same = collapse_duplicates(frame)
    assert len(same) == 3 and set(same["quality"]) == {"ok"}
    frame.loc[1, "value"] = 1.5
    conflict = collapse_duplicates(frame)
    row = conflict[(conflict["meter"] == "a") & (conflict["time"] == t)]
    assert row["value"].tolist() == [1.5] and row["quality"].tolist() == ["suspect"]


def test_implausible_values_are_flagged_never_dropped() -> None:
    t = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    frame = pd.DataFrame({"time": t, "meter": "w", "value": [20.0, 75.0, 120.0, -5.0],
                          "quantity": ["temperature", "temperature", "humidity", "energy"],
                          "quality": "ok"})
    out = flag_suspicious(frame)
    assert out["quality"].tolist() == ["ok", "suspect", "suspect", "suspect"]
    assert out["value"].tolist() == frame["value"].tolist()
    assert flag_suspicious(frame.iloc[:1], max_value=10.0)["quality"].tolist() == ["suspect"]


def test_local_time_rejects_nonexistent_and_unparseable_with_reasons() -> None:
    text = pd.Series(["2024-03-31 01:30", "2024-03-31 02:30", "garbage", None])
    out = parse_local_time(text, "Europe/London", "%Y-%m-%d %H:%M")
    assert "does not exist in Europe/London" in out.problems.iloc[0]
    assert out.utc.iloc[1] == pd.Timestamp("2024-03-31T01:30Z")
    assert "'garbage' is not a timestamp in format '%Y-%m-%d %H:%M'" in out.problems.iloc[2]
    assert out.problems.iloc[3] is not None and pd.isna(out.utc.iloc[3])
    assert pd.isna(out.utc.iloc[0])


def test_ambiguous_policies() -> None:
    text = pd.Series(["2024-10-27 01:30"])
    zone = "Europe/London"
    assert parse_local_time(text, zone, ambiguous="earliest").utc.iloc[0] == pd.Timestamp(
        "2024-10-27T00:30Z")
    assert parse_local_time(text, zone, ambiguous="latest").utc.iloc[0] == pd.Timestamp(
        "2024-10-27T01:30Z")
    rejected = parse_local_time(text, zone, ambiguous="reject")
    assert pd.isna(rejected.utc.iloc[0]) and "ambiguous" in rejected.problems.iloc[0]
