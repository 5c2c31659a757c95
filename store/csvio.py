"""CSV interchange: the file formats every CLI command reads and writes.

- readings: ``time,meter,value[,quantity][,quality]`` — ``time`` ISO 8601 with an offset or
  ``Z``; ``quantity`` defaults to energy [kWh per interval].
- weather: ``time,temperature[,humidity,ghi]`` — temperature [degC], humidity [%],
  ghi [W/m2]. In the store, weather is readings of a weather meter (one quantity per column).

Every CSV wattlens writes goes through :func:`write_csv`, which neutralises spreadsheet
formulas (meter ids can come straight from MQTT topic levels).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wattlens.core.warnings import DataWarning
from wattlens.store.schema import ContractError, empty_readings, utc_column, validate_readings

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts a spreadsheet may read as a formula (OWASP CSV injection)."""

WEATHER_COLUMNS = {"temperature": "temperature", "humidity": "humidity", "ghi": "ghi"}
"""Weather CSV column → readings quantity."""


TimeParser = Callable[[pd.Series], tuple[pd.Series, pd.Series]]
"""Text times → (UTC times, per-row problem text or None); e.g. local times of a site zone."""

SEPARATORS = (",", ";", "\t", "|")
"""Separators tried when none is given."""
CHUNK_ROWS = 100_000
"""Rows parsed at a time: memory stays flat whatever the file size."""


@dataclass(frozen=True)
class ReadingsChunk:
    """Validated readings of consecutive rows of a CSV and what was noticed reading them."""

    readings: pd.DataFrame
    warnings: list[DataWarning]


def read_readings_csv(path: str | Path, missing_zero: bool = False, *, sep: str | None = None,
                      decimal: str | None = None, times: TimeParser | None = None
                      ) -> pd.DataFrame:
    """Read and validate a whole readings CSV (gzip by extension); see
    :func:`read_readings_chunks` for the options. Duplicate (meter, quantity, time) rows are
    refused."""
    chunks = list(read_readings_chunks(path, missing_zero, sep=sep, decimal=decimal,
                                       times=times))
    return validate_readings(pd.concat([c.readings for c in chunks], ignore_index=True),
                             name=str(path))


def read_readings_chunks(
    path: str | Path, missing_zero: bool = False, *, sep: str | None = None,
    decimal: str | None = None, times: TimeParser | None = None,
    chunk_rows: int | None = None,
) -> Iterator[ReadingsChunk]:
    """Stream a readings CSV in validated chunks of ``chunk_rows`` rows (default
    :data:`CHUNK_ROWS`).

    - ``sep``: the field separator; ``None`` detects it from the header (``,`` ``;`` tab
      ``|``) with a warning when it is not a comma. ``decimal``: ``.`` or ``,``; ``None``
      reads decimal commas when the file is ``;``-separated and its values use them.
    - Cells are trimmed of surrounding spaces; a blank value is a missing reading: the row is
      skipped and counted in one warning (the last chunk's).
    - ``times`` parses timestamps (e.g. local times without an offset); without it they
      need an offset or ``Z``.
    - An empty (0-byte) file, a UTF-16 file or a file that is not UTF-8 text raise
      :class:`ContractError` with a one-line message and the fix; a header without rows
      gives no readings.
    ``missing_zero`` drops zero energy readings, for sources where a zero means "no reading".
    """
    header = _first_line(path)
    sep, warnings = _separator(path, header, sep)
    names = [n.strip() for n in next(csv.reader([header], delimiter=sep))]
    _require(path, names, ("time", "meter", "value"))
    blank_lines: list[int] = []
    try:
        reader = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                             chunksize=chunk_rows or CHUNK_ROWS, encoding="utf-8-sig",
                             skipinitialspace=True)
        for raw in reader:
            if raw.empty:
                continue
            raw.columns = names
            raw = raw.apply(lambda c: c.str.strip())
            blank = (raw["value"] == "").to_numpy()
            blank_lines += [_line(raw, int(i)) for i in np.flatnonzero(blank)]
            if decimal is None:
                decimal = _decimal(path, raw["value"], sep, warnings)
            frame = _typed(path, raw[~blank], decimal, times)
            readings = validate_readings(frame, name=f"{path} (lines {_line(raw, 0)}-"
                                                     f"{_line(raw, len(raw) - 1)})")
            yield ReadingsChunk(zeros_as_missing(readings) if missing_zero else readings, [])
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                            f"save it as UTF-8 and import again") from None
    except pd.errors.ParserError as exc:
        raise ContractError(f"{path}: not a readable CSV ({exc}); check the file") from None
    if blank_lines:
        warnings.append(DataWarning(
            "import.blank-values",
            f"{path}: {len(blank_lines)} blank values read as missing readings (lines "
            f"{', '.join(map(str, blank_lines[:5]))}{', ...' if len(blank_lines) > 5 else ''})",
            {"count": len(blank_lines), "lines": [int(n) for n in blank_lines[:100]]}))
    yield ReadingsChunk(empty_readings(), warnings)


