"""Each recommendation rule on constructed data whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.recommendations import RULES, RecommendationSettings, recommend
from wattlens.analytics.tariffs import Tariff, TariffsSection
from wattlens.config import parse_config
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.sample import sample_weather

from .synthetic import TZ, hourly_index, local_mask, office, readings

YEAR = hourly_index("2019-01-01", "2020-01-01")
FLAT = Tariff(id="flat", versions=[{"valid_from": "2018-01-01", "energy_rate": 0.15}])
ENGLAND = MeterInfo(id="m1", calendar=SiteCalendar(timezone=TZ))


def priced(tariff: Tariff | None, *meters: str) -> TariffsSection | None:
    """``tariff`` pricing ``meters`` (default m1)."""
    if tariff is None:
        return None
    return TariffsSection(catalog=[tariff], meters={m: tariff.id for m in meters or ["m1"]})


def run(series: pd.Series, rules: list[str], info: MeterInfo = ENGLAND,
        tariff: Tariff | None = FLAT, **kwargs):
    return recommend(readings(series), meters={"m1": info}, rules=rules, tariffs=priced(tariff),
                     carbon_factors={"electricity": 0.2, "gas": 0.18}, **kwargs)


def messages(warnings) -> list[str]:
    return [w.message for w in warnings]


def one(recs, rule: str):
    found = [r for r in recs if r.rule == rule]
    assert len(found) == 1, [r.rule for r in recs]
    return found[0]


def test_after_hours_baseload_20kw_every_night():
    """An office with 10 kW standby (seen at weekends by day) and 20 kW left on every night
    19:00-07:00 local: 20 kW × 12 h × 365 nights."""
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    recs, _ = run(series, ["after-hours-baseload"])
    rec = one(recs, "after-hours-baseload")
    assert rec.annual_kwh == pytest.approx(20 * 12 * 365, rel=0.03)
    assert rec.evidence["excess_kw"] == pytest.approx(20.0, abs=0.1)
    assert rec.annual_cost == pytest.approx(0.15 * rec.annual_kwh, rel=1e-6)
    assert rec.annual_co2_kg == pytest.approx(0.2 * rec.annual_kwh, rel=1e-6)
    assert 0 < rec.confidence <= 1 and "after-hours" in rec.title


def test_after_hours_rule_quiet_when_nights_are_at_standby():
    recs, _ = run(office(YEAR, noise=0.0), ["after-hours-baseload"])
    assert recs == []


def test_weekend_operation_on_saturdays():
    series = office(YEAR, noise=0.0)
    saturday_day = local_mask(YEAR, hours=(7, 19), weekdays=(5,))
    series[saturday_day] += 30.0
    recs, _ = run(series, ["weekend-holiday-operation"])
    rec = one(recs, "weekend-holiday-operation")
    assert rec.annual_kwh == pytest.approx(30.0 * saturday_day.sum(), rel=0.02)


def test_holiday_operation_counts_bank_holidays():
    """office() runs on bank holidays: with the holiday calendar they are off-days run at
    the occupied load (40 kW above the 10 kW after-hours level, 12 h)."""
    series = office(YEAR, noise=0.0)
    info = MeterInfo(id="m1", calendar=SiteCalendar(timezone=TZ, country="GB"))
    recs, _ = run(series, ["weekend-holiday-operation"], info=info)
    cal = info.calendar.days(YEAR)
    holidays = cal.loc[cal["holiday"] & ~cal["weekend"], "day"].nunique()
    assert holidays == 6  # GB-wide 2019 weekday holidays
    bridges = cal.loc[cal["bridge"], "day"].nunique()  # around Christmas and New Year
    assert bridges == 5
    assert one(recs, "weekend-holiday-operation").annual_kwh == pytest.approx(
        40.0 * 12 * (holidays + bridges), rel=0.02)


def test_early_start_three_hours_with_two_allowed_for_preheat():
    """Plant starts at 04:00 instead of 07:00 on weekdays; the 2 h before opening are the
    pre-occupancy window: only 04:00-05:00 is flagged, 1 h × 40 kW × weekdays."""
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(4, 7), weekdays=(0, 1, 2, 3, 4))] += 40.0
    flagged = local_mask(YEAR, hours=(4, 5), weekdays=(0, 1, 2, 3, 4))
    recs, _ = run(series, ["early-start-late-shutdown", "after-hours-baseload"])
    rec = one(recs, "early-start-late-shutdown")
    assert rec.evidence["start_hour"] == 4 and rec.evidence["stop_hour"] == 19
    assert rec.evidence["preoccupancy_hours"] == 2
    assert rec.annual_kwh == pytest.approx(40.0 * flagged.sum(), rel=0.02)
    assert not [r for r in recs if r.rule == "after-hours-baseload"]  # not counted twice


def test_preheat_before_occupancy_is_not_waste():
    """Heating from 05:00 ahead of a 07:00 opening (the b119-gas pattern) is pre-heat, not an
    early start; with no pre-occupancy window it is flagged (the test can fail)."""
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(5, 7), weekdays=(0, 1, 2, 3, 4))] += 40.0
    recs, _ = run(series, ["early-start-late-shutdown"])
    assert recs == []
    strict = RecommendationSettings(preoccupancy_hours=0)
    rec = one(run(series, ["early-start-late-shutdown"], settings=strict)[0],
              "early-start-late-shutdown")
    assert rec.evidence["start_hour"] == 5


def test_peak_demand_charge():
    series = office(YEAR, noise=0.0)
    one_a_month = YEAR[(YEAR.day_of_week == 2) & (YEAR.day >= 15) & (YEAR.day <= 21)
                       & (YEAR.hour == 12)]
    assert len(one_a_month) == 12
    series[one_a_month] += 100.0
    tariff = Tariff(id="demand", versions=[
        {"valid_from": "2018-01-01", "energy_rate": 0.1, "demand_rate": 10.0}])
    recs, _ = run(series, ["peak-demand"], tariff=tariff)
    rec = one(recs, "peak-demand")
    assert rec.evidence["mean_peak_reduction_kw"] == pytest.approx(100.0)
    assert rec.annual_kwh == 0.0
    assert rec.annual_cost == pytest.approx(100.0 * 12 * 10.0, rel=0.01)


def test_peak_demand_needs_a_demand_charge():
    recs, warnings = run(office(YEAR), ["peak-demand"])
    assert recs == [] and any("demand charge" in w for w in messages(warnings))
    (warning,) = [w for w in warnings if w.code != "recommendations.unknown-use"]
    assert warning.code == "recommendations.no-demand-charge" and warning.data["meters"] == ["m1"]


def test_heating_balance_point_too_high():
    """Gas use 100 kWh/day + 20 kWh per K below 18 °C on real Bedford temperatures: saving
    20 × Σ(HDD18 − HDD15.5)."""
    weather = sample_weather()
    temperature = weather["temperature"].reindex(YEAR).interpolate().bfill()
    day = YEAR.tz_convert(TZ).tz_localize(None).normalize()
    daily_t = temperature.groupby(day).mean()
    daily_kwh = 100 + 20 * np.clip(18 - daily_t, 0, None)
    hours_per_day = pd.Series(day).value_counts()
    series = pd.Series(daily_kwh.reindex(day).to_numpy()
                       / hours_per_day.reindex(day).to_numpy(), index=YEAR)
    info = ENGLAND.model_copy(update={"commodity": "gas", "tags": {"use": "office"}})
    recs, _ = run(series, ["temperature-sensitivity"], info=info, weather=weather)
    rec = one(recs, "temperature-sensitivity")
    assert rec.evidence["balance_point_c"] == pytest.approx(18.0, abs=0.5)
    assert rec.evidence["slope_kwh_per_degree_day"] == pytest.approx(20.0, rel=0.05)
    expected = 20 * float((np.clip(18 - daily_t, 0, None) - np.clip(15.5 - daily_t, 0, None)).sum())
    assert rec.annual_kwh == pytest.approx(expected, rel=0.05)
    assert rec.annual_co2_kg == pytest.approx(0.18 * rec.annual_kwh, rel=1e-6)


def test_temperature_rule_warns_without_weather():
    recs, warnings = run(office(YEAR), ["temperature-sensitivity"])
    assert recs == [] and any("no temperature" in w for w in messages(warnings))


def test_always_on_load_against_its_own_best_weeks():
    """30 kW left on around the clock through the weeks starting in July and August; the
    other summer weeks show the 10 kW the building can reach: half of the 30 kW excess in
    those weeks is claimed (achievable = 0.5), whatever the building's use."""
    series = office(YEAR, noise=0.0)
    local = YEAR.tz_convert(TZ).tz_localize(None).normalize()
    monday = local - pd.to_timedelta(local.day_of_week, unit="D")
    left_on = np.isin(monday.month, [7, 8])
    series[left_on] += 30.0
    recs, _ = run(series, ["always-on"])
    rec = one(recs, "always-on")
    assert rec.evidence["yardstick_other_kw"] == pytest.approx(10.0, abs=0.01)
    assert rec.annual_kwh == pytest.approx(0.5 * 30.0 * left_on.sum(), rel=0.02)
    assert "own best" in rec.evidence["yardstick"]
    assert rec.evidence["weeks_with_pattern"] == rec.evidence["weeks_above"] == 9
    assert run(office(YEAR, base=50.0, day=90.0), ["always-on"])[0] == []  # steady: no claim


