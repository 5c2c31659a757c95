"""Property tests (hypothesis): register → interval conversion and local-time parsing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from wattlens.ingest.normalise import parse_local_time, register_to_interval

MODULUS = 65536.0

increments = st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1,
                      max_size=200)


def _hourly(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")


@settings(max_examples=200, deadline=None)
@given(start=st.floats(min_value=0, max_value=MODULUS - 1), steps=increments)
def test_register_sum_equals_total_increase_with_rollover(start: float,
                                                          steps: list[float]) -> None:
    """A wrapping counter: the intervals add up to the true advance, none flagged."""
    true = start + np.concatenate([[0.0], np.cumsum(steps)])
    register = np.mod(true, MODULUS)
    samples = pd.DataFrame({"time": _hourly(len(true)), "value": register})
    out = register_to_interval(samples, rollover=MODULUS, interval="1h")
    assert len(out.frame) == len(steps)
    assert out.problems.empty
    assert np.isclose(out.frame["value"].sum(), true[-1] - true[0], rtol=1e-9, atol=1e-6)
    assert np.allclose(out.frame["value"], steps, atol=1e-6)
    assert (out.frame["quality"] == "ok").all()
    assert (out.frame["time"] == samples["time"].iloc[:-1].reset_index(drop=True)).all()


@settings(max_examples=200, deadline=None)
@given(
    segments=st.lists(
        st.tuples(st.floats(min_value=100, max_value=10_000),
                  st.lists(st.floats(min_value=0, max_value=50), min_size=1, max_size=30)),
        min_size=1, max_size=5),
)
def test_register_resets_are_flagged_and_counted(segments: list[tuple[float,
                                                                       list[float]]]) -> None:
    """A register that restarts from (near) zero several times: each reset interval is
    flagged suspect and counts the energy since the reset; the total is preserved."""
    values: list[float] = []
    expected_total = 0.0
    resets = 0
    for i, (level, steps) in enumerate(segments):
        if i == 0:
            current = level
            values.append(current)
        else:
            # the meter restarts at a value well below half the previous (always > 0) reading
            current = values[-1] * 0.25
            values.append(current)
            expected_total += current
            resets += 1
        for step in steps:
            current += step
            values.append(current)
            expected_total += step
    samples = pd.DataFrame({"time": _hourly(len(values)), "value": values})
    out = register_to_interval(samples, interval="1h")
    assert out.problems.empty
    assert np.isclose(out.frame["value"].sum(), expected_total, rtol=1e-9, atol=1e-6)
    assert (out.frame["quality"] == "suspect").sum() == resets
    assert (out.frame["value"] >= 0).all()


@settings(max_examples=100, deadline=None)
@given(steps=increments.filter(lambda s: len(s) >= 2), data=st.data(),
       drop=st.floats(min_value=0.01, max_value=0.4))
def test_register_misread_is_reported_not_counted(steps: list[float], data: st.DataObject,
                                                  drop: float) -> None:
    """A sample that goes backwards a little is reported and skipped; nothing is lost."""
    true = 1000.0 + np.concatenate([[0.0], np.cumsum(steps)])
    glitch = data.draw(st.integers(min_value=1, max_value=len(true) - 2), label="glitch")
    register = true.copy()
    register[glitch] = register[glitch - 1] * (1 - drop)  # reads lower than before
    out = register_to_interval(pd.DataFrame({"time": _hourly(len(true)), "value": register}))
    assert len(out.problems) == 1
    assert "backwards" in out.problems["reason"].iloc[0]
    assert np.isclose(out.frame["value"].sum(), true[-1] - true[0], rtol=1e-9, atol=1e-6)
    assert (out.frame["quality"] == "suspect").sum() == 1


ZONES = st.sampled_from(["Europe/London", "America/New_York", "Australia/Sydney",
                         "Europe/Berlin", "America/Santiago", "UTC"])


@settings(max_examples=150, deadline=None)
@given(zone=ZONES,
       start=st.datetimes(min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
                          max_value=pd.Timestamp("2035-01-01").to_pydatetime()),
       periods=st.integers(min_value=1, max_value=24 * 20),
       freq=st.sampled_from(["15min", "30min", "1h"]))
def test_local_wall_times_round_trip_through_utc(zone: str, start, periods: int,
                                                 freq: str) -> None:
    """A regular UTC series written as naive local wall-clock text (as exports do) parses
    back to the same instants, across DST changes: repeated hours are inferred from order."""
    utc = pd.date_range(pd.Timestamp(start).floor(freq), periods=periods, freq=freq, tz="UTC")
    text = pd.Series(utc.tz_convert(zone).strftime("%Y-%m-%d %H:%M"))
    parsed = parse_local_time(text, zone, "%Y-%m-%d %H:%M", ambiguous="infer")
    undecided = parsed.problems.notna()
    # infer may only give up on a wall time the series holds once (one side of the repeated
    # hour alone); a full fall-back hour (both occurrences) must always be decided
    repeated = text.duplicated(keep=False)
    assert not (undecided & repeated).any()
    assert parsed.problems[undecided].str.contains("ambiguous").all()
    assert (parsed.utc[~undecided].to_numpy() == utc[~undecided.to_numpy()].to_numpy()).all()


@settings(max_examples=150, deadline=None)
@given(zone=ZONES,
       instants=st.lists(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                      max_value=pd.Timestamp("2035-01-01").to_pydatetime()),
                         min_size=1, max_size=50))
def test_explicit_policies_round_trip_or_reject(zone: str, instants: list) -> None:
    """Arbitrary instants as local wall times: with ``earliest``/``latest`` every instant
    comes back exactly when its wall time is unambiguous, or when the policy picks its side;
    otherwise it is rejected — never shifted to another instant."""
    utc = pd.DatetimeIndex([pd.Timestamp(i).floor("s") for i in instants]).tz_localize("UTC")
    local = utc.tz_convert(zone)
    text = pd.Series(local.strftime("%Y-%m-%d %H:%M:%S"))
    for policy in ("earliest", "latest", "reject"):
        parsed = parse_local_time(text, zone, "%Y-%m-%d %H:%M:%S", ambiguous=policy)
        for i, instant in enumerate(utc):
            got = parsed.utc.iloc[i]
            if pd.isna(got):
                assert "ambiguous" in parsed.problems.iloc[i]
                assert policy == "reject"
                continue
            # same wall time, never shifted to another clock reading
            assert got.tz_convert(zone).tz_localize(None) == local[i].tz_localize(None)
            if got != instant:  # only a repeated wall time can map to the other instant
                assert policy in ("earliest", "latest")
                assert abs(got - instant) <= pd.Timedelta("2h")


@settings(max_examples=100, deadline=None)
@given(instants=st.lists(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                      max_value=pd.Timestamp("2035-01-01").to_pydatetime()),
                         min_size=1, max_size=50), zone=ZONES)
def test_offset_timestamps_round_trip_in_any_zone(instants: list, zone: str) -> None:
    """Text with an explicit UTC offset is exact whatever the configured zone."""
    utc = pd.DatetimeIndex([pd.Timestamp(i).floor("s") for i in instants]).tz_localize("UTC")
    text = pd.Series([t.isoformat() for t in utc.tz_convert(zone)])
    parsed = parse_local_time(text, "Europe/London")
    assert parsed.problems.isna().all()
    assert (parsed.utc.to_numpy() == utc.to_numpy()).all()
