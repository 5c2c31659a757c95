"""``wattlens savings``: verified savings of one meter from CSV files (no store needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

import wattlens.forecasting.mv  # noqa: F401 - registers the prophet baseline
from wattlens.analytics.savings import (
    BASELINE_MODELS,
    SavingsError,
    SavingsSettings,
    ZeroRule,
    estimate_savings,
)
from wattlens.cli.common import console, fail, warn
from wattlens.core.meters import Commodity
from wattlens.store.csvio import read_readings_csv, read_weather_csv, write_csv
from wattlens.store.schema import ContractError


def _non_routine(path: Path, meter: str) -> list[tuple[str, str]]:
    """(start, end) of ``meter``'s events in a JSON file ``{"events": [{"meter", "start",
    "end"}, ...]}`` (the shape ``wattlens anomalies detect`` writes)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SavingsError(f"{path}: cannot read non-routine events ({exc})") from None
    events = data.get("events", []) if isinstance(data, dict) else data
    try:
        return [(e["start"], e["end"]) for e in events if e.get("meter") == meter]
    except (KeyError, TypeError, AttributeError):
        raise SavingsError(
            f"{path}: every event needs meter, start and end, e.g. "
            f'{{"events": [{{"meter": "{meter}", "start": "2019-03-01T00:00Z", '
            f'"end": "2019-03-08T00:00Z"}}]}}'
        ) from None


def _dates(period: tuple[str, str], fmt: str | None) -> tuple[str, str]:
    """A period's two dates as ISO 8601 text: read with ``fmt`` when given, else only ISO
    8601 is accepted (so 01/02/2018 is never guessed month-first)."""
    out = []
    for text in period:
        try:
            stamp = pd.to_datetime(text, format=fmt or "ISO8601")
        except ValueError:
            raise fail(f"date {text!r} is not " + (f"in the format {fmt!r}" if fmt else
                       "ISO 8601 (2019-01-31); pass --date-format, e.g. '%d/%m/%Y'")) from None
        out.append(stamp.isoformat())
    return out[0], out[1]


def read_meter_csv(path: Path, meter: str) -> pd.DataFrame:
    """Readings of ``meter`` from a readings CSV (time,meter,value[,quantity]) or from an
    OpenEEmeter meter file (start,value: one meter, energy). Blank values are kept as NaN, for
    :func:`~wattlens.analytics.savings.estimate_savings` to count as missing (OpenEEmeter's
    sample files end with one)."""
    try:
        head = pd.read_csv(path, nrows=0).columns
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SavingsError(f"{path}: cannot read readings ({exc})") from None
    if "meter" in head:
        return read_readings_csv(path)
    if not {"start", "value"} <= set(head):
        raise SavingsError(f"{path}: expected columns time,meter,value (readings) or "
                           f"start,value (OpenEEmeter), found {list(head)}")
    raw = pd.read_csv(path)
    times = pd.to_datetime(raw["start"], utc=True, errors="coerce")
    if times.isna().any():
        row = int(times.isna().to_numpy().argmax()) + 2
        raise SavingsError(f"{path}: line {row}: start {raw['start'].iloc[row - 2]!r} is not "
                           f"a time with offset, e.g. 2016-01-01T00:00:00-06:00")
    return pd.DataFrame({"time": times.astype("datetime64[ns, UTC]"), "meter": meter,
                         "quantity": "energy", "value": pd.to_numeric(raw["value"],
                                                                      errors="coerce"),
                         "quality": "ok"})


