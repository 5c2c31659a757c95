"""``wattlens demo``: the live loop happening now, on the shipped sample.

1. The sample (Cambridge b2/b97/b119, hourly, 2018-2019) is shifted by whole weeks so that its
   history ends now at the same time of year (weekday and hour of day stay true, site
   timezone Europe/London kept) and written to a fresh embedded store in ``data_dir``; today
   so far at the live resolution (one reading a minute), older days hourly.
2. Day-ahead forecasts are issued at the current hour and recommendations ranked (both as
   runs in the job history); anomalies of the 30 days before are detected.
3. Simulated Modbus TCP meters (:class:`wattlens.ingest.simulator.LiveSimulation`) go on
   reading now, looping over the sample forever, ``speed`` times as fast as the wall clock;
   a labelled fault (a plant left on: a step up of one meter's load) starts ``fault_after``
   into the demo.
4. ``wattlens run`` serves it (:func:`wattlens.cli.run.serve`, in this process): ingest polls
   the meters every 10 s, the jobs run on the demo's clock (detection every simulated minute)
   and the dashboard serves the Live, Alerts and Jobs pages.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from wattlens.analytics.jobs import detect_job
from wattlens.config import Config, parse_config
from wattlens.forecasting.models import model_names
from wattlens.ingest.simulator import LiveSimulation, LoadStep, toml_document
from wattlens.sample import TIMEZONE, load_sample
from wattlens.service.scheduler import JobContext, JobRunner, site_timezones, tasks
from wattlens.store import open_store
from wattlens.store.base import Store

WEEK = pd.Timedelta("7D")
LOOP_START = pd.Timestamp("2018-01-01", tz="UTC")
"""The sample's first hour, a Monday: where each loop over the sample starts."""
LOOP_WEEKS = 104
"""Whole weeks of the sample played per loop (2018-01-01 to 2019-12-30)."""
READING_INTERVAL = "1min"
"""Energy interval of the live readings (the sample's hours spread evenly)."""
POLL_SECONDS = 10.0
"""How often ingest polls the simulated meters [s of the demo's clock]."""
MIN_DETECT_SECONDS = 10.0
"""Shortest real time between detection runs when the clock runs fast (a run takes seconds)."""
MARKER = ".wattlens-demo"
"""File marking a data directory as the demo's own (wiped at each start)."""
DETECTOR_SETTINGS: dict[str, Any] = {"above_forecast": {"sustain": "2min"}}
"""``[analytics.anomalies]`` of the demo: the live above-forecast detector reports a run of
readings above the issued band once it lasted ``sustain``. Written into the demo's config only
when that detector is installed (:func:`demo_config`)."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo does: where its state lives, how fast its clock runs, the fault, the
    forecast model, and where the dashboard serves (``serve`` False: stop after step 2)."""

    data_dir: Path = Path("data/demo")
    speed: float = 1.0
    fault_after: str = "90s"
    fault_for: str = "2h"
    fault_meter: str = "b2-elec"
    forecast_model: str = "prophet"
    serve: bool = True
    host: str = "127.0.0.1"
    port: int = 8050

    def __post_init__(self) -> None:
        for option, value in (("--fault-after", self.fault_after),
                              ("--fault-for", self.fault_for)):
            try:
                pd.Timedelta(value)
            except ValueError:
                raise ValueError(f"{option} {value!r} is not a duration; write one such as "
                                 f"2min, 90s or 2h") from None
        if self.forecast_model not in model_names():
            raise ValueError(f"--forecast-model {self.forecast_model!r} is not a model; choose "
                             f"one of {', '.join(model_names())}")


def sample_shift(now: pd.Timestamp) -> pd.Timedelta:
    """Whole weeks that move the sample to ``now``: sample time ``now - shift`` falls at
    about the same time of year as ``now``, in the sample's last year."""
    loop_end = LOOP_START + LOOP_WEEKS * WEEK
    same_day = now - pd.DateOffset(years=now.year - (loop_end - WEEK).year)
    shift = round((now - same_day) / WEEK) * WEEK
    while now - shift >= loop_end:
        shift += WEEK
    return shift


