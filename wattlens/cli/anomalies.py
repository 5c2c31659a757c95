"""Command line of the anomaly and recommendation analytics, on plain CSV files (no store):
``wattlens anomalies detect`` and ``wattlens recommend``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape

from wattlens.analytics.anomalies import DETECTORS, AnomalySettings, detect
from wattlens.analytics.jobs import alert_job, detect_job
from wattlens.analytics.recommendations import RULES, RecommendationSettings, recommend
from wattlens.analytics.tariffs import TariffError
from wattlens.cli.common import (
    ConfigOption,
    console,
    fail,
    get_config,
    get_store,
    site_calendar,
    warn,
)
from wattlens.config import Config, ConfigError, load_config
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.core.warnings import DataWarning
from wattlens.store.base import Store, StoreError
from wattlens.store.csvio import read_readings_csv, read_weather_csv
from wattlens.store.schema import ContractError, validate_forecasts

anomalies_app = typer.Typer(help="Find anomalies in meter readings.", no_args_is_help=True)

EVENT_KEYS = ("meter", "start", "end", "kind", "severity", "excess_kwh")


def parse_time(text: str, tz: str, name: str) -> pd.Timestamp:
    """A CLI date/time: with an offset as given, without one in local time ``tz``."""
    try:
        ts = pd.Timestamp(pd.to_datetime(text, format="ISO8601"))
    except ValueError:
        raise fail(f"{name} {text!r} is not a date; write e.g. 2019-06-01 or "
                    f"2019-06-01T00:00:00Z") from None
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
    return ts.tz_convert("UTC")


def _write(out: Path, body: dict[str, Any], warnings: list[DataWarning],
           settings: AnomalySettings | RecommendationSettings) -> None:
    """Write ``body`` with the run's ``warnings`` and ``settings`` as JSON to ``out``."""
    body = {**body, "warnings": [w.to_dict() for w in warnings],
            "settings": settings.model_dump(mode="json")}
    out.write_text(json.dumps(body, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _load(config: Path | None) -> Config | None:
    """The config file given with --config, or None."""
    try:
        return load_config(config) if config else None
    except ConfigError as exc:
        raise fail(str(exc)) from None


@anomalies_app.command("detect")
def detect_command(
    readings: Annotated[Path, typer.Option(help="Readings CSV: time,meter,value[,quantity].")],
    start: Annotated[str, typer.Option(help="First day reported (local date or ISO 8601).")],
    end: Annotated[str, typer.Option(help="End of the report, exclusive.")],
    out: Annotated[Path, typer.Option(help="JSON file to write the events to.")],
    weather: Annotated[
        Path | None, typer.Option(help="Weather CSV: time,temperature[,humidity,ghi].")
    ] = None,
    forecasts: Annotated[
        Path | None,
        typer.Option(help="Forecasts CSV: issued_at,meter,model,time,yhat,yhat_lower,yhat_upper."),
    ] = None,
    tz: Annotated[str, typer.Option(help="Site timezone (IANA), for local hours.")] = "UTC",
    country: Annotated[
        str | None, typer.Option(help="ISO country code for public holidays, e.g. GB.")
    ] = None,
    missing_zero: Annotated[
        bool, typer.Option("--missing-zero", help="Zero readings mean 'no reading'.")
    ] = False,
    detector: Annotated[
        list[str] | None,
        typer.Option(help=f"Detector to run (repeatable; default all: {', '.join(DETECTORS)})."),
    ] = None,
    details: Annotated[
        bool, typer.Option("--details", help="Also write each event's id and evidence.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(help="Site TOML whose [analytics.anomalies] settings the detectors use."),
    ] = None,
) -> None:
    """Detect anomalies in [start, end); readings before --start teach what is normal.
    Writes {"events": [{"meter", "start", "end", "kind", "severity", "excess_kwh"}],
    "warnings": [...], "settings": {...}}."""
    calendar = site_calendar(tz, country)
    cfg = _load(config)
    settings = cfg.analytics.anomalies if cfg else AnomalySettings()
    start_ts, end_ts = parse_time(start, tz, "--start"), parse_time(end, tz, "--end")
    try:
        frame = read_readings_csv(readings, missing_zero=missing_zero)
        wide = read_weather_csv(weather) if weather else None
        fc = validate_forecasts(pd.read_csv(forecasts), str(forecasts)) if forecasts else None
    except (ContractError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if fc is not None and fc.empty:
        raise fail(f"{forecasts}: no forecast rows")
    if frame[frame["time"] < start_ts].empty:
        console.print(escape(f"{readings} has no readings before {start_ts} to learn from; "
                             f"detectors learn from the period itself"),
                      style="yellow", highlight=False)
    try:
        result = detect(frame, start_ts, end_ts, weather=wide, forecasts=fc, calendar=calendar,
                        detectors=detector, missing_zero=missing_zero, settings=settings)
    except (ValueError, NotImplementedError) as exc:
        raise fail(str(exc)) from None
    warn(result.warnings)
    rows = []
    for event in result.events.to_dict("records"):
        row: dict[str, Any] = {k: event[k] for k in EVENT_KEYS}
        row["start"], row["end"] = row["start"].isoformat(), row["end"].isoformat()
        row["severity"], row["excess_kwh"] = float(row["severity"]), float(row["excess_kwh"])
        if details:
            row["event_id"] = event["event_id"]
            row["details"] = json.loads(event["details"])
        rows.append(row)
    period = {"start": start_ts.isoformat(), "end": end_ts.isoformat(), "timezone": tz}
    _write(out, {"period": period, "events": rows}, result.warnings, result.settings)
    kinds = result.events["kind"].value_counts().to_dict()
    console.print(escape(f"wrote {len(rows)} events to {out} {kinds if kinds else ''}"),
                  highlight=False)
    if any(w.code == "anomalies.no-readings" for w in result.warnings):
        span = (f"{frame['time'].min():%Y-%m-%d %H:%M} to {frame['time'].max():%Y-%m-%d %H:%M} "
                f"UTC" if not frame.empty else "no readings")
        raise fail(f"nothing was detected: {readings} has {span}; choose --start/--end "
                   f"inside it", code=1)


def recommend_command(
    readings: Annotated[Path, typer.Option(help="Readings CSV: time,meter,value[,quantity].")],
    out: Annotated[Path, typer.Option(help="JSON file to write the recommendations to.")],
    weather: Annotated[
        Path | None, typer.Option(help="Weather CSV: time,temperature[,humidity,ghi].")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Site TOML: meters' commodity, site calendar, tariffs, carbon "
                          "factors, [analytics.recommendations] settings."),
    ] = None,
    tz: Annotated[str | None, typer.Option(help="Timezone of meters not in --config.")] = None,
    country: Annotated[
        str | None, typer.Option(help="Holiday country of meters not in --config.")
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(help=f"Rule to run (repeatable; default all: {', '.join(RULES)})."),
    ] = None,
    missing_zero: Annotated[
        bool, typer.Option("--missing-zero", help="Zero readings mean 'no reading'.")
    ] = False,
) -> None:
    """Find and quantify savings opportunities in the last year of each meter, ranked by
    value. Writes {"recommendations": [{"rule", "meter", "title", "annual_kwh",
    "annual_cost", "annual_co2_kg", "confidence", "evidence"}], "warnings": [...],
    "settings": {...}}."""
    cfg = _load(config)
    try:
        frame = read_readings_csv(readings, missing_zero=missing_zero)
        wide = read_weather_csv(weather) if weather else None
    except ContractError as exc:
        raise fail(str(exc)) from None
    infos = cfg.meter_infos() if cfg else {}
    site = cfg.sites[0] if cfg and cfg.sites else None
    calendar = site.calendar() if site else SiteCalendar()
    given = site_calendar(tz or calendar.timezone, country or calendar.country)
    calendar = calendar.model_copy(update={"timezone": given.timezone, "country": given.country})
    for meter in sorted(set(frame["meter"]) - set(infos)):
        name = meter.lower()
        commodity = "gas" if "gas" in name else "heat" if "heat" in name else "electricity"
        infos[meter] = MeterInfo(id=meter, commodity=commodity, calendar=calendar)
        if site:
            console.print(f"[yellow]warning:[/] meter {meter!r} is not in {config}; assumed "
                          f"{commodity} (from its id), timezone {calendar.timezone}")
    settings = cfg.analytics.recommendations if cfg else RecommendationSettings()
    try:
        recs, warnings = recommend(
            frame, weather=wide, meters=infos, rules=rule,
            tariffs=cfg.tariffs if cfg else None,
            carbon_factors=dict(cfg.carbon.factors) if cfg else {}, settings=settings)
    except (ValueError, TariffError) as exc:
        raise fail(str(exc)) from None
    if not cfg:
        warnings.append(DataWarning(
            "recommendations.no-config",
            "no --config: commodities guessed from meter ids, no tariff (cost is null) and no "
            "carbon factors (CO2 is null)"))
    warn(warnings)
    _write(out, {"recommendations": [r.as_dict() for r in recs]}, warnings, settings)
    console.print(f"wrote {len(recs)} recommendations to {out}")


def _config_and_store(config: Path | None) -> tuple[Config, Store]:
    """The config (file, ./wattlens.toml or defaults) and its store."""
    cfg = get_config(config)
    return cfg, get_store(cfg)


@anomalies_app.command("run")
def run_command(
    start: Annotated[str, typer.Option(help="First day reported (site-local date or ISO 8601).")],
    end: Annotated[str, typer.Option(help="End of the report, exclusive.")],
    config: ConfigOption = None,
    history_days: Annotated[int, typer.Option(help="Days before --start to learn from.")] = 365,
) -> None:
    """Detect anomalies on the store's meters (per site, in its calendar) and write the
    events to the store."""
    cfg, store = _config_and_store(config)
    tz = cfg.sites[0].timezone if cfg.sites else "UTC"
    try:
        result = detect_job(store, cfg.meter_infos(), parse_time(start, tz, "--start"),
                            parse_time(end, tz, "--end"), tariffs=cfg.tariffs,
                            settings=cfg.analytics.anomalies, history_days=history_days)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    warn(result.warnings)
    console.print(f"wrote {len(result.events)} events to the store")


@anomalies_app.command("alert")
def alert_command(
    since: Annotated[str, typer.Option(help="Alert on events since (ISO 8601 or date).")],
    config: ConfigOption = None,
) -> None:
    """Send the notifications of the config's alerts section for events since --since
    (each event at most once per rule and channel)."""
    cfg, store = _config_and_store(config)
    try:
        report = alert_job(store, cfg.alerts, parse_time(since, "UTC", "--since"))
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    console.print(f"{len(report.sent)} sent, {report.already_sent} already sent, "
                  f"{report.rate_limited} held by the rate limit, {len(report.failed)} failed")
    for failure in report.failed:
        console.print(f"[yellow]not delivered:[/] {escape(failure)}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@anomalies_app.command("annotate")
def annotate_command(
    event_id: Annotated[str, typer.Argument(help="Event id (see --details or the dashboard).")],
    status: Annotated[str, typer.Option(help="acknowledged, non-routine or open.")],
    by: Annotated[str, typer.Option(help="Who annotates.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    config: ConfigOption = None,
) -> None:
    """Acknowledge an event or mark it non-routine (kept with who, when and why)."""
    _cfg, store = _config_and_store(config)
    try:
        store.annotate_event(event_id, status, by, note)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    console.print(f"event {event_id}: {status} by {by}")
