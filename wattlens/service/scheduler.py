"""The jobs role of ``wattlens run``: forecasts, anomaly detection + alerts, recommendations
and daily KPI roll-ups on APScheduler, each run recorded in the store's job-run history.

A missed run (the process was down or busy) runs once, never once per missed slot
(``coalesce``); a failing run is logged in one line, counted, recorded and retried with
exponential backoff, and never stops the other jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from wattlens.analytics.alerts import AlertsSection
from wattlens.analytics.carbon import CarbonSection
from wattlens.analytics.jobs import alert_job, detect_job, kpi_job, recommend_job
from wattlens.analytics.settings import AnalyticsSettings
from wattlens.analytics.tariffs import TariffsSection
from wattlens.core.meters import MeterInfo
from wattlens.forecasting.settings import ForecastingSettings
from wattlens.ingest.simulator import SimClock
from wattlens.service.settings import JobSchedule, JobsSection
from wattlens.store.base import Store, StoreError
from wattlens.store.jobruns import last_start, record_run

log = logging.getLogger(__name__)

Task = Callable[[pd.Timestamp], dict[str, int]]
"""One job: given its start time (UTC), do the work and return what it counted."""


@dataclass(frozen=True)
class JobContext:
    """The slices of the configuration the jobs use."""

    store: Store
    meters: dict[str, MeterInfo]
    data_dir: Path
    tariffs: TariffsSection = field(default_factory=TariffsSection)
    carbon: CarbonSection = field(default_factory=CarbonSection)
    alerts: AlertsSection = field(default_factory=AlertsSection)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    forecasting: ForecastingSettings = field(default_factory=ForecastingSettings)


def site_timezones(meters: Mapping[str, MeterInfo]) -> list[str]:
    """The timezones of the configured meters (``UTC`` when there are none)."""
    return sorted({info.timezone for info in meters.values()}) or ["UTC"]


def trigger(schedule: JobSchedule, timezone: str = "UTC", start: pd.Timestamp | None = None
            ) -> BaseTrigger:
    """The APScheduler trigger of ``schedule``; cron lines are read in ``timezone``; an
    interval's first slot is one interval after ``start`` (default: now on the wall clock)."""
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=timezone)
    first = None if start is None else (start + pd.Timedelta(seconds=schedule.seconds))
    return IntervalTrigger(seconds=schedule.seconds, timezone=timezone,
                           start_date=None if first is None else first.to_pydatetime())


def triggers(section: JobsSection, timezones: list[str], start: pd.Timestamp | None = None
             ) -> dict[str, BaseTrigger]:
    """Every enabled job's trigger by job name; day-ahead forecasts and KPI roll-ups once
    per timezone (``day-ahead@<timezone>``, ``kpis@<timezone>``); intervals count from
    ``start`` (see :func:`trigger`)."""
    out: dict[str, BaseTrigger] = {}
    for name, local in (("day-ahead", section.day_ahead), ("kpis", section.kpis)):
        if local.enabled:
            for tz in timezones:
                out[f"{name}@{tz}"] = trigger(local, tz)
    for name, schedule in (("intraday", section.intraday), ("detect", section.detect),
                           ("recommend", section.recommend)):
        if schedule.enabled:
            out[name] = trigger(schedule, start=start)
    return out


class SimTrigger(BaseTrigger):
    """``inner`` fired on a simulated ``clock``: ``inner`` computes its slots in simulated
    time, APScheduler waits for the wall-clock instants they map to. Slots are whole simulated
    seconds (cron lines are; intervals start on one, see :func:`scheduler`), so a fire time
    mapped back rounds to its slot exactly and never fires twice."""

    def __init__(self, inner: BaseTrigger, clock: SimClock) -> None:
        self.inner = inner
        self.clock = clock

    def __str__(self) -> str:
        return f"{self.inner} at {self.clock.speed:g}x"

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime
                           ) -> datetime | None:
        previous = None if previous_fire_time is None else (
            self.clock.to_sim(previous_fire_time.timestamp()).round("1s").to_pydatetime())
        slot = self.inner.get_next_fire_time(
            previous, self.clock.to_sim(now.timestamp()).to_pydatetime())
        if slot is None:
            return None
        return real_time(self.clock, pd.Timestamp(slot))


