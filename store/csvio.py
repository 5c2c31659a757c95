"""CSV interchange: the file formats every CLI command reads and writes.

- readings: ``time,meter,value[,quantity][,quality]`` — ``time`` ISO 8601 with an offset or
  ``Z``; ``quantity`` defaults to energy [kWh per interval].
- weather: ``time,temperature[,humidity,ghi]`` — temperature [degC], humidity [%],
  ghi [W/m2]. In the store, weather is readings of a weather meter (one quantity per column).

Every CSV wattlens writes goes through :func:`write_csv`, which neutralises spreadsheet
formulas (meter ids can come straight from MQTT topic levels).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wattlens.store.schema import ContractError, utc_column, validate_readings

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts a spreadsheet may read as a formula (OWASP CSV injection)."""

WEATHER_COLUMNS = {"temperature": "temperature", "humidity": "humidity", "ghi": "ghi"}
"""Weather CSV column → readings quantity."""


def read_readings_csv(path: str | Path, missing_zero: bool = False) -> pd.DataFrame:
    """Read and validate a readings CSV (gzip by extension). ``missing_zero`` drops zero
    energy readings, for sources where a zero means "no reading"."""
    frame = _read(path, required=("time", "meter", "value"))
    frame = validate_readings(frame, name=str(path))
    return zeros_as_missing(frame) if missing_zero else frame


def write_readings_csv(readings: pd.DataFrame, path: str | Path) -> int:
    """Write readings in the interchange format (UTC, ISO 8601 with ``Z``)."""
    frame = validate_readings(readings)
    out = frame.assign(time=frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    write_csv(out[["time", "meter", "value", "quantity", "quality"]], path)
    return len(out)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that starts like a formula (``=``, ``+``, ``-``, ``@``,
    tab, CR) prefixed with a single quote, as OWASP recommends, so Excel and LibreOffice show
    it as text instead of running it. Numbers are left alone."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind not in "OSUT":
            continue
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if risky.any():
            out[column] = values.astype(object).where(~risky, "'" + values.astype(str))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """Write ``frame`` (no index) as CSV with formulas neutralised; the text when ``path`` is
    None. The one writer of every CSV export."""
    return neutralise_formulas(frame).to_csv(path, index=False)


def read_weather_csv(path: str | Path) -> pd.DataFrame:
    """Read a weather CSV into a wide frame indexed by UTC ``time`` (columns temperature
    [degC], and humidity [%] and ghi [W/m2] when present); empty cells stay NaN."""
    frame = _read(path, required=("time", "temperature"))
    frame["time"] = utc_column(frame, "time", str(path))
    columns = [c for c in WEATHER_COLUMNS if c in frame.columns]
    wide = frame.set_index("time")[columns].apply(pd.to_numeric, errors="coerce")
    if wide.index.duplicated().any():
        raise ContractError(
            f"{path}: {int(wide.index.duplicated().sum())} duplicate times; keep one row per time"
        )
    return wide.sort_index()


def weather_to_readings(weather: pd.DataFrame, meter: str) -> pd.DataFrame:
    """A wide weather frame (index time) as readings of weather meter ``meter``."""
    long = (
        weather.rename_axis("time")
        .reset_index()
        .melt(id_vars="time", var_name="quantity", value_name="value")
        .dropna(subset=["value"])
    )
    long["meter"] = meter
    return validate_readings(long, name=f"weather {meter}")


def readings_to_weather(readings: pd.DataFrame) -> pd.DataFrame:
    """Weather readings (one weather meter) back to the wide frame indexed by time."""
    wide = readings.pivot_table(index="time", columns="quantity", values="value", aggfunc="last")
    wide.columns.name = None
    return wide[[c for c in WEATHER_COLUMNS if c in wide.columns]].sort_index()


def zeros_as_missing(readings: pd.DataFrame) -> pd.DataFrame:
    """Drop zero energy readings: where a source writes 0 for "no reading", a zero is a gap,
    not zero kWh."""
    zero = (readings["quantity"] == "energy") & (readings["value"] == 0)
    return readings.loc[~zero].reset_index(drop=True)


def _read(path: str | Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"meter": "string"}, keep_default_na=True)
    except FileNotFoundError:
        raise ContractError(f"{path}: no such file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: not a readable CSV ({exc}); check the file") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ContractError(
            f"{path}: missing column(s) {missing}; the header must start with "
            f"{','.join(required)} (got {','.join(map(str, frame.columns))})"
        )
    return frame
