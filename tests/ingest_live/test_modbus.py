"""Modbus source against pymodbus's real TCP server (the simulator's devices)."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattlens.core.net import free_port
from wattlens.ingest.base import SourceUnavailable
from wattlens.ingest.live import register_intervals
from wattlens.ingest.simulator import Simulation
from wattlens.ingest.sources.modbus import (
    DeviceOptions,
    ModbusSource,
    decode,
    encode,
    load_profile,
    profile_names,
)
from wattlens.sample import sample_readings

STEP_S = 0.6


def test_decode_known_register_layouts() -> None:
    # SDM630: IEEE 754 float32, high word first: 0x4348 0x0000 = 200.0
    assert decode([0x4348, 0x0000], "float32") == 200.0
    # EM24: INT32 least significant word first: words (0x5678, 0x1234) = 0x12345678
    assert decode([0x5678, 0x1234], "int32", word_order="little") == 0x12345678
    assert decode([0xFFFF], "int16") == -1
    assert decode([0xFFFF, 0xFFFF], "uint32") == 2**32 - 1
    # bytes swapped inside each register
    assert decode([0x4843, 0x0000], "float32", byte_order="little") == 200.0
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode([1], "uint32")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["int16", "uint16", "int32", "uint32"]),
    st.integers(min_value=-(2**31), max_value=2**32 - 1),
    st.sampled_from(["big", "little"]),
    st.sampled_from(["big", "little"]),
)
def test_encode_decode_round_trip(dtype: str, value: int, words: str, order: str) -> None:
    bits = 16 if dtype.endswith("16") else 32
    lo, hi = (0, 2**bits - 1) if dtype.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    value = min(max(value, lo), hi)
    assert decode(encode(value, dtype, words, order), dtype, words, order) == value


def test_shipped_profiles_name_their_manual_and_registers() -> None:
    names = profile_names()
    assert {"eastron_sdm630", "carlo_gavazzi_em24"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.manual and profile.first("energy_register") and profile.first("power")
    sdm = load_profile("eastron_sdm630")
    energy = sdm.first("energy_register")
    assert (energy.address, energy.function, energy.type, energy.unit) == (0x48, 4, "float32", "kWh")
    em24 = load_profile("carlo_gavazzi_em24")
    energy = em24.first("energy_register")
    assert (energy.address, energy.type, energy.scale, em24.word_order) == (0x34, "int32", 0.1,
                                                                           "little")
    assert load_profile("simulated_em24").word_order == "little"  # inherited from the base map
    with pytest.raises(ValueError, match="not found; use one of"):
        load_profile("no_such_meter")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=500, allow_nan=False), min_size=2, max_size=30),
    st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=30),
)
def test_live_register_intervals_conserve_energy(increments: list[float],
                                                 polls: list[int]) -> None:
    """However the polls fall (several per interval, some intervals skipped), the intervals sum
    to the register's advance between the first and last boundary seen."""
    t0 = pd.Timestamp("2019-03-31T00:00Z")
    step = pd.Timedelta("15min")
    samples = []
    total = 1000.0
    for i, inc in enumerate(increments):
        total += inc
        for j in range(polls[i % len(polls)]):
            samples.append((t0 + i * step + j * pd.Timedelta("1min"), total))
    state = None
    rows = []
    for chunk in (samples[: len(samples) // 2], samples[len(samples) // 2 :]):
        result = register_intervals(state, chunk, step)
        rows += result.rows
        state = result.state
    assert state is not None
    assert sum(v for _, v, _ in rows) == pytest.approx(total - (1000.0 + increments[0]))
    assert len({t for t, _, _ in rows}) == len(rows) == len(increments) - 1


def _source(sim: Simulation, timeout: float = 1.0) -> ModbusSource:
    devices = [DeviceOptions(**d) for d in sim.sources()[0]["devices"]]
    return ModbusSource("meters", ModbusSource.Options(devices=devices, timeout_s=timeout), {})


@pytest.fixture
def sim() -> Simulation:
    readings = sample_readings()
    readings = readings[readings["meter"].isin(["b2-elec", "b97-elec"])]
    simulation = Simulation(readings, hours=4, speed=3600 / STEP_S, warmup_s=0.3)
    simulation.start_serving()
    yield simulation
    simulation.stop()


def _poll_until_done(source: ModbusSource, sim: Simulation) -> tuple[pd.DataFrame, list]:
    checkpoint, frames, rejected = None, [], []
    deadline = time.monotonic() + sim.duration_s + 1.0
    while time.monotonic() < deadline:
        for batch in source.fetch(checkpoint):
            checkpoint = batch.checkpoint
            frames.append(batch.readings)
            rejected += batch.rejected
        time.sleep(0.05)
    return pd.concat(frames, ignore_index=True), rejected


def test_polls_float32_and_lsw_first_meters_exactly(sim: Simulation) -> None:
    source = _source(sim)
    try:
        got, rejected = _poll_until_done(source, sim)
    finally:
        source.close()
    assert not rejected
    energy = got[got["quantity"] == "energy"].sort_values(["meter", "time"])
    expected = sim.expected().sort_values(["meter", "time"])
    assert list(zip(energy["meter"], energy["time"], strict=True)) == list(
        zip(expected["meter"], expected["time"], strict=True)
    )
    assert energy["value"].to_numpy() == pytest.approx(expected["value"].to_numpy(), abs=0.01)
    power = got[got["quantity"] == "power"]
    assert set(power["meter"]) == {"b2-elec", "b97-elec"} and (power["value"] >= 0).all()


def test_exception_responses_and_timeouts_are_rejects_not_crashes(sim: Simulation) -> None:
    source = _source(sim, timeout=0.3)
    sim.timeout_s = 1.0
    try:
        checkpoint = None
        sim.faults["b2-elec"] = "exception"
        [batch] = source.fetch(checkpoint)
        assert set(batch.readings["meter"]) == {"b97-elec"}  # the good device is kept
        [reject] = batch.rejected
        assert "exception response 4 (server device failure)" in reject.reason
        assert "b2-elec" in reject.reason and "profile" in reject.reason

        sim.faults["b2-elec"] = "timeout"
        started = time.monotonic()
        [batch] = source.fetch(batch.checkpoint)  # the silent meter does not hold up the other
        assert time.monotonic() - started < 0.3 and not batch.rejected
        assert set(batch.readings["meter"]) <= {"b97-elec"}
        time.sleep(0.3)
        [batch] = source.fetch(batch.checkpoint)  # its timeout arrives with a later poll
        [reject] = batch.rejected
        assert "no answer" in reject.reason and "within 0.3 s" in reject.reason

        sim.faults.update({"b2-elec": "timeout", "b97-elec": "timeout"})
        time.sleep(0.4)  # let the last timed-out read finish
        with pytest.raises(SourceUnavailable, match="no device answered"):
            for _ in range(4):
                list(source.fetch(batch.checkpoint))
                time.sleep(0.3)

        sim.faults.clear()  # the device recovers: the next poll reconnects and reads
        time.sleep(sim.timeout_s)
        [batch] = source.fetch(batch.checkpoint)
        assert not batch.rejected and set(batch.readings["meter"]) == {"b2-elec", "b97-elec"}
    finally:
        source.close()


def test_refused_connection_is_reported_with_the_address() -> None:
    port = free_port()
    options = ModbusSource.Options(
        devices=[DeviceOptions(meter="m1", port=port, profile="eastron_sdm630")], timeout_s=0.3
    )
    source = ModbusSource("meters", options, {})
    with pytest.raises(SourceUnavailable, match=f"cannot connect to 127.0.0.1:{port}"):
        list(source.fetch(None))
    with pytest.raises(ValueError, match="no history to backfill"):
        list(source.fetch(None, pd.Timestamp("2019-01-01T00:00Z"), pd.Timestamp("2019-01-02T00:00Z")))
    source.close()


def test_device_clock_needs_a_profile_with_a_clock() -> None:
    options = ModbusSource.Options(
        devices=[DeviceOptions(meter="m1", profile="eastron_sdm630", clock="device")]
    )
    with pytest.raises(ValueError, match="has no clock register; use clock = 'poll'"):
        ModbusSource("meters", options, {})


def test_poll_clock_with_a_real_profile_aligns_to_interval_boundaries(sim: Simulation) -> None:
    """A real SDM630 map has no clock: samples take the poll time, and the register read at
    the first poll after each boundary counts for that boundary (energy is conserved)."""
    play = next(p for p in sim.plays if p.style == "simulated_sdm630")
    options = ModbusSource.Options(devices=[DeviceOptions(
        meter=play.meter, port=play.port, profile="eastron_sdm630", clock="poll",
        interval="1s")], timeout_s=1.0)
    source = ModbusSource("meters", options, {})
    checkpoint, energy = None, []
    first = last = None
    try:
        deadline = time.monotonic() + sim.duration_s + 0.5
        while time.monotonic() < deadline:
            for batch in source.fetch(checkpoint):
                checkpoint = batch.checkpoint
                energy.append(batch.readings[batch.readings["quantity"] == "energy"])
                state = checkpoint["devices"][play.meter]
                if first is None and not state.get("partial"):
                    # the interval begun before the first sample is partial and never
                    # emitted: energy is conserved from the first whole boundary on
                    first = state["register"]
                last = state["register"]
            time.sleep(0.05)
    finally:
        source.close()
    got = pd.concat(energy)
    assert len(got) >= 2
    assert (got["time"] == got["time"].dt.floor("1s")).all()  # on boundaries
    assert got["value"].sum() == pytest.approx(last - first, abs=0.01)
    assert 0 < last - first <= play.values.sum() + 0.01