def test_simultaneous_heating_and_cooling():
    """Heating in winter, cooling in summer, and 400 shared hours where both run 10 kW."""
    winter = np.isin(YEAR.month, [1, 2, 3, 11, 12])
    heating = pd.Series(np.where(winter, 30.0, 2.0), index=YEAR)
    cooling = pd.Series(np.where(np.isin(YEAR.month, [6, 7, 8]), 25.0, 1.0), index=YEAR)
    both = np.zeros(len(YEAR), dtype=bool)
    both[np.flatnonzero((YEAR.month == 5) & (YEAR.hour >= 9))[:400]] = True
    heating[both] += 10.0
    cooling[both] += 10.0
    frame = pd.concat([readings(heating, "heat-1"), readings(cooling, "chiller-1")])
    infos = {
        "heat-1": MeterInfo(id="heat-1", commodity="gas", calendar=ENGLAND.calendar,
                            building="b1", tags={"use": "heating"}),
        "chiller-1": MeterInfo(id="chiller-1", calendar=ENGLAND.calendar, building="b1",
                               tags={"use": "cooling"}),
    }
    recs, _ = recommend(frame, meters=infos, rules=["simultaneous-heating-cooling"],
                        tariffs=priced(FLAT, "heat-1", "chiller-1"),
                        carbon_factors={"electricity": 0.2, "gas": 0.18})
    assert {r.meter for r in recs} == {"heat-1", "chiller-1"}
    for rec in recs:
        assert rec.evidence["simultaneous_hours"] == 400
        assert rec.annual_kwh == pytest.approx(10.0 * 400, rel=0.02)


