"""Many meters on dask.distributed: a real LocalCluster, and real `dask scheduler` /
`dask worker` processes on loopback reached with ``--scheduler``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from distributed import Client
from rich.console import Console
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.core.calendar import SiteCalendar
from wattlens.core.net import free_port
from wattlens.forecasting.backtest import (
    BacktestSpec,
    MeterBacktest,
    backtest_many,
    backtest_meter,
)
from wattlens.forecasting.runner import MeterFailure, dask_client, run_per_meter

ROOT = Path(__file__).resolve().parents[2]


def _backtest_task(meter: str, load: pd.Series, site: SiteCalendar, spec: BacktestSpec,
                   weather: pd.DataFrame) -> MeterBacktest:
    return backtest_meter(meter, load, weather, site, spec)


def test_local_cluster_is_quiet_and_its_bar_moves_per_meter_fit(make_meter, capfd) -> None:
    # 2 meters x 3 weekly fit windows: six tasks, one bar that counts them; no dask log
    # lines, no dashboard (so no "port 8787 in use" either)
    site = SiteCalendar(timezone="Europe/London")
    spec = BacktestSpec("persistence-day", start=pd.Timestamp("2019-01-28").date(),
                        end=pd.Timestamp("2019-02-14").date())
    loads = {}
    for i in range(2):
        loads[f"m{i}"], weather = make_meter(seed=i)
    console = Console(file=io.StringIO(), width=200)
    with dask_client(workers=1) as client:
        results = backtest_many(loads, weather, dict.fromkeys(loads, site), spec, client,
                                console=console)
        # only the HTTP health endpoint, on a free port (dask names it "dashboard")
        assert client.scheduler_info()["services"].get("dashboard") != 8787
    bar = console.file.getvalue()
    assert "6/6" in bar and "meter-fits" in bar, bar
    for res in results.values():
        assert res.error is None and res.fits == 3 and res.metrics["n"] == 17 * 24
    out, err = capfd.readouterr()
    for text in (out, err):
        assert "INFO" not in text and "8787" not in text, text


def test_local_cluster_runs_every_meter_and_reports_failures(make_meter) -> None:
    site = SiteCalendar(timezone="Europe/London")
    spec = BacktestSpec("persistence-day", start=pd.Timestamp("2019-02-12").date(),
                        end=pd.Timestamp("2019-02-14").date())
    tasks = {}
    for i in range(3):
        load, weather = make_meter(seed=i)
        tasks[f"m{i}"] = (load, site, spec)
    tasks["broken"] = (load, site, None)  # no spec: raises inside the task
    with dask_client(workers=2, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        results = run_per_meter(_backtest_task, tasks, (weather,), client=client)
        # the same shared frame scattered again right away must not lose its data
        again = run_per_meter(_backtest_task, tasks, (weather,), client=client)
    assert not isinstance(again["m0"], MeterFailure) and again["m0"].error is None
    assert set(results) == set(tasks)
    for i in range(3):
        assert results[f"m{i}"].error is None and results[f"m{i}"].metrics["n"] == 48
    assert isinstance(results["broken"], MeterFailure)
    assert results["broken"].reason.startswith("AttributeError")


def test_cli_backtest_on_external_scheduler_and_worker(tmp_path: Path, make_meter) -> None:
    load, weather = make_meter()
    readings = pd.DataFrame({"time": load.index.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "meter": "b1-elec", "value": load.values})
    readings.to_csv(tmp_path / "r.csv", index=False)
    weather.rename_axis("time").reset_index().assign(
        time=lambda f: f["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).to_csv(tmp_path / "w.csv", index=False)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]  # the `dask` script may live in another venv
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = [open(tmp_path / name, "w") for name in ("scheduler.log", "worker.log")]  # noqa: SIM115
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [*dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
             "--host", "127.0.0.1", "--no-dashboard", "--name", "wattlens-test-worker"],
            cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(1, timeout=60)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        out = tmp_path / "metrics.json"
        result = CliRunner().invoke(app, [
            "forecast", "backtest", "--readings", str(tmp_path / "r.csv"),
            "--weather", str(tmp_path / "w.csv"), "--model", "persistence-week",
            "--start", "2019-02-11", "--end", "2019-02-13", "--tz", "Europe/London",
            "--out", str(out), "--scheduler", address,
        ])
        assert result.exit_code == 0, result.output
        doc = json.loads(out.read_text())
        assert doc["meters"]["b1-elec"]["n"] == 48
        with Client(address, timeout="5s") as client:
            names = [w["name"] for w in client.scheduler_info()["workers"].values()]
        assert names == ["wattlens-test-worker"]  # the work ran on the external worker
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
