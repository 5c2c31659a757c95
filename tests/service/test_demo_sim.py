"""The demo's clock and meters without servers: the whole-week shift keeps weekday, hour and
time of year; the looped registers advance continuously (across the loop's wrap too) by the
sample's energy plus the fault's; a live source never stores a partial interval; forecasts
of a meter with hourly history and one-minute live readings are made on whole hours."""

from __future__ import annotations

import pandas as pd
import pytest

from wattlens.config import parse_config
from wattlens.core.intervals import to_interval
from wattlens.demo import LOOP_START, LOOP_WEEKS, READING_INTERVAL, WEEK, sample_shift
from wattlens.forecasting.jobs import RunSpec, run_forecasts
from wattlens.forecasting.runner import dask_client
from wattlens.ingest.live import register_intervals
from wattlens.ingest.simulator import LiveSimulation, LoadStep
from wattlens.sample import sample_readings
from wattlens.store.duck import DuckDBStore

LOOP_END = LOOP_START + LOOP_WEEKS * WEEK


@pytest.mark.parametrize("now", ["2026-12-07T00:41:13Z", "2026-12-29T18:00Z",
                                 "2031-02-28T07:30Z", "2025-07-01T12:00Z"])
def test_the_shift_keeps_weekday_hour_and_time_of_year(now: str) -> None:
    at = pd.Timestamp(now)
    shift = sample_shift(at)
    played = at - shift
    assert shift % WEEK == pd.Timedelta(0)
    assert LOOP_END - pd.Timedelta("365D") <= played < LOOP_END  # the sample's last year
    assert (played.dayofweek, played.hour, played.minute) == (at.dayofweek, at.hour, at.minute)
    days_apart = abs(played.dayofyear - at.dayofyear)
    assert min(days_apart, 365 - days_apart) <= 7  # about the same time of year


@pytest.fixture(scope="module")
def sim() -> LiveSimulation:
    readings = sample_readings()
    origin = pd.Timestamp("2026-12-07T00:41:13Z")
    step = LoadStep("plant left on", "b2-elec", origin + pd.Timedelta("2min"),
                    pd.Timedelta("1h"), 457.0)
    return LiveSimulation(readings[readings["meter"].isin(["b2-elec", "b97-gas"])],
                          origin=origin, shift=sample_shift(origin), loop_start=LOOP_START,
                          weeks=LOOP_WEEKS, steps=(step,))


def _play(sim: LiveSimulation, meter: str):
    return next(p for p in sim.plays if p.meter == meter)


def test_registers_start_at_zero_and_play_the_sample_hour_by_hour(sim: LiveSimulation) -> None:
    b97 = _play(sim, "b97-gas")
    assert sim.reading(b97, sim.origin)[0] == pytest.approx(0.0)
    hour = sim.origin.ceil("1h")
    sample_hour = hour - sim.shift
    truth = sample_readings().set_index(["meter", "time"])["value"]
    energy = sim.reading(b97, hour + pd.Timedelta("1h"))[0] - sim.reading(b97, hour)[0]
    assert energy == pytest.approx(truth.get(("b97-gas", sample_hour), 0.0))
    halfway = sim.reading(b97, hour + pd.Timedelta("30min"))[0] - sim.reading(b97, hour)[0]
    assert halfway == pytest.approx(energy / 2)  # the hour's energy accrues evenly


def test_the_loop_wraps_without_a_jump_and_keeps_counting(sim: LiveSimulation) -> None:
    b2 = _play(sim, "b2-elec")
    wrap = LOOP_END + sim.shift  # when the sample starts again
    before, after = (sim.reading(b2, wrap + d)[0] for d in (pd.Timedelta("-1min"),
                                                          pd.Timedelta("1min")))
    first_hour = float(b2.values[0])
    last_hour = float(b2.values[-1])
    assert after - before == pytest.approx((last_hour + first_hour) / 60)
    loops, into = sim.position(wrap + pd.Timedelta("1min"))
    assert loops == sim.position(wrap)[0] and into == pytest.approx(1 / 60)


def test_the_fault_adds_its_load_only_while_on(sim: LiveSimulation) -> None:
    b2, (step,) = _play(sim, "b2-elec"), sim.steps
    minutes = sim.intervals(step.start.floor("1min") - pd.Timedelta("10min"),
                            step.end.ceil("1min") + pd.Timedelta("10min"), READING_INTERVAL)
    minutes = minutes[minutes["meter"] == "b2-elec"].set_index("time")["value"]
    base = pd.Series([float(b2.values[int(sim.position(t)[1])]) / 60 for t in minutes.index],
                     index=minutes.index)
    extra = (minutes - base).round(6)
    on = (minutes.index >= step.start.ceil("1min")) & (minutes.index < step.end.floor("1min"))
    assert (extra[on] == round(step.kw / 60, 6)).all()
    assert (extra[(minutes.index < step.start.floor("1min"))
                  | (minutes.index >= step.end.ceil("1min"))] == 0).all()
    assert sim.reading(b2, step.start + pd.Timedelta("1s"))[1] == pytest.approx(
        float(b2.values[int(sim.position(step.start)[1])]) + step.kw)


