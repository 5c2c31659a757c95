"""Each detector on constructed data with a known answer, plus the shipped sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from wattlens.analytics import anomalies
from wattlens.analytics.anomalies import (
    DETECTORS,
    AnomalySettings,
    DetectionContext,
    Finding,
    MaterialitySettings,
    ScheduleSettings,
    detect,
    merge_findings,
    schedule,
)
from wattlens.analytics.tariffs import Tariff
from wattlens.config import parse_config
from wattlens.core.base import Registry
from wattlens.core.calendar import SiteCalendar
from wattlens.sample import sample_readings, sample_weather
from wattlens.store.schema import validate_events

from .synthetic import TZ, hourly_index, local_mask, office, readings

START, END = "2019-03-04T00:00Z", "2019-04-01T00:00Z"
T0, T1 = pd.Timestamp(START), pd.Timestamp(END)
LONDON = SiteCalendar(timezone=TZ)


@pytest.fixture
def clean() -> pd.Series:
    """Ten weeks of history and four weeks to report, no anomalies."""
    return office(hourly_index("2018-12-24", "2019-04-01"))


LENIENT = AnomalySettings(materiality=MaterialitySettings(
    share_of_day=0.0, min_cost=0.0, data_share_of_day=0.0))
"""Detector-logic tests judge each detector alone: every finding is material."""


def run(series: pd.Series, **kwargs) -> pd.DataFrame:
    kwargs.setdefault("settings", LENIENT)
    return detect(readings(series), START, END, calendar=LONDON, **kwargs).events


def only(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["kind"] == kind]


def test_clean_data_raises_no_events(clean):
    events = run(clean)
    assert events.empty, events[["kind", "start", "details"]].to_string()


def test_registry_has_the_four_detectors():
    assert {"forecast-residual", "data-quality", "schedule", "level-shift"} <= set(DETECTORS)


def test_spike_found_with_its_excess(clean):
    at = pd.Timestamp("2019-03-13T03:00Z")
    clean[at] += 100.0
    spikes = only(run(clean), "spike")
    assert len(spikes) == 1
    spike = spikes.iloc[0]
    assert spike["start"] == at and spike["end"] == at + pd.Timedelta("1h")
    assert spike["excess_kwh"] == pytest.approx(100.0, abs=2.0)
    details = json.loads(spike["details"])
    assert details["robust_z"] > 8 and 0 < spike["severity"] <= 1


def test_gap_zero_run_stuck_negative_and_reset(clean):
    gap = (clean.index >= "2019-03-06T10:00Z") & (clean.index < "2019-03-06T15:00Z")
    zeros = (clean.index >= "2019-03-12T01:00Z") & (clean.index < "2019-03-12T05:00Z")
    stuck = (clean.index >= "2019-03-18T00:00Z") & (clean.index < "2019-03-18T12:00Z")
    clean[gap] = np.nan
    clean[zeros] = 0.0
    clean[stuck] = 42.0
    clean[pd.Timestamp("2019-03-21T02:00Z")] = -2.0
    clean[pd.Timestamp("2019-03-25T02:00Z")] = -500.0
    events = run(clean, detectors=["data-quality"])
    by_kind = {k: g for k, g in events.groupby("kind")}
    assert set(by_kind) == {"gap", "zero-run", "stuck", "negative", "register-reset"}
    (g,) = by_kind["gap"].itertuples()
    assert (g.start, g.end) == (pd.Timestamp("2019-03-06T10:00Z"), pd.Timestamp("2019-03-06T15:00Z"))
    assert json.loads(g.details)["intervals"] == 5
    (z,) = by_kind["zero-run"].itertuples()
    assert json.loads(z.details)["intervals"] == 4
    (s,) = by_kind["stuck"].itertuples()
    assert (s.start, s.end) == (pd.Timestamp("2019-03-18T00:00Z"), pd.Timestamp("2019-03-18T12:00Z"))
    assert json.loads(s.details)["value_kwh"] == 42.0
    assert by_kind["negative"]["start"].iloc[0] == pd.Timestamp("2019-03-21T02:00Z")
    assert json.loads(by_kind["register-reset"]["details"].iloc[0])["value_kwh"] == -500.0


def test_zeros_are_gaps_when_zero_means_missing(clean):
    zeros = (clean.index >= "2019-03-12T01:00Z") & (clean.index < "2019-03-12T05:00Z")
    clean[zeros] = 0.0
    events = run(clean, detectors=["data-quality"], missing_zero=True)
    assert list(events["kind"]) == ["gap"]
    assert json.loads(events["details"].iloc[0])["intervals"] == 4


def test_after_hours_drift_is_one_merged_event_with_its_excess(clean):
    nights = local_mask(clean.index, hours=(19, 24), weekdays=(0, 1, 2))
    week = (clean.index >= "2019-03-18T00:00Z") & (clean.index < "2019-03-21T00:00Z")
    clean[nights & week] += 30.0
    events = only(run(clean, detectors=["schedule"]), "after-hours")
    assert len(events) == 1
    event = events.iloc[0]
    assert event["start"] == pd.Timestamp("2019-03-18T19:00Z")
    assert event["end"] == pd.Timestamp("2019-03-21T00:00Z")
    assert event["excess_kwh"] == pytest.approx(30.0 * 5 * 3, rel=0.05)


def test_weekend_and_holiday_operation():
    series = office(hourly_index("2019-02-18", "2019-05-13"))
    saturday = (series.index >= "2019-04-13T00:00Z") & (series.index < "2019-04-14T00:00Z")
    series[saturday & local_mask(series.index, hours=(8, 18))] += 40.0
    # the office runs on Easter Monday and the May Day bank holiday (office() ignores holidays)
    events = detect(readings(series), "2019-04-01T00:00Z", "2019-05-13T00:00Z", calendar=SiteCalendar(timezone=TZ, country="GB"),
                    detectors=["schedule"]).events
    weekend = only(events, "weekend")
    assert list(weekend["start"]) == [pd.Timestamp("2019-04-13T07:00Z")]
    assert weekend["excess_kwh"].iloc[0] == pytest.approx(40.0 * 10, rel=0.05)
    holidays = only(events, "holiday")
    assert sorted(holidays["start"].dt.date.astype(str)) == ["2019-04-19", "2019-05-06"]
    # Easter Monday is a holiday in England, not in all of GB
    england = detect(readings(series), "2019-04-01T00:00Z", "2019-05-13T00:00Z", calendar=SiteCalendar(timezone=TZ, country="GB-ENG"),
                     detectors=["schedule"]).events
    assert sorted(only(england, "holiday")["start"].dt.date.astype(str)) == [
        "2019-04-19", "2019-04-22", "2019-05-06"]


def test_level_shift_found_where_it_starts(clean):
    step = clean.index >= "2019-03-14T00:00Z"
    clean[step] += 15.0
    events = only(run(clean, detectors=["level-shift"]), "level-shift")
    assert len(events) == 1
    event = events.iloc[0]
    assert event["start"] == pd.Timestamp("2019-03-14T00:00Z")
    details = json.loads(event["details"])
    assert details["shift_kwh_per_interval"] == pytest.approx(15.0, abs=0.5)
    hours = (T1 - event["start"]) / pd.Timedelta("1h")
    assert event["excess_kwh"] == pytest.approx(15.0 * hours, rel=0.03)


def test_temperature_sensitivity_shift():
    index = hourly_index("2018-10-01", "2019-03-01")
    rng = np.random.default_rng(3)
    daily_temp = 8 + 6 * np.sin(np.arange(200) * 0.7) + rng.normal(0, 1, 200)
    temperature = pd.Series(np.repeat(daily_temp, 24)[: len(index)], index=index)
    hdd = np.clip(15.5 - temperature.to_numpy(), 0, None)
    slope = np.where(index >= pd.Timestamp("2019-02-01", tz="UTC"), 2.0, 1.0)
    series = pd.Series(5 + slope * hdd + rng.normal(0, 0.1, len(index)), index=index)
    weather = pd.DataFrame({"temperature": temperature})
    events = detect(readings(series), "2019-01-15T00:00Z", "2019-03-01T00:00Z",
                    weather=weather, detectors=["level-shift"]).events
    shift = only(events, "sensitivity-shift")
    assert len(shift) == 1
    details = json.loads(shift["details"].iloc[0])
    assert shift["start"].iloc[0] == pd.Timestamp("2019-02-01T00:00Z")
    assert details["slope_before"] == pytest.approx(24.0, rel=0.05)  # kWh/day per K
    assert details["slope_after"] == pytest.approx(48.0, rel=0.05)


def forecasts_for(series: pd.Series, band: float = 2.0) -> pd.DataFrame:
    period = series[(series.index >= T0) & (series.index < T1)]
    truth = office(period.index, noise=0.0)
    return pd.DataFrame({
        "issued_at": T0 - pd.Timedelta("1D"), "meter": "m1", "model": "test", "time": period.index,
        "yhat": truth.to_numpy(), "yhat_lower": truth.to_numpy() - band,
        "yhat_upper": truth.to_numpy() + band,
    })


def test_forecast_residual_needs_consecutive_intervals(clean):
    long = (clean.index >= "2019-03-20T01:00Z") & (clean.index < "2019-03-20T05:00Z")
    short = (clean.index >= "2019-03-22T01:00Z") & (clean.index < "2019-03-22T03:00Z")
    clean[long] += 5.0
    clean[short] += 5.0
    events = run(clean, forecasts=forecasts_for(clean), detectors=["forecast-residual"])
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["start"], event["end"]) == (pd.Timestamp("2019-03-20T01:00Z"),
                                              pd.Timestamp("2019-03-20T05:00Z"))
    assert event["excess_kwh"] == pytest.approx(20.0, abs=1.5)
    assert json.loads(event["details"])["direction"] == "above"


def test_forecast_issued_after_the_target_is_not_used(clean):
    fc = forecasts_for(clean)
    fc["issued_at"] = T1
    result = detect(readings(clean), START, END, calendar=LONDON, forecasts=fc,
                    detectors=["forecast-residual"])
    assert result.events.empty
    assert any("no forecast issued before" in w.message for w in result.warnings)
    assert {w.code for w in result.warnings} == {"anomalies.no-forecast-before-target"}


def test_cost_through_the_tariff(clean):
    clean[pd.Timestamp("2019-03-13T03:00Z")] += 100.0
    tariff = Tariff(id="flat", currency="GBP",
                    versions=[{"valid_from": "2018-01-01", "energy_rate": 0.2}])
    spike = only(run(clean, tariff=tariff), "spike").iloc[0]
    details = json.loads(spike["details"])
    assert details["cost"] == pytest.approx(0.2 * spike["excess_kwh"], abs=0.01)
    assert details["currency"] == "GBP"
    later = Tariff(id="new", versions=[{"valid_from": "2019-03-20", "energy_rate": 0.2}])
    result = detect(readings(clean), START, END, calendar=LONDON, tariff={"m1": later})
    assert "cost" not in json.loads(only(result.events, "spike")["details"].iloc[0])
    assert any("event costs left out" in w.message and "no version valid" in w.message
               for w in result.warnings)


def test_contiguous_findings_merge():
    t = pd.Timestamp("2019-01-01T00:00Z")
    h = pd.Timedelta("1h")

    def f(i: int, j: int, severity: float) -> Finding:
        return Finding("m", "spike", t + i * h, t + j * h, severity,
                       pd.Series([1.0] * (j - i), index=[t + k * h for k in range(i, j)]),
                       {"intervals": j - i})

    merged = merge_findings([f(0, 2, 0.3), f(2, 3, 0.9), f(5, 6, 0.1)], pd.Timedelta(0))
    assert [(m.start, m.end) for m in merged] == [(t, t + 3 * h), (t + 5 * h, t + 6 * h)]
    assert merged[0].severity == 0.9 and merged[0].details["intervals"] == 3
    assert merged[0].excess.sum() == 3.0


def test_registering_a_detector_makes_it_runnable(clean, monkeypatch):
    registry = Registry("detector")
    for name, fn in DETECTORS.items():
        registry.register(name)(fn)
    monkeypatch.setattr(anomalies, "DETECTORS", registry)

    @registry.register("test-everything")
    def everything(meter, series, step, ctx):
        period = series[series.index >= ctx.start]
        return [Finding(meter, "test", period.index[0], period.index[-1] + step, 0.5,
                        period * 0, {})], []

    events = run(clean, detectors=["test-everything"])
    assert list(events["kind"]) == ["test"] and events["end"].iloc[0] == T1
    with pytest.raises(ValueError, match="already registered"):
        registry.register("schedule")(everything)


def test_bad_input_is_an_error_or_a_warning(clean):
    with pytest.raises(ValueError, match="not after start"):
        detect(readings(clean), END, START)
    with pytest.raises(ValueError, match="unknown detector"):
        detect(readings(clean), START, END, detectors=["nope"])
    empty = detect(readings(clean), "2020-01-01T00:00Z", "2020-02-01T00:00Z")
    assert empty.events.empty and "no energy readings" in empty.warnings[0].message
    no_temp = detect(readings(clean), START, END, weather=pd.DataFrame(
        {"temperature": [np.nan]}, index=[T0]), detectors=["level-shift"])
    assert any("no temperature" in w.message for w in no_temp.warnings)
    short = detect(readings(clean[clean.index >= "2019-03-01"]), START, END,
                   detectors=["schedule", "level-shift"])
    assert any("want >= 4" in w.message for w in short.warnings)
    assert any("want >= 7" in w.message for w in short.warnings)
    assert any(w.code == "anomalies.few-norm-days" and w.data["days"] < 4 for w in short.warnings)


def test_daily_and_quarter_hourly_meters():
    daily = office(hourly_index("2018-06-01", "2019-04-01")).resample("1D").sum()
    result = detect(readings(daily), START, END, calendar=LONDON)
    assert any("local-hour checks need hourly" in w.message for w in result.warnings)
    assert result.events.empty
    quarter = office(pd.date_range("2019-01-07", "2019-04-01", freq="15min", tz="UTC",
                                   inclusive="left")) / 4
    quarter[pd.Timestamp("2019-03-13T03:15Z")] += 50.0
    events = only(detect(readings(quarter), START, END, calendar=LONDON,
                         settings=LENIENT).events, "spike")
    assert list(events["start"]) == [pd.Timestamp("2019-03-13T03:15Z")]
    assert events["end"].iloc[0] - events["start"].iloc[0] == pd.Timedelta("15min")


def test_real_sample_sanity():
    data = sample_readings()
    result = detect(data, "2019-11-01T00:00Z", "2019-12-01T00:00Z", weather=sample_weather(),
                    calendar=SiteCalendar(timezone=TZ, country="GB"))
    events = validate_events(result.events)
    assert not events.empty and events["severity"].between(0, 1).all()
    assert events["start"].min() >= pd.Timestamp("2019-11-01T00:00Z")
    assert events["end"].max() <= pd.Timestamp("2019-12-01T00:00Z")
    assert not {"negative", "register-reset"} & set(events["kind"])  # the archive has none
    # at most a few events per meter-day: the detectors do not flag ordinary days
    assert len(events) <= 6 * 30 * 2
    again = detect(data, "2019-11-01T00:00Z", "2019-12-01T00:00Z", weather=sample_weather(),
                   calendar=SiteCalendar(timezone=TZ, country="GB")).events
    assert list(again["event_id"]) == list(events["event_id"])


def test_same_weeks_last_year_set_the_norm():
    """Evenings run late every spring term (from March): not an anomaly when the same weeks
    a year before show it, an anomaly when the pattern is new."""
    series = office(hourly_index("2018-01-01", "2019-04-01"))
    evenings = local_mask(series.index, hours=(19, 23), weekdays=(0, 1, 2, 3, 4))
    for lo, hi in (("2018-03-01", "2018-05-01"), ("2019-03-01", "2019-04-01")):
        series[evenings & (series.index >= lo) & (series.index < hi)] += 30.0
    ctx = DetectionContext(start=T0, end=T1, calendar=LONDON)
    step = pd.Timedelta("1h")
    found, _ = schedule("m1", series, step, ctx)
    assert [f for f in found if f.kind == "after-hours"] == []
    settings = AnomalySettings(schedule=ScheduleSettings(seasonal=False))
    found, _ = schedule("m1", series, step,
                        DetectionContext(start=T0, end=T1, calendar=LONDON, settings=settings))
    new = [f for f in found if f.kind == "after-hours"]
    assert len(new) == 20 and min(f.start for f in new) == pd.Timestamp("2019-03-04T19:00Z")


def test_a_closure_day_is_not_a_working_day():
    """The office runs as usual through its configured closure week: judged like weekend
    days, those are holiday events (not working days whose daytime is never judged), and
    the closure's evenings are not after-hours use."""
    series = office(hourly_index("2018-12-24", "2019-04-01"))
    closed = SiteCalendar(timezone=TZ, closures=[{"start": "2019-03-18", "end": "2019-03-22",
                                                  "name": "spring shutdown"}])
    events = detect(readings(series), START, END, calendar=closed,
                    detectors=["schedule"]).events
    holidays = only(events, "holiday")
    assert sorted(holidays["start"].dt.date.astype(str)) == [
        "2019-03-18", "2019-03-19", "2019-03-20", "2019-03-21", "2019-03-22"]
    assert only(events, "after-hours").empty and only(events, "weekend").empty
    assert run(series, detectors=["schedule"]).empty  # without the closure: a normal week


def test_settings_from_the_config_change_a_detector_and_are_reported(clean):
    clean[pd.Timestamp("2019-03-13T03:00Z")] += 3.5  # far out, but under half the level
    assert only(run(clean, detectors=["data-quality"]), "spike").empty
    config = parse_config({"analytics": {"anomalies": {"data_quality": {"spike_rel": 0.2},
                                                       "materiality": {"share_of_day": 0,
                                                                       "data_share_of_day": 0}}}})
    result = detect(readings(clean), START, END, calendar=LONDON, detectors=["data-quality"],
                    settings=config.analytics.anomalies)
    assert len(only(result.events, "spike")) == 1
    dumped = result.settings.model_dump(mode="json")
    assert dumped["data_quality"]["spike_rel"] == 0.2 and dumped["schedule"]["k_sigma"] == 2.5