def _first_line(path: str | Path) -> str:
    """The header line; a one-line ContractError for a missing, empty or UTF-16 file."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        raise ContractError(f"{path}: no such file") from None
    except OSError as exc:
        raise ContractError(f"{path}: cannot read it ({exc})") from None
    if not head:
        raise ContractError(f"{path}: the file is empty (0 bytes); export the data again")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise ContractError(f"{path}: the file is UTF-16 text; save it as UTF-8 (Excel: "
                            f"'CSV UTF-8') and import again")
    first = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").rstrip(b"\r")
    try:
        return first.decode("utf-8")
    except UnicodeDecodeError:
        raise ContractError(f"{path}: the header is not UTF-8 text; save the file as UTF-8 "
                            f"and import again") from None


def _separator(path: str | Path, header: str, sep: str | None
               ) -> tuple[str, list[DataWarning]]:
    """``sep``, else the separator that splits the header into the most fields."""
    if sep is not None:
        return sep, []
    found = max(SEPARATORS, key=lambda s: len(header.split(s)))
    if found == ",":
        return found, []
    return found, [DataWarning("import.separator", f"{path}: read as {found!r}-separated "
                               f"(detected from the header); pass --sep to choose",
                               {"sep": found})]


def _decimal(path: str | Path, values: pd.Series, sep: str, warnings: list[DataWarning]
             ) -> str:
    """``,`` when a ``;``-separated file writes its values with decimal commas (noted)."""
    if sep == "," or not values.str.contains(",", regex=False).any() or (
            values.str.contains(".", regex=False).any()):
        return "."
    warnings.append(DataWarning("import.decimal-comma", f"{path}: values read with decimal "
                                f"commas (detected); pass --decimal to choose",
                                {"decimal": ","}))
    return ","


def _typed(path: str | Path, raw: pd.DataFrame, decimal: str, times: TimeParser | None
           ) -> pd.DataFrame:
    """Trimmed text rows → a frame for :func:`validate_readings` (times parsed, values
    numbers); bad values and times raise ContractError naming the line."""
    frame = raw.copy()
    text = frame["value"].str.replace(",", ".", regex=False) if decimal == "," else (
        frame["value"])
    frame["value"] = pd.to_numeric(text, errors="coerce")
    bad = frame["value"].isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ContractError(
            f"{path}: line {_line(raw, i)}: value "
            f"{raw['value'].iloc[i]!r} is not a number ({int(bad.sum())} such rows); write "
            f"plain decimals" + ("" if decimal == "," else " or pass --decimal ,"))
    if times is not None:
        utc, problems = times(frame["time"])
        wrong = problems.notna().to_numpy()
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise ContractError(f"{path}: line {_line(raw, i)}: "
                                f"{problems.iloc[i]} ({int(wrong.sum())} such rows)")
        frame["time"] = utc
    for column in ("quantity", "quality"):
        if column in frame.columns:
            frame[column] = frame[column].replace("", None)
    return frame


def _line(raw: pd.DataFrame, i: int) -> int:
    """The file line of row ``i`` of a chunk (pandas numbers data rows from 0 across chunks;
    the header is line 1)."""
    return int(raw.index[i]) + 2


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


def write_weather_csv(weather: pd.DataFrame, path: str | Path) -> int:
    """Write a wide weather frame (index UTC time) as ``time,temperature[,humidity,ghi]`` —
    the file :func:`read_weather_csv` reads. Returns the rows written."""
    out = weather.reset_index()
    out["time"] = pd.DatetimeIndex(out["time"]).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False, columns=["time", *weather.columns])
    return len(out)


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
    _first_line(path)
    try:
        frame = pd.read_csv(path, dtype={"meter": "string"}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: not a readable CSV ({exc}); check the file") from None
    _require(path, [str(c) for c in frame.columns], required)
    return frame


def _require(path: str | Path, names: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        raise ContractError(
            f"{path}: missing column(s) {missing}; the header must start with "
            f"{','.join(required)} (got {','.join(names)})"
        )