def test_a_source_started_mid_interval_stores_no_partial_reading() -> None:
    t0 = pd.Timestamp("2026-12-07T00:41:13Z")  # ingest starts 13 s into a minute
    polls = [(t0 + pd.Timedelta(seconds=10 * i), 100.0 + i) for i in range(20)]
    first = register_intervals(None, polls[:3], pd.Timedelta("1min"))
    assert first.rows == [] and first.state is not None and first.state.partial
    later = register_intervals(first.state, polls[3:], pd.Timedelta("1min"))
    times = [t for t, _, _ in later.rows]
    # 00:41 began before the source; 00:44 is still running at the last poll
    assert times == [pd.Timestamp("2026-12-07T00:42Z"), pd.Timestamp("2026-12-07T00:43Z")]
    assert [v for _, v, _ in later.rows] == [6.0, 6.0]  # six polls' worth: whole minutes
    # a source started on a boundary keeps its first minute
    aligned = register_intervals(None, [(t0.floor("1min") + pd.Timedelta(seconds=10 * i),
                                         float(i)) for i in range(8)], pd.Timedelta("1min"))
    assert [t for t, _, _ in aligned.rows] == [pd.Timestamp("2026-12-07T00:41Z")]


def test_to_interval_sums_whole_intervals_of_finer_readings_only() -> None:
    hours = pd.date_range("2026-12-06T20:00Z", periods=4, freq="1h")
    minutes = pd.date_range("2026-12-07T00:00Z", "2026-12-07T02:30Z", freq="1min",
                            inclusive="left")
    minutes = minutes[minutes != pd.Timestamp("2026-12-07T01:17Z")]  # one minute missing
    mixed = pd.concat([pd.Series(60.0, index=hours), pd.Series(1.0, index=minutes)])
    out = to_interval(mixed, pd.Timedelta("1h"))
    # 00:00 whole (60 minutes), 01:00 lacks a minute and 02:00 is running: not readings
    assert out.to_dict() == {**{t: 60.0 for t in hours}, pd.Timestamp("2026-12-07T00:00Z"): 60.0}
    hourly = pd.Series(1.0, index=pd.date_range("2026-12-01", periods=48, freq="1h", tz="UTC"))
    assert to_interval(hourly, pd.Timedelta("1h")).equals(hourly)


def test_forecasts_of_a_meter_with_one_minute_live_readings_are_those_of_its_hours(
        tmp_path) -> None:
    """persistence-day forecasts tomorrow from today: today's one-minute readings count as the
    hours they add up to, so the forecasts equal those of the same energy stored hourly."""
    issued = pd.Timestamp("2026-12-07T15:00Z")
    cfg = parse_config({"sites": [{"id": "s", "timezone": "Europe/London", "buildings": [
        {"id": "b", "meters": [{"id": "m", "commodity": "electricity", "interval": "1h"}]}]}]})
    hours = pd.date_range(issued - pd.Timedelta("30D"), issued, freq="1h", inclusive="left")
    hourly = pd.DataFrame({"time": hours, "meter": "m", "value": 50.0 + hours.hour})
    today = hourly["time"] >= issued.normalize()
    minutes = pd.DataFrame({"time": [t + pd.Timedelta(minutes=k) for t in hourly["time"][today]
                                     for k in range(60)], "meter": "m"})
    minutes["value"] = (50.0 + minutes["time"].dt.hour) / 60
    issued_rows = []
    for name, frame in (("hourly", hourly), ("mixed", pd.concat([hourly[~today], minutes]))):
        store = DuckDBStore(tmp_path / f"{name}.duckdb")
        store.init()
        store.write_readings(frame)
        with dask_client(workers=1, processes=False) as client:
            spec = RunSpec("persistence-day", issued, horizon_hours=24)
            assert run_forecasts(cfg.meter_infos(), tmp_path / name, store, spec, client
                                 )["m"]["status"] == "issued"
        issued_rows.append(store.read_forecasts(["m"])[["time", "yhat"]])
        store.close()
    hourly_fc, mixed_fc = issued_rows
    assert len(hourly_fc) == 24 and hourly_fc["time"].equals(mixed_fc["time"])
    assert mixed_fc["yhat"].to_numpy() == pytest.approx(hourly_fc["yhat"].to_numpy())
