"""The ``wattlens`` command line. Every command has ``--help``.

The commands of each part live beside this module (``anomalies``, ``forecast``, ``ingest``,
``savings``, ``dashboard``); :mod:`wattlens.cli.common` has what they share.

The configuration is loaded once here, at the entry point, and passed down; commands that work
on plain files (``forecast backtest``, ``savings``, ...) need no config and no store.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
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
from wattlens.cli.run import run_command
from wattlens.cli.savings import savings as savings_command
from wattlens.demo import DemoPlan, run_demo
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

for _typer in (app, store_app, import_app, export_app, anomalies_app, forecast_app, mv_app,
               ingest_app):
    _typer.rich_markup_mode = None  # help is plain text: "[store]" and "[,quantity]" stay


def _config_defaults(command: Any, config: Path) -> dict[str, Any]:
    """A click ``default_map`` giving every command below ``command`` (a group) that has a
    --config option the value of ``wattlens --config FILE``."""
    out: dict[str, Any] = {}
    for name, sub in command.commands.items():
        if hasattr(sub, "commands"):
            out[name] = _config_defaults(sub, config)
        elif any(p.name == "config" for p in sub.params):
            out[name] = {"config": config}
    return out


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="TOML config file for every command (same as the command's "
        "own --config, which wins).")] = None,
) -> None:
    """wattlens command line."""
    if config is not None:
        ctx.default_map = _config_defaults(ctx.command, config)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("cmdstanpy", "prophet", "urllib3", "distributed", "werkzeug",
                  "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
    console.print(f"wrote {escape(str(path))}; edit the sites, buildings and meters, then "
                  f"`wattlens demo`", highlight=False)


@store_app.command("init")
def store_init(config: ConfigOption = None) -> None:
    """Provision the store: CREATE DATABASE on InfluxDB 1.x, bucket + DBRP mapping on 2.x,
    nothing on 3.x, tables on DuckDB."""
    cfg = get_config(config)
    store = get_store(cfg)
    try:
        console.print(escape(store.init()), highlight=False)
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
            table.add_row(escape(row.meter), row.time.isoformat(), f"{row.value:g}")
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
    config: ConfigOption = None,
    serve: Annotated[
        bool, typer.Option(help="Replay live meters and serve the dashboard after the jobs.")
    ] = True,
    speed: Annotated[float, typer.Option(help="Replay speed: simulated s per real s.")] = 240.0,
    hours: Annotated[int, typer.Option(help="Sample hours replayed as live meters.")] = 48,
    port: Annotated[int, typer.Option(help="Dashboard port on 127.0.0.1.")] = 8050,
) -> None:
    """The whole loop on the shipped sample (3 Cambridge buildings, 2018-2019): load it into
    the store, issue forecasts, detect anomalies, rank recommendations, then replay live
    Modbus meters into the ingest worker and serve the dashboard."""
    cfg = get_config(config, default=EXAMPLE_CONFIG)
    store = get_store(cfg)
    try:
        run_demo(store, cfg, Console(), DemoPlan(hours=hours, speed=speed, serve=serve,
                                                 port=port))
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


__all__ = ["EXAMPLE_CONFIG", "app", "fail", "get_config"]
