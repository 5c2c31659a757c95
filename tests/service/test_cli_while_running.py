"""Every command works while `wattlens run` holds the DuckDB file: the commands go through the
service's API on the Unix socket beside the file (or --server with a token), and the alerts page
of the running dashboard shows an annotation made from another process (real Chromium)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from werkzeug.security import generate_password_hash

from tests.support.browser import chromium_options
from wattlens.core.net import free_port
from wattlens.sample import load_sample
from wattlens.store.duck import DuckDBStore
from wattlens.store.remote import service_socket

ADMIN_TOKEN = "cli-admin-5be1"
NOTE = "checked on site: chiller left on"
needs_browser = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian chromium and chromium-driver")


def _config(tmp: Path, port: int) -> str:
    exports = tmp / "exports"
    exports.mkdir()
    times = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "kwh": range(6)}).to_csv(
        exports / "a.csv", index=False)
    token_hash = generate_password_hash(ADMIN_TOKEN)
    return f'''data_dir = "{tmp}"
[store]
kind = "duckdb"
path = "{tmp / "w.duckdb"}"
[dashboard]
port = {port}
cache_ttl_s = 0
[[api.tokens]]
name = "ops"
token_hash = "{token_hash}"
admin = true
[[sites]]
id = "cambridge"
timezone = "Europe/London"
[[sites.buildings]]
id = "b2"
meters = [{{id = "b2-elec", commodity = "electricity"}}]
[[sites.buildings]]
id = "b97"
meters = [{{id = "b97-elec", commodity = "electricity"}}]
[[sources]]
name = "exports"
type = "files"
interval = "1s"
root = "{exports}"
glob = "*.csv"
time_column = "time"
[sources.columns.kwh]
meter = "m1"
'''


def _seed(path: Path) -> tuple[str, pd.Timestamp, int]:
    """Eight weeks of two sample meters and one event; the event's id, the newest time and
    b2-elec's readings."""
    sample = load_sample()
    energy = sample[(sample["quantity"] == "energy")
                    & sample["meter"].isin(["b2-elec", "b97-elec"])]
    end = energy["time"].max()
    energy = energy[energy["time"] > end - pd.Timedelta("56D")]
    store = DuckDBStore(path)
    store.write_readings(energy)
    store.write_events(pd.DataFrame({
        "meter": ["b2-elec"], "start": [end - pd.Timedelta("2D")],
        "end": [end - pd.Timedelta("2D") + pd.Timedelta("6h")], "kind": ["after-hours"],
        "severity": [0.8], "excess_kwh": [42.0]}))
    event = str(store.read_events()["event_id"].iloc[0])
    store.close()
    return event, end, int((energy["meter"] == "b2-elec").sum())


@dataclass
class Service:
    tmp: Path
    url: str
    event: str
    end: pd.Timestamp
    b2_rows: int

    def wattlens(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """A wattlens command in its own process, in the service's folder."""
        return subprocess.Popen([sys.executable, "-m", "wattlens", *args], cwd=self.tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "COLUMNS": "200", **env})


def _finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{out}"
    assert "Traceback" not in out, out
    return out


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """`wattlens run` (ingest, jobs, web) as a subprocess on a seeded DuckDB file."""
    port = free_port()
    (tmp_path / "wattlens.toml").write_text(_config(tmp_path, port))
    event, end, b2_rows = _seed(tmp_path / "w.duckdb")
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "wattlens", "run"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "service did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert service_socket(tmp_path / "w.duckdb").exists()
        yield Service(tmp_path, url, event, end, b2_rows)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert not service_socket(tmp_path / "w.duckdb").exists(), out  # removed at the stop


@needs_browser
@pytest.mark.browser
@pytest.mark.slow
def test_commands_run_beside_the_service_and_the_annotation_shows_in_the_alerts_page(
        service: Service) -> None:
    from dash.testing.browser import Browser

    at = (service.end - pd.Timedelta("1D")).floor("D").isoformat()
    procs = {
        "status": service.wattlens("ingest", "status"),
        "forecast": service.wattlens("forecast", "run", "--at", at, "--model",
                                     "persistence-week", "--meter", "b2-elec", "--threads",
                                     "--workers", "1"),
        "annotate": service.wattlens("anomalies", "annotate", service.event, "--status",
                                     "acknowledged", "--by", "ana", "--note", NOTE),
        "export": service.wattlens("export", "readings", "out.csv", "--meter", "b2-elec"),
        "meters": service.wattlens("store", "meters"),
        "remote": service.wattlens("--server", service.url, "store", "meters",
                                   WATTLENS_TOKEN=ADMIN_TOKEN),
    }
    out = {name: _finish(proc) for name, proc in procs.items()}
    assert "exports" in out["status"], out["status"]
    assert "1 issued, 0 failed" in out["forecast"], out["forecast"]
    assert f"event {service.event}: acknowledged by ana" in out["annotate"]
    exported = pd.read_csv(service.tmp / "out.csv")
    assert set(exported["meter"]) == {"b2-elec"} and len(exported) == service.b2_rows
    for name in ("meters", "remote"):
        assert "b2-elec" in out[name] and "b97-elec" in out[name]
    with httpx.Client(base_url=service.url,
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        issued = client.get("/api/v1/forecasts", params={"meter": "b2-elec"}).json()
        assert {row["model"] for row in issued} == {"persistence-week"}

    with Browser(browser="chrome", headless=True,
                 options=[chromium_options(service.tmp / "chromium")],
                 download_path=str(service.tmp / "downloads")) as browser:
        browser.driver.get(f"{service.url}/alerts")
        browser.wait_for_contains_text("#alerts-grid", NOTE, timeout=30)
        assert "acknowledged" in browser.find_element("#alerts-grid").text


def test_a_command_names_the_process_holding_the_store_in_one_line(tmp_path: Path) -> None:
    """`wattlens run --role jobs` holds the file and serves no API: a command says so."""
    (tmp_path / "wattlens.toml").write_text(
        f'data_dir = "{tmp_path}"\n[store]\nkind = "duckdb"\npath = "{tmp_path / "w.duckdb"}"\n')
    holder = subprocess.Popen([sys.executable, "-m", "wattlens", "run", "--role", "jobs"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        deadline = time.monotonic() + 30
        while "roles jobs" not in (line := holder.stdout.readline()):  # type: ignore[union-attr]
            assert holder.poll() is None and time.monotonic() < deadline, line
        answer = subprocess.run([sys.executable, "-m", "wattlens", "store", "meters"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.communicate(timeout=15)
    assert answer.returncode == 2
    lines = (answer.stdout + answer.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert f"held by process {holder.pid}" in lines[0] and "wattlens run" in lines[0]
    assert "Traceback" not in answer.stderr
