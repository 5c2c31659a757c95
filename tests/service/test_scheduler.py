"""The jobs role: local-time triggers, history, retries, coalesced catch-up, `wattlens jobs`."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.ingest.simulator import SimClock
from wattlens.service.scheduler import (
    JobContext,
    JobRunner,
    SimTrigger,
    catch_up,
    scheduler,
    site_timezones,
    tasks,
    trigger,
    triggers,
)
from wattlens.service.settings import JobSchedule, JobsSection
from wattlens.store.duck import DuckDBStore
from wattlens.store.jobruns import job_history, record_run

UTC = dt.UTC
FAST = JobsSection(retries=2, retry_delay="10ms", retry_max_delay="20ms")


def _wait(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize(("now", "tz", "expected"), [
    ("2026-06-01T12:00Z", "Asia/Seoul", "2026-06-01T15:00Z"),  # KST = UTC+9, no DST
    ("2026-06-01T12:00Z", "Europe/London", "2026-06-01T23:00Z"),  # BST = UTC+1
    ("2026-01-10T12:00Z", "Europe/London", "2026-01-11T00:00Z"),  # GMT
])
def test_day_ahead_runs_at_local_midnight_of_each_site(now: str, tz: str, expected: str) -> None:
    planned = triggers(JobsSection(), ["Asia/Seoul", "Europe/London"])
    assert set(planned) == {"day-ahead@Asia/Seoul", "day-ahead@Europe/London", "intraday",
                            "detect", "recommend", "kpis@Asia/Seoul", "kpis@Europe/London"}
    fire = planned[f"day-ahead@{tz}"].get_next_fire_time(None, pd.Timestamp(now).to_pydatetime())
    assert pd.Timestamp(fire) == pd.Timestamp(expected)


def test_disabled_jobs_are_not_scheduled_and_bad_cron_is_refused() -> None:
    section = JobsSection(recommend=JobSchedule(enabled=False))
    assert "recommend" not in triggers(section, ["UTC"])
    with pytest.raises(ValueError, match="not a crontab line"):
        JobSchedule(cron="every monday")
    with pytest.raises(ValueError, match="exactly one of cron and every"):
        JobSchedule(cron="0 0 * * *", every="1h")
    with pytest.raises(ValueError, match="or enabled = false"):
        JobSchedule()


def test_failing_job_is_recorded_retried_and_does_not_stop_another(
        duck_store: DuckDBStore) -> None:
    runner = JobRunner(duck_store, FAST)

    def broken(start: pd.Timestamp) -> dict[str, int]:
        raise ConnectionError("store unreachable\nsecond line")

    last = runner.run("broken", broken)
    assert last["status"] == "failed" and last["attempt"] == 3
    assert last["error"] == "ConnectionError: store unreachable"
    assert runner.failures["broken"] == 3
    planned = {"broken": trigger(JobSchedule(every="50ms")),
               "good": trigger(JobSchedule(every="50ms"))}
    sched = scheduler(runner, planned, {"broken": broken, "good": lambda start: {"done": 1}})
    sched.start()
    try:
        _wait(lambda: len(job_history(duck_store, job="good")) >= 3)
    finally:
        runner.stop.set()
        sched.shutdown(wait=True)
    runs = job_history(duck_store)
    assert {r["status"] for r in runs if r["job"] == "good"} == {"ok"}
    assert {r["counts"]["done"] for r in runs if r["job"] == "good"} == {1}
    assert all(r["status"] == "failed" for r in runs if r["job"] == "broken")
    assert [r["start"] for r in runs] == sorted((r["start"] for r in runs), reverse=True)


def test_catch_up_after_downtime_runs_once(duck_store: DuckDBStore) -> None:
    now = pd.Timestamp.now(tz="UTC")
    every = trigger(JobSchedule(every="15min"))
    assert catch_up(every, None, now) is None  # no history: wait for the first slot
    assert catch_up(every, now - pd.Timedelta("5min"), now) is None  # no slot missed
    daily = trigger(JobSchedule(cron="0 0 * * *"), "Asia/Seoul")
    assert catch_up(daily, pd.Timestamp("2026-06-01T15:00:05Z"),
                    pd.Timestamp("2026-06-02T14:59Z")) is None
    late = pd.Timestamp("2026-06-02T15:01Z")
    assert catch_up(daily, pd.Timestamp("2026-06-01T15:00:05Z"), late) == late
    # down for 3 h: 12 slots of 15 min missed
    record_run(duck_store, "detect", now - pd.Timedelta("3h"), now - pd.Timedelta("3h"),
               counts={})
    calls: list[pd.Timestamp] = []
    runner = JobRunner(duck_store, FAST)
    sched = scheduler(runner, {"detect": every}, {"detect": lambda s: calls.append(s) or {}})
    sched.start()
    try:
        _wait(lambda: len(calls) >= 1)
        time.sleep(0.5)
    finally:
        sched.shutdown(wait=True)
    assert len(calls) == 1
    assert len(job_history(duck_store, job="detect")) == 2


def test_missed_slots_of_a_running_scheduler_are_coalesced(duck_store: DuckDBStore) -> None:
    calls: list[pd.Timestamp] = []
    runner = JobRunner(duck_store, FAST)
    sched = scheduler(runner, {"detect": trigger(JobSchedule(every="15min"))},
                      {"detect": lambda s: calls.append(s) or {}})
    sched.start(paused=True)
    try:  # four slots passed while the scheduler was busy or asleep
        past = dt.datetime.now(UTC) - dt.timedelta(minutes=45, seconds=1)
        sched.modify_job("detect", next_run_time=past)
        sched.resume()
        _wait(lambda: len(calls) >= 1)
        time.sleep(0.5)
    finally:
        sched.shutdown(wait=True)
    assert len(calls) == 1


def test_jobs_command_prints_history_newest_first(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("wattlens.toml").write_text('[store]\nkind = "duckdb"\npath = "w.duckdb"\n')
    cli = CliRunner()
    empty = cli.invoke(app, ["jobs"])
    assert empty.exit_code == 1
    assert "no job runs in the store yet" in empty.output
    store = DuckDBStore(tmp_path / "w.duckdb")
    store.init()
    t0 = pd.Timestamp("2026-06-01T00:00Z")
    record_run(store, "detect", t0, t0 + pd.Timedelta("2s"), counts={"events_found": 4})
    record_run(store, "recommend", t0 + pd.Timedelta("1h"), t0 + pd.Timedelta("1h"),
               counts={}, error="ValueError: no readings")
    store.close()
    shown = cli.invoke(app, ["jobs", "--limit", "5"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.index("recommend") < shown.output.index("detect")
    assert "events_found 4" in shown.output and "ValueError: no readings" in shown.output
    one = cli.invoke(app, ["jobs", "--limit", "1"])
    assert "recommend" in one.output and "detect" not in one.output


def test_jobs_forecast_per_site_timezone_detect_and_recommend(duck_store: DuckDBStore,
                                                               tmp_path: Path) -> None:
    now = pd.Timestamp("2026-06-02T00:00Z")
    times = pd.date_range(now - pd.Timedelta("21D"), now, freq="h", inclusive="left")
    frames = [pd.DataFrame({"time": times, "meter": meter, "quantity": "energy",
                            "value": 10.0 + (times.hour % 12), "quality": "ok"})
              for meter in ("seoul-m", "london-m")]
    duck_store.write_readings(pd.concat(frames, ignore_index=True))
    meters = {m: MeterInfo(id=m, calendar=SiteCalendar(timezone=tz))
              for m, tz in (("seoul-m", "Asia/Seoul"), ("london-m", "Europe/London"))}
    zones = site_timezones(meters)
    section = JobsSection(forecast_model="persistence-day")
    work = tasks(JobContext(duck_store, meters, tmp_path), section, zones)
    assert set(work) == set(triggers(section, zones))
    assert work["day-ahead@Asia/Seoul"](now) == {"forecasts_issued": 1, "forecasts_failed": 0}
    assert work["intraday"](now) == {"forecasts_issued": 2, "forecasts_failed": 0}
    assert set(duck_store.read_forecasts(["seoul-m"])["meter"]) == {"seoul-m"}
    assert work["detect"](now) == {"events_found": 0, "alerts_sent": 0, "alerts_failed": 0}
    assert set(work["recommend"](now)) == {"recommendations"}


def test_detect_job_alerts_once_within_the_cycle_and_kpis_run_daily(
        duck_store: DuckDBStore, tmp_path: Path) -> None:
    """Every minute the detect job sees the same late evening grow: one event, extended,
    alerted in the cycle that found it and never again; the KPI job stores yesterday."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from wattlens.analytics.alerts import AlertRule, AlertsSection
    from wattlens.analytics.jobs import KPI_KIND

    bodies: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        times = pd.date_range("2026-09-01T00:00Z", "2026-12-03T21:00Z", freq="h",
                              inclusive="left")
        local = times.tz_convert("Europe/London")
        working = (local.day_of_week < 5) & (local.hour >= 7) & (local.hour < 19)
        value = pd.Series(10.0, index=times).where(~working, 50.0)
        late = (times >= "2026-12-01T19:00Z") & (local.hour >= 19) & (local.hour < 23)
        value[late] += 40.0  # the evenings of this week run late
        duck_store.write_readings(pd.DataFrame({"time": times, "meter": "m1",
                                                "quantity": "energy", "value": value.values,
                                                "quality": "ok"}))
        meters = {"m1": MeterInfo(id="m1", commodity="electricity",
                                  calendar=SiteCalendar(timezone="Europe/London"))}
        alerts = AlertsSection(rules=[AlertRule(
            name="all", min_severity=0.0,
            webhook=f"http://127.0.0.1:{server.server_address[1]}/hook")])
        section = JobsSection(detect_window="3D")
        work = tasks(JobContext(duck_store, meters, tmp_path, alerts=alerts), section,
                     ["Europe/London"])
        first = work["detect"](pd.Timestamp("2026-12-03T21:00Z"))
        assert first["events_found"] == 1 and first["alerts_sent"] == 1
        event = duck_store.read_events()
        assert pd.Timestamp(event["start"].iloc[0]) == pd.Timestamp("2026-12-01T19:00Z")
        later = work["detect"](pd.Timestamp("2026-12-03T21:01Z"))
        assert later == {"events_found": 1, "alerts_sent": 0, "alerts_failed": 0}
        assert list(duck_store.read_events()["event_id"]) == list(event["event_id"])
        assert len(bodies) == 1 and bodies[0]["kind"] == "after-hours"
        assert work["kpis@Europe/London"](pd.Timestamp("2026-12-03T00:30Z")) == {"kpi_rows": 1}
        assert duck_store.get_document(KPI_KIND, "meter:m1:electricity/2026-12-02")
    finally:
        server.shutdown()
        server.server_close()


