"""The OpenEEmeter ``il-*`` samples (../shared/data/eemeter-samples) as wattlens frames, and
their designed answer key.

Each sample is a synthetic load on real NOAA temperatures (Fahrenheit): an annual base load
plus heating and cooling loads driven by degree hours (balance points in metadata.json);
2016 is designed at 10,000 kWh (1,000 for gas) and 2017 at 90 % of each *annual* component,
with an installation blackout 2016-12-26 .. 2017-01-04, and heavy random noise on top (the
daily residual is ~25 % of the mean). The designed 10 % is a ratio of the two years' own-
weather totals; M&V measures the *weather-adjusted* saving (adjusted baseline − actual), which
the metadata does not give. Two references for it:

- :func:`design_key` — our noise-free reconstruction, each year's weather load scaled to that
  year's own degree hours (a generator with an exact answer, used for noise-free tests);
- :func:`oracle_savings` — the saving the shipped file itself shows under the *correctly
  specified* model: per-period usage regressed on days, heating and cooling degree hours at
  the metadata's balance points over the baseline, projected onto the reporting periods.
  No search, no model selection: what a perfect baseline model would report on that file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eemeter-samples"
TZ = "America/Chicago"
BASELINE = ("2015-12-26", "2016-12-26")
REPORTING = ("2017-01-04", "2018-01-04")
BLACKOUT = ("2016-12-26", "2017-01-04")
DESIGNS = ("il-electricity-cdd-hdd", "il-electricity-cdd-only", "il-gas-hdd-only",
           "il-gas-intercept-only")
FREQS = ("hourly", "daily", "billing_monthly", "billing_bimonthly")


def available() -> bool:
    return (SAMPLES / "metadata.json").exists()


@cache
def metadata() -> dict:
    return json.loads((SAMPLES / "metadata.json").read_text())


@cache
def weather() -> pd.DataFrame:
    """Hourly outdoor temperature [degC] on a UTC index."""
    raw = pd.read_csv(SAMPLES / "il-tempF.csv.gz")
    index = pd.to_datetime(raw["dt"], utc=True).astype("datetime64[ns, UTC]")
    return pd.DataFrame({"temperature": ((raw["tempF"] - 32) * 5 / 9).to_numpy()}, index=index)


@cache
def readings(sample: str) -> pd.DataFrame:
    """A sample's meter data as readings (the trailing NaN end marker dropped)."""
    raw = pd.read_csv(SAMPLES / metadata()[sample]["meter_data_filename"]).dropna()
    return pd.DataFrame({
        "time": pd.to_datetime(raw["start"], utc=True).astype("datetime64[ns, UTC]"),
        "meter": sample, "quantity": "energy", "value": raw["value"].to_numpy(),
        "quality": "ok",
    })


def _design_hourly(design: str, which: str, year: str, times: pd.DatetimeIndex) -> pd.Series:
    """The designed noise-free load [kWh/h] of ``which`` (baseline|reporting) whose annual
    totals are normalised on calendar ``year``, evaluated at ``times``."""
    meta = metadata()[f"{design}-hourly"]
    temp_f = weather()["temperature"] * 9 / 5 + 32
    local = temp_f.tz_convert(TZ)
    heat = (meta.get(f"{which}_heating_balance_point", 60) - local).clip(lower=0)
    cool = (local - meta.get(f"{which}_cooling_balance_point", 65)).clip(lower=0)
    in_year = local.index.year == int(year)
    load = (
        meta[f"annual_{which}_base_load"] / in_year.sum()
        + meta[f"annual_{which}_heating_load"] * heat / max(heat[in_year].sum(), 1e-9)
        + meta[f"annual_{which}_cooling_load"] * cool / max(cool[in_year].sum(), 1e-9)
    )
    load.index = load.index.tz_convert("UTC")
    return load.reindex(times)


def design_key(design: str, windows: list[tuple[pd.Timestamp, pd.Timestamp]] | None = None
               ) -> float:
    """The exact weather-adjusted designed saving [%] over ``windows`` (UTC [start, end);
    default the whole REPORTING period): 1 − designed reporting load / designed baseline
    load under the same weather."""
    times = weather().index
    if windows is None:
        windows = [(pd.Timestamp(REPORTING[0], tz=TZ), pd.Timestamp(REPORTING[1], tz=TZ))]
    rows = np.zeros(len(times), dtype=bool)
    for start, end in windows:
        rows |= np.asarray((times >= start) & (times < end))
    base = _design_hourly(design, "baseline", "2016", times[rows]).sum()
    rep = _design_hourly(design, "reporting", "2017", times[rows]).sum()
    return float((1 - rep / base) * 100)


