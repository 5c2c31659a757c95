"""The ``wattlens`` command line. Every command has ``--help``.

The commands of each part live beside this module (``anomalies``, ``forecast``, ``ingest``,
``savings``, ``dashboard``); :mod:`wattlens.cli.common` has what they share.

The configuration is loaded once here, at the entry point, and passed down; commands that work
on plain files (``forecast backtest``, ``savings``, ...) need no config and no store.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wattlens.cli.anomalies import anomalies_app, recommend_command
from wattlens.cli.common import (
    EXAMPLE_CONFIG,
    ConfigOption,
    console,
    fail,
    get_config,
    get_store,
)
from wattlens.cli.dashboard import dashboard as dashboard_command
from wattlens.cli.forecast import forecast_app
from wattlens.cli.ingest import ingest_app, simulate_command
from wattlens.cli.jobs import jobs_command
from wattlens.cli.mv import mv_app
from wattlens.cli.run import ROLES, run_command
from wattlens.cli.run import serve as run_service
from wattlens.cli.savings import savings as savings_command
from wattlens.config import ConfigError
from wattlens.demo import DemoPlan, announce, prepare
from wattlens.store.base import StoreError
from wattlens.store.csvio import read_readings_csv, write_readings_csv
from wattlens.store.schema import ContractError

app = typer.Typer(
    help="wattlens: energy-efficiency analytics — meters in; forecasts, savings, dashboard out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
store_app = typer.Typer(help="Provision and inspect the store.", no_args_is_help=True)
import_app = typer.Typer(help="Import CSV files into the store.", no_args_is_help=True)
export_app = typer.Typer(help="Export data from the store to CSV.", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(anomalies_app, name="anomalies")
app.add_typer(forecast_app, name="forecast")
app.add_typer(mv_app, name="mv")
app.command("recommend")(recommend_command)
app.command("savings")(savings_command)
app.command("dashboard")(dashboard_command)
app.add_typer(ingest_app, name="ingest")
app.command("simulate")(simulate_command)
app.command("jobs")(jobs_command)
app.command("run")(run_command)

LIBRARY_LOGGERS = ("apscheduler", "asyncio", "bokeh", "cmdstanpy", "dask", "distributed",
                   "prophet", "pymodbus", "tornado", "urllib3", "werkzeug")
"""Libraries whose INFO lines say nothing to a wattlens user: WARNING and above only."""
SUMMARISED_LOGGERS = ("wattlens.analytics", "wattlens.forecasting")
"""wattlens parts whose INFO lines the calling job or command summarises (shown with -v)."""


def configure_logging(verbose: bool) -> None:
    """The log levels of every command, set once here: wattlens INFO (DEBUG with
    ``verbose``), libraries WARNING."""
    # distributed sets its own levels when imported (lazily, by the forecast jobs): tell it
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    for name in LIBRARY_LOGGERS + (() if verbose else SUMMARISED_LOGGERS):
        logging.getLogger(name).setLevel(logging.WARNING)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    """wattlens command line."""
    configure_logging(verbose)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter config.")] = Path(
        "wattlens.toml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter config (a copy of wattlens.example.toml) to edit."""
    if path.exists() and not force:
        raise fail(f"{path} exists; pass --force to overwrite it")
    path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    console.print(f"wrote {path}; edit the sites, buildings and meters, then `wattlens demo`")


@store_app.command("init")
def store_init(config: ConfigOption = None) -> None:
    """Provision the store: CREATE DATABASE on InfluxDB 1.x, bucket + DBRP mapping on 2.x,
    nothing on 3.x, tables on DuckDB."""
    cfg = get_config(config)
    store = get_store(cfg)
    try:
        console.print(store.init())
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


@store_app.command("meters")
def store_meters(
    config: ConfigOption = None,
    quantity: Annotated[str | None, typer.Option(help="Only meters with this quantity.")] = None,
) -> None:
    """List the meters that have readings, with their newest reading."""
    cfg = get_config(config)
    store = get_store(cfg)
    try:
        table = Table("meter", "newest reading (UTC)", "value")
        latest = store.latest(quantity=quantity or "energy")
        for row in latest.itertuples():
            table.add_row(row.meter, row.time.isoformat(), f"{row.value:g}")
        Console().print(table)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


