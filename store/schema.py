"""The readings contract: the frames every part of wattlens passes to every other.

Three long frames, validated at every boundary (source → store, store → jobs, CSV → CLI):

- readings: ``time`` (UTC, tz-aware), ``meter`` (str), ``quantity`` (str, one of
  :data:`QUANTITIES`), ``value`` (float, in the quantity's unit), ``quality`` (one of
  :data:`QUALITY`). A missing reading is an absent row, never a zero and never NaN.
- forecasts as issued: ``issued_at``, ``meter``, ``model``, ``model_version``, ``time``,
  ``yhat``, ``yhat_lower``, ``yhat_upper`` (energy [kWh per interval] for energy meters).
- events (anomalies and annotations): ``event_id``, ``meter``, ``start``, ``end``, ``kind``,
  ``severity`` (0..1), ``excess_kwh``, ``details`` (JSON text).

``validate_*`` return a new, canonically typed and sorted frame or raise
:class:`ContractError`, whose message names the input, the problem and the fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

QUANTITIES: dict[str, str] = {
    "energy": "kWh",  # energy [kWh per interval]
    "power": "kW",  # power [kW], instantaneous or interval mean
    "temperature": "degC",  # outdoor air temperature [degC]
    "humidity": "%",  # relative humidity [%]
    "ghi": "W/m2",  # global horizontal irradiance [W/m2]
    "carbon_intensity": "gCO2/kWh",  # grid carbon intensity [gCO2/kWh]
    "volume": "m3",  # water volume [m3 per interval]
}
"""Canonical unit of each quantity; every stored value is in this unit."""

QUALITY: tuple[str, ...] = ("ok", "estimated", "suspect")
"""Quality flags: ``ok`` as measured; ``estimated`` derived (e.g. power → energy);
``suspect`` kept but flagged (spike, register decrease, out-of-range)."""

READINGS_COLUMNS = ["time", "meter", "quantity", "value", "quality"]
FORECAST_COLUMNS = [
    "issued_at", "meter", "model", "model_version", "time", "yhat", "yhat_lower", "yhat_upper",
]
EVENT_COLUMNS = [
    "event_id", "meter", "start", "end", "kind", "severity", "excess_kwh", "details",
]
ANNOTATION_COLUMNS = ["event_id", "at", "by", "status", "note"]
ANNOTATION_STATUSES = ("acknowledged", "non-routine", "open")

_FORBIDDEN_ID_CHARS = ("\n", "\r", "\t", "\x00")


class ContractError(ValueError):
    """A frame does not meet the readings contract. The message says what to change."""


def _where(rows: pd.Series, frame: pd.DataFrame, what: str) -> str:
    """Describe the first offending rows for an error message."""
    bad = frame.loc[rows]
    first = bad.head(3).to_dict("records")
    return f"{int(rows.sum())} {what} (first: {first})"


def utc_column(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """Return ``frame[column]`` as datetime64[ns, UTC]; reject naive or unparseable values."""
    raw = frame[column]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        raise ContractError(
            f"{name}: column '{column}' holds naive timestamps (no timezone); localise them "
            f"first, e.g. series.dt.tz_localize('Europe/London'), or give ISO 8601 with an "
            f"offset or 'Z'"
        )
    text = raw.astype("string")
    naive = text.notna() & ~text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)\s*$", regex=True, na=False)
    if naive.any():
        raise ContractError(
            f"{name}: column '{column}' has {int(naive.sum())} timestamps without a timezone "
            f"(first: {text[naive].iloc[0]!r}); write them as ISO 8601 with an offset or 'Z', "
            f"e.g. 2019-01-01T00:00:00Z"
        )
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna() & text.notna()
    if bad.any():
        raise ContractError(
            f"{name}: column '{column}' has {int(bad.sum())} values that are not timestamps "
            f"(first: {text[bad].iloc[0]!r}); use ISO 8601 such as 2019-01-01T00:00:00Z"
        )
    return parsed.astype("datetime64[ns, UTC]")


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractError(
            f"{name}: missing column(s) {missing}; expected {list(columns)} "
            f"(got {list(frame.columns)})"
        )


def _id_column(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """Identifiers: non-empty text without control characters (checked once per distinct id)."""
    text = frame[column].astype("str")
    empty = text.isna()
    uniques = pd.Series(text[~empty].unique(), dtype="str")
    blank = uniques[uniques.str.strip() == ""]
    if empty.any() or len(blank):
        rows = empty | text.isin(list(blank))
        raise ContractError(
            f"{name}: {_where(rows, frame, f'rows have no {column} id')}; every row needs one"
        )
    for ch in _FORBIDDEN_ID_CHARS:
        bad = uniques[uniques.str.contains(ch, regex=False)]
        if len(bad):
            raise ContractError(
                f"{name}: {column} {bad.iloc[0]!r} contains a control character "
                f"({ch!r}); rename it without tabs, newlines or NUL"
            )
    return text


def _float_column(frame: pd.DataFrame, column: str, name: str, allow_nan: bool) -> pd.Series:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if raw.dtype == bool or bad.any():
        rows = bad if bad.any() else pd.Series(True, index=frame.index)
        raise ContractError(
            f"{name}: {_where(rows, frame, f'{column} values are not numbers')}; "
            f"give plain decimal numbers (units per quantity: {QUANTITIES})"
        )
    values = values.astype("float64")
    if not allow_nan:
        nonfinite = ~np.isfinite(values.to_numpy())
        if nonfinite.any():
            rows = pd.Series(nonfinite, index=frame.index)
            raise ContractError(
                f"{name}: {_where(rows, frame, f'{column} values are empty, NaN or infinite')}; "
                f"a missing reading is a missing row, not an empty value"
            )
    return values


def validate_readings(frame: pd.DataFrame, name: str = "readings") -> pd.DataFrame:
    """Check ``frame`` against the readings contract and return it canonically typed.

    ``quantity`` defaults to ``energy`` and ``quality`` to ``ok`` when the column is absent.
    Raises :class:`ContractError` on naive timestamps, missing meter ids, non-numeric or
    non-finite values, unknown quantities or flags, and duplicate (meter, quantity, time).
    """
    if not isinstance(frame, pd.DataFrame):
        raise ContractError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    frame = frame.copy()
    for column, default in (("quantity", "energy"), ("quality", "ok")):
        frame[column] = frame[column].fillna(default) if column in frame.columns else default
    _require_columns(frame, READINGS_COLUMNS, name)
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(
        {
            "time": utc_column(frame, "time", name),
            "meter": _id_column(frame, "meter", name),
            "quantity": frame["quantity"].astype("str"),
            "value": _float_column(frame, "value", name, allow_nan=False),
            "quality": frame["quality"].astype("str"),
        }
    )
    unknown = ~out["quantity"].isin(list(QUANTITIES))
    if unknown.any():
        raise ContractError(
            f"{name}: unknown quantity {out.loc[unknown, 'quantity'].iloc[0]!r}; use one of "
            f"{sorted(QUANTITIES)} (energy [kWh], power [kW], temperature [degC], ...)"
        )
    bad_flag = ~out["quality"].isin(QUALITY)
    if bad_flag.any():
        raise ContractError(
            f"{name}: unknown quality flag {out.loc[bad_flag, 'quality'].iloc[0]!r}; "
            f"use one of {list(QUALITY)}"
        )
    out = _sorted(out, ["meter", "quantity"], "time")
    same = _same_as_previous(out, ["meter", "quantity", "time"])
    if same.any():
        dup = same | np.roll(same, -1)
        raise ContractError(
            f"{name}: {_where(pd.Series(dup), out, 'rows share the same (meter, quantity, time)')}"
            f"; collapse duplicates before writing (e.g. keep the last reading)"
        )
    return out


def _sorted(frame: pd.DataFrame, keys: list[str], time: str) -> pd.DataFrame:
    """Sort by text ``keys`` then ``time``, fast (lexsort on factorised codes)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    codes = [pd.factorize(frame[k], sort=True)[0] for k in keys]
    order = np.lexsort([frame[time].array.asi8, *reversed(codes)])
    return frame.take(order).reset_index(drop=True)