@cache
def period_starts(sample: str) -> pd.DatetimeIndex:
    """Start of every period of a sample plus the end of the last one (UTC)."""
    raw = pd.read_csv(SAMPLES / metadata()[sample]["meter_data_filename"])
    return pd.DatetimeIndex(pd.to_datetime(raw["start"], utc=True)).astype("datetime64[ns, UTC]")


def windows_of(sample: str, starts: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """[start, end) of the sample's periods that begin at ``starts``."""
    bounds = period_starts(sample)
    pos = np.searchsorted(bounds.asi8, pd.DatetimeIndex(starts).astype("datetime64[ns, UTC]").asi8)
    return [(bounds[i], bounds[i + 1]) for i in pos]


def design_readings(design: str, freq: str) -> pd.DataFrame:
    """Noise-free designed readings (2016 design before 2017-01-01, 2017 after) at the
    sample's own granularity: hourly, daily or the sample's billing periods."""
    times = weather().index
    base = _design_hourly(design, "baseline", "2016", times)
    rep = _design_hourly(design, "reporting", "2017", times)
    hourly = pd.Series(np.where(times.tz_convert(TZ).year <= 2016, base, rep), index=times)
    if freq == "hourly":
        series = hourly
    else:
        starts = pd.DatetimeIndex(readings(f"{design}-{freq}")["time"])
        if freq == "daily":
            starts = starts.append(pd.DatetimeIndex([starts[-1] + pd.Timedelta(days=1)]))
        else:  # the billing samples' last row is an end marker with no value
            starts = period_starts(f"{design}-{freq}")
        starts = starts.astype("datetime64[ns, UTC]")
        bins = np.searchsorted(starts.asi8, hourly.index.astype("datetime64[ns, UTC]").asi8,
                               side="right") - 1
        inside = (bins >= 0) & (bins < len(starts) - 1)
        series = hourly[inside].groupby(bins[inside]).sum()
        series.index = starts[series.index]
    return pd.DataFrame({
        "time": pd.DatetimeIndex(series.index).astype("datetime64[ns, UTC]"),
        "meter": design, "quantity": "energy", "value": series.to_numpy(), "quality": "ok",
    })


def oracle_savings(sample: str, baseline: tuple[str, str], reporting: tuple[str, str]) -> float:
    """Weather-adjusted saving [%] of a shipped sample under its designed model form
    (usage = a·hours + b·heating degree hours + c·cooling degree hours, balance points from
    metadata.json, least squares over the periods wholly inside ``baseline``), summed over
    the periods wholly inside ``reporting`` (local dates in :data:`TZ`)."""
    meta = metadata()[sample]
    temp_f = weather()["temperature"] * 9 / 5 + 32
    heat = (meta.get("baseline_heating_balance_point", 60) - temp_f).clip(lower=0)
    cool = (temp_f - meta.get("baseline_cooling_balance_point", 65)).clip(lower=0)
    cum = [np.concatenate([[0.0], np.cumsum(x)]) for x in (np.ones(len(temp_f)), heat, cool)]
    frame = readings(sample)
    starts = pd.DatetimeIndex(frame["time"])
    if meta["freq"].startswith("billing"):
        ends = period_starts(sample)[1:len(starts) + 1]
    else:  # each reading runs to the next (local days are 23 or 25 h at DST changes)
        ends = starts[1:].append(pd.DatetimeIndex([starts[-1] + (starts[-1] - starts[-2])]))
    first, last = temp_f.index.searchsorted(starts), temp_f.index.searchsorted(ends)
    design = np.column_stack([c[last] - c[first] for c in cum])
    usage = frame["value"].to_numpy()

    def inside(period: tuple[str, str]) -> np.ndarray:
        lo, hi = (pd.Timestamp(v, tz=TZ) for v in period)
        return np.asarray((starts >= lo) & (ends <= hi))

    base, rep = inside(baseline), inside(reporting)
    coef, *_ = np.linalg.lstsq(design[base], usage[base], rcond=None)
    adjusted = float((design[rep] @ coef).sum())
    return (adjusted - float(usage[rep].sum())) / adjusted * 100
