"""End to end: ``wattlens simulate`` devices → ``wattlens ingest run`` (a child process) → stores.

Real peers only: pymodbus's TCP server (the simulator's meters), Mosquitto, influxd.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.support.influxd import LocalInfluxd
from wattlens.cli import app
from wattlens.ingest.simulator import Simulation
from wattlens.sample import sample_readings
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore

from .support import WorkerProcess, publish, write_config

pytestmark = pytest.mark.mqtt

STEP_S = 1.0  # real seconds per simulated hour: 10 polls per device state, margin for a busy CI
TOL = 0.01  # kWh: float32 registers (SDM630) near 10^4 kWh resolve ~0.001 kWh


def simulation(broker, hours: int) -> Simulation:
    """Devices hold their first state until :func:`release` (workers need a baseline)."""
    sim = Simulation(sample_readings(), hours=hours, speed=3600 / STEP_S, warmup_s=math.inf,
                     mqtt=(broker.host, broker.port))
    sim.heartbeat_s = 0.5
    return sim.start_serving()


def release(sim: Simulation, *workers: WorkerProcess) -> None:
    """Start the replay once every worker has stored its first batch of both sources."""
    for worker in workers:
        worker.wait_for("sim-modbus: batch of")
        worker.wait_for("sim-mqtt: batch of")
    sim.release(0.5)


def wait_done(sim: Simulation, settle_s: float = 1.5) -> None:
    deadline = time.monotonic() + sim.hours * STEP_S + 30
    while not sim.finished():
        assert time.monotonic() < deadline, "the simulation did not finish"
        time.sleep(0.1)
    time.sleep(settle_s)  # a few more polls see the last state


def compare(stored: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Outer join of stored and expected energy on (meter, time), with the join indicator."""
    return expected.merge(stored[["time", "meter", "value", "quality"]], on=["meter", "time"],
                          how="outer", suffixes=("_expected", "_stored"), indicator=True)


