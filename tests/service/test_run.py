"""`wattlens run` as a real process: runs its roles, stops cleanly on SIGTERM; the supervisor."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import requests

from wattlens.service.supervisor import Supervisor
from wattlens.store.duck import DuckDBStore
from wattlens.store.jobruns import job_history


def _terminate(proc: subprocess.Popen[str]) -> str:
    """SIGTERM ``proc``; assert it exits within 10 s; its remaining output."""
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    try:
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - stopped < 10
    return out


def test_run_jobs_role_stops_within_10_s_of_sigterm_and_leaves_history(tmp_path: Path) -> None:
    (tmp_path / "wattlens.toml").write_text(
        f'data_dir = "{tmp_path}"\n[store]\nkind = "duckdb"\npath = "{tmp_path / "w.duckdb"}"\n'
        '[jobs.detect]\nevery = "1s"\n[jobs.intraday]\nenabled = false\n'
        '[jobs.day_ahead]\nenabled = false\n')
    proc = subprocess.Popen([sys.executable, "-m", "wattlens", "run", "--role", "jobs"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        log = ""
        while "job detect ok" not in log:
            assert proc.poll() is None and time.monotonic() < deadline, log
            log += proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        out = _terminate(proc)
    assert proc.returncode == 0, log + out
    assert "wattlens run: stopped" in out
    assert "apscheduler" not in log + out  # no library INFO noise
    store = DuckDBStore(tmp_path / "w.duckdb")
    runs = job_history(store, job="detect")
    store.close()
    assert runs and runs[0]["status"] == "ok"
    assert set(runs[0]["counts"]) == {"events_found", "alerts_sent", "alerts_failed"}


def test_supervisor_restarts_a_crashed_role_and_keeps_the_others() -> None:
    stop = threading.Event()
    calls: list[str] = []

    def flaky(event: threading.Event) -> None:
        calls.append("flaky")
        if calls.count("flaky") < 3:
            raise RuntimeError("device gone")
        event.wait()

    def steady(event: threading.Event) -> None:
        calls.append("steady")
        event.wait()

    sup = Supervisor({"flaky": flaky, "steady": steady}, stop, backoff=0.01, max_backoff=0.05)
    sup.start()
    deadline = time.monotonic() + 30
    while calls.count("flaky") < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stop.set()
    assert sup.join(2) == []
    assert sup.restarts == {"flaky": 2}
    assert calls.count("steady") == 1


def test_run_all_roles_ingests_serves_and_stops(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exports = tmp_path / "exports"
    exports.mkdir()
    times = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "kwh": range(6)}).to_csv(
        exports / "a.csv", index=False)
    (tmp_path / "wattlens.toml").write_text(
        f'data_dir = "{tmp_path}"\n[store]\nkind = "duckdb"\npath = "{tmp_path / "w.duckdb"}"\n'
        f'[dashboard]\nport = {port}\n'
        f'[[sources]]\nname = "exports"\ntype = "files"\ninterval = "1s"\nroot = "{exports}"\n'
        'glob = "*.csv"\ntime_column = "time"\n[sources.columns.kwh]\nmeter = "m1"\n')
    proc = subprocess.Popen([sys.executable, "-m", "wattlens", "run"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 40
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
    finally:
        out = _terminate(proc)
    assert proc.returncode == 0, out
    assert "roles ingest, jobs, web" in out
    store = DuckDBStore(tmp_path / "w.duckdb")
    readings = store.read_readings(["m1"], "energy")
    store.close()
    assert len(readings) == 6
