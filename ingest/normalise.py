"""Normalisation: pure functions that turn raw meter values into canonical readings.

- :func:`unit_conversion` / :func:`to_canonical`: device units → the canonical unit of the
  quantity (energy [kWh], power [kW], temperature [degC], ...); gas m3 or therm → kWh by a
  configured factor.
- :func:`register_to_interval`: a cumulative register → energy per interval, with counter
  rollover and meter-reset handling; decreases are flagged ``suspect``.
- :func:`power_to_interval`: power samples [kW] → energy per interval [kWh], ``estimated``.
- :func:`parse_local_time`: text timestamps in a site's local time → UTC, with ambiguous and
  nonexistent wall times handled explicitly (rejected or resolved by a named policy, never
  silently shifted).
- :func:`collapse_duplicates`, :func:`flag_suspicious`: duplicates collapsed (conflicts
  flagged), out-of-range values flagged in ``quality``. Gaps stay absent rows: nothing is
  filled. "Zero means missing" sources drop zero energy with
  ``wattlens.store.csvio.zeros_as_missing`` (the files source's ``missing_zero`` option).

Every function takes and returns frames or series; none touches the store or the network.
Per-row problems are returned as a ``problems`` frame (``time``, ``value``, ``reason``) so the
caller can quarantine them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

THERM_KWH = 29.3071
"""One therm [kWh] (105.5056 MJ / 3.6)."""

_UNITS: dict[str, tuple[str, float, float]] = {
    # unit: (quantity, factor, offset) — canonical = value * factor + offset
    "Wh": ("energy", 1e-3, 0.0),
    "kWh": ("energy", 1.0, 0.0),
    "MWh": ("energy", 1e3, 0.0),
    "W": ("power", 1e-3, 0.0),
    "kW": ("power", 1.0, 0.0),
    "MW": ("power", 1e3, 0.0),
    "degC": ("temperature", 1.0, 0.0),
    "degF": ("temperature", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
    "K": ("temperature", 1.0, -273.15),
    "%": ("humidity", 1.0, 0.0),
    "W/m2": ("ghi", 1.0, 0.0),
    "gCO2/kWh": ("carbon_intensity", 1.0, 0.0),
}
_ALIASES = {
    "wh": "Wh", "kwh": "kWh", "mwh": "MWh", "w": "W", "kw": "kW",
    "°c": "degC", "c": "degC", "degc": "degC", "celsius": "degC",
    "°f": "degF", "f": "degF", "degf": "degF", "fahrenheit": "degF", "k": "K",
    "percent": "%", "w/m²": "W/m2", "w/m^2": "W/m2", "w/m2": "W/m2",
    "m3": "m3", "m³": "m3", "m^3": "m3", "therm": "therm", "therms": "therm",
    "gco2/kwh": "gCO2/kWh",
}
UNITS: tuple[str, ...] = (*_UNITS, "m3", "therm")
"""Every unit a source may report."""


@dataclass(frozen=True)
class Conversion:
    """How to bring a unit to canonical: ``canonical = raw * factor + offset``."""

    quantity: str
    factor: float
    offset: float = 0.0


def unit_conversion(
    unit: str, kwh_per_unit: float | None = None, commodity: str = ""
) -> Conversion:
    """The conversion for ``unit``. Gas ``m3`` and ``therm`` become energy [kWh]:
    therm by 29.3071 kWh unless ``kwh_per_unit`` says otherwise; m3 needs ``kwh_per_unit``
    (calorific value x volume correction, e.g. 11.2 kWh/m3), except for water (volume [m3]).
    Raises ValueError naming the unit and the fix."""
    canon = unit if unit in _UNITS else _ALIASES.get(unit.strip().lower())
    if canon is None:
        raise ValueError(
            f"unit {unit!r} is not known; use one of {list(UNITS)} (case as shown)"
        )
    if canon == "therm":
        return Conversion("energy", kwh_per_unit or THERM_KWH)
    if canon == "m3":
        if commodity == "water" and kwh_per_unit is None:
            return Conversion("volume", 1.0)
        if kwh_per_unit is None:
            raise ValueError(
                f"unit {unit!r} is a gas volume; set kwh_per_unit (calorific value x volume "
                f"correction, e.g. 11.2 kWh per m3) to convert it to energy [kWh]"
            )
        return Conversion("energy", kwh_per_unit)
    quantity, factor, offset = _UNITS[canon]
    if kwh_per_unit is not None and quantity == "energy":
        raise ValueError(
            f"kwh_per_unit is only for gas volumes (m3, therm), not {unit!r}; remove it"
        )
    return Conversion(quantity, factor, offset)


def to_canonical(values: pd.Series, conversion: Conversion) -> pd.Series:
    """``values`` in the canonical unit of ``conversion.quantity`` (float64)."""
    out = values.astype("float64") * conversion.factor
    return out + conversion.offset if conversion.offset else out


def _problems(times: list, values: list, reasons: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.Series(times, dtype="datetime64[ns, UTC]"),
            "value": pd.Series(values, dtype="float64"),
            "reason": pd.Series(reasons, dtype=object),
        }
    )


def _utc(times: list) -> pd.Series:
    """UTC series from naive datetime64[ns] values that are already UTC."""
    return pd.Series(np.array(times, dtype="datetime64[ns]")).dt.tz_localize("UTC")


@dataclass(frozen=True)
class Converted:
    """Result of a conversion: ``frame`` (time, value, quality) and ``problems``
    (time, value, reason) for the caller to quarantine or log."""

    frame: pd.DataFrame
    problems: pd.DataFrame


def register_to_interval(
    samples: pd.DataFrame,
    rollover: float | None = None,
    interval: pd.Timedelta | str | None = None,
    reset_fraction: float = 0.5,
) -> Converted:
    """Cumulative register samples (``time`` UTC, ``value`` [register unit]) of ONE meter →
    the increase per interval, labelled with the interval's start (the earlier sample's time).

    - increase ≥ 0: kept, ``ok``.
    - a decrease with ``rollover`` (register modulus, e.g. ``2**32 * scale``) where the
      previous value is in the top half and the new one in the bottom half: a counter wrap,
      increase = new + rollover − previous, ``ok``.
    - a decrease to below ``reset_fraction`` of the previous value: a meter reset (the register
      restarted from 0), increase = new value, ``suspect``.
    - any other decrease: a misread. The sample is reported in ``problems`` and skipped; the
      next increase is measured from the last good value and flagged ``suspect``.
    - an increase spanning more than 1.5 ``interval`` (a gap) is kept whole, ``suspect``.

    The increases sum to the register's total advance (counting wraps and resets).
    Duplicate times keep the last sample. The first sample only sets the baseline.
    """
    s = samples[["time", "value"]].assign(
        time=pd.to_datetime(samples["time"], utc=True).astype("datetime64[ns, UTC]")
    )
    s = s.sort_values("time", kind="stable").drop_duplicates("time", keep="last")
    s = s[np.isfinite(s["value"].to_numpy(dtype="float64"))]
    times = s["time"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    values = s["value"].to_numpy(dtype="float64")
    gap = None
    if interval is not None:
        gap = np.timedelta64(int(pd.Timedelta(interval).value * 1.5), "ns")
    out_t, out_v, out_q = [], [], []
    bad_t, bad_v, bad_r = [], [], []
    if len(values):
        base_t, base_v, carry_suspect = times[0], values[0], False
        for t, v in zip(times[1:], values[1:], strict=True):
            d = v - base_v
            quality: str = "suspect" if carry_suspect else "ok"
            if d < 0:
                if rollover is not None and base_v >= rollover / 2 > v:
                    d = v + rollover - base_v
                elif v < base_v * reset_fraction:
                    d, quality = v, "suspect"
                else:
                    bad_t.append(t)
                    bad_v.append(v)
                    bad_r.append(
                        f"register went backwards from {base_v:g} to {v:g} (not a reset or "
                        f"rollover); sample skipped, check the meter or its register map"
                    )
                    carry_suspect = True
                    continue
            if gap is not None and (t - base_t) > gap:
                quality = "suspect"
            out_t.append(base_t)
            out_v.append(d)
            out_q.append(quality)
            base_t, base_v, carry_suspect = t, v, False
    frame = pd.DataFrame(
        {
            "time": _utc(out_t),
            "value": pd.Series(out_v, dtype="float64"),
            "quality": pd.Series(out_q, dtype=object),
        }
    )
    problems = _problems(list(_utc(bad_t)), bad_v, bad_r)
    return Converted(frame, problems)


def power_to_interval(
    samples: pd.DataFrame,
    interval: pd.Timedelta | str,
    complete_before: pd.Timestamp | None = None,
) -> Converted:
    """Power samples (``time`` UTC, ``value`` [kW]) of ONE meter → energy per interval
    [kWh]: the mean of the samples in each interval times its length [h], ``estimated``.

    Only intervals that contain samples are produced (gaps stay absent). Intervals ending
    after ``complete_before`` (e.g. "now" for a live poller) are left out, so they are not
    written half-full. Negative power is reported in ``problems`` (and excluded from the mean).
    """
    step = pd.Timedelta(interval)
    s = samples[["time", "value"]]
    finite = np.isfinite(s["value"].to_numpy(dtype="float64"))
    negative = finite & (s["value"].to_numpy(dtype="float64") < 0)
    bad = s[negative]
    problems = _problems(
        list(bad["time"]),
        list(bad["value"]),
        [f"negative power {v:g} kW; check the sign convention (import/export)"
         for v in bad["value"]],
    )
    s = s[finite & ~negative]
    start = s["time"].dt.floor(step)
    means = s.groupby(start)["value"].mean()
    if complete_before is not None:
        means = means[means.index + step <= complete_before]
    frame = pd.DataFrame(
        {
            "time": pd.Series(means.index, dtype="datetime64[ns, UTC]"),
            "value": (means.to_numpy() * (step / pd.Timedelta("1h"))).astype("float64"),
            "quality": "estimated",
        }
    )
    return Converted(frame, problems)


Ambiguous = Literal["infer", "earliest", "latest", "reject"]


@dataclass(frozen=True)
class LocalTimes:
    """Parsed times: ``utc`` (datetime64[ns, UTC], NaT where rejected) and ``problems``
    (reason text per row, ``None`` where fine), both aligned with the input."""

    utc: pd.Series
    problems: pd.Series


def parse_local_time(
    text: pd.Series,
    timezone: str,
    fmt: str | None = None,
    ambiguous: Ambiguous = "infer",
) -> LocalTimes:
    """Parse timestamps to UTC. Values with an offset or ``Z`` are taken as given; naive values
    are wall-clock times in ``timezone``.

    ``ambiguous`` decides repeated wall times at the end of summer time: ``infer`` (from the
    order of a regular series: first occurrence is summer time; rows it cannot decide are
    rejected), ``earliest`` (summer time), ``latest`` (standard time) or ``reject``.
    Nonexistent wall times (skipped at the start of summer time) are always rejected, never
    shifted. Unparseable values are rejected with a reason.
    """
    raw = text.astype("string")
    if fmt is not None and "%z" not in fmt and "%Z" not in fmt:
        explicit = pd.Series(False, index=text.index)  # the format has no offset
    else:
        arrow = pa.array(raw.to_numpy(dtype=object, na_value=None), type=pa.string())
        found = pc.match_substring_regex(arrow, r"(?:Z|[+-]\d\d:?\d\d)\s*$")
        explicit = pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False),
                             index=text.index)
    utc = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    problems = pd.Series(None, index=text.index, dtype=object)
    if explicit.any():
        parsed = pd.to_datetime(raw[explicit], utc=True, errors="coerce", format=fmt or "ISO8601")
        utc[explicit] = _nanoseconds(parsed, problems).astype("datetime64[ns, UTC]")
    naive_rows = ~explicit
    if naive_rows.any():
        naive = pd.to_datetime(raw[naive_rows], errors="coerce", format=fmt or "ISO8601")
        naive = _nanoseconds(naive, problems).astype("datetime64[ns]")
        if timezone in ("UTC", "Etc/UTC"):
            local = naive.dt.tz_localize("UTC")
        else:
            local = _localise(naive, timezone, ambiguous, problems)
        utc[naive_rows] = local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    unparsed = utc.isna() & problems.isna()
    if unparsed.any():
        problems[unparsed] = [
            f"time {v!r} is not a timestamp"
            + (f" in format {fmt!r}" if fmt else "")
            + "; fix the value or the time_format option"
            for v in raw[unparsed]
        ]
    return LocalTimes(utc, problems)


def _nanoseconds(parsed: pd.Series, problems: pd.Series) -> pd.Series:
    """``parsed`` with times outside pandas' nanosecond range (1677-09-22..2262-04-11, e.g.
    ``9999-12-31`` sentinels) set to NaT and reported in ``problems``."""
    wall = parsed.dt.tz_convert(None) if parsed.dt.tz is not None else parsed
    outside = (wall < pd.Timestamp.min) | (wall > pd.Timestamp.max)
    if not outside.any():
        return parsed
    problems[outside[outside].index] = [
        f"time {t} is outside the range wattlens stores ({pd.Timestamp.min:%Y-%m-%d} to "
        f"{pd.Timestamp.max:%Y-%m-%d}): a placeholder date or a typo; fix or remove the row"
        for t in wall[outside]
    ]
    return parsed.mask(outside)


def _localise(
    naive: pd.Series, timezone: str, ambiguous: Ambiguous, problems: pd.Series
) -> pd.Series:
    """Localise naive wall times, recording problems for ambiguous/nonexistent ones."""
    dst = naive.dt.tz_localize(timezone, ambiguous=np.ones(len(naive), bool), nonexistent="NaT")
    std = naive.dt.tz_localize(timezone, ambiguous=np.zeros(len(naive), bool), nonexistent="NaT")
    nonexistent = dst.isna() & naive.notna()
    is_ambiguous = (dst != std) & dst.notna() & std.notna()
    local = std.copy()
    if is_ambiguous.any():
        if ambiguous == "earliest":
            local[is_ambiguous] = dst[is_ambiguous]
        elif ambiguous == "infer":
            try:
                inferred = naive.dt.tz_localize(timezone, ambiguous="infer", nonexistent="NaT")
                local[is_ambiguous] = inferred[is_ambiguous]
            except Exception:  # pytz raises AmbiguousTimeError; keep the reason generic
                local[is_ambiguous] = pd.NaT
        elif ambiguous == "reject":
            local[is_ambiguous] = pd.NaT
        undecided = is_ambiguous & local.isna()
        if undecided.any():
            problems[undecided[undecided].index] = [
                f"local time {t} is ambiguous in {timezone} (clocks go back); include the UTC "
                f"offset, or set ambiguous = 'earliest' or 'latest'"
                for t in naive[undecided]
            ]
    if nonexistent.any():
        local[nonexistent] = pd.NaT
        problems[nonexistent[nonexistent].index] = [
            f"local time {t} does not exist in {timezone} (clocks go forward); the source "
            f"clock is wrong or not in {timezone}, fix the timezone option or the value"
            for t in naive[nonexistent]
        ]
    return local


def collapse_duplicates(readings: pd.DataFrame) -> pd.DataFrame:
    """One row per (meter, quantity, time): the last one wins; when duplicates disagree on
    the value the kept row is flagged ``suspect``."""
    key = ["meter", "quantity", "time"]
    dup = readings.duplicated(key, keep=False)
    if not dup.any():
        return readings
    spread = readings[dup].groupby(key, sort=False)["value"].transform(lambda v: v.nunique())
    conflict = pd.Series(False, index=readings.index)
    conflict[spread.index] = spread > 1
    out = readings.copy()
    out.loc[conflict, "quality"] = "suspect"
    return out.drop_duplicates(key, keep="last").reset_index(drop=True)


PLAUSIBLE: dict[str, tuple[float, float]] = {
    "temperature": (-90.0, 60.0),
    "humidity": (0.0, 100.0),
    "ghi": (0.0, 1500.0),
    "energy": (0.0, 1e7),  # 10 GWh in one interval: more than any site meter measures
    "power": (-1e7, 1e7),
    "carbon_intensity": (0.0, 2000.0),
    "volume": (0.0, 1e6),
}
"""Physically plausible range of each quantity; values outside are flagged ``suspect``."""


def flag_suspicious(readings: pd.DataFrame, max_value: float | None = None) -> pd.DataFrame:
    """Flag (never drop or change) values outside :data:`PLAUSIBLE` for their quantity or
    above ``max_value`` (a per-meter ceiling, e.g. the supply capacity per interval)."""
    values = readings["value"]
    bad = pd.Series(False, index=readings.index)
    for quantity in readings["quantity"].unique():
        low, high = PLAUSIBLE.get(quantity, (-np.inf, np.inf))
        bad |= (readings["quantity"] == quantity) & ((values < low) | (values > high))
    if max_value is not None:
        bad |= values > max_value
    if not bad.any():
        return readings
    out = readings.copy()
    out.loc[bad.to_numpy(), "quality"] = "suspect"
    return out
