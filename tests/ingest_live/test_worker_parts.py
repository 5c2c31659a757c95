"""Worker parts without live peers: the bounded on-disk buffer, backfill and the simulate CLI."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.support.influxd import LocalInfluxd
from wattlens.cli import app
from wattlens.config import parse_config
from wattlens.ingest.base import IngestContext
from wattlens.ingest.simulator import Simulation, sources_toml
from wattlens.ingest.sources.modbus import ModbusSource
from wattlens.ingest.worker import BufferFull, DiskBuffer, Worker
from wattlens.sample import sample_readings
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore

DATA = Path(__file__).resolve().parents[1] / "data"


def _readings(n: int, start: str = "2019-01-01T00:00Z") -> pd.DataFrame:
    return pd.DataFrame({
        "time": pd.date_range(start, periods=n, freq="1h"), "meter": "m1",
        "quantity": "energy", "value": range(n), "quality": "ok",
    })


def test_disk_buffer_is_ordered_bounded_and_warns_before_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = DiskBuffer(tmp_path / "buffer", max_bytes=4000)
    with caplog.at_level(logging.WARNING, logger="wattlens.ingest"):
        for i in range(100):
            try:
                buffer.append("src", _readings(5, f"2019-01-0{1 + i % 9}T00:00Z"), {"n": i})
            except BufferFull as exc:
                assert "is full" in str(exc) and "--buffer-mb" in str(exc)
                break
        else:
            pytest.fail("the buffer never filled")
    assert "% full" in caplog.text  # warned before it filled
    assert buffer.size <= 4000
    files = buffer.files()
    assert [buffer.read(f)[2]["n"] for f in files] == list(range(len(files)))  # in order
    source, frame, checkpoint = buffer.read(files[0])
    pd.testing.assert_frame_equal(frame, _readings(5), check_dtype=False)
    reopened = DiskBuffer(tmp_path / "buffer", max_bytes=4000)  # survives a restart
    assert len(reopened) == len(files) and reopened.size == buffer.size
    assert reopened.last_checkpoints() == {"src": {"n": len(files) - 1}}
    for f in files:
        reopened.remove(f)
    assert reopened.size == 0 and len(reopened) == 0


def test_backfill_command_writes_a_range_with_a_progress_bar(tmp_path: Path) -> None:
    case = tmp_path / "gas"
    shutil.copytree(DATA / "files" / "csv_gas_units", case)
    table = tomllib.loads((case / "source.toml").read_text())
    config = tmp_path / "w.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[store]\nkind = "duckdb"\n'
        f'path = "{tmp_path / "data" / "w.duckdb"}"\n\n'
        + sources_toml([{"name": "gas-files", "root": str(case), **table}])
    )
    parse_config(tomllib.loads(config.read_text()))
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "backfill", "gas-files", "--start",
                                 "2024-01-01T00:00Z", "--end", "2025-01-01T00:00Z",
                                 "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "backfilled" in result.output and "100%" in result.output
    store = DuckDBStore(tmp_path / "data" / "w.duckdb")
    try:
        assert not store.read_readings(quantity="energy").empty
        assert store.get_document("checkpoint", "gas-files") is None  # live checkpoint untouched
    finally:
        store.close()
    bad = runner.invoke(app, ["ingest", "backfill", "nope", "--start", "2024-01-01T00:00Z",
                              "--end", "2025-01-01T00:00Z", "-c", str(config)])
    assert bad.exit_code == 2 and "no source named 'nope'" in bad.output


def test_simulate_command_serves_and_writes_matching_sources(tmp_path: Path) -> None:
    out = tmp_path / "sources.toml"
    result = subprocess.run(
        [sys.executable, "-m", "wattlens", "simulate", "--hours", "2", "--speed", "72000",
         "--warmup", "0.2", "--modbus-port", "0", "--sources-out", str(out),
         "--exit-when-done"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "b2-elec: simulated_" in result.stderr and "replaying 2 h" in result.stderr
    config = parse_config(tomllib.loads(out.read_text()))
    [modbus] = config.sources
    assert modbus.type == "modbus" and len(modbus.options.devices) == 6


@pytest.mark.influx
def test_stop_while_the_store_is_down_keeps_the_buffer_for_the_next_start(
    tmp_path: Path,
) -> None:
    """Batches buffered while influxd is down survive a clean stop (SIGTERM sets ``stop``);
    the next start, store still down, resumes from the buffered checkpoint, and everything
    is flushed in order once influxd is back."""
    readings = sample_readings()
    sim = Simulation(readings[readings["meter"] == "b2-elec"], hours=12, speed=3600 / 0.8,
                     warmup_s=1.0).start_serving()
    section = parse_config({"sources": sim.sources()}).sources[0]
    server = LocalInfluxd(tmp_path / "influxd").start()
    InfluxStore(server.url, "buffered").init()

    def start_worker() -> tuple[Worker, threading.Thread]:
        store = InfluxStore(server.url, "buffered", timeout=2)
        source = ModbusSource.from_config(section, IngestContext())
        worker = Worker(store, [(section, source)], tmp_path / "data")
        thread = threading.Thread(target=worker.run)
        thread.start()
        return worker, thread

    def until(condition, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.05)

    try:
        first, thread = start_worker()
        until(lambda: sim.step() >= 3)
        server.stop()
        until(lambda: len(first.buffer) >= 2)
        first.stop.set()
        thread.join(30)
        buffered = len(first.buffer)
        assert buffered >= 2  # kept on disk, nothing lost
        second, thread = start_worker()  # the store is still down
        until(lambda: len(second.buffer) > buffered)
        server = LocalInfluxd(tmp_path / "influxd", port=server.port).start()
        until(sim.finished)
        time.sleep(1.0)
        second.stop.set()
        thread.join(30)
        assert len(second.buffer) == 0
        stored = InfluxStore(server.url, "buffered").read_readings(quantity="energy")
    finally:
        sim.stop()
        server.stop()
    expected = sim.expected()
    assert list(stored["time"]) == list(expected["time"])
    assert stored["value"].to_numpy() == pytest.approx(expected["value"].to_numpy(), abs=0.01)


def test_a_truncated_buffer_file_is_quarantined_by_name_and_the_worker_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #13 item 5: a broken buffer file (power cut mid-write) must not stop the start."""
    buffer = DiskBuffer(tmp_path / "data" / "ingest-buffer", max_bytes=2**20)
    buffer.append("src", _readings(3), {"n": 1})
    buffer.append("src", _readings(3, "2019-02-01T00:00Z"), {"n": 2})
    buffer.append("src", _readings(3, "2019-03-01T00:00Z"), {"n": 3})
    broken = buffer.files()[1]
    broken.write_bytes(broken.read_bytes()[:50])
    store = DuckDBStore(tmp_path / "w.duckdb")
    worker = Worker(store, [], tmp_path / "data")
    with caplog.at_level(logging.ERROR, logger="wattlens.ingest"):
        thread = threading.Thread(target=worker.run)
        thread.start()
        time.sleep(1.5)
        worker.stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert broken.name in caplog.text and "not readable" in caplog.text
    kept = tmp_path / "data" / "ingest-buffer" / "broken" / broken.name
    assert kept.exists() and len(worker.buffer) == 0
    stored = store.read_readings(quantity="energy")
    store.close()
    assert len(stored) == 6  # the two good batches, in order
