"""``wattlens run``: the live loop as one always-on process — ingest, scheduled jobs and the
dashboard with the HTTP API, each a supervised role (see :mod:`wattlens.service`)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import pandas as pd
import typer

from wattlens.cli.common import ConfigOption, fail, get_config, get_store
from wattlens.cli.ingest import build_sources
from wattlens.config import Config
from wattlens.dashboard.config import bind_host
from wattlens.ingest.simulator import SimClock
from wattlens.ingest.worker import BUFFER_DIR, Worker
from wattlens.service.api.app import create_api
from wattlens.service.api.auth import Tokens
from wattlens.service.api.serve import beside, close_unix_server, local, unix_server
from wattlens.service.metrics import ServiceCollector, ServiceMetrics
from wattlens.service.scheduler import (
    JobContext,
    JobRunner,
    scheduler,
    site_timezones,
    tasks,
    triggers,
    utc_now,
)
from wattlens.service.supervisor import Role, Supervisor
from wattlens.store.base import Store, StoreError, StoreUnavailable
from wattlens.store.remote import service_socket

log = logging.getLogger("wattlens.run")

ROLES = ("ingest", "jobs", "web")
STOP_SECONDS = 8.0
"""How long the roles get to flush and return after SIGTERM/SIGINT [s] (exit within 10 s)."""


def ingest_role(cfg: Config, store: Store, buffer_bytes: int) -> Role:
    """Every enabled ``[[sources]]`` through the ingest worker; flushes on stop."""
    pairs = build_sources(cfg, [s for s in cfg.sources if s.enabled])

    def run(stop: threading.Event) -> None:
        worker = Worker(store, pairs, cfg.data_dir, buffer_bytes)
        worker.stop = stop
        worker.run()
    return run


def jobs_role(cfg: Config, store: Store, clock: SimClock | None = None) -> Role:
    """The ``[jobs]`` schedule: forecasts, detection + alerts, recommendations; on the
    simulated ``clock`` (the demo's, the soak test's) when given, else on the wall clock:
    slots are its times and each run starts at its ``now()``."""
    meters = cfg.meter_infos()
    zones = site_timezones(meters)
    ctx = JobContext(store, meters, cfg.data_dir, cfg.tariffs, cfg.carbon, cfg.alerts,
                     cfg.analytics, cfg.forecasting)
    now = utc_now if clock is None else clock.now

    def run(stop: threading.Event) -> None:
        start = None if clock is None else clock.now().ceil("1s")  # slots on whole seconds
        sched = scheduler(JobRunner(store, cfg.jobs, stop, now),
                          triggers(cfg.jobs, zones, start), tasks(ctx, cfg.jobs, zones), clock)
        sched.start()
        for job in sched.get_jobs():
            when = pd.Timestamp(job.next_run_time)
            log.info("job %s: next run %s", job.id, (
                when if clock is None else clock.to_sim(when.timestamp())).isoformat())
        try:
            stop.wait()
        finally:
            sched.shutdown(wait=True)  # a running job ends before the store closes
    return run


def web_role(cfg: Config, store: Store, metrics: ServiceMetrics,
             supervisor: Callable[[], Supervisor]) -> Role:
    """The dashboard and the HTTP API on ``[dashboard]`` host:port; on DuckDB also the API
    alone on the Unix socket beside the file, for the CLI on this machine."""
    catalogue = cfg.meter_infos()
    try:
        tokens = Tokens(cfg.api.tokens, catalogue)
    except ValueError as exc:
        raise fail(str(exc)) from None
    sock = service_socket(cfg.store.path) if cfg.store.kind == "duckdb" else None

    def run(stop: threading.Event) -> None:
        # Dash loads only when the web role runs
        from werkzeug.serving import make_server

        from wattlens.dashboard.app import create_app

        api = create_api(store, catalogue, tokens, metrics, supervisor(), cfg.analytics.savings)
        commands = None
        if sock is not None:
            try:
                commands = unix_server(sock, local(api.wsgi_app))
            except (OSError, RuntimeError, ValueError) as exc:
                log.error("no API for local commands on %s (%s): they cannot open the store "
                          "while this service runs", sock, exc)
            else:
                threading.Thread(target=commands.serve_forever, name="web-socket",
                                 daemon=True).start()
        # the socket first: once /healthz answers, local commands find the service too
        try:
            server = make_server(cfg.dashboard.host, cfg.dashboard.port,
                                 beside(api.wsgi_app, create_app(cfg, store).server),
                                 threaded=True)
            threading.Thread(target=server.serve_forever, name="web-server",
                             daemon=True).start()
            log.info("dashboard on http://%s:%d, API under /api/v1%s", cfg.dashboard.host,
                     cfg.dashboard.port, f", for local commands on {sock}" if commands else "")
            try:
                stop.wait()
            finally:
                server.shutdown()
        finally:
            if commands is not None and sock is not None:
                close_unix_server(commands, sock)
    return run


def enabled_roles(cfg: Config) -> list[str]:
    """The roles the config enables: ingest with an enabled source, jobs with an enabled job,
    web always."""
    jobs = cfg.jobs
    return [name for name, on in (
        ("ingest", any(s.enabled for s in cfg.sources)),
        ("jobs", any(s.enabled for s in (jobs.day_ahead, jobs.intraday, jobs.detect,
                                         jobs.recommend))),
        ("web", True)) if on]


def run_command(
    config: ConfigOption = None,
    role: Annotated[str | None, typer.Option(
        help=f"Comma-separated roles to run, of {', '.join(ROLES)} (default: those the config "
             f"enables).")] = None,
    buffer_mb: Annotated[float, typer.Option(
        help="Bound of the ingest buffer on disk while the store is down [MB].")] = 256.0,
    sim_clock: Annotated[Path | None, typer.Option(
        help="Run the jobs on a simulated clock (JSON: origin, origin_real [Unix s], speed) "
             "shared with simulated meters, e.g. the soak test's; default: the wall clock.")
    ] = None,
) -> None:
    """Run the live loop in one process until SIGTERM/Ctrl-C: ingest every enabled source,
    run the [jobs] schedule, serve the dashboard. A role that crashes is restarted."""
    cfg = get_config(config)
    names = [r.strip() for r in role.split(",") if r.strip()] if role else enabled_roles(cfg)
    unknown = sorted(set(names) - set(ROLES))
    if unknown or not names:
        raise fail(f"--role {role!r}: unknown roles {unknown}; choose from {', '.join(ROLES)}")
    if "ingest" in names and not any(s.enabled for s in cfg.sources):
        raise fail("role ingest: no enabled sources in the config; add a sources table or "
                   "drop ingest from --role")
    try:
        if "web" in names:
            bind_host(cfg.dashboard)
        clock = None if sim_clock is None else SimClock.load(sim_clock)
    except ValueError as exc:
        raise fail(str(exc)) from None
    serve(cfg, names, int(buffer_mb * 2**20), clock)


def serve(cfg: Config, names: list[str], buffer_bytes: int = 256 * 2**20,
          clock: SimClock | None = None) -> NoReturn:
    """Run the roles ``names`` of ``cfg`` until SIGTERM/SIGINT (jobs on the simulated
    ``clock`` when given), then end the process."""
    metrics = ServiceMetrics()
    store = metrics.timed(get_store(cfg, local=True))
    try:
        store.init()
    except StoreUnavailable as exc:
        log.warning("store unavailable at start (%s); ingest buffers, jobs retry", exc)
    except StoreError as exc:
        store.close()
        raise fail(str(exc)) from None
    builders = {"ingest": lambda: ingest_role(cfg, store, buffer_bytes),
                "jobs": lambda: jobs_role(cfg, store, clock),
                "web": lambda: web_role(cfg, store, metrics, lambda: supervisor)}
    stop = threading.Event()
    supervisor = Supervisor({name: builders[name]() for name in names}, stop)
    metrics.watch(ServiceCollector(store, Path(cfg.data_dir) / BUFFER_DIR,
                                   buffer_bytes if "ingest" in names else None, supervisor))

    def on_signal(signum: int, frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("wattlens run: roles %s", ", ".join(names))
    supervisor.start()
    try:
        while not stop.wait(0.5):
            pass
        deadline = time.monotonic() + STOP_SECONDS
        late = supervisor.join(STOP_SECONDS)
        late += _busy_threads(deadline)
    finally:
        store.close()
    if late:
        # a job run cut short leaves no job-run document, so the next start catches it up
        log.warning("%s did not stop in %g s; exiting without them", ", ".join(late),
                    STOP_SECONDS)
    else:
        log.info("wattlens run: stopped")
    _exit()


def _exit() -> NoReturn:
    """End the process now. The roles have stopped, the store is closed; what is left are
    libraries' exit hooks (Dask's, after a forecast run), which the soak test saw hold the
    exit past the 10 s promised after SIGTERM."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _busy_threads(deadline: float) -> list[str]:
    """Threads that would hold the exit (a job still running) after waiting until
    ``deadline`` (time.monotonic) for them."""
    others = [t for t in threading.enumerate()
              if not t.daemon and t is not threading.current_thread()]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in others if t.is_alive()]