@import_app.command("readings")
def import_readings(
    file: Annotated[Path, typer.Argument(help="CSV with time,meter,value[,quantity].")],
    config: ConfigOption = None,
    missing_zero: Annotated[
        bool, typer.Option("--missing-zero", help="Treat zero energy readings as missing.")
    ] = False,
) -> None:
    """Import a readings CSV (time ISO 8601 with offset or Z; quantity defaults to energy)."""
    cfg = get_config(config)
    try:
        frame = read_readings_csv(file, missing_zero=missing_zero)
    except ContractError as exc:
        raise fail(f"{exc}\nnothing was written") from None
    store = get_store(cfg)
    try:
        store.init()
        n = store.write_readings(frame)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    console.print(f"imported {n} readings of {frame['meter'].nunique()} meters from {file}")


@export_app.command("readings")
def export_readings(
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    config: ConfigOption = None,
    meter: Annotated[
        list[str] | None, typer.Option("--meter", "-m", help="Meter id (repeatable).")
    ] = None,
    quantity: Annotated[str | None, typer.Option(help="Quantity, e.g. energy.")] = None,
    start: Annotated[str | None, typer.Option(help="Start, ISO 8601 with offset.")] = None,
    end: Annotated[str | None, typer.Option(help="End (exclusive), ISO 8601 with offset.")] = None,
) -> None:
    """Export readings to CSV in the interchange format."""
    cfg = get_config(config)
    store = get_store(cfg)
    try:
        frame = store.read_readings(meter or None, quantity, start, end)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    n = write_readings_csv(frame, out)
    console.print(f"exported {n} readings to {out}")


@app.command()
def demo(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Config with the sample's sites and tariffs (default: "
        "wattlens.example.toml); the demo replaces its store, sources and jobs.")] = None,
    serve: Annotated[bool, typer.Option(
        help="Run the live service (simulated meters, ingest, jobs, dashboard) after "
             "loading the sample.")] = True,
    speed: Annotated[float, typer.Option(
        min=1.0, help="Clock of the simulated meters and the jobs: simulated s per real s "
                      "(above 1 the readings run ahead of the wall clock).")] = 1.0,
    fault_after: Annotated[str, typer.Option(
        help="Simulated time after start when the plant is left on (pandas duration).")
    ] = "90s",
    fault_for: Annotated[str, typer.Option(
        help="How long the plant stays on (pandas duration).")] = "2h",
    forecast_model: Annotated[str, typer.Option(
        help="Model of the day-ahead forecasts, e.g. prophet or persistence-week.")
    ] = "prophet",
    data_dir: Annotated[Path, typer.Option(
        help="The demo's own directory (store, config), wiped at each start.")
    ] = Path("data/demo"),
    port: Annotated[int, typer.Option(help="Dashboard port on 127.0.0.1.")] = 8050,
) -> None:
    """The live loop happening now on the shipped sample (3 Cambridge buildings): its history
    shifted to end now, forecasts issued, then simulated Modbus meters reading now (looping
    over the sample) with a plant left on a few minutes in, served by `wattlens run`."""
    out = Console(highlight=False)
    try:
        plan = DemoPlan(data_dir=data_dir, speed=speed, fault_after=fault_after,
                        fault_for=fault_for, forecast_model=forecast_model, serve=serve,
                        port=port)
        prepared = prepare(plan, config or EXAMPLE_CONFIG, out)
    except (StoreError, ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl-C while loading or forecasting: the store is closed
        out.print("demo stopped before serving")
        raise typer.Exit(130) from None
    if not serve:
        return
    prepared.simulation.start_serving()
    announce(prepared, plan, out)
    try:
        run_service(prepared.config, list(ROLES), clock=prepared.simulation.now)
    finally:
        prepared.simulation.stop()


__all__ = ["EXAMPLE_CONFIG", "app", "fail", "get_config"]