def prepare_dir(data_dir: Path) -> None:
    """A fresh, empty ``data_dir`` marked as the demo's; refuses a directory that is not."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise ValueError(f"--data-dir {data_dir} holds files the demo did not write; "
                             f"choose an empty or new directory")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("wiped and rebuilt by each `wattlens demo`\n")


def demo_config(base: dict[str, Any], plan: DemoPlan, sources: list[dict[str, Any]]
                ) -> dict[str, Any]:
    """The demo's configuration: ``base`` (sites, tariffs, carbon of the sample) with the
    demo's store, live sources, dashboard address and jobs. The jobs run on the demo's clock
    (their intervals are simulated time): detection every simulated minute (every 10 s of
    wall time at most when it runs fast), the intraday refresh every simulated hour (every
    minute of wall time at most)."""
    anomalies = base.get("analytics", {}).get("anomalies", {})
    anomalies = {**anomalies, **DETECTOR_SETTINGS}
    return {
        **base,
        "data_dir": str(plan.data_dir),
        "store": {"kind": "duckdb", "path": str(plan.data_dir / "wattlens.duckdb")},
        "sources": sources,
        "dashboard": {**base.get("dashboard", {}), "host": plan.host, "port": plan.port},
        "analytics": {**base.get("analytics", {}), "anomalies": anomalies},
        "jobs": {**base.get("jobs", {}),
                 "forecast_model": plan.forecast_model,
                 "detect": {"every": f"{max(60.0, MIN_DETECT_SECONDS * plan.speed):g}s"},
                 "intraday": {"every": f"{max(3600.0, 60.0 * plan.speed):g}s"}},
    }


def load_history(store: Store, shift: pd.Timedelta, now: pd.Timestamp) -> int:
    """Write the sample shifted by ``shift``: energy before the hour of ``now``, weather up
    to 3 days after it (as if forecast). Returns the readings written."""
    sample = load_sample()
    loop_end = LOOP_START + LOOP_WEEKS * WEEK
    sample = sample[(sample["time"] >= LOOP_START) & (sample["time"] < loop_end)]
    sample = sample.assign(time=sample["time"] + shift)
    energy = sample["quantity"] == "energy"
    keep = (energy & (sample["time"] < now.floor("h"))) | (
        ~energy & (sample["time"] < now + pd.Timedelta("3D")))
    return store.write_readings(sample[keep])


def initial_jobs(store: Store, config: Config, clock: Any, console: Console) -> None:
    """Day-ahead forecasts now and recommendations (runs in the job history), then the
    anomalies of the 30 days before now."""
    meters = config.meter_infos()
    zones = site_timezones(meters)
    ctx = JobContext(store, meters, config.data_dir, config.tariffs, config.carbon,
                     config.alerts, config.analytics, config.forecasting)
    work = tasks(ctx, config.jobs, zones)
    runner = JobRunner(store, config.jobs.model_copy(update={"retries": 0}), clock=clock)
    for name in [f"day-ahead@{tz}" for tz in zones] + ["recommend"]:
        runner.run(name, work[name])  # logs its one line
    now = clock()
    found = detect_job(store, meters, now - pd.Timedelta("30D"), now, tariffs=config.tariffs,
                       settings=config.analytics.anomalies)
    console.print(f"  anomalies: {len(found.events)} events in the 30 days before now")


def fault(plan: DemoPlan, sim_start: pd.Timestamp) -> LoadStep:
    """The labelled fault: a plant left on, adding half the meter's mean load [kW]."""
    sample = load_sample()
    mean_kw = float(sample.loc[sample["meter"] == plan.fault_meter, "value"].mean())
    return LoadStep("plant left on", plan.fault_meter,
                    sim_start + pd.Timedelta(plan.fault_after), pd.Timedelta(plan.fault_for),
                    round(mean_kw / 2))


@dataclass
class Demo:
    """A prepared demo: its configuration and its (not yet serving) simulated meters."""

    config: Config
    simulation: LiveSimulation


def prepare(plan: DemoPlan, base_config: Path, console: Console) -> Demo:
    """Steps 1-2 of the module docstring and the simulated meters of step 3; writes the
    configuration to ``data_dir/wattlens.toml``."""
    prepare_dir(plan.data_dir)
    base = tomllib.loads(base_config.read_text(encoding="utf-8"))
    now = pd.Timestamp.now(tz="UTC")
    shift = sample_shift(now)
    console.print(
        f"wattlens demo: the Cambridge sample (3 buildings, hourly 2018-2019) moved "
        f"{shift.days // 7} weeks on, so its history ends now "
        f"({now.tz_convert(TIMEZONE):%a %d %b %Y %H:%M %Z})", highlight=False)
    config = parse_config(demo_config(base, plan, []), "the demo's configuration")
    store = open_store(config.store)
    try:
        store.init()
        written = load_history(store, shift, now)
        console.print(f"  {written:,} readings written to {config.store.path}", highlight=False)
        initial_jobs(store, config, lambda: pd.Timestamp.now(tz="UTC"), console)
        origin = pd.Timestamp.now(tz="UTC")
        step = fault(plan, origin)
        sim = LiveSimulation(load_sample(), origin=origin, shift=shift, loop_start=LOOP_START,
                             weeks=LOOP_WEEKS, speed=plan.speed, steps=(step,))
        day_start = origin.tz_convert(TIMEZONE).normalize().tz_convert("UTC")
        store.write_readings(sim.intervals(day_start, origin.floor(READING_INTERVAL),
                                           READING_INTERVAL))
        store.put_document("demo-fault", step.label, step.to_dict())
    finally:
        store.close()
    poll = f"{max(0.1, POLL_SECONDS / plan.speed):g}s"
    data = demo_config(base, plan, sim.sources(poll, reading_interval=READING_INTERVAL))
    (plan.data_dir / "wattlens.toml").write_text(
        "# written by `wattlens demo` (rebuilt at each start)\n" + toml_document(data),
        encoding="utf-8")
    return Demo(parse_config(data, "the demo's configuration"), sim)


def announce(demo: Demo, plan: DemoPlan, console: Console) -> None:
    """What happens next and what to open, in a few lines."""
    sim, (step,) = demo.simulation, demo.simulation.steps
    tz = TIMEZONE
    pace = "in real time" if plan.speed == 1 else f"{plan.speed:g}x as fast as the wall clock"
    console.print(
        f"live: {len(sim.plays)} simulated Modbus TCP meters read now {pace}, looping over the "
        f"sample; ingest polls them every {POLL_SECONDS:g} s of that clock (a reading a minute)",
        highlight=False)
    console.print(
        f"fault: \"{step.label}\" on {step.meter}, +{step.kw:g} kW from "
        f"{step.start.tz_convert(tz):%Y-%m-%d %H:%M} to {step.end.tz_convert(tz):%H:%M %Z}; "
        f"anomaly detection runs every simulated minute", highlight=False)
    console.print(
        f"open http://{plan.host}:{plan.port}  (Live, Alerts and Jobs pages) · Ctrl-C stops "
        f"the demo · config {plan.data_dir / 'wattlens.toml'}", highlight=False)