def real_time(clock: SimClock, sim: pd.Timestamp) -> datetime:
    """The wall-clock instant of simulated ``sim``, a few microseconds late so that the
    simulated time read then is never before ``sim`` (a job started at a midnight slot reads
    midnight, not 23:59:59.999)."""
    return datetime.fromtimestamp(clock.to_real(sim) + 2e-6, tz=UTC)


def _forecast(ctx: JobContext, section: JobsSection, meters: list[str], start: pd.Timestamp,
              horizon_hours: int) -> dict[str, int]:
    """Issue ``section.forecast_model`` for ``meters`` at ``start`` (to the hour)."""
    if not meters:
        return {"forecasts_issued": 0, "forecasts_failed": 0}
    # Prophet and Dask load only when a forecast job runs (the other roles stay light)
    from wattlens.forecasting.jobs import RunSpec, run_forecasts
    from wattlens.forecasting.runner import dask_client

    spec = RunSpec(section.forecast_model, start.floor("h"), horizon_hours=horizon_hours,
                   guard=ctx.forecasting.guard)
    with dask_client(workers=1, processes=False) as client:
        statuses = run_forecasts(ctx.meters, ctx.data_dir, ctx.store, spec, client, meters)
    issued = sum(s["status"] == "issued" for s in statuses.values())
    if issued == 0:
        reasons = "; ".join(f"{m}: {s.get('reason', '')}" for m, s in statuses.items())
        raise RuntimeError(f"no forecast issued for {len(statuses)} meters ({reasons[:300]})")
    return {"forecasts_issued": issued, "forecasts_failed": len(statuses) - issued}


def tasks(ctx: JobContext, section: JobsSection, timezones: list[str]) -> dict[str, Task]:
    """Every job's work by job name (the names of :func:`triggers`). Forecast jobs run one at
    a time (at midnight the day-ahead and intraday jobs would refit the same saved models)."""
    forecasting = threading.Lock()

    def day_ahead(tz: str) -> Task:
        def run(start: pd.Timestamp) -> dict[str, int]:
            ids = [m for m in ctx.store.meters("energy")
                   if ctx.meters.get(m, MeterInfo(id=m)).timezone == tz]
            with forecasting:
                return _forecast(ctx, section, ids, start, section.day_ahead_hours)
        return run

    def intraday(start: pd.Timestamp) -> dict[str, int]:
        with forecasting:
            return _forecast(ctx, section, ctx.store.meters("energy"), start,
                             section.intraday_hours)

    def detect(start: pd.Timestamp) -> dict[str, int]:
        since = start - pd.Timedelta(section.detect_window)
        found = detect_job(ctx.store, ctx.meters, since, start, tariffs=ctx.tariffs,
                           carbon=ctx.carbon, settings=ctx.analytics.anomalies,
                           history_days=section.detect_history_days,
                           detectors=section.detect_detectors or None)
        # the events this run wrote or extended: alerted now, within the same cycle
        report = alert_job(ctx.store, ctx.alerts, since, start)
        return {"events_found": len(found.events), "alerts_sent": len(report.sent),
                "alerts_failed": len(report.failed)}

    def recommend(start: pd.Timestamp) -> dict[str, int]:
        recs, _warnings = recommend_job(ctx.store, ctx.meters, end=start, tariffs=ctx.tariffs,
                                        carbon=ctx.carbon,
                                        settings=ctx.analytics.recommendations)
        return {"recommendations": len(recs)}

    def daily_kpis(tz: str) -> Task:
        def run(start: pd.Timestamp) -> dict[str, int]:
            yesterday = start.tz_convert(tz).normalize() - pd.DateOffset(days=1)
            return {"kpi_rows": kpi_job(ctx.store, ctx.meters, yesterday.date(), tz,
                                        tariffs=ctx.tariffs, carbon=ctx.carbon)}
        return run

    out: dict[str, Task] = {f"day-ahead@{tz}": day_ahead(tz) for tz in timezones}
    out.update({f"kpis@{tz}": daily_kpis(tz) for tz in timezones})
    out.update(intraday=intraday, detect=detect, recommend=recommend)
    return out


