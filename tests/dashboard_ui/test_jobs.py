"""The Jobs page answered over HTTP as the browser calls it: the job-run history newest first,
filtered by job, and for administrators only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dashboard_seed import PASSWORDS, site_config

from tests.support import probe
from wattlens.dashboard.app import create_app
from wattlens.store.duck import DuckDBStore
from wattlens.store.jobruns import record_run


def _runs(store: DuckDBStore) -> None:
    t0 = pd.Timestamp("2026-12-07T00:00Z")
    record_run(store, "day-ahead@Europe/London", t0, t0 + pd.Timedelta("41s"),
               counts={"forecasts_issued": 6, "forecasts_failed": 0})
    for minute in (1, 2):
        start = t0 + pd.Timedelta(minutes=minute)
        record_run(store, "detect", start, start + pd.Timedelta("2.5s"),
                   counts={"events_found": minute})
    record_run(store, "recommend", t0 + pd.Timedelta("3min"), t0 + pd.Timedelta("3min 1s"),
               counts={}, error="StoreUnavailable: influxd did not answer", attempt=2)


def _call(client, job: str | None = None) -> dict:
    cb = probe.find(probe.callbacks(client), "jobs-grid")
    return probe.call(client, cb, {"jobs-job.value": job, "jobs-tick.n_intervals": 1}
                      ).json()["response"]


def test_jobs_page_lists_runs_newest_first_with_counts_and_errors(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "jobs.duckdb")
    store.init()
    _runs(store)
    client = create_app(site_config(), store).server.test_client()
    assert "\\u002fjobs" in client.get("/_dash-layout").get_data(as_text=True)  # in the nav
    out = _call(client)
    rows = out["jobs-grid"]["rowData"]
    assert [r["job"] for r in rows] == ["recommend", "detect", "detect",
                                        "day-ahead@Europe/London"]
    assert rows[0] == {"job": "recommend", "start": "2026-12-07 00:03:00",
                       "end": "2026-12-07 00:03:01", "seconds": 1.0, "status": "failed",
                       "attempt": 2, "counts": "",
                       "error": "StoreUnavailable: influxd did not answer"}
    assert rows[1]["counts"] == "events_found 2" and rows[3]["seconds"] == 41.0
    assert out["jobs-count"]["children"] == "4 runs, newest first, 1 failed"
    assert out["jobs-job"]["options"] == ["day-ahead@Europe/London", "detect", "recommend"]
    detect = _call(client, "detect")["jobs-grid"]["rowData"]
    assert [r["counts"] for r in detect] == ["events_found 2", "events_found 1"]
    store.close()


def test_jobs_page_is_for_administrators_only(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "jobs.duckdb")
    store.init()
    _runs(store)
    client = create_app(site_config(login=True), store).server.test_client()
    client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                "next": "/"})
    out = _call(client)
    assert out["jobs-grid"]["rowData"] == [] and "administrators only" in \
        out["jobs-count"]["children"]
    store.close()
