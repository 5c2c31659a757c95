"""``wattlens bill``: one meter's bills month by month, every component on its own line, from a
readings CSV and a tariff preset (or a tariff of the config's catalogue)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from wattlens.analytics.tariffs import TARIFF_PRESETS, Tariff, TariffError, bill, bill_items
from wattlens.cli.common import ConfigOption, fail, get_config, warn
from wattlens.core.base import check_timezone
from wattlens.core.intervals import interval_hours
from wattlens.core.warnings import DataWarning
from wattlens.store.csvio import read_readings_csv
from wattlens.store.schema import ContractError

PARTIAL_MONTH = 0.99
"""Share of a month's hours below which a month counts as partly covered."""


def _tariff(name: str, config: Path | None, contract_kw: float | None) -> Tariff:
    """The catalogue tariff ``name`` of ``config`` (when given), else the preset ``name``;
    with ``contract_kw`` as its contracted capacity."""
    catalog = {t.id: t for t in get_config(config).tariffs.catalog} if config else {}
    if name in catalog:
        tariff = catalog[name]
    elif name in TARIFF_PRESETS:
        tariff = TARIFF_PRESETS[name]
    else:
        known = ", ".join([*catalog, *TARIFF_PRESETS.names()])
        raise fail(f"--tariff {name!r} is neither a preset nor in the config's catalogue; "
                   f"choose one of {known}")
    if contract_kw is None:
        return tariff
    try:
        return Tariff.model_validate({**tariff.model_dump(), "contracted_kw": contract_kw})
    except ValidationError as exc:
        raise fail(f"--contract-kw {contract_kw}: {exc.errors()[0]['msg']}") from None


def _energy(path: Path, meter: str | None, start: str, end: str, tz: str) -> pd.DataFrame:
    """One meter's energy readings in local dates [start, end) of ``tz``."""
    frame = read_readings_csv(path)
    frame = frame[frame["quantity"] == "energy"]
    meters = sorted(frame["meter"].unique())
    if meter is None and len(meters) != 1:
        raise fail(f"{path} has {len(meters)} meters with energy readings ({', '.join(meters)}); "
                   f"choose one with --meter")
    frame = frame[frame["meter"] == (meter or meters[0])]
    try:
        lo, hi = (pd.Timestamp(d).tz_localize(tz) for d in (start, end))
    except ValueError as exc:
        raise fail(f"--start / --end: {exc}; write local dates like 2024-07-01") from None
    frame = frame[(frame["time"] >= lo) & (frame["time"] < hi)]
    if frame.empty:
        raise fail(f"{path}: no energy readings of meter {meter or meters[0]!r} from {start} to "
                   f"{end} ({tz}); check the dates and --meter")
    return frame.sort_values("time").reset_index(drop=True)


def _partial_months(readings: pd.DataFrame, tz: str) -> list[DataWarning]:
    """A warning for each month the readings cover less than :data:`PARTIAL_MONTH` of: its
    demand and standing charges are still billed in full."""
    times = pd.DatetimeIndex(readings["time"])
    months = times.tz_convert(tz).tz_localize(None).to_period("M")
    days = pd.Series(interval_hours(times) / 24, index=months).groupby(level=0).sum()
    short = days[days < PARTIAL_MONTH * days.index.days_in_month]
    return [DataWarning(
        "bill.partial-month",
        f"{period}: readings cover {covered:.1f} of {period.days_in_month} days; the month's "
        f"demand and standing charges are billed in full",
        {"month": str(period), "days_covered": float(covered)},
    ) for period, covered in short.items()]


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, (float, np.floating)) else value


def _result(tariff: Tariff, meter: str, tz: str, readings: pd.DataFrame) -> dict[str, Any]:
    """The bill as JSON: per month the :func:`bill` columns and its :func:`bill_items`."""
    items = bill_items(tariff, readings, tz)
    monthly = bill(tariff, readings, tz)
    months = []
    for row in monthly.to_dict("records"):
        lines = items[items["month"] == row["month"]].drop(columns="month")
        months.append({**{k: _number(v) for k, v in row.items()},
                       "month": row["month"].strftime("%Y-%m"),
                       "items": [{k: _number(v) for k, v in line.items()}
                                 for line in lines.to_dict("records")]})
    return {
        "tariff": {k: getattr(tariff, k) for k in ("id", "name", "currency", "source")},
        "contracted_kw": tariff.contracted_kw, "meter": meter, "timezone": tz,
        "months": months, "total": float(monthly["total"].sum()),
        "warnings": [w.to_dict() for w in _partial_months(readings, tz)],
    }


def _table(result: dict[str, Any]) -> Table:
    currency = result["tariff"]["currency"]
    table = Table("month", "component", "item", "quantity", "rate", f"amount [{currency}]",
                  title=f"{result['tariff']['name'] or result['tariff']['id']} — "
                        f"{result['meter']}")
    for month in result["months"]:
        for line in month["items"]:
            table.add_row(month["month"], line["component"], line["label"],
                          f"{line['quantity']:,.2f} {line['unit']}", f"{line['rate']:g}",
                          f"{line['amount']:,.0f}")
        table.add_row(month["month"], "", "[bold]total[/]", f"{month['kwh']:,.1f} kWh", "",
                      f"[bold]{month['total']:,.0f}[/]", end_section=True)
    table.add_row("", "", "[bold]all months[/]", "", "", f"[bold]{result['total']:,.0f}[/]")
    return table


def bill_command(
    readings: Annotated[Path, typer.Option(help="Readings CSV: time,meter,value[,quantity].")],
    tariff: Annotated[str, typer.Option(
        help="Preset name (e.g. kepco-general-eul-hva-2) or, with --config, a catalogue id.")],
    start: Annotated[str, typer.Option(help="First local date billed, e.g. 2024-07-01.")],
    end: Annotated[str, typer.Option(help="Local date billing stops (exclusive).")],
    contract_kw: Annotated[float | None, typer.Option(
        help="Contracted capacity [kW] for tariffs charging demand on it.")] = None,
    meter: Annotated[str | None, typer.Option(
        help="Meter id (needed when the CSV has several).")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="Local timezone of months and hours (default: the tariff's, else UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
) -> None:
    """Price one meter's consumption month by month: demand, energy per time-of-use band,
    standing charges and surcharges (e.g. KEPCO's 기후환경요금, 연료비조정액, VAT,
    전력산업기반기금), each on its own line."""
    chosen = _tariff(tariff, config, contract_kw)
    tz = timezone or chosen.timezone or "UTC"
    try:
        check_timezone(tz)
        frame = _energy(readings, meter, start, end, tz)
        result = _result(chosen, str(frame["meter"].iloc[0]), tz, frame)
    except (TariffError, ContractError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    Console().print(_table(result))
    warn([DataWarning.from_dict(w) for w in result["warnings"]])
