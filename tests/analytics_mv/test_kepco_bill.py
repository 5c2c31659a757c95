"""KEPCO presets billed against bills worked out by hand from the tables in
../shared/docs/KEPCO.md (docs/tariffs-kepco.md): demand charge, energy per time-of-use band,
기후환경요금, 연료비조정액, VAT and 전력산업기반기금, each checked on its own.

The load is hourly, ``hour + 1`` kWh in local hour ``hour`` every day (1 kWh at 00:00, 24 kWh
at 23:00), so each band's kWh per day is a sum of distinct hours and a wrong band boundary
changes it: light load 23:00-09:00 = 24 + (1 + ... + 9) = 69 kWh a day; summer/spring/fall
peak 10-12, 13-17 = 11 + 12 + 14 + 15 + 16 + 17 = 85; mid the rest 300 - 69 - 85 = 146;
winter peak 10-12, 17-20, 22-23 = 11 + 12 + 18 + 19 + 20 + 23 = 103; winter mid 300 - 69 - 103
= 128. A day is 1 + ... + 24 = 300 kWh.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.analytics.kpis import kpis
from wattlens.analytics.tariffs import (
    TARIFF_PRESETS,
    Tariff,
    TariffError,
    TariffsSection,
    bill,
    bill_items,
    period_cost,
)
from wattlens.cli import app
from wattlens.config import load_config
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo

SEOUL = "Asia/Seoul"
LIGHT, PEAK_SSF, MID_SSF, PEAK_W, MID_W = 69, 85, 146, 103, 128
"""kWh per day in each band of the test load (module docstring)."""


def _readings(start: str, end: str) -> pd.DataFrame:
    """Hourly readings of ``hour + 1`` kWh, local days [start, end) in Seoul."""
    local = pd.date_range(start, end, freq="h", tz=SEOUL, inclusive="left")
    return pd.DataFrame({"time": local.tz_convert("UTC"), "meter": "gj-main",
                         "value": (local.hour + 1).astype(float)})


def _preset(name: str, contract_kw: float) -> Tariff:
    return Tariff.model_validate({**TARIFF_PRESETS[name].model_dump(),
                                  "contracted_kw": contract_kw})


def _check(row: pd.Series, *, energy: float, demand: float, climate: float, fuel: float,
           vat_rate: float, fund_rate: float) -> None:
    subtotal = energy + demand + climate + fuel
    assert row["energy_cost"] == pytest.approx(energy)
    assert row["demand_cost"] == pytest.approx(demand)
    assert row["climate"] == pytest.approx(climate)
    assert row["fuel_adjustment"] == pytest.approx(fuel)
    assert row["subtotal"] == pytest.approx(subtotal)
    assert row["vat"] == pytest.approx(vat_rate * subtotal)
    assert row["fund"] == pytest.approx(fund_rate * subtotal)
    assert row["total"] == pytest.approx(subtotal * (1 + vat_rate + fund_rate))


MONTH_KWH = 300 * 31
"""Every month billed below has 31 days."""
MONTHS = [
    # 일반용(을) 고압A 선택Ⅱ, table key 2305, summer: 87.3 / 140.2 / 222.3; fund 3.2 % from 2024-07
    pytest.param("kepco-general-eul-hva-2", 400, "2024-07",
                 LIGHT * 31 * 87.3 + MID_SSF * 31 * 140.2 + PEAK_SSF * 31 * 222.3,
                 400 * 8320, 9.0, 5.0, 0.032, id="general-eul-hva-2-summer"),
    # the same in winter: 94.3 / 140.4 / 197.9 on winter hours; fund still 3.7 %
    pytest.param("kepco-general-eul-hva-2", 400, "2024-01",
                 LIGHT * 31 * 94.3 + MID_W * 31 * 140.4 + PEAK_W * 31 * 197.9,
                 400 * 8320, 9.0, 5.0, 0.037, id="general-eul-hva-2-winter"),
    # 일반용(갑)Ⅰ 저압, key 2210, spring/fall 72.5; climate 7.3, fuel 5.0 (key 2207)
    pytest.param("kepco-general-gap1-lv", 20, "2022-10", MONTH_KWH * 72.5,
                 20 * 6160, 7.3, 5.0, 0.037, id="general-gap1-lv-spring-fall"),
    # 일반용(갑)Ⅱ 고압A 선택Ⅰ, key 2204, summer 62.6 / 113.8 / 136.3 (KEPCO's worked example)
    pytest.param("kepco-general-gap2-hva-1", 100, "2022-08",
                 LIGHT * 31 * 62.6 + MID_SSF * 31 * 113.8 + PEAK_SSF * 31 * 136.3,
                 100 * 7170, 7.3, 5.0, 0.037, id="general-gap2-hva-1-summer"),
    # 산업용(갑)Ⅰ 고압A 선택Ⅱ, October 2024: 88.0 on the 1st-23rd, 96.5 from the 24th
    pytest.param("kepco-industrial-gap1-hva-2", 250, "2024-10", 300 * 23 * 88.0 + 300 * 8 * 96.5,
                 250 * 7470, 9.0, 5.0, 0.032, id="industrial-gap1-hva-2-new-table-mid-month"),
    # 산업용(갑)Ⅱ 고압A 선택Ⅰ, 2024-10-24 table, winter 103.1 / 120.0 / 149.4
    pytest.param("kepco-industrial-gap2-hva-1", 200, "2024-12",
                 LIGHT * 31 * 103.1 + MID_W * 31 * 120.0 + PEAK_W * 31 * 149.4,
                 200 * 6490, 9.0, 5.0, 0.032, id="industrial-gap2-hva-1-winter"),
]


@pytest.mark.parametrize(
    ("preset", "contract_kw", "month", "energy", "demand", "climate", "fuel", "fund"), MONTHS)
def test_month_bill_matches_the_hand_computed_bill(
    preset: str, contract_kw: float, month: str, energy: float, demand: float, climate: float,
    fuel: float, fund: float,
) -> None:
    period = pd.Period(month, "M")
    readings = _readings(str(period.start_time.date()), str((period + 1).start_time.date()))
    out = bill(_preset(preset, contract_kw), readings, SEOUL)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["kwh"] == MONTH_KWH
    assert row["demand_kw"] == contract_kw
    _check(row, energy=energy, demand=demand, climate=MONTH_KWH * climate,
           fuel=MONTH_KWH * fuel, vat_rate=0.10, fund_rate=fund)


def test_items_itemise_each_band_and_charge() -> None:
    items = bill_items(_preset("kepco-general-eul-hva-2", 400),
                       _readings("2024-07-01", "2024-08-01"), SEOUL)
    energy = items[items["component"] == "energy"].set_index("label")
    assert energy["quantity"].to_dict() == {"경부하": LIGHT * 31, "중간부하": MID_SSF * 31,
                                            "최대부하": PEAK_SSF * 31}
    assert energy["rate"].to_dict() == {"경부하": 87.3, "중간부하": 140.2, "최대부하": 222.3}
    assert list(items["label"]) == ["경부하", "중간부하", "최대부하", "demand", "기후환경요금",
                                    "연료비조정액", "부가가치세", "전력산업기반기금"]


def test_a_new_table_mid_month_gets_its_own_energy_line() -> None:
    items = bill_items(_preset("kepco-industrial-gap1-hva-2", 250),
                       _readings("2024-10-01", "2024-11-01"), SEOUL)
    energy = items[items["component"] == "energy"]
    assert energy[["quantity", "rate"]].values.tolist() == [[300 * 23, 88.0], [300 * 8, 96.5]]


def test_missing_table_asks_for_a_newer_version_in_the_config() -> None:
    """산업용(갑)Ⅱ 선택Ⅱ's 2024-10-24 table is truncated in the source: billing later asks for
    a version; one added in the config (and a new fund rate) is then used."""
    with pytest.raises(TariffError, match=r"known only until 2024-10-23.*valid from 2024-10-24"):
        bill(_preset("kepco-industrial-gap2-hva-2", 200), _readings("2024-12-01", "2025-01-01"),
             SEOUL)
    text = """
    [[catalog]]
    id = "plant"
    preset = "kepco-industrial-gap2-hva-2"
    contracted_kw = 200
      [[catalog.versions]]
      valid_from = 2024-10-24
      demand_rate = 7470
      demand_basis = "contracted"
      seasons = [{ name = "winter", months = [11, 12, 1, 2] },
                 { name = "other", months = [3, 4, 5, 6, 7, 8, 9, 10] }]
      bands = [{ name = "light", rate = 98.0, hours = ["23:00-09:00"] },
               { name = "day", rate = 120.0 }]
      [[catalog.surcharges]]
      name = "fund"
      rates = [{ valid_from = 2024-12-01, rate = 0.02 }]
    """
    section = TariffsSection.model_validate(tomllib.loads(text))
    tariff = section.catalog[0]
    assert tariff.valid_until is None and len(tariff.versions) == 2
    assert [r.rate for r in next(s for s in tariff.surcharges if s.name == "fund").rates] == [
        0.037, 0.032, 0.027, 0.02]
    row = bill(tariff, _readings("2024-12-01", "2025-01-01"), SEOUL).iloc[0]
    kwh = 300 * 31
    _check(row, energy=LIGHT * 31 * 98.0 + (300 - LIGHT) * 31 * 120.0, demand=200 * 7470,
           climate=kwh * 9.0, fuel=kwh * 5.0, vat_rate=0.10, fund_rate=0.02)


def test_contracted_demand_needs_the_contract() -> None:
    with pytest.raises(TariffError, match="contracted capacity.*--contract-kw"):
        bill(TARIFF_PRESETS["kepco-general-eul-hva-2"], _readings("2024-07-01", "2024-07-02"),
             SEOUL)


def test_every_preset_names_its_source_and_dates() -> None:
    assert len(TARIFF_PRESETS.names()) == 25
    for name, tariff in TARIFF_PRESETS.items():
        assert "http" in tariff.source or "dugurs/kwh_to_won_general" in tariff.source, name
        assert tariff.currency == "KRW" and tariff.holidays_country == "KR"
        assert all(s.source for s in tariff.surcharges), name
        assert {s.name for s in tariff.surcharges} == {"climate", "fuel_adjustment", "vat",
                                                       "fund"}


def test_kpi_cost_is_the_bill_total_and_prorates_fixed_charges() -> None:
    """KPIs (and so the dashboard's cost figures) price through the same bill: a whole month
    costs the bill's total; half a month carries half the demand charge (with its VAT and
    fund) and all of its own energy."""
    tariff = _preset("kepco-general-eul-hva-2", 400)
    month = _readings("2024-07-01", "2024-08-01")
    total = bill(tariff, month, SEOUL)["total"].iloc[0]
    info = MeterInfo(id="gj-main", site="gj", calendar=SiteCalendar(timezone=SEOUL, country="KR"))
    month = month.assign(quantity="energy")
    section = TariffsSection(catalog=[tariff], default={"electricity": tariff.id})
    assert kpis(month, [info], section).iloc[0]["cost"] == pytest.approx(total)
    half = _readings("2024-07-01", "2024-07-16")  # 15 of 31 days
    energy = LIGHT * 15 * 87.3 + MID_SSF * 15 * 140.2 + PEAK_SSF * 15 * 222.3
    usage = energy + 300 * 15 * (9.0 + 5.0) + 400 * 8320 * 15 / 31
    assert period_cost(tariff, half, SEOUL) == pytest.approx(usage * (1 + 0.10 + 0.032))


def test_bill_command_json_and_table(tmp_path) -> None:
    path = tmp_path / "r.csv"
    frame = _readings("2024-06-15", "2024-08-01")
    frame.assign(time=frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    runner = CliRunner()
    args = ["bill", "--readings", str(path), "--tariff", "kepco-general-eul-hva-2",
            "--start", "2024-07-01", "--end", "2024-08-01", "--contract-kw", "400"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["month"] for m in data["months"]] == ["2024-07"]
    subtotal = (LIGHT * 31 * 87.3 + MID_SSF * 31 * 140.2 + PEAK_SSF * 31 * 222.3 + 400 * 8320
                + 300 * 31 * (9.0 + 5.0))
    assert data["total"] == pytest.approx(subtotal * 1.132)
    assert data["warnings"] == []
    assert {i["label"] for i in data["months"][0]["items"]} >= {"부가가치세", "전력산업기반기금"}
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "최대부하" in table.stdout
    assert f"{subtotal * 1.132:,.0f}" in table.stdout
    missing = runner.invoke(app, args[:-2])
    assert missing.exit_code == 2 and "--contract-kw" in missing.output
    unknown = runner.invoke(app, [*args[:4], "kepco-nope", *args[5:]])
    assert unknown.exit_code == 2 and "kepco-general-eul-hva-2" in unknown.output


def test_readings_are_hourly_and_sum_as_documented() -> None:
    """The load the hand computations rely on."""
    day = _readings("2024-07-01", "2024-07-02")
    assert day["value"].sum() == 300
    local = pd.DatetimeIndex(day["time"]).tz_convert(SEOUL)
    light = np.isin(local.hour, [23, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert day["value"][light].sum() == LIGHT


def test_gwangju_example_prices_the_main_meter_with_its_contract(tmp_path) -> None:
    """examples/gwangju.toml: 일반용(을) 고압A 선택Ⅱ with 500 kW contracted, through the config
    (KPIs) and through ``wattlens bill --config ... --tariff <catalogue id>``."""
    example = Path(__file__).resolve().parents[2] / "examples" / "gwangju.toml"
    config = load_config(example)
    info = config.meter_infos()["gj-main"]
    assert (info.timezone, info.country) == (SEOUL, "KR")
    month = _readings("2024-07-01", "2024-08-01")
    subtotal = (LIGHT * 31 * 87.3 + MID_SSF * 31 * 140.2 + PEAK_SSF * 31 * 222.3 + 500 * 8320
                + 300 * 31 * (9.0 + 5.0))
    cost = kpis(month.assign(quantity="energy"), [info], config.tariffs).iloc[0]["cost"]
    assert cost == pytest.approx(subtotal * 1.132)
    path = tmp_path / "r.csv"
    month.assign(time=month["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    result = CliRunner().invoke(app, [
        "bill", "--readings", str(path), "--tariff", "gwangju-kepco", "--config", str(example),
        "--start", "2024-07-01", "--end", "2024-08-01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == pytest.approx(subtotal * 1.132)
