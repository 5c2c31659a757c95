"""`wattlens demo` as a real process at 30x: the sample's history ends now, the simulated meters
produce one-minute readings on the demo's clock, the labelled fault steps b2-elec's load up,
the demo's detection job (every simulated minute) reports it on the Live page and in the
alerts view, and Ctrl-C stops everything cleanly with a quiet terminal.

The event check needs the live above-forecast detector (``above_forecast`` in
``[analytics.anomalies]``, analytics/anomalies.py): it is skipped until that detector exists.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.support import probe
from wattlens.store.duck import DuckDBStore
from wattlens.store.jobruns import job_history

SPEED = 30.0
"""Simulated seconds per real second: a simulated minute every 2 s."""
FAULT_AFTER = "3min"


@dataclass
class RunningDemo:
    proc: subprocess.Popen[str]
    url: str
    data_dir: Path
    served_at: float
    output: list[str] = field(default_factory=list)

    def read_until(self, text: str, timeout: float) -> None:
        """Collect output lines until one holds ``text``."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output):
            assert self.proc.poll() is None, "".join(self.output)
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(self.output)
            self.output.append(self.proc.stdout.readline())  # type: ignore[union-attr]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    work = tmp_path_factory.mktemp("demo")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattlens", "demo", "--data-dir", str(work / "demo"),
         "--port", str(port), "--speed", f"{SPEED:g}", "--fault-after", FAULT_AFTER,
         "--fault-for", "2h", "--forecast-model", "persistence-week"],
        cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"})
    running = RunningDemo(proc, f"http://127.0.0.1:{port}/", work / "demo", 0.0)
    try:
        running.read_until("dashboard on http://", timeout=240)
        running.served_at = time.monotonic()
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _callback(demo: RunningDemo, output: str, values: dict) -> dict:
    with requests.Session() as session:
        cb = probe.find(probe.callbacks(session, demo.url), output)
        answer = probe.call(session, cb, values, prefix=demo.url)
    assert answer.status == 200, answer.body[:500]
    return answer.json()["response"]


def test_the_terminal_says_what_happens_and_where_to_look(demo: RunningDemo) -> None:
    text = "".join(demo.output)
    assert "so its history ends now" in text
    assert 'fault: "plant left on" on b2-elec' in text
    assert f"open {demo.url.rstrip('/')}" in text
    assert "job day-ahead@Europe/London ok" in text  # issued at start: a band to compare with


def test_readings_arrive_now_and_the_freshness_agrees(demo: RunningDemo) -> None:
    time.sleep(max(0.0, demo.served_at + 8 - time.monotonic()))  # a few simulated minutes
    values = {"meter-picker.value": "b2-elec", "live-tick.n_intervals": 1}
    for _attempt in range(5):  # a reading arrives every 2 s here: retry a call that straddles one
        text = _callback(demo, "live-status", values)["live-status"]["children"]
        table = _callback(demo, "live-freshness", values)["live-freshness"]["children"]
        rows = {r["source"]: r for r in table["props"]["data"]}
        if rows["meter b2-elec"]["newest"] in text:  # the same newest reading, both places
            break
    else:
        raise AssertionError(f"{rows['meter b2-elec']} disagrees with {text!r}")
    assert "latest reading" in text and "days ago" not in text, text
    assert "received" in rows["source sim-modbus"]["state"]


def _fault_start(demo: RunningDemo) -> pd.Timestamp:
    """The fault's start as the terminal announced it (site time)."""
    line = next(line for line in demo.output if line.startswith("fault:"))
    found = re.search(r"from (\d{4}-\d\d-\d\d \d\d:\d\d) to", line)
    assert found, line
    return pd.Timestamp(found.group(1)).tz_localize("Europe/London")


def test_the_fault_shows_in_the_alerts_view_and_on_the_live_page(demo: RunningDemo) -> None:
    fault = _fault_start(demo)

    def at_fault(row: dict) -> bool:  # an event of b2-elec starting with the plant left on
        start = pd.Timestamp(row["start"].rsplit(" ", 1)[0]).tz_localize("Europe/London")
        return (row["meter"] == "b2-elec" and row["status"] == "open"
                and fault - pd.Timedelta("2min") <= start <= fault + pd.Timedelta("10min"))

    # 5 minutes of the demo's clock at speed 1 are 10 s here; allow for a busy machine
    deadline = demo.served_at + 90
    while not (hits := [r for r in _callback(demo, "alerts-grid", {})["alerts-grid"]["rowData"]
                        if at_fault(r)]):
        assert time.monotonic() < deadline, "no event of the fault in the alerts view"
        time.sleep(1)
    live = _callback(demo, "live-anomalies", {"meter-picker.value": "b2-elec",
                                               "live-tick.n_intervals": 1})
    assert f"b2-elec · {hits[0]['kind']}" in str(live["live-anomalies"]["children"])


def test_ctrl_c_stops_cleanly_and_the_store_holds_the_live_loop(demo: RunningDemo) -> None:
    time.sleep(max(0.0, demo.served_at + 20 - time.monotonic()))  # the fault plays a while
    demo.proc.send_signal(signal.SIGINT)
    out, _ = demo.proc.communicate(timeout=15)
    text = "".join(demo.output) + out
    assert demo.proc.returncode == 0, text
    assert "wattlens run: stopped" in text
    assert "Traceback" not in text and "already closed" not in text
    for noisy in ("werkzeug", "distributed", "apscheduler", "cmdstanpy", "prophet", "dask"):
        assert f"INFO {noisy}" not in text
    store = DuckDBStore(demo.data_dir / "wattlens.duckdb")
    try:
        fault = store.list_documents("demo-fault")["plant left on"]
        start, kw = pd.Timestamp(fault["start"]), fault["kw"]
        b2 = store.read_readings(["b2-elec"], "energy", start - pd.Timedelta("3h"), None)
        b2 = b2.set_index("time")["value"]
        during = b2[b2.index >= start]
        assert (during.index.to_series().diff().dropna() == pd.Timedelta("1min")).all()
        # whole minutes before the fault (the minute it starts in is partly faulty): live or,
        # when the service took a few seconds (minutes at this speed) to start, the ones the
        # demo wrote for today before it
        before = b2[(b2.index >= start - pd.Timedelta("10min"))
                    & (b2.index + pd.Timedelta("1min") <= start)]
        assert len(before) >= 2 and len(during) >= 3, b2.tail(10)
        assert during.mean() - before.mean() > 0.7 * kw / 60  # the plant left on [kWh/min]
        forecasts = store.read_forecasts(["b2-elec"], start, start + pd.Timedelta("1h"))
        assert len(forecasts) and (forecasts["yhat_upper"] > forecasts["yhat_lower"]).all()
        runs = {r["job"]: r for r in reversed(job_history(store))}
        assert runs["day-ahead@Europe/London"]["status"] == "ok"
        assert runs["detect"]["status"] == "ok"  # the scheduled detection ran on the demo
    finally:
        store.close()