def assert_exact(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    merged = compare(stored, expected)
    lost = merged[merged["_merge"] == "left_only"]
    extra = merged[merged["_merge"] == "right_only"]
    assert lost.empty, f"{len(lost)} readings lost:\n{lost.head()}"
    assert extra.empty, f"{len(extra)} unexpected readings:\n{extra.head()}"
    assert not stored.duplicated(["meter", "quantity", "time"]).any()
    error = (merged["value_expected"] - merged["value_stored"]).abs().max()
    assert error < TOL, f"largest difference {error} kWh"


def quarantined(data_dir: Path) -> list[dict]:
    path = data_dir / "quarantine.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.influx
def test_every_simulated_reading_arrives_once_in_influx_and_duckdb(
    mosquitto, influx_store: InfluxStore, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    sim = simulation(mosquitto, hours=8)
    try:
        influx_cfg = write_config(
            tmp_path / "influx.toml", tmp_path / "influx-data",
            f'kind = "influx"\nurl = "{influx_store.url}"\ndatabase = "{influx_store.database}"',
            sim.sources_toml(client_id="ingest-influx"),
        )
        duck_cfg = write_config(
            tmp_path / "duck.toml", tmp_path / "duck-data",
            f'kind = "duckdb"\npath = "{tmp_path / "duck-data" / "w.duckdb"}"',
            sim.sources_toml(client_id="ingest-duck"),
        )
        for cfg in (influx_cfg, duck_cfg):
            workers.append(WorkerProcess(cfg, tmp_path / f"{cfg.stem}.log").start())
        release(sim, *workers)
        wait_done(sim)
        assert [w.terminate() for w in workers] == [0, 0]  # SIGTERM: flush and exit cleanly
    finally:
        sim.stop()
    expected = sim.expected()
    assert len(expected) > 30
    duck = DuckDBStore(tmp_path / "duck-data" / "w.duckdb")
    try:
        for store in (influx_store, duck):
            assert_exact(store.read_readings(quantity="energy"), expected)
            # power [kW] at the end of each hour equals that hour's mean: energy / 1 h
            power = store.read_readings(quantity="power").set_index(["meter", "time"])["value"]
            for row in expected.itertuples():
                assert power[(row.meter, row.time + pd.Timedelta("1h"))] == pytest.approx(
                    row.value, abs=TOL)
            statuses = store.list_documents("ingest-status")
            assert set(statuses) == {"sim-modbus", "sim-mqtt"}
            assert all(s["errors"] == 0 and s["readings_last_hour"] > 0
                       for s in statuses.values())
            assert store.get_document("checkpoint", "sim-mqtt")["meters"]
        assert not quarantined(tmp_path / "duck-data")
    finally:
        duck.close()
    result = CliRunner().invoke(app, ["ingest", "status", "-c", str(duck_cfg)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "sim-modbus" in result.output, result.output
    log = (tmp_path / "duck.log").read_text()
    assert "sim-modbus: batch of" in log and "ingest stopped; 0 batches left" in log


@pytest.mark.influx
def test_influxd_outage_loses_and_duplicates_nothing(
    mosquitto, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    data = tmp_path / "influxd"
    server = LocalInfluxd(data).start()
    sim = simulation(mosquitto, hours=24)
    try:
        cfg = write_config(tmp_path / "w.toml", tmp_path / "data",
                           f'kind = "influx"\nurl = "{server.url}"\ndatabase = "outage"',
                           sim.sources_toml())
        worker = WorkerProcess(cfg, tmp_path / "worker.log").start()
        workers.append(worker)
        release(sim, worker)
        while sim.step() < 4:
            time.sleep(0.1)
        server.stop()  # influxd down for ~12 s (half of the run)
        worker.wait_for("buffering on disk")
        time.sleep(12)
        assert not server.process
        server = LocalInfluxd(data, port=server.port).start()  # same data dir, same port
        worker.wait_for("flushed")
        wait_done(sim, settle_s=2.0)
        assert worker.terminate() == 0
    finally:
        sim.stop()
        server.stop()
    server = LocalInfluxd(data, port=server.port).start()
    try:
        store = InfluxStore(server.url, "outage")
        assert_exact(store.read_readings(quantity="energy"), sim.expected())
        assert not list((tmp_path / "data" / "ingest-buffer").glob("*.json"))
    finally:
        server.stop()


def test_sigkill_resumes_from_the_checkpoint_without_a_gap(
    mosquitto, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    sim = simulation(mosquitto, hours=16)
    path = tmp_path / "data" / "w.duckdb"
    try:
        cfg = write_config(tmp_path / "w.toml", tmp_path / "data",
                           f'kind = "duckdb"\npath = "{path}"', sim.sources_toml())
        first = WorkerProcess(cfg, tmp_path / "worker.log").start()
        workers.append(first)
        release(sim, first)
        while sim.step() < 6:
            time.sleep(0.1)
        first.kill()  # SIGKILL: no flush, no goodbye
        second = WorkerProcess(cfg, tmp_path / "worker.log").start()
        workers.append(second)
        wait_done(sim)
        assert second.terminate() == 0
    finally:
        sim.stop()
    expected = sim.expected()
    store = DuckDBStore(path)
    try:
        stored = store.read_readings(quantity="energy")
    finally:
        store.close()
    mqtt_meters = {p.meter for p in sim.plays if p.protocol == "mqtt"}
    # MQTT: the broker kept the session's messages while the worker was dead → exact
    assert_exact(stored[stored["meter"].isin(mqtt_meters)],
                 expected[expected["meter"].isin(mqtt_meters)])
    # Modbus: live registers cannot be read for the past; the interval spanning the outage
    # carries its energy (flagged suspect), every other hour is exact, and nothing is lost
    for meter in {p.meter for p in sim.plays if p.protocol == "modbus"}:
        mine = stored[stored["meter"] == meter]
        truth = expected[expected["meter"] == meter]
        assert mine["value"].sum() == pytest.approx(truth["value"].sum(), abs=TOL)
        ok = compare(mine[mine["quality"] == "ok"], truth)
        both = ok[ok["_merge"] == "both"]
        assert (ok["_merge"] != "right_only").all()
        assert (both["value_expected"] - both["value_stored"]).abs().max() < TOL
        assert mine["time"].min() == truth["time"].min()
        assert mine["time"].max() == truth["time"].max()


def test_bad_input_is_quarantined_while_the_worker_keeps_running(
    mosquitto, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    sim = simulation(mosquitto, hours=10)
    sim.timeout_s = 1.5  # longer than the source's timeout_s = 1.0
    path = tmp_path / "data" / "w.duckdb"
    tasmota = next(p for p in sim.plays if p.style == "tasmota")
    try:
        cfg = write_config(tmp_path / "w.toml", tmp_path / "data",
                           f'kind = "duckdb"\npath = "{path}"', sim.sources_toml())
        worker = WorkerProcess(cfg, tmp_path / "worker.log").start()
        workers.append(worker)
        release(sim, worker)
        publish(mosquitto.host, mosquitto.port, (
            (sim.topic(tasmota), payload) for payload in (
                b"\x00\xffnot json", b"{" * 100_000,
                b'{"Time": "2018-01-01T03:00:00Z", "ENERGY": {"Total": "n/a", "Power": 1}}')),
            client_id="vandal")
        while sim.step() < 3:
            time.sleep(0.1)
        sim.faults["b2-elec"] = "exception"
        time.sleep(1.0)
        sim.faults["b2-elec"] = "timeout"
        time.sleep(2.5)
        sim.faults.clear()
        wait_done(sim)
        assert worker.process.poll() is None, "the worker died"
        assert worker.terminate() == 0
    finally:
        sim.stop()
    reasons = " | ".join(q["reason"] for q in quarantined(tmp_path / "data"))
    for text in ("is not JSON", "over max_payload_bytes=65536", "is not a number",
                 "exception response 4 (server device failure)", "no answer"):
        assert text in reasons, f"{text!r} not in quarantine: {reasons[:2000]}"
    store = DuckDBStore(path)
    try:
        stored = store.read_readings(quantity="energy")
    finally:
        store.close()
    expected = sim.expected()
    unaffected = [m for m in expected["meter"].unique() if m != "b2-elec"]
    assert_exact(stored[stored["meter"].isin(unaffected)],
                 expected[expected["meter"].isin(unaffected)])
    b2 = stored[stored["meter"] == "b2-elec"]  # its energy survives the faulty spell
    truth = expected[expected["meter"] == "b2-elec"]
    assert b2["value"].sum() == pytest.approx(truth["value"].sum(), abs=TOL)