def test_simultaneous_rule_needs_tagged_meters():
    recs, warnings = run(office(YEAR), ["simultaneous-heating-cooling"])
    assert recs == [] and any("use = 'heating'" in w for w in messages(warnings))


def test_all_rules_rank_by_value_and_part_years_scale():
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    series[local_mask(YEAR, hours=(7, 19), weekdays=(5,))] += 30.0
    recs, _ = run(series, list(RULES))
    costs = [r.annual_cost for r in recs]
    assert costs == sorted(costs, reverse=True) and len(recs) >= 2
    half = series[series.index >= "2019-07-02"]
    part, warnings = run(half, ["after-hours-baseload"])
    full = one(recs, "after-hours-baseload")
    assert one(part, "after-hours-baseload").annual_kwh == pytest.approx(full.annual_kwh,
                                                                         rel=0.03)
    assert one(part, "after-hours-baseload").confidence < full.confidence
    assert any("scaled" in w for w in messages(warnings))


def test_bad_input_warns_or_errors():
    recs, warnings = run(office(hourly_index("2019-01-01", "2019-02-01")), list(RULES))
    assert recs == [] and any("want >= 90" in w for w in messages(warnings))
    with pytest.raises(ValueError, match="unknown rule"):
        run(office(YEAR), ["nope"])
    nights = office(YEAR)
    nights[local_mask(YEAR, hours=(19, 7))] += 20.0
    no_tariff, warnings = run(nights, ["after-hours-baseload"], tariff=None)
    assert no_tariff[0].annual_cost is None and any("no tariff" in w
                                                    for w in messages(warnings))


def test_closure_days_are_off_days():
    """The office runs at full load through its configured closure week: those five days
    are off-days run as if occupied (40 kW above the after-hours level, 12 h a day)."""
    series = office(YEAR, noise=0.0)
    closed = MeterInfo(id="m1", calendar=SiteCalendar(
        timezone=TZ, closures=[{"start": "2019-08-05", "end": "2019-08-09"}]))
    assert run(series, ["weekend-holiday-operation"])[0] == []
    recs, _ = run(series, ["weekend-holiday-operation"], info=closed)
    rec = one(recs, "weekend-holiday-operation")
    assert rec.evidence["off_days"] == 104 + 5  # weekend days and the closure
    assert rec.annual_kwh == pytest.approx(40.0 * 12 * 5, rel=0.02)


def test_working_hours_and_rule_settings_from_the_config():
    """Nights from 19:00 to 07:00 at 30 kW: with working hours 08-18 the rule sees 10 kW
    more after-hours hours; a config threshold above the excess silences it."""
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    late = MeterInfo(id="m1", calendar=SiteCalendar(timezone=TZ,
                                                    working_hours={"start": 8, "end": 18}))
    rec = one(run(series, ["after-hours-baseload"], info=late)[0], "after-hours-baseload")
    assert rec.evidence["after_hours_per_day"] == 14
    config = parse_config({"analytics": {"recommendations": {
        "after_hours_baseload": {"min_share": 5.0}}}})
    settings = config.analytics.recommendations
    assert run(series, ["after-hours-baseload"], settings=settings)[0] == []
