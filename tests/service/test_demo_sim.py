"""The demo's clock and meters without servers: the whole-week shift keeps weekday, hour and
time of year; the looped registers advance continuously (across the loop's wrap too) by the
sample's energy plus the fault's; a live source never stores a partial interval."""

from __future__ import annotations

import pandas as pd
import pytest

from wattlens.demo import LOOP_START, LOOP_WEEKS, READING_INTERVAL, WEEK, sample_shift
from wattlens.ingest.live import register_intervals
from wattlens.ingest.simulator import LiveSimulation, LoadStep
from wattlens.sample import sample_readings

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