def savings(
    readings: Annotated[Path, typer.Option(help="Readings CSV: time,meter,value[,quantity].")],
    weather: Annotated[Path, typer.Option(help="Weather CSV: time,temperature (degC).")],
    meter: Annotated[str, typer.Option(help="Meter id to evaluate.")],
    baseline: Annotated[
        tuple[str, str], typer.Option(help="Baseline START END (END exclusive; dates are local).")
    ],
    reporting: Annotated[
        tuple[str, str], typer.Option(help="Reporting START END (END exclusive).")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the result JSON.")],
    tz: Annotated[str, typer.Option(
        help="Site IANA timezone, e.g. America/Chicago (local days, hours of the week); "
             "required: a wrong one shifts every day.")],
    blackout: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Installation blackout START END, left out of both periods."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(help="Baseline model: auto (caltrack-hourly for interval data, "
                          "caltrack-daily otherwise), caltrack-daily (CalTRACK 2.0), "
                          "daily-degree-hours, caltrack-hourly (= towt) or prophet."),
    ] = "auto",
    confidence: Annotated[
        float, typer.Option(help="Confidence of the savings interval, e.g. 0.9.")
    ] = 0.9,
    country: Annotated[
        str | None, typer.Option(help="ISO country for public holidays (prophet).")
    ] = None,
    commodity: Annotated[Commodity, typer.Option(
        help="What the meter measures; decides what a zero reading means.")] = "electricity",
    zeros: Annotated[ZeroRule, typer.Option(
        help="Zero readings: auto (missing for electricity, real use otherwise), missing or "
             "reading.")] = "auto",
    missing_zero: Annotated[
        bool, typer.Option("--missing-zero", help="Same as --zeros missing.")
    ] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Estimate even when CalTRACK's data sufficiency disqualifies the "
                        "meter; the result records that it was forced.")] = False,
    non_routine: Annotated[
        Path | None,
        typer.Option(help="JSON {\"events\": [{meter, start, end}]}: the meter's non-routine "
                          "periods, left out of both periods."),
    ] = None,
    series_out: Annotated[
        Path | None,
        typer.Option(help="Also write the reporting series (actual, adjusted baseline, "
                          "savings, cumulative) to this CSV."),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(help="strftime format of the period dates, e.g. '%d/%m/%Y' (default ISO "
                          "8601: 2019-01-31; 01/02/2018 is refused without a format)."),
    ] = None,
) -> None:
    """Avoided energy (IPMVP Option C/B) of one meter: baseline fit, G14 statistics,
    adjusted baseline − actual (kWh and %) and its uncertainty."""
    if model != "auto" and model not in BASELINE_MODELS:
        raise fail(f"unknown model {model!r}; choose auto or one of "
                   f"{sorted(BASELINE_MODELS.names())}")
    baseline, reporting = _dates(baseline, date_format), _dates(reporting, date_format)
    blackout = _dates(blackout, date_format) if blackout else None
    try:
        frame = read_meter_csv(readings, meter)
        wide = read_weather_csv(weather)
        exclude = _non_routine(non_routine, meter) if non_routine else []
        settings = SavingsSettings(zeros="missing" if missing_zero else zeros)
        result = estimate_savings(
            frame, wide, meter, baseline, reporting, blackout=blackout, model=model,
            confidence=confidence, tz=tz, country=country, exclude=exclude,
            settings=settings, commodity=commodity, force=force,
        )
    except (SavingsError, ContractError) as exc:
        raise fail(str(exc)) from None
    out.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    if series_out is not None:
        series = result.series.assign(time=pd.DatetimeIndex(result.series["time"]).strftime(
            "%Y-%m-%dT%H:%M:%SZ"))
        write_csv(series, series_out)
    r, b = result.reporting, result.baseline
    console.print(escape(
        f"{meter} [{result.model}, {result.granularity}]: savings {r.savings_kwh:,.1f} kWh "
        f"({r.savings_pct:.2f} %), {r.confidence:.0%} interval "
        f"[{r.savings_interval_kwh[0]:,.1f}, {r.savings_interval_kwh[1]:,.1f}] kWh; baseline "
        f"CV(RMSE) {b.cv_rmse_pct:.1f} %, NMBE {b.nmbe_pct:.2f} %, R² {b.r2:.3f}, "
        f"G14 {'pass' if b.g14_pass else 'FAIL'}"),
        highlight=False,
    )
    warn(result.warnings)