def _same_as_previous(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """True where a row equals the row before it in every one of ``columns``."""
    same = np.zeros(len(frame), dtype=bool)
    if len(frame) > 1:
        same[1:] = True
        for c in columns:
            column = frame[c]
            if isinstance(column.dtype, pd.DatetimeTZDtype):
                values = column.array.asi8
            else:
                values = pd.factorize(column)[0]
            same[1:] &= values[1:] == values[:-1]
    return same


def validate_forecasts(frame: pd.DataFrame, name: str = "forecasts") -> pd.DataFrame:
    """Check a forecasts-as-issued frame; ``model_version`` defaults to ``""``."""
    frame = frame.copy().reset_index(drop=True)
    if "model_version" not in frame.columns:
        frame["model_version"] = ""
    _require_columns(frame, FORECAST_COLUMNS, name)
    out = pd.DataFrame(
        {
            "issued_at": utc_column(frame, "issued_at", name),
            "meter": _id_column(frame, "meter", name),
            "model": _id_column(frame, "model", name),
            "model_version": frame["model_version"].fillna("").astype("str"),
            "time": utc_column(frame, "time", name),
            "yhat": _float_column(frame, "yhat", name, allow_nan=False),
            "yhat_lower": _float_column(frame, "yhat_lower", name, allow_nan=False),
            "yhat_upper": _float_column(frame, "yhat_upper", name, allow_nan=False),
        }
    )
    inverted = out["yhat_lower"] > out["yhat_upper"]
    if inverted.any():
        raise ContractError(
            f"{name}: {_where(inverted, out, 'rows have yhat_lower > yhat_upper')}; "
            f"swap the bounds"
        )
    dup = out.duplicated(["issued_at", "meter", "model", "time"], keep=False)
    if dup.any():
        raise ContractError(
            f"{name}: {_where(dup, out, 'rows share (issued_at, meter, model, time)')}; "
            f"each issue predicts each time once"
        )
    return out.sort_values(["meter", "model", "issued_at", "time"], ignore_index=True)


def event_id(meter: str, kind: str, start: pd.Timestamp) -> str:
    """A stable id for an event: the same detection run twice gives the same id."""
    key = f"{meter}\x1f{kind}\x1f{pd.Timestamp(start).tz_convert('UTC').isoformat()}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def validate_events(frame: pd.DataFrame, name: str = "events") -> pd.DataFrame:
    """Check an events frame; fills ``event_id`` (stable hash), ``excess_kwh`` and
    ``details`` when absent."""
    frame = frame.copy().reset_index(drop=True)
    for column, default in (("excess_kwh", 0.0), ("details", "{}"), ("severity", 0.5)):
        if column not in frame.columns:
            frame[column] = default
    _require_columns(frame, [c for c in EVENT_COLUMNS if c != "event_id"], name)
    out = pd.DataFrame(
        {
            "meter": _id_column(frame, "meter", name),
            "start": utc_column(frame, "start", name),
            "end": utc_column(frame, "end", name),
            "kind": _id_column(frame, "kind", name),
            "severity": _float_column(frame, "severity", name, allow_nan=False),
            "excess_kwh": _float_column(frame, "excess_kwh", name, allow_nan=True).fillna(0.0),
            "details": frame["details"].fillna("{}").astype("str"),
        }
    )
    backwards = out["end"] < out["start"]
    if backwards.any():
        raise ContractError(
            f"{name}: {_where(backwards, out, 'events end before they start')}; swap start/end"
        )
    out_of_range = (out["severity"] < 0) | (out["severity"] > 1)
    if out_of_range.any():
        raise ContractError(
            f"{name}: {_where(out_of_range, out, 'severities outside 0..1')}; scale to 0..1"
        )
    if "event_id" in frame.columns and frame["event_id"].notna().all():
        ids = frame["event_id"].astype(str)
    else:
        ids = pd.Series(
            [event_id(m, k, s) for m, k, s in zip(out["meter"], out["kind"], out["start"])],
            dtype=object,
        )
    out.insert(0, "event_id", ids.astype("str"))
    dup = out.duplicated("event_id", keep=False)
    if dup.any():
        raise ContractError(
            f"{name}: {_where(dup, out, 'rows share an event_id')}; merge those events first"
        )
    return out.sort_values(["start", "meter", "kind"], ignore_index=True)


def empty_readings() -> pd.DataFrame:
    """A readings frame with no rows and the canonical dtypes."""
    return pd.DataFrame(
        {
            "time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "meter": pd.Series([], dtype="str"),
            "quantity": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="float64"),
            "quality": pd.Series([], dtype="str"),
        }
    )