def utc_now() -> pd.Timestamp:
    """The current time (UTC)."""
    return pd.Timestamp.now(tz="UTC")


@dataclass
class JobRunner:
    """Runs one job: records each attempt in the history, retries a failure after
    ``retry_delay`` doubling up to ``retry_max_delay``, ``retries`` times at most. ``stop``
    ends the waits between retries."""

    store: Store
    section: JobsSection
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], pd.Timestamp] = utc_now
    failures: Counter[str] = field(default_factory=Counter)

    def delay(self, attempt: int) -> float:
        """Wait [s] after failed ``attempt`` (1-based)."""
        first = pd.Timedelta(self.section.retry_delay).total_seconds()
        return min(first * 2 ** (attempt - 1),
                   pd.Timedelta(self.section.retry_max_delay).total_seconds())

    def _record(self, name: str, start: pd.Timestamp, **run: Any) -> dict[str, Any]:
        """Record a run in the history; when the store is down (the job most likely failed
        on it too), say so in one line and return the record unwritten."""
        try:
            return record_run(self.store, name, start, self.clock(), **run)
        except StoreError as exc:
            log.warning("job %s: run not recorded, the store is unavailable (%s)", name,
                        str(exc).splitlines()[0])
            return {"job": name, "start": start.isoformat(), "end": self.clock().isoformat(),
                    "status": "failed" if run.get("error") else "ok", **run}

    def run(self, name: str, task: Task) -> dict[str, object]:
        """Run ``task`` until it succeeds or its retries are spent; returns the last record."""
        attempt = 1
        while True:
            start, began = self.clock(), time.monotonic()
            try:
                counts = task(start)
            except Exception as exc:  # a job's failure never stops the others
                error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self.failures[name] += 1
                record = self._record(name, start, counts={}, error=error, attempt=attempt)
                retry = attempt <= self.section.retries
                log.warning("job %s failed (attempt %d%s): %s", name, attempt,
                            f", retry in {self.delay(attempt):g} s" if retry else ", giving up",
                            error)
                if not retry or self.stop.wait(self.delay(attempt)):
                    return record
                attempt += 1
                continue
            record = self._record(name, start, counts=counts, attempt=attempt)
            summary = ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing to do"
            log.info("job %s ok in %.1f s: %s", name, time.monotonic() - began, summary)
            return record


def catch_up(trigger: BaseTrigger, last: pd.Timestamp | None, now: pd.Timestamp
             ) -> pd.Timestamp | None:
    """``now`` when a slot of ``trigger`` passed since the ``last`` recorded run (the
    service was down then: run once now), else None (wait for the next slot)."""
    if last is None:
        return None
    if isinstance(trigger, IntervalTrigger):  # its slots count from when it was made
        return now if last + trigger.interval <= now else None
    missed = trigger.get_next_fire_time(None, last.to_pydatetime() + pd.Timedelta("1s"))
    return now if missed is not None and pd.Timestamp(missed) <= now else None


def scheduler(runner: JobRunner, planned: Mapping[str, BaseTrigger],
              work: Mapping[str, Task], clock: SimClock | None = None) -> BackgroundScheduler:
    """A (not started) scheduler of the ``planned`` jobs; a job that missed a slot while the
    service was down (per the store's history) runs once at start. With a simulated
    ``clock`` (the runner's clock must be its ``now``) the triggers fire on it."""
    grace = int(pd.Timedelta(runner.section.misfire_grace).total_seconds())
    sched = BackgroundScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "misfire_grace_time": grace, "max_instances": 1})
    now = runner.clock()
    for name, trig in planned.items():
        first = catch_up(trig, last_start(runner.store, name), now)
        when: dict[str, datetime] = {}
        if first is not None:
            when["next_run_time"] = (first.to_pydatetime() if clock is None
                                     else real_time(clock, first))
        sched.add_job(runner.run, trig if clock is None else SimTrigger(trig, clock),
                      args=[name, work[name]], id=name, name=name, **when)
    return sched
