"""Each recommendation rule on constructed data whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.recommendations import (
    RULES,
    Opportunity,
    RecommendationSettings,
    RecommendContext,
    combine,
    meter_year,
    recommend,
)
from wattlens.analytics.tariffs import Tariff, TariffsSection, energy_price
from wattlens.config import parse_config
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.sample import sample_readings, sample_weather

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


def test_a_recommendation_names_the_period_it_was_computed_on():
    """Two years of data: the rules read the last one, and the evidence says so (UTC)."""
    both = hourly_index("2018-01-01", "2020-01-01")
    series = office(both, noise=0.0)
    series[local_mask(both, hours=(19, 7))] += 20.0
    rec = one(run(series, ["after-hours-baseload"])[0], "after-hours-baseload")
    period = {k: pd.Timestamp(v) for k, v in rec.evidence["period"].items()}
    assert period["end"] == both[-1] + pd.Timedelta("1h")
    assert pd.Timedelta("364D") <= period["end"] - period["start"] <= pd.Timedelta("366D")
    assert period["start"].tzinfo is not None and period["start"].utcoffset() == pd.Timedelta(0)
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


# --------------------------------------------------------------------- savings that add up
OFFICE = ENGLAND.model_copy(update={"tags": {"use": "office"}})


def claimed(recs, meter: str = "m1") -> float:
    return sum(r.annual_kwh for r in recs if r.meter == meter)


def test_recommendations_of_a_meter_never_sum_above_its_consumption():
    """An adversarial meter — nights, weekends, a 03:00 start, a summer of always-on load
    and 20 kW/K of heating from 20 °C — judged with greedy settings: the rules alone claim
    more than the energy above the meter's floor (night heating is after-hours load,
    always-on load and temperature-driven at once), their shares never do."""
    weather = sample_weather()
    temperature = weather["temperature"].reindex(YEAR).interpolate().bfill()
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    series[local_mask(YEAR, hours=(7, 19), weekdays=(5, 6))] += 30.0
    series[local_mask(YEAR, hours=(3, 7), weekdays=(0, 1, 2, 3, 4))] += 40.0
    series[np.isin(YEAR.month, [6, 7, 8])] += 30.0
    series += 20.0 * np.clip(20.0 - temperature.to_numpy(), 0, None)
    greedy = RecommendationSettings(
        preoccupancy_hours=0,
        after_hours_baseload={"min_share": 0.0},
        weekend_holiday_operation={"min_share": 0.0},
        always_on={"achievable": 1.0, "best_share": 0.05, "min_excess_share": 0.0},
        temperature_sensitivity={"heating_good_c": 8.0, "min_r2": 0.0})
    recs, _ = run(series, list(RULES), info=OFFICE, weather=weather, settings=greedy)
    rules = {r.rule for r in recs}
    assert {"after-hours-baseload", "always-on", "temperature-sensitivity"} <= rules
    evidence = recs[0].evidence
    consumption = float(series.sum())
    assert evidence["meter_consumption_kwh"] == pytest.approx(consumption, rel=0.01)
    alone = sum(r.evidence["alone_kwh"] for r in recs)
    total = claimed(recs)
    assert alone > evidence["meter_bound_kwh"]  # summed naively they would overclaim
    assert total == pytest.approx(evidence["meter_combined_kwh"], rel=1e-3)
    assert total <= evidence["meter_bound_kwh"] + 1 < consumption
    assert sum(r.annual_cost for r in recs) == pytest.approx(0.15 * total, rel=1e-3)


def test_combined_shares_of_rules_claiming_the_same_energy_twice():
    """combine() on two made-up rules each claiming three times the load every hour: their
    shares add up to the energy above the floor, the first in order takes it all."""
    series = office(YEAR, noise=0.0)
    info = ENGLAND
    year = meter_year("m1", series, info)
    ctx = RecommendContext()
    greedy = [Opportunity(rule, "m1", rule, 3 * series, 0.5, {}, "none")
              for rule in ("always-on", "after-hours-baseload")]
    totals = combine(greedy, {"m1": year}, ctx)
    floor = totals["m1"].floor_kw
    assert floor == pytest.approx(10.0)
    above = float((series - floor).clip(lower=0).sum())
    assert totals["m1"].combined_kwh == pytest.approx(above, rel=1e-6)
    first, second = greedy[1], greedy[0]  # settings order: after-hours before always-on
    assert float(first.share.sum()) == pytest.approx(above) and float(second.share.sum()) == 0
    assert totals["m1"].combined_kwh < totals["m1"].consumption_kwh


def test_real_laboratory_claims_stay_within_its_consumption():
    """The shipped sample's six real meters (b2 tagged as a laboratory): each meter's claims
    add up to its combined saving, within the energy above its floor and its consumption;
    the laboratory gets no office yardstick (no always-on rule of thumb, no comfort
    balance point) and says so."""
    frame = sample_readings()
    infos = {m: MeterInfo(id=m, commodity="gas" if m.endswith("gas") else "electricity",
                          calendar=SiteCalendar(timezone=TZ, country="GB-ENG"),
                          tags={"use": "laboratory"} if m.startswith("b2-") else {})
             for m in frame["meter"].unique()}
    recs, warnings = recommend(frame, weather=sample_weather(), meters=infos,
                               carbon_factors={"electricity": 0.2, "gas": 0.18})
    assert {r.meter for r in recs} >= {"b2-elec", "b119-gas"}
    for meter in infos:
        mine = [r for r in recs if r.meter == meter]
        if not mine:
            continue
        e = mine[0].evidence
        assert claimed(recs, meter) == pytest.approx(e["meter_combined_kwh"], rel=1e-3)
        assert claimed(recs, meter) <= e["meter_bound_kwh"] < e["meter_consumption_kwh"]
        assert claimed(recs, meter) <= sum(r.evidence["alone_kwh"] for r in mine)
    lab = [r for r in recs if r.meter == "b2-elec"]
    assert claimed(recs, "b2-elec") < 0.1 * lab[0].evidence["meter_consumption_kwh"]
    assert all("own" in r.evidence["yardstick"] for r in lab)
    codes = {w.code: w for w in warnings}
    assert codes["recommendations.no-yardstick"].data["meters"] == ["b2-elec", "b2-gas"]
    assert "b97-elec" in codes["recommendations.unknown-use"].data["meters"]
    assert "b2-elec" not in codes["recommendations.unknown-use"].data["meters"]


def test_uses_decide_the_yardsticks():
    """Heating from 18 °C: judged against TM41's 15.5 °C for an office, not for a meter whose
    use is unknown or a laboratory (warned); a hospital gets no schedule claims."""
    weather = sample_weather()
    temperature = weather["temperature"].reindex(YEAR).interpolate().bfill()
    series = office(YEAR, noise=0.0) + 3.0 * np.clip(18.0 - temperature.to_numpy(), 0, None)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    rules = ["temperature-sensitivity", "after-hours-baseload"]
    rec = one(run(series, rules, info=OFFICE, weather=weather)[0], "temperature-sensitivity")
    assert "CIBSE TM41" in rec.evidence["yardstick"]
    recs, warnings = run(series, rules, weather=weather)
    assert [r.rule for r in recs] == ["after-hours-baseload"]
    assert [w.code for w in warnings] == ["recommendations.unknown-use"]
    lab = ENGLAND.model_copy(update={"tags": {"use": "Laboratory"}})
    recs, warnings = run(series, rules, info=lab, weather=weather)
    assert [r.rule for r in recs] == ["after-hours-baseload"]
    assert "no comfort balance-point yardstick" in messages(warnings)[0]
    hospital = ENGLAND.model_copy(update={"tags": {"use": "hospital"}})
    recs, warnings = run(series, ["after-hours-baseload"], info=hospital)
    assert recs == [] and warnings[0].code == "recommendations.around-the-clock"


def test_prices_from_the_tariff_version_of_the_period():
    """Nights +20 kW; the tariff doubles on 2019-07-01: each half-year priced at its own
    version, both named in the evidence."""
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    tariff = Tariff(id="dated", source="contract 2019", versions=[
        {"valid_from": "2018-01-01", "energy_rate": 0.10},
        {"valid_from": "2019-07-01", "energy_rate": 0.20}])
    rec = one(run(series, ["after-hours-baseload"], tariff=tariff)[0], "after-hours-baseload")
    local = YEAR.tz_convert(TZ)
    nights = local_mask(YEAR, hours=(19, 7))
    late = nights & (local >= pd.Timestamp("2019-07-01", tz=TZ))
    expected = 20.0 * (0.10 * (nights & ~late).sum() + 0.20 * late.sum())
    assert rec.annual_cost == pytest.approx(expected, rel=0.02)
    assert rec.evidence["tariff"]["versions"] == ["2018-01-01", "2019-07-01"]
    assert any("tariff 'dated'" in line and "contract 2019" in line
               for line in rec.evidence["sentences"])


def test_confidence_follows_the_weeks_showing_the_pattern():
    """Saturdays run at +30 kW every week, or every other week: half the weeks, half the
    confidence; half the data, lower still."""
    def saturdays(every: int) -> pd.Series:
        series = office(YEAR, noise=0.0)
        local = YEAR.tz_convert(TZ)
        weeks = np.asarray(local.isocalendar().week) % every == 0
        series[local_mask(YEAR, hours=(7, 19), weekdays=(5,)) & weeks] += 30.0
        return series

    rule = ["weekend-holiday-operation"]
    steady = one(run(saturdays(1), rule)[0], rule[0])
    patchy = one(run(saturdays(2), rule)[0], rule[0])
    assert steady.evidence["weeks_with_pattern"] >= 52
    assert patchy.confidence == pytest.approx(steady.confidence / 2, abs=0.03)
    half = saturdays(1)[YEAR >= "2019-07-02"]
    assert one(run(half, rule)[0], rule[0]).confidence < steady.confidence / 1.8


def test_configured_uses_add_to_the_built_in_ones():
    config = parse_config({"analytics": {"recommendations": {"uses": {
        "Cold-Store": {"around_the_clock": True}}}}})
    uses = config.analytics.recommendations.uses
    assert uses["cold store"].around_the_clock and uses["office"].comfort
    store = ENGLAND.model_copy(update={"tags": {"use": "cold_store"}})
    series = office(YEAR, noise=0.0)
    series[local_mask(YEAR, hours=(19, 7))] += 20.0
    recs, warnings = run(series, ["after-hours-baseload"], info=store,
                         settings=config.analytics.recommendations)
    assert recs == [] and warnings[0].code == "recommendations.around-the-clock"


def test_savings_under_a_kepco_tariff_count_its_per_kwh_surcharges():
    """A saving priced with a KEPCO preset counts 기후환경요금 (9.0) and 연료비조정액 (5.0 KRW/kWh
    in 2024) on top of the energy rate: the same price as events (marginal_price)."""
    index = hourly_index("2024-01-01", "2025-01-01")
    series = office(index, noise=0.0)
    series[local_mask(index, hours=(19, 7))] += 20.0
    kepco = Tariff.model_validate({"id": "kepco", "preset": "kepco-general-gap1-lv"})
    rec = one(run(series, ["after-hours-baseload"], tariff=kepco)[0], "after-hours-baseload")
    assert rec.evidence["tariff"]["currency"] == "KRW"
    rates = energy_price(kepco, index, TZ)
    nights = local_mask(index, hours=(19, 7))
    energy_only = float((20.0 * rates[nights]).sum())
    assert rec.annual_cost == pytest.approx(energy_only + 20.0 * nights.sum() * 14.0, rel=0.02)