def test_the_simulated_clock_survives_a_restart_through_its_file(tmp_path: Path) -> None:
    clock = SimClock(pd.Timestamp("2026-02-02T06:00Z"), time.time() - 10.0, 3600.0)
    clock.save(tmp_path / "clock.json")
    again = SimClock.load(tmp_path / "clock.json")
    assert again == clock
    assert abs(again.now() - pd.Timestamp("2026-02-02T16:00Z")) < pd.Timedelta("1min")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        SimClock.load(tmp_path / "bad.json")


def test_a_simulated_trigger_fires_each_local_midnight_once_on_the_simulated_clock() -> None:
    clock = SimClock(pd.Timestamp("2026-02-02T20:00Z"), 1_800_000_000.0, 4321.0)
    trig = SimTrigger(trigger(JobSchedule(cron="0 0 * * *"), "Europe/London"), clock)
    now = dt.datetime.fromtimestamp(clock.origin_real, tz=UTC)
    fired: list[pd.Timestamp] = []
    previous = None
    for _ in range(3):
        previous = trig.get_next_fire_time(previous, now)
        assert previous is not None
        fired.append(clock.to_sim(previous.timestamp()))
        now = previous  # APScheduler asks again at the fire time
    midnights = pd.date_range("2026-02-03", periods=3, freq="D", tz="UTC")
    for at, midnight in zip(fired, midnights, strict=True):  # never read before its slot
        assert midnight <= at < midnight + pd.Timedelta("1s")


def test_an_unknown_detector_is_refused_when_the_config_loads():
    """A misspelt detector name fails at load with the known names, not at the first run."""
    with pytest.raises(ValueError, match=r"unknown detector\(s\) \['above_forecast'\].*"
                                         r"above-forecast"):
        JobsSection(detect_detectors=["above_forecast"])
    assert JobsSection(detect_detectors=["above-forecast"]).detect_detectors == ["above-forecast"]
