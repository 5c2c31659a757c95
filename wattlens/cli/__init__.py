"""The ``wattlens`` command line. Every command has ``--help``.

The commands of each part live beside this module (``anomalies``, ``forecast``, ``ingest``,
``savings``, ``dashboard``); :mod:`wattlens.cli.common` has what they share.

The configuration is loaded once here, at the entry point, and passed down; commands that work
on plain files (``forecast backtest``, ``savings``, ...) need no config and no store.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wattlens.cli.anomalies import anomalies_app, recommend_command
from wattlens.cli.api import api_app
from wattlens.cli.bill import bill_command
from wattlens.cli.common import (
    EXAMPLE_CONFIG,
    SERVER_ENV,
    ConfigOption,
    console,
    fail,
    get_config,
    get_store,
    site_calendar,
    warn,
)
from wattlens.cli.dashboard import dashboard as dashboard_command
from wattlens.cli.forecast import forecast_app
from wattlens.cli.ingest import ingest_app, simulate_command
from wattlens.cli.jobs import jobs_command
from wattlens.cli.mv import mv_app
from wattlens.cli.mvreport import mv_report  # noqa: F401 - registers mv report/keygen/verify
from wattlens.cli.ranges import data_range
from wattlens.cli.run import ROLES, run_command
from wattlens.cli.run import serve as run_service
from wattlens.cli.savings import savings as savings_command
from wattlens.config import Config, ConfigError
from wattlens.core.warnings import DataWarning
from wattlens.demo import DemoPlan, announce, prepare
from wattlens.ingest.normalise import parse_local_time
from wattlens.store.base import StoreError
from wattlens.store.csvio import (
    WEATHER_COLUMNS,
    read_readings_chunks,
    readings_to_weather,
    write_readings_csv,
    write_weather_csv,
)
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
app.add_typer(api_app, name="api")
app.command("bill")(bill_command)

for _typer in (app, store_app, import_app, export_app, anomalies_app, forecast_app, mv_app,
               ingest_app, api_app):
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


LIBRARY_LOGGERS = ("apscheduler", "asyncio", "bokeh", "cmdstanpy", "dask", "distributed",
                   "httpx", "prophet", "pymodbus", "tornado", "urllib3", "werkzeug")
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
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="TOML config file for every command (same as the command's "
        "own --config, which wins).")] = None,
    server: Annotated[str | None, typer.Option(
        envvar=SERVER_ENV, help="Go through the wattlens service at this URL (token in "
                                "$WATTLENS_TOKEN) instead of opening the store.")] = None,
) -> None:
    """wattlens command line."""
    if config is not None:
        ctx.default_map = _config_defaults(ctx.command, config)
    if server:  # get_store reads it from the environment, like the commands' child processes
        os.environ[SERVER_ENV] = server
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
    tz: Annotated[str | None, typer.Option(
        help="IANA zone of times without an offset, e.g. Europe/London (DST-correct; "
             "nonexistent and undecidable repeated hours are refused).")] = None,
    time_format: Annotated[str | None, typer.Option(
        help="strftime format of the times, e.g. '%d/%m/%Y %H:%M' (default ISO 8601; "
             "dates such as 01/02/2018 need one).")] = None,
    sep: Annotated[str | None, typer.Option(
        help="Field separator (default: detected from the header).")] = None,
    decimal: Annotated[str | None, typer.Option(
        help="Decimal mark, . or , (default: detected).")] = None,
) -> None:
    """Import a readings CSV (time ISO 8601 with offset or Z, or local with --tz; quantity
    defaults to energy). The file is checked whole, then written in chunks: a bad file
    writes nothing."""
    cfg = get_config(config)
    options = _csv_options(file, missing_zero, tz, time_format, sep, decimal)
    try:
        summary = _check_readings(options)
    except ContractError as exc:
        hint = ("; or pass --tz ZONE for local times (and --time-format for dates such as "
                "01/02/2018)" if "without a timezone" in str(exc) else "")
        raise fail(f"{exc}{hint}\nnothing was written") from None
    warn(summary.warnings + _unknown_meters(summary.meters, cfg))
    if not summary.rows:
        blank = any(w.code == "import.blank-values" for w in summary.warnings)
        raise fail(f"{file}: " + ("every value is blank" if blank else
                                  "has a header but no data rows; export the data again")
                   + "\nnothing was written")
    store = get_store(cfg)
    try:
        store.init()
        n = sum(store.write_readings(c.readings) for c in read_readings_chunks(**options))
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    console.print(escape(f"imported {n} readings of {len(summary.meters)} meters from {file} "
                         f"({summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M} "
                         f"UTC)"), highlight=False)


def _csv_options(file: Path, missing_zero: bool, tz: str | None, time_format: str | None,
                 sep: str | None, decimal: str | None) -> dict[str, Any]:
    """Keyword arguments of :func:`read_readings_chunks` from the import options."""
    if decimal not in (None, ".", ","):
        raise fail(f"--decimal {decimal!r}: use . or ,")
    if time_format and tz is None and "%z" not in time_format:
        raise fail(f"--time-format {time_format!r} has no offset (%z); add --tz ZONE to say "
                   f"which zone the times are in")
    times = None
    if tz is not None or time_format is not None:
        zone = site_calendar(tz or "UTC", None).timezone

        def times(text: pd.Series) -> tuple[pd.Series, pd.Series]:
            parsed = parse_local_time(text, zone, time_format)
            return parsed.utc, parsed.problems

    return {"path": file, "missing_zero": missing_zero, "sep": sep, "decimal": decimal,
            "times": times}


@dataclass
class _Checked:
    """What a first pass over a readings CSV found."""

    rows: int = 0
    meters: set[str] = field(default_factory=set)
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    warnings: list[DataWarning] = field(default_factory=list)


def _check_readings(options: dict[str, Any]) -> _Checked:
    """Validate every chunk and refuse duplicate (meter, quantity, time) rows across chunks,
    keeping only a 64-bit hash per row (memory stays flat)."""
    out = _Checked()
    keys = []
    for chunk in read_readings_chunks(**options):
        r = chunk.readings
        out.warnings += chunk.warnings
        if r.empty:
            continue
        out.rows += len(r)
        out.meters |= set(r["meter"].unique())
        first, last = r["time"].min(), r["time"].max()
        out.first = first if out.first is None else min(out.first, first)
        out.last = last if out.last is None else max(out.last, last)
        keys.append(pd.util.hash_pandas_object(r[["meter", "quantity", "time"]],
                                               index=False).to_numpy())
    if keys:
        _, counts = np.unique(np.concatenate(keys), return_counts=True)
        if (counts > 1).any():
            raise ContractError(
                f"{options['path']}: {int((counts > 1).sum())} (meter, quantity, time) appear "
                f"more than once; keep one row each")
    return out


def _unknown_meters(meters: set[str], cfg: Config) -> list[DataWarning]:
    """A warning for imported meter ids the config does not know (when it lists meters)."""
    known = cfg.meters()
    unknown = sorted(meters - set(known))
    if not known or not unknown:
        return []
    hints = [f"{m!r}" + (f" (did you mean {close[0]!r}?)" if (
        close := difflib.get_close_matches(m, list(known), n=1)) else "") for m in unknown[:10]]
    return [DataWarning(
        "import.unknown-meters",
        f"{len(unknown)} meter ids are not in the config, so the dashboard will not show them: "
        f"{', '.join(hints)}{', ...' if len(unknown) > 10 else ''}; fix the ids or add the "
        f"meters", {"meters": unknown})]


def _read_for_export(cfg: Config, meters: list[str] | None, quantity: str | None,
                     start: str | None, end: str | None, need: str | None = None
                     ) -> pd.DataFrame:
    """Readings from the store in [start, end); when none match (or none of quantity
    ``need``), exit 2 naming the data the store has."""
    store = get_store(cfg)
    try:
        frame = store.read_readings(meters, quantity, start, end)
        wanted = need or quantity
        if frame.empty or (need is not None and need not in set(frame["quantity"])):
            raise fail(f"no {wanted or ''} readings of {meters or 'any meter'} in "
                       f"{start or 'the start'} to {end or 'the end'}; "
                       f"{data_range(store, meters, wanted or 'energy')}; nothing exported")
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    return frame


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
    """Export readings to CSV in the interchange format; exits non-zero, naming the data
    the store has, when nothing matches."""
    frame = _read_for_export(get_config(config), meter or None, quantity, start, end)
    n = write_readings_csv(frame, out)
    console.print(escape(f"exported {n} readings to {out} ({frame['time'].min():%Y-%m-%d %H:%M}"
                         f" to {frame['time'].max():%Y-%m-%d %H:%M} UTC)"), highlight=False)


@export_app.command("weather")
def export_weather(
    out: Annotated[Path, typer.Argument(help="CSV file to write: time,temperature[,...].")],
    config: ConfigOption = None,
    meter: Annotated[str | None, typer.Option(
        "--meter", "-m", help="Weather meter id (default: the sites' weather_meter, if one).")]
    = None,
    start: Annotated[str | None, typer.Option(help="Start, ISO 8601 with offset.")] = None,
    end: Annotated[str | None, typer.Option(help="End (exclusive), ISO 8601 with offset.")] = None,
) -> None:
    """Export a weather meter as the time,temperature[,humidity,ghi] CSV that forecast,
    savings and anomalies take."""
    cfg = get_config(config)
    if meter is None:
        found = sorted({s.weather_meter for s in cfg.sites if s.weather_meter})
        if len(found) != 1:
            raise fail(f"pass --meter: the config names {len(found)} weather meters "
                       f"{found if found else ''}".rstrip())
        meter = found[0]
    readings = _read_for_export(cfg, [meter], None, start, end, need="temperature")
    wide = readings_to_weather(readings[readings["quantity"].isin(list(WEATHER_COLUMNS))])
    n = write_weather_csv(wide, out)
    console.print(escape(f"exported {n} rows of {', '.join(wide.columns)} of {meter} to {out}"),
                  highlight=False)


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
        run_service(prepared.config, list(ROLES), clock=prepared.simulation.clock)
    finally:
        prepared.simulation.stop()


__all__ = ["EXAMPLE_CONFIG", "app", "fail", "get_config"]
