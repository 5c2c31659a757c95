"""The demo job: the whole wattlens loop on the shipped sample with the embedded store.

1. load the sample history (Cambridge b2/b97/b119, 2018 up to the replay start) and weather;
2. issue day-ahead forecasts (Prophet and previous-week persistence) as of the replay start;
3. detect anomalies over the month before it and rank recommendations over the year before;
4. replay the next hours of the sample as live Modbus TCP meters (the simulator) and ingest
   them with the worker while the dashboard serves http://127.0.0.1:8050.

DuckDB lets one process write a file, so the worker and the dashboard share one store in this
process; the simulated meters run in background threads.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import pandas as pd
from rich.console import Console
from rich.table import Table

from wattlens.analytics.jobs import detect_job, recommend_job
from wattlens.config import Config
from wattlens.ingest.base import SourceSection, build_source
from wattlens.ingest.worker import Worker
from wattlens.sample import TIMEZONE, load_sample
from wattlens.store.base import Store

REPLAY_START = pd.Timestamp("2019-12-02", tz=TIMEZONE)  # a Monday
"""Where the sample's history ends and the live replay begins (site-local midnight)."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo does: replay ``hours`` sample hours at ``speed`` simulated seconds per
    real second; ``serve`` the dashboard on ``host``:``port`` (else stop after the jobs)."""

    replay_start: pd.Timestamp = REPLAY_START
    hours: int = 48
    speed: float = 240.0
    serve: bool = True
    host: str = "127.0.0.1"
    port: int = 8050


def load_history(store: Store, console: Console, until: pd.Timestamp) -> pd.DataFrame:
    """Provision ``store``, write the sample up to ``until`` (weather in full) and print a
    summary table of what the store holds. Returns the sample's energy readings, those
    after ``until`` too (the live replay's)."""
    started = time.perf_counter()
    console.print(store.init())
    readings = load_sample()
    history = readings[(readings["quantity"] != "energy") | (readings["time"] < until)]
    written = store.write_readings(history)
    seconds = time.perf_counter() - started
    table = Table(title=f"wattlens sample in {store!r}")
    for column in ("meter", "quantity", "readings", "first (UTC)", "last (UTC)", "total"):
        table.add_column(column, justify="right" if column in ("readings", "total") else "left")
    stored = store.read_readings(quantity=None)
    for (meter, quantity), group in stored.groupby(["meter", "quantity"], sort=True):
        total = f"{group['value'].sum():,.0f} kWh" if quantity == "energy" else "-"
        table.add_row(
            meter, quantity, f"{len(group):,}", f"{group['time'].min():%Y-%m-%d %H:%M}",
            f"{group['time'].max():%Y-%m-%d %H:%M}", total,
        )
    console.print(table)
    console.print(
        f"loaded {written:,} readings of {stored['meter'].nunique()} meters in {seconds:.1f} s"
    )
    return readings[readings["quantity"] == "energy"]


def run_jobs(store: Store, config: Config, console: Console, plan: DemoPlan) -> None:
    """Forecasts as of the replay start, anomalies of the month before, recommendations."""
    # Prophet and Dask load only when the demo runs (``wattlens --help`` stays fast)
    from wattlens.forecasting.jobs import RunSpec, run_forecasts
    from wattlens.forecasting.runner import dask_client

    logging.getLogger("distributed").setLevel(logging.WARNING)  # set on import by dask
    issued_at = plan.replay_start.tz_convert("UTC")
    with dask_client(workers=2, processes=False) as client:
        for model in ("prophet", "persistence-week"):
            spec = RunSpec(model, issued_at, horizon_hours=plan.hours, history_days=365)
            statuses = run_forecasts(config.meter_infos(), config.data_dir, store, spec, client)
            issued = sum(s["status"] == "issued" for s in statuses.values())
            console.print(f"forecasts: {model} issued for {issued}/{len(statuses)} meters "
                          f"at {issued_at:%Y-%m-%d %H:%M} UTC, {plan.hours} h ahead")
    meters = config.meter_infos()
    detected = detect_job(store, meters, issued_at - pd.Timedelta(days=30), issued_at,
                          tariffs=config.tariffs, settings=config.analytics.anomalies)
    console.print(f"anomalies: {len(detected.events)} events in the 30 days before the replay")
    recs, _warnings = recommend_job(store, meters, end=issued_at, tariffs=config.tariffs,
                                    carbon=config.carbon,
                                    settings=config.analytics.recommendations)
    console.print(f"recommendations: {len(recs)} ranked by annual value")
    for rec in recs[:3]:
        console.print(f"  {rec.meter}: {rec.title}", highlight=False)


def serve_live(
    store: Store, config: Config, console: Console, plan: DemoPlan, energy: pd.DataFrame
) -> None:
    """Replay the sample's ``energy`` readings as live Modbus meters, ingest them, and serve
    the dashboard until Ctrl-C."""
    # Dash and pymodbus load only when the demo serves (``wattlens --help`` stays fast)
    from wattlens.dashboard.app import create_app
    from wattlens.ingest.simulator import Simulation

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    simulation = Simulation(energy, start=plan.replay_start.tz_convert("UTC"),
                            hours=plan.hours, speed=plan.speed)
    simulation.start_serving()
    sections = [SourceSection.model_validate(t) for t in simulation.sources(interval="1s")]
    context = config.ingest_context()
    worker = Worker(store, [(s, build_source(s, context)) for s in sections], config.data_dir)
    ingest = threading.Thread(target=worker.run, name="ingest", daemon=True)
    ingest.start()
    console.print(
        f"live: {len(simulation.plays)} simulated Modbus TCP meters replay "
        f"{plan.hours} h from {plan.replay_start:%Y-%m-%d %H:%M %Z} at {plan.speed:g}x "
        f"(one hour every {3600 / plan.speed:g} s); the ingest worker polls them every second"
    )
    console.print(f"dashboard: http://{plan.host}:{plan.port}  (Ctrl-C stops the demo)")
    try:
        create_app(config, store).run(host=plan.host, port=plan.port, debug=False)
    finally:
        worker.stop.set()
        ingest.join(timeout=30)
        simulation.stop()


def run_demo(store: Store, config: Config, console: Console, plan: DemoPlan) -> None:
    """The whole loop (see the module docstring)."""
    energy = load_history(store, console, plan.replay_start.tz_convert("UTC"))
    run_jobs(store, config, console, plan)
    if plan.serve:
        serve_live(store, config, console, plan, energy)
