"""``wattlens forecast``: backtest models on any CSV files, issue forecasts from the store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wattlens.cli.common import console, fail, get_config, get_store, site_calendar
from wattlens.cli.ranges import data_range
from wattlens.forecasting.backtest import BacktestSpec, MeterBacktest, backtest_many, summarise
from wattlens.forecasting.features import WEATHER_MODES, load_series
from wattlens.forecasting.models import model_names
from wattlens.store.base import Store
from wattlens.store.csvio import read_readings_csv, read_weather_csv, write_csv
from wattlens.store.schema import ContractError

forecast_app = typer.Typer(
    help="Forecast load: backtest models on CSV files, issue forecasts for the store's meters.",
    no_args_is_help=True,
)

SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Address of an existing dask scheduler, e.g. tcp://127.0.0.1:8786 "
                      "(default: start a local cluster)."),
]
WorkersOption = Annotated[
    int | None, typer.Option(help="Workers of the local cluster (default: one per core).")
]
def _weather_option(default: str) -> Any:
    return typer.Option(help="Weather over the horizon: observed (a perfect weather forecast) "
                             "or issue-time (only what was known at issue: the stored weather "
                             f"forecast, else the previous day's same hours). Default {default}.")


ProcessesOption = Annotated[
    bool, typer.Option("--processes/--threads",
                       help="Local cluster workers as processes (default) or threads.")
]


def _date(value: str | None, name: str) -> dt.date | None:

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"--{name} {value!r} is not a date; write YYYY-MM-DD (site-local)") from None


@forecast_app.command("backtest")
def backtest(
    readings: Annotated[Path, typer.Option(help="Readings CSV: time,meter,value[,quantity].")],
    weather: Annotated[Path, typer.Option(help="Weather CSV: time,temperature[,...].")],
    out: Annotated[Path, typer.Option(help="Metrics JSON to write.")],
    model: Annotated[str, typer.Option(
        help="Model: prophet | towt | persistence-day | persistence-week | "
             "persistence-ensemble.")] = "prophet",
    horizon: Annotated[int, typer.Option(min=1, help="Hours issued at each origin.")] = 24,
    refit: Annotated[int, typer.Option(min=1, help="Refit every N days.")] = 7,
    history: Annotated[int, typer.Option(min=14, help="Fit on the preceding N days.")] = 365,
    start: Annotated[str | None, typer.Option(help="First origin, local date YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(
        help="Last origin + 1, local date (exclusive).")] = None,
    tz: Annotated[str, typer.Option(help="Site timezone (IANA): origins at local midnight.")]
    = "UTC",
    country: Annotated[str | None, typer.Option(
        help="Country for public holidays, e.g. GB or GB-ENG.")] = None,
    missing_zero: Annotated[bool, typer.Option(
        "--missing-zero", help="Treat zero energy readings as missing.")] = False,
    forecasts_out: Annotated[Path | None, typer.Option(
        help="CSV of every issued forecast: time,meter,issued_at,yhat,yhat_lower,yhat_upper.")]
    = None,
    weather_mode: Annotated[str, _weather_option("observed")] = "observed",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    processes: ProcessesOption = True,
) -> None:
    """Rolling-origin backtest of MODEL on every meter of READINGS (observed or issue-time
    weather over the horizon); writes per-meter metrics and their medians."""

    if model not in model_names():
        raise fail(f"--model {model!r} is unknown; choose one of {model_names()}")
    site = site_calendar(tz, country)
    try:
        frame = read_readings_csv(readings, missing_zero=missing_zero)
        wx = read_weather_csv(weather)
    except ContractError as exc:
        raise fail(f"{exc}\nnothing was backtested") from None
    from wattlens.forecasting.runner import dask_client

    if weather_mode not in WEATHER_MODES:
        raise fail(f"--weather-mode {weather_mode!r} is unknown; choose one of {WEATHER_MODES}")
    spec = BacktestSpec(model, horizon, refit, history, _date(start, "start"), _date(end, "end"),
                        weather_mode)
    frame = frame[frame["quantity"] == "energy"]
    loads = {m: load_series(frame, m) for m in sorted(frame["meter"].unique())}
    if not loads:
        raise fail(f"{readings}: no energy readings; nothing to backtest")
    with dask_client(scheduler, workers, processes) as client:
        per_meter = backtest_many(loads, wx, dict.fromkeys(loads, site), spec, client,
                                  console=console)
    doc = {**summarise(model, horizon, per_meter, weather_mode),
           "origins": _origins(per_meter.values(), tz)}
    out.write_text(json.dumps(doc, indent=2, allow_nan=False, default=_jsonable), encoding="utf-8")
    if forecasts_out is not None:
        _write_forecasts_csv([r.forecasts for r in per_meter.values() if not r.error],
                             forecasts_out)
    _print_summary(doc)
    if all(r.error for r in per_meter.values()):
        raise fail(f"every one of the {len(per_meter)} meters failed; see {out}", code=1)


def _origins(results: Iterable[MeterBacktest], tz: str) -> dict[str, str | int | None]:
    """The forecast origins actually used (UTC): first, last and how many, with the zone
    whose midnights they are."""
    issued = pd.concat([pd.Series(pd.to_datetime(r.forecasts["issued_at"], utc=True))
                        for r in results if not r.error and not r.forecasts.empty]
                       or [pd.Series([], dtype="datetime64[ns, UTC]")])
    return {"first": issued.min().isoformat() if len(issued) else None,
            "last": issued.max().isoformat() if len(issued) else None,
            "count": int(issued.nunique()), "timezone": tz}


def _jsonable(value: object) -> object:
    """NaN-free JSON: numpy scalars to Python, NaN to null."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _write_forecasts_csv(frames: list[pd.DataFrame], path: Path) -> None:
    columns = ["time", "meter", "issued_at", "yhat", "yhat_lower", "yhat_upper"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    for column in ("time", "issued_at"):
        out[column] = pd.to_datetime(out[column], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    write_csv(out[columns], path)


def _print_summary(doc: dict) -> None:
    table = Table("meter", "CV(RMSE) %", "NMBE %", "coverage %", "n", "G14",
                  title=f"{doc['model']} backtest, {doc['horizon_hours']} h ahead, "
                        f"{doc['weather']} weather")
    for meter, m in doc["meters"].items():
        if "error" in m:
            table.add_row(escape(meter), "[red]failed[/]", escape(m["error"][:80]), "", "", "")
        else:
            table.add_row(escape(meter), f"{m['cv_rmse_pct']:.1f}", f"{m['nmbe_pct']:.1f}",
                          f"{m['coverage_pct']:.0f}", str(m["n"]),
                          "pass" if m["g14_pass"] else "fail")
    agg = doc["aggregate"]
    Console().print(table)
    console.print(f"median CV(RMSE) {_pct(agg['median_cv_rmse_pct'])}, median NMBE "
                  f"{_pct(agg['median_nmbe_pct'])}; {agg['meters_failed']} meters failed",
                  highlight=False)


def _pct(value: float | None) -> str:
    """A percentage for people: one decimal, or 'n/a'."""
    return "n/a" if value is None else f"{value:.1f} %"


@forecast_app.command("run")
def run(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="TOML config file (default: wattlens.toml if present).")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="Model to issue (repeatable; default prophet).")] = None,
    meter: Annotated[list[str] | None, typer.Option(
        help="Only these meters (repeatable; default every energy meter).")] = None,
    at: Annotated[str | None, typer.Option(
        help="Issue time, ISO 8601 with offset (default: now, to the hour). Only readings "
             "before it are used.")] = None,
    horizon: Annotated[int, typer.Option(min=1, help="Hours to forecast.")] = 24,
    refit: Annotated[int, typer.Option(min=1, help="Refit a saved model older than N days."
                                       )] = 7,
    history: Annotated[int, typer.Option(min=14, help="Fit on the preceding N days.")] = 365,
    weather_mode: Annotated[str, _weather_option("issue-time")] = "issue-time",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    processes: ProcessesOption = True,
) -> None:
    """Issue forecasts for every meter in the store and keep them as issued."""
    from wattlens.forecasting.jobs import RunSpec, run_forecasts
    from wattlens.forecasting.runner import dask_client
    from wattlens.store.base import StoreError, utc_timestamp

    cfg = get_config(config)
    models = model or ["prophet"]
    for name in models:
        if name not in model_names():
            raise fail(f"--model {name!r} is unknown; choose one of {model_names()}")
    try:
        parsed = utc_timestamp(at, "--at") if at else None
        issued_at = parsed if parsed is not None else pd.Timestamp.now("UTC").floor("h")
    except ValueError as exc:
        raise fail(str(exc)) from None
    infos = cfg.meter_infos()
    store = get_store(cfg)
    failed = tried = 0
    try:
        if at is None:
            _check_recent(store, meter, issued_at)
        with dask_client(scheduler, workers, processes) as client:
            for name in models:
                if weather_mode not in WEATHER_MODES:
                    raise fail(f"--weather-mode {weather_mode!r} is unknown; choose one of "
                               f"{WEATHER_MODES}")
                spec = RunSpec(name, issued_at, horizon, refit, history, weather_mode,
                               cfg.forecasting.guard)
                statuses = run_forecasts(infos, cfg.data_dir, store, spec, client,
                                         meter or None)
                table = Table("meter", "status", "detail", title=f"{name} issued at "
                              f"{issued_at.isoformat()}")
                for m, s in statuses.items():
                    ok = s["status"] == "issued"
                    failed += not ok
                    tried += 1
                    detail = (f"{s['rows']} rows, {'refitted' if s['refitted'] else 'reused fit'}"
                              f", weather {s['weather']}"
                              + "".join(f"; {w['message'][:120]}" for w in s["warnings"])
                              if ok else s["reason"][:100])
                    table.add_row(escape(m), s["status"] if ok else "[red]failed[/]",
                                  escape(detail))
                Console().print(table)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if tried and failed == tried:
        raise fail(f"every one of the {tried} meter forecasts failed; nothing was written",
                   code=1)
    if not tried:
        raise fail("no meters to forecast: the config has no energy meters"
                   + (f" named {meter}" if meter else ""), code=1)
    console.print(f"{tried - failed} issued, {failed} failed"
                  + ("; the issued ones were written" if failed else ""))


STALE = pd.Timedelta("2D")
"""Readings older than this at issue time make ``forecast run`` without --at refuse."""


def _check_recent(store: Store, meters: list[str] | None, issued_at: pd.Timestamp) -> None:
    """Without --at, forecasts start now: refuse when the newest readings are days older,
    naming the --at to use."""
    latest = store.latest(meters or None, "energy")
    if latest.empty:
        raise fail(f"{data_range(store, meters, 'energy')}; import or ingest readings first")
    newest = latest["time"].max()
    if issued_at - newest > STALE:
        after = (newest + pd.Timedelta("1h")).floor("h")
        raise fail(
            f"the newest energy readings end at {newest:%Y-%m-%d %H:%M} UTC, "
            f"{(issued_at - newest).days} days before now; a forecast issued now would use "
            f"none of them — pass --at {after:%Y-%m-%dT%H:%MZ} to forecast from the end of "
            f"the data")

