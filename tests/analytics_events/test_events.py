"""Events worth an alert: routine patterns stay quiet, overlapping and continuing runs give
the same events, alerts go out once per event, the live detector sees a sustained excess on
1-minute readings, and every event carries what an energy manager needs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics.alerts import AlertRule, AlertsSection, digest
from wattlens.analytics.anomalies import (
    AboveForecastSettings,
    AnomalySettings,
    DetectionContext,
    above_forecast,
    detect,
    event_severity,
    flag_gap_edges,
    gap_edge_mask,
    severity_word,
)
from wattlens.analytics.carbon import CarbonSection
from wattlens.analytics.jobs import KPI_KIND, alert_job, detect_job, kpi_job
from wattlens.analytics.tariffs import Tariff, TariffsSection, energy_price, marginal_price
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.sample import sample_readings, sample_weather
from wattlens.store.duck import DuckDBStore

from .synthetic import TZ, hourly_index, local_mask, office

LONDON = SiteCalendar(timezone=TZ)
TARIFFS = TariffsSection.model_validate({
    "catalog": [{"id": "flat", "currency": "GBP",
                 "versions": [{"valid_from": "2018-01-01", "energy_rate": 0.2}]}],
    "default": {"electricity": "flat"}})
CARBON = CarbonSection(factors={"electricity": 0.2})


def stored(series: pd.Series, meter: str = "m1") -> pd.DataFrame:
    series = series.dropna()
    return pd.DataFrame({"time": series.index, "meter": meter, "quantity": "energy",
                         "value": series.to_numpy(), "quality": "ok"})


def test_b119_gas_saturday_heating_from_the_sample_is_no_event():
    """Saturday heating of b119-gas in December is routine for that meter at that season
    and temperature (the demo used to flag it every Saturday at severity 1.00)."""
    result = detect(sample_readings(), "2019-12-01T00:00Z", "2019-12-22T00:00Z",
                    weather=sample_weather(), calendar=SiteCalendar(timezone=TZ, country="GB"))
    events = result.events
    saturdays = events[(events["meter"] == "b119-gas")
                       & (events["start"].dt.tz_convert(TZ).dt.day_of_week == 5)]
    assert saturdays.empty, saturdays[["kind", "start", "details"]].to_string()


def test_b119_gas_christmas_closure_from_the_sample_is_no_event():
    """b119-gas heats through the Christmas closure as it did the Christmas before: routine
    for that meter (it used to be flagged every closure day against its Sunday norm)."""
    events = detect(sample_readings(), "2019-12-16T00:00Z", "2020-01-01T00:00Z",
                    weather=sample_weather(), calendar=SiteCalendar(timezone=TZ, country="GB"),
                    detectors=["schedule"]).events
    closure = events[(events["meter"] == "b119-gas") & (events["kind"] == "holiday")]
    assert closure.empty, closure[["start", "details"]].to_string()


def test_holidays_are_held_to_the_meters_own_holidays():
    """An office open through Christmas as the Christmas before raises no holiday event;
    open through Christmas after a closed Christmas before, it does (against both its
    Sunday norm and its own holidays)."""
    calendar = SiteCalendar(timezone=TZ, country="GB")
    series = office(hourly_index("2018-10-01", "2020-01-06"))  # open on holidays
    days = calendar.days(series.index)
    off = (~days["working"] & ~days["weekend"]).to_numpy()
    window = {"start": "2019-12-16T00:00Z", "end": "2020-01-06T00:00Z", "calendar": calendar,
              "detectors": ["schedule"]}

    def holiday_events(values: pd.Series) -> pd.DataFrame:
        events = detect(stored(values), **window).events
        return events[events["kind"] == "holiday"]

    assert holiday_events(series).empty
    closed_before = series.copy()
    closed_before[off & (series.index < pd.Timestamp("2019-06-01", tz="UTC"))] = 10.0
    found = holiday_events(closed_before)
    assert set(found["start"].dt.tz_convert(TZ).dt.strftime("%m-%d")) >= {"12-25", "12-26"}
    assert all("holidays before" in json.loads(d)["explanation"] for d in found["details"])


def test_kepco_surcharges_are_in_the_marginal_price():
    """KEPCO's per-kWh 기후환경요금 and 연료비조정액 are part of what one more kWh costs (2024:
    9.0 and 5.0 KRW/kWh on the 일반용(갑)Ⅰ spring/fall rate of 91.9); VAT and the fund,
    shares of the subtotal, are not."""
    kepco = Tariff.model_validate({"id": "k", "preset": "kepco-general-gap1-lv"})
    when = pd.DatetimeIndex([pd.Timestamp("2024-03-16T10:00Z")])
    assert energy_price(kepco, when, "Asia/Seoul").iloc[0] == pytest.approx(91.9)
    assert marginal_price(kepco, when, "Asia/Seoul").iloc[0] == pytest.approx(91.9 + 9.0 + 5.0)
    # in 2021 the fuel adjustment was a rebate: -3.0 with a 5.3 climate charge
    early = pd.DatetimeIndex([pd.Timestamp("2021-03-16T10:00Z")])
    assert marginal_price(kepco, early, "Asia/Seoul").iloc[0] == pytest.approx(
        energy_price(kepco, early, "Asia/Seoul").iloc[0] + 5.3 - 3.0)


def test_an_event_under_a_kepco_tariff_costs_its_surcharges_too():
    series = office(hourly_index("2024-01-08", "2024-04-01"))
    saturday = (series.index >= "2024-03-16T00:00Z") & (series.index < "2024-03-17T00:00Z")
    series[saturday & local_mask(series.index, hours=(8, 18))] += 40.0
    kepco = Tariff.model_validate({"id": "k", "preset": "kepco-general-gap1-lv"})
    (event,) = detect(stored(series), "2024-03-11T00:00Z", "2024-03-18T00:00Z",
                      calendar=LONDON, tariff=kepco, detectors=["schedule"]).events.itertuples()
    details = json.loads(event.details)
    assert details["currency"] == "KRW"
    assert details["cost"] == pytest.approx(event.excess_kwh * (91.9 + 9.0 + 5.0), rel=1e-3)


def test_every_event_is_material_and_explained():
    series = office(hourly_index("2019-01-07", "2019-04-01"))
    saturday = (series.index >= "2019-03-16T00:00Z") & (series.index < "2019-03-17T00:00Z")
    series[saturday & local_mask(series.index, hours=(8, 18))] += 40.0
    series[local_mask(series.index, hours=(20, 21), weekdays=(2,))
           & (series.index >= "2019-03-20")] += 8.0  # abnormal but immaterial
    result = detect(stored(series), "2019-03-04T00:00Z", "2019-04-01T00:00Z",
                    calendar=LONDON, tariff=TARIFFS.for_meter("m1", "electricity"),
                    co2_factors={"m1": 0.2})
    (event,) = result.events.itertuples()
    details = json.loads(event.details)
    assert event.kind == "weekend" and event.excess_kwh == pytest.approx(400, rel=0.05)
    assert details["cost"] == pytest.approx(0.2 * event.excess_kwh, abs=0.05)
    assert details["co2_kg"] == pytest.approx(0.2 * event.excess_kwh, abs=0.05)
    assert details["currency"] == "GBP" and len(details["band_kwh"]) == 2
    assert details["explanation"].startswith("Saturday 16 Mar 08:00–18:00 used")
    assert "above the usual Saturday" in details["explanation"]
    assert details["severity_word"] == severity_word(event.severity)
    assert [r["kind"] for r in details["reasons"]] == ["weekend"]
    assert details["materiality"] >= 1
    assert any(w.code == "anomalies.immaterial" for w in result.warnings)


def test_severity_is_monotonic_and_worded():
    grid = [event_severity(m, c) for m in (1, 2, 4) for c in (0.2, 0.6, 1.0)]
    assert all(0 <= s <= 1 for s in grid)
    assert event_severity(2, 0.6) > event_severity(1, 0.6)
    assert event_severity(2, 0.9) > event_severity(2, 0.6)
    assert [severity_word(s) for s in (0.1, 0.6, 0.8, 0.95)] == [
        "low", "moderate", "high", "critical"]


def test_overlapping_findings_of_two_detectors_are_one_event():
    series = office(hourly_index("2019-01-07", "2019-04-01"))
    saturday = (series.index >= "2019-03-16T08:00Z") & (series.index < "2019-03-16T13:00Z")
    series[saturday] += 40.0
    series[pd.Timestamp("2019-03-16T10:00Z")] += 300.0  # a spike inside the weekend use
    events = detect(stored(series), "2019-03-11T00:00Z", "2019-03-18T00:00Z",
                    calendar=LONDON).events
    assert len(events) == 1
    reasons = {r["kind"] for r in json.loads(events["details"].iloc[0])["reasons"]}
    assert reasons == {"weekend", "spike"}


def _drift(weeks: int = 12) -> pd.Series:
    """An office whose evenings run late (+40 kWh/h 19–23 local) from Tue 19 Mar 2019."""
    series = office(hourly_index("2018-12-24", "2019-04-01"))
    late = local_mask(series.index, hours=(19, 23), weekdays=(1, 2, 3))
    series[late & (series.index >= "2019-03-19T00:00Z")] += 40.0
    return series


def _events(store: DuckDBStore) -> pd.DataFrame:
    cols = ["event_id", "meter", "start", "end", "kind", "severity", "excess_kwh", "details"]
    return store.read_events()[cols].sort_values("start", ignore_index=True)


def test_overlapping_runs_give_identical_events(tmp_path):
    meters = {"m1": MeterInfo(id="m1", commodity="electricity", calendar=LONDON)}
    a = DuckDBStore(tmp_path / "a.duckdb")
    b = DuckDBStore(tmp_path / "b.duckdb")
    try:
        for store in (a, b):
            store.write_readings(stored(_drift()))
        # a: one run over 12 days; b: two overlapping runs starting mid-day, then a re-run
        detect_job(a, meters, "2019-03-15T00:00Z", "2019-03-27T00:00Z", tariffs=TARIFFS)
        detect_job(b, meters, "2019-03-15T13:00Z", "2019-03-22T00:00Z", tariffs=TARIFFS)
        detect_job(b, meters, "2019-03-19T09:30Z", "2019-03-27T00:00Z", tariffs=TARIFFS)
        detect_job(b, meters, "2019-03-15T00:00Z", "2019-03-27T00:00Z", tariffs=TARIFFS)
        one, two = _events(a), _events(b)
        # one episode a week (the gap between Thursday and next Tuesday is over 36 h)
        assert list(one["kind"]) == ["after-hours"] * 2
        pd.testing.assert_frame_equal(one, two)
    finally:
        a.close()
        b.close()


def test_a_continuing_event_is_extended_not_duplicated(duck_store):
    meters = {"m1": MeterInfo(id="m1", commodity="electricity", calendar=LONDON)}
    series = _drift()
    series = series[series.index < "2019-03-21T21:00Z"]  # data so far: Thursday 21:00
    duck_store.write_readings(stored(series))
    detect_job(duck_store, meters, "2019-03-19T00:00Z", "2019-03-21T21:00Z")
    first = _events(duck_store)
    rest = _drift()
    duck_store.write_readings(stored(rest[(rest.index >= "2019-03-21T21:00Z")
                                          & (rest.index < "2019-03-22T06:00Z")]))
    detect_job(duck_store, meters, "2019-03-20T00:00Z", "2019-03-22T06:00Z")
    later = _events(duck_store)
    assert len(first) == len(later) == 1
    assert later["event_id"].iloc[0] == first["event_id"].iloc[0]
    assert later["start"].iloc[0] == pd.Timestamp("2019-03-19T19:00Z")
    assert first["end"].iloc[0] == pd.Timestamp("2019-03-21T21:00Z")
    assert later["end"].iloc[0] == pd.Timestamp("2019-03-21T23:00Z")
    assert later["excess_kwh"].iloc[0] > first["excess_kwh"].iloc[0]


def test_an_alert_is_sent_once_per_event_unless_it_escalates(duck_store, receiver):
    section = AlertsSection(rules=[AlertRule(name="all", min_severity=0.0,
                                             webhook=receiver.url)])
    event = {"meter": "m1", "start": pd.Timestamp("2019-03-19T19:00Z"),
             "end": pd.Timestamp("2019-03-19T21:00Z"), "kind": "after-hours",
             "severity": 0.55, "excess_kwh": 80.0, "event_id": "e1",
             "details": json.dumps({"explanation": "Tuesday evening ran late."})}
    duck_store.write_events(pd.DataFrame([event]))
    assert len(alert_job(duck_store, section, "2019-03-19T00:00Z").sent) == 1
    # the next detection cycle extends the event: same id, same severity word
    duck_store.write_events(pd.DataFrame([{**event, "end": pd.Timestamp("2019-03-19T23:00Z"),
                                           "severity": 0.6, "excess_kwh": 160.0}]))
    again = alert_job(duck_store, section, "2019-03-19T00:00Z")
    assert again.sent == [] and again.already_sent == 1
    # it escalates to critical: sent once more, marked escalated, then never again
    duck_store.write_events(pd.DataFrame([{**event, "severity": 0.95}]))
    assert len(alert_job(duck_store, section, "2019-03-19T00:00Z").sent) == 1
    assert alert_job(duck_store, section, "2019-03-19T00:00Z").sent == []
    assert [b["escalated"] for b in receiver.bodies] == [False, True]
    assert receiver.bodies[1]["severity_word"] == "critical"
    assert receiver.bodies[0]["explanation"] == "Tuesday evening ran late."


def _minutes(start: str, minutes: int, rate: float) -> pd.Series:
    """1-minute energy readings [kWh per minute] at ``rate`` kWh/h."""
    index = pd.date_range(pd.Timestamp(start), periods=minutes, freq="1min")
    return pd.Series(rate / 60, index=index)


def _hourly_forecast(day: str, rate: float = 60.0, band: float = 10.0) -> pd.DataFrame:
    times = pd.date_range(pd.Timestamp(day), periods=24, freq="1h")
    return pd.DataFrame({"issued_at": times[0] - pd.Timedelta("1h"), "meter": "m1",
                         "model": "t", "model_version": "1", "time": times, "yhat": rate,
                         "yhat_lower": rate - band, "yhat_upper": rate + band})


def _live(readings: pd.Series, now: str, sustain: str = "30min") -> list:
    settings = AnomalySettings(above_forecast=AboveForecastSettings(sustain=sustain))
    ctx = DetectionContext(start=pd.Timestamp("2026-12-07T00:00Z"), end=pd.Timestamp(now),
                           forecasts=_hourly_forecast("2026-12-07T00:00Z"), settings=settings)
    upto = readings[readings.index < pd.Timestamp(now)]
    found, _ = above_forecast("m1", upto, pd.Timedelta("1min"), ctx)
    return found


def test_above_forecast_catches_a_sustained_excess_on_minute_readings():
    normal = _minutes("2026-12-07T09:00Z", 65, 60.0)
    plant_on = _minutes("2026-12-07T10:05Z", 55, 150.0)  # 150 kWh/h against an upper 70
    readings = pd.concat([normal, plant_on])
    assert _live(readings, "2026-12-07T10:30Z") == []  # 25 min: not sustained yet
    (found,) = _live(readings, "2026-12-07T10:36Z")  # 31 min, in a partial hour
    assert found.start == pd.Timestamp("2026-12-07T10:05Z")
    assert found.end == pd.Timestamp("2026-12-07T10:36Z")
    assert found.excess.sum() == pytest.approx((150 - 60) * 31 / 60, rel=1e-6)
    # the demo's settings: caught three minutes after the plant is left on
    assert len(_live(readings, "2026-12-07T10:08Z", sustain="3min")) == 1


def test_above_forecast_ignores_a_single_spike_and_a_partial_hour():
    readings = _minutes("2026-12-07T09:00Z", 90, 60.0)
    readings[pd.Timestamp("2026-12-07T09:40Z")] = 50.0  # one minute at 3000 kWh/h
    assert _live(readings, "2026-12-07T10:30Z", sustain="3min") == []
    # 20 minutes of normal use in the current hour: 20 kWh, far under the hour's 70 kWh
    # upper band, and rightly so (a rate of 60 kWh/h)
    assert _live(readings, "2026-12-07T10:20Z", sustain="3min") == []


def test_above_forecast_through_detect_with_hourly_history(tmp_path):
    """The demo's case: an hourly history, then live 1-minute readings; the grid detectors
    sum the minutes into 15-minute slots while above-forecast reads them as they are."""
    history = office(hourly_index("2026-10-01", "2026-12-07T10:00"), base=60, day=60)
    live = pd.concat([_minutes("2026-12-07T10:00Z", 5, 60.0),
                      _minutes("2026-12-07T10:05Z", 4, 300.0)])
    readings = pd.concat([stored(history), stored(live)], ignore_index=True)
    result = detect(readings, "2026-12-07T10:00Z", "2026-12-07T10:09Z", calendar=LONDON,
                    forecasts=_hourly_forecast("2026-12-07T00:00Z"),
                    tariff=TARIFFS.for_meter("m1", "electricity"),  # 4 min cost < min_cost
                    settings=AnomalySettings(
                        above_forecast=AboveForecastSettings(sustain="3min")))
    (event,) = result.events.itertuples()
    assert event.kind == "above-forecast"
    assert event.start == pd.Timestamp("2026-12-07T10:05Z")
    assert event.end == pd.Timestamp("2026-12-07T10:09Z")


def test_partial_readings_at_gap_edges_are_suspect():
    series = office(hourly_index("2019-03-01", "2019-03-15"), noise=0.0)
    series[(series.index >= "2019-03-06T11:00Z") & (series.index < "2019-03-06T15:00Z")] = np.nan
    series[pd.Timestamp("2019-03-06T10:00Z")] = 25.0  # half an hour of a 50 kWh/h hour
    mask = gap_edge_mask(series)
    assert list(series.index[mask]) == [pd.Timestamp("2019-03-06T10:00Z")]
    flagged = flag_gap_edges(stored(series))
    assert list(flagged.loc[flagged["quality"] == "suspect", "time"]) == [
        pd.Timestamp("2019-03-06T10:00Z")]
    # a normal drop at closing time next to a gap is not suspect
    series[pd.Timestamp("2019-03-07T19:00Z")] = np.nan
    assert not gap_edge_mask(series)[series.index.get_loc(pd.Timestamp("2019-03-07T18:00Z"))]


def test_weekly_digest_ranks_by_cost(duck_store):
    rows = [{"meter": m, "start": pd.Timestamp(t), "end": pd.Timestamp(t) + pd.Timedelta("3h"),
             "kind": "weekend", "severity": s, "excess_kwh": kwh,
             "details": json.dumps({"cost": cost, "currency": "GBP",
                                    "explanation": f"{m} ran."})}
            for m, t, s, kwh, cost in (("a", "2019-03-16T08:00Z", 0.6, 100, 20.0),
                                       ("b", "2019-03-17T08:00Z", 0.9, 300, 60.0),
                                       ("c", "2019-03-01T08:00Z", 0.9, 900, 180.0))]
    duck_store.write_events(pd.DataFrame(rows))
    table = digest(duck_store.read_events(), "2019-03-18T00:00Z", days=7)
    assert list(table["meter"]) == ["b", "a"]  # c is older than the week
    assert list(table["severity_word"]) == ["critical", "moderate"]
    assert table["explanation"].iloc[0] == "b ran."


def test_kpi_job_stores_a_local_day_per_meter(duck_store):
    series = office(hourly_index("2019-03-01", "2019-03-08"), noise=0.0)
    duck_store.write_readings(stored(series))
    meters = {"m1": MeterInfo(id="m1", commodity="electricity", calendar=LONDON)}
    assert kpi_job(duck_store, meters, "2019-03-05", TZ, tariffs=TARIFFS, carbon=CARBON) == 1
    doc = duck_store.get_document(KPI_KIND, "meter:m1:electricity/2019-03-05")
    assert doc is not None and doc["consumption_kwh"] == pytest.approx(12 * 50 + 12 * 10)
    assert doc["cost"] == pytest.approx(0.2 * doc["consumption_kwh"])
    assert doc["co2_kg"] == pytest.approx(0.2 * doc["consumption_kwh"])
