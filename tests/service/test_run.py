"""`wattlens run --role jobs` as a real process: runs a job, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from wattlens.service.history import job_history
from wattlens.service.supervisor import Supervisor
from wattlens.store.duck import DuckDBStore


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
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        out, _ = proc.communicate(timeout=10)
        assert time.monotonic() - stopped < 10
    finally:
        if proc.poll() is None:
            proc.kill()
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
    deadline = time.monotonic() + 5
    while calls.count("flaky") < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stop.set()
    assert sup.join(2) == []
    assert sup.restarts == {"flaky": 2}
    assert calls.count("steady") == 1
