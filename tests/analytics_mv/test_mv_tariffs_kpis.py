"""Tariffs (flat, time of use, demand, standing, dated versions), carbon and KPIs on
constructed data whose bills and indicators are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.carbon import CarbonError, carbon_kg, intensity_from_readings
from wattlens.analytics.kpis import kpis, submeter_reconciliation
from wattlens.analytics.tariffs import Tariff, TariffError, bill, energy_price
from wattlens.cli import EXAMPLE_CONFIG as EXAMPLE
from wattlens.config import ConfigError, load_config, parse_config
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo

SEOUL = "Asia/Seoul"


@pytest.fixture(scope="module")
def kepco() -> Tariff:
    config = load_config(EXAMPLE)
    return next(t for t in config.tariffs.catalog if t.id.startswith("kepco"))


def _local(text: str, tz: str = SEOUL) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(text, tz=tz).tz_convert("UTC")])


@pytest.mark.parametrize(
    ("when", "band_rate"),
    [
        ("2024-07-03 10:30", 229.0),  # Wednesday, summer peak
        ("2024-07-03 12:30", 146.9),  # lunch hour: mid
        ("2024-07-03 23:30", 94.0),  # light
        ("2024-07-06 10:30", 146.9),  # Saturday: peak hours billed as mid
        ("2024-07-07 10:30", 94.0),  # Sunday: light all day
        ("2024-08-15 10:30", 94.0),  # Liberation Day (Thursday): light all day
        ("2024-12-04 18:30", 202.6),  # winter evening peak
        ("2024-12-04 13:30", 146.5),  # winter afternoon mid
        ("2024-04-03 14:00", 147.2),  # spring peak
    ],
)
def test_kepco_structured_time_of_use(kepco: Tariff, when: str, band_rate: float) -> None:
    assert energy_price(kepco, _local(when), SEOUL).iloc[0] == band_rate


def _tariff(**version) -> Tariff:
    return Tariff.model_validate({"id": "t", "versions": [{"valid_from": "2020-01-01",
                                                           **version}]})


def test_bill_flat_demand_and_standing() -> None:
    tariff = _tariff(energy_rate=0.2, demand_rate=5.0, standing_per_day=1.0,
                     standing_per_month=10.0)
    times = pd.date_range("2021-02-01", "2021-03-01", freq="30min", tz="UTC", inclusive="left")
    value = np.full(len(times), 1.0)
    value[100] = 6.0  # one half hour at 12 kW: the February peak
    frame = pd.DataFrame({"time": times, "meter": "m", "value": value})
    out = bill(tariff, frame, "UTC")
    assert len(out) == 1
    row = out.iloc[0]
    assert row["kwh"] == pytest.approx(len(times) + 5)
    assert row["peak_kw"] == pytest.approx(12.0)
    assert row["energy_cost"] == pytest.approx(0.2 * (len(times) + 5))
    assert row["demand_cost"] == pytest.approx(60.0)
    assert row["standing_cost"] == pytest.approx(28 + 10)
    assert row["total"] == pytest.approx(row["energy_cost"] + 60 + 38)
    contracted = _tariff(energy_rate=0.2, demand_rate=5.0, demand_basis="contracted",
                         contracted_kw=40)
    assert bill(contracted, frame, "UTC").iloc[0]["demand_cost"] == pytest.approx(200.0)


def test_dated_versions_and_errors() -> None:
    tariff = Tariff.model_validate({"id": "t", "versions": [
        {"valid_from": "2021-01-01", "energy_rate": 0.10},
        {"valid_from": "2021-04-01", "energy_rate": 0.30},
    ]})
    times = pd.DatetimeIndex([pd.Timestamp("2021-03-31 23:30", tz="Europe/London"),
                              pd.Timestamp("2021-04-01 00:30", tz="Europe/London")])
    assert energy_price(tariff, times.tz_convert("UTC"), "Europe/London").tolist() == [0.1, 0.3]
    with pytest.raises(TariffError, match="no version valid on 2020-12-31"):
        energy_price(tariff, _local("2020-12-31 12:00", "UTC"), "UTC")
    gap = _tariff(bands=[{"name": "day", "rate": 0.2, "hours": ["07:00-23:00"]}])
    with pytest.raises(TariffError, match="no band covers"):
        energy_price(gap, _local("2021-01-01 03:00", "UTC"), "UTC")


def test_tariff_config_errors_name_the_key() -> None:
    bad_season = {"tariffs": {"catalog": [{"id": "x", "versions": [{
        "valid_from": "2020-01-01", "bands": [{"name": "p", "rate": 1, "seasons": ["summer"]}],
    }]}]}}
    with pytest.raises(ConfigError, match="season.*summer.*not defined"):
        parse_config(bad_season)
    unknown = {"tariffs": {"default": {"electricity": "nope"}}}
    with pytest.raises(ConfigError, match="not in tariffs.catalog"):
        parse_config(unknown)
    both = {"tariffs": {"catalog": [{"id": "x", "versions": [{
        "valid_from": "2020-01-01", "energy_rate": 1,
        "bands": [{"name": "p", "rate": 1}]}]}]}}
    with pytest.raises(ConfigError, match="exactly one of them"):
        parse_config(both)


def test_carbon_factor_and_intensity() -> None:
    times = pd.date_range("2021-01-01", periods=6, freq="1h", tz="UTC")
    energy = pd.Series(2.0, index=times)
    intensity = pd.Series([100.0, 300.0], index=times[[0, 2]])  # gCO2/kWh
    out = carbon_kg(energy, "electricity", {"electricity": 0.25}, intensity, max_gap="1h")
    # hours 0-1 at 100 g, 2-3 at 300 g, 4-5 beyond max_gap: the 0.25 kg factor
    assert out.tolist() == pytest.approx([0.2, 0.2, 0.6, 0.6, 0.5, 0.5])
    with pytest.raises(CarbonError, match=r"add \[carbon\] factors.gas"):
        carbon_kg(energy, "gas", {"electricity": 0.25})
    stored = pd.DataFrame({"time": intensity.index, "meter": "grid",
                           "quantity": "carbon_intensity", "value": intensity.to_numpy()})
    expected = intensity.set_axis(intensity.index.astype("datetime64[ns, UTC]"))
    pd.testing.assert_series_equal(intensity_from_readings(stored, "grid"), expected,
                                   check_names=False, check_freq=False)
    with pytest.raises(CarbonError, match="no 'carbon_intensity' readings"):
        intensity_from_readings(stored, "other")


def test_kpis_and_submeter_reconciliation() -> None:
    times = pd.date_range("2021-03-01", "2021-03-08", freq="1h", tz="UTC", inclusive="left")
    working = (times.day_of_week < 5) & (times.hour >= 8) & (times.hour < 18)
    main = np.where(working, 30.0, 10.0)
    sub = np.where(working, 12.0, 4.0)
    frame = pd.concat([
        pd.DataFrame({"time": times, "meter": "main", "quantity": "energy", "value": main}),
        pd.DataFrame({"time": times, "meter": "sub", "quantity": "energy", "value": sub}),
    ])
    calendar = SiteCalendar(working_hours={"start": 8, "end": 18})
    meters = [
        MeterInfo(id="main", building="b1", site="s1", floor_area_m2=1000.0, calendar=calendar),
        MeterInfo(id="sub", building="b1", site="s1", parent="main", floor_area_m2=1000.0,
                  calendar=calendar),
    ]
    config = parse_config({"carbon": {"factors": {"electricity": 0.5}}, "tariffs": {
        "catalog": [{"id": "flat", "versions": [{"valid_from": "2020-01-01",
                                                  "energy_rate": 0.1}]}],
        "default": {"electricity": "flat"}}})
    out = kpis(frame, meters, config.tariffs, config.carbon).set_index(["level", "id",
                                                                        "commodity"])
    m = out.loc[("meter", "main", "electricity")]
    total = main.sum()  # 50 working hours at 30 + 118 others at 10
    assert m["consumption_kwh"] == pytest.approx(50 * 30 + 118 * 10)
    assert m["peak_kw"] == 30 and m["baseload_kw"] == 10
    assert m["load_factor"] == pytest.approx(total / 168 / 30)
    assert m["after_hours_share"] == pytest.approx(1180 / total)
    assert m["eui_kwh_m2_year"] == pytest.approx(total * 365.25 / 7 / 1000)
    assert m["cost"] == pytest.approx(0.1 * total)
    assert m["co2_kg"] == pytest.approx(0.5 * total)
    building = out.loc[("building", "b1", "electricity")]
    assert building["consumption_kwh"] == pytest.approx(total)  # the submeter is not added
    assert out.loc[("site", "s1", "all")]["meters"] == 1
    rec = submeter_reconciliation(frame, meters).iloc[0]
    assert rec["parent"] == "main" and rec["children"] == "sub"
    assert rec["unmetered_kwh"] == pytest.approx(total - sub.sum())
    assert rec["unmetered_share"] == pytest.approx(0.6)
    assert rec["negative_intervals"] == 0


def test_kpi_after_hours_share_counts_closures_and_the_calendar_hours() -> None:
    """Two weeks at 30 kWh in the default working hours (07-19 UTC weekdays), 10 kWh
    otherwise; closing the second week moves its 60 working hours to after hours."""
    times = pd.date_range("2021-03-01", "2021-03-15", freq="1h", tz="UTC", inclusive="left")
    working = (times.day_of_week < 5) & (times.hour >= 7) & (times.hour < 19)
    value = np.where(working, 30.0, 10.0)
    frame = pd.DataFrame({"time": times, "meter": "m", "quantity": "energy", "value": value})
    total = value.sum()
    open_weeks = MeterInfo(id="m", building="b", site="s")
    row = kpis(frame, [open_weeks]).iloc[0]
    assert row["after_hours_share"] == pytest.approx(2 * 108 * 10 / total)
    closed = open_weeks.model_copy(update={"calendar": SiteCalendar(
        closures=[{"start": "2021-03-08", "end": "2021-03-12"}])})
    row = kpis(frame, [closed]).iloc[0]
    assert row["after_hours_share"] == pytest.approx((2 * 108 * 10 + 60 * 30) / total)


def test_kpi_cost_of_a_day_carries_a_day_of_the_months_fixed_charges() -> None:
    """A live 'cost today' card must not carry the whole month's standing and demand charges."""
    times = pd.date_range("2021-02-10", "2021-02-11", freq="1h", tz="UTC", inclusive="left")
    frame = pd.DataFrame({"time": times, "meter": "m", "quantity": "energy", "value": 2.0})
    config = parse_config({"tariffs": {"catalog": [{"id": "t", "versions": [{
        "valid_from": "2020-01-01", "energy_rate": 0.2, "demand_rate": 5.0,
        "standing_per_month": 28.0}]}], "default": {"electricity": "t"}}})
    row = kpis(frame, [MeterInfo(id="m")], config.tariffs, None).set_index("id").loc["m"]
    energy, demand, standing = 0.2 * 48, 5.0 * 2.0, 28.0  # February 2021: 28 days
    assert row["cost"] == pytest.approx(energy + (demand + standing) / 28)
