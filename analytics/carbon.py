"""Carbon: emissions of energy readings from a constant factor per commodity [kgCO2/kWh] or an
hourly grid intensity series [gCO2/kWh], ingested like weather (quantity ``carbon_intensity``
of an intensity meter)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from wattlens.core.base import Duration, Frozen


class CarbonError(ValueError):
    """Emissions cannot be computed; the message says which factor or series to add."""


class CarbonSection(Frozen):
    """The ``[carbon]`` config section. No factors are built in: they depend on country and
    year, so the config names them and their source."""

    factors: dict[str, float] = Field(
        default_factory=dict,
        description="commodity → emission factor [kgCO2/kWh], e.g. electricity = 0.207",
    )
    source: str = Field("", description="publisher and year of the factors")
    intensity_meter: str | None = Field(
        None,
        description="meter id whose 'carbon_intensity' readings [gCO2/kWh] price electricity "
        "hour by hour (overrides the electricity factor where present)",
    )
    max_gap: Duration = Field("3h", description="longest intensity gap filled from the neighbours")


def carbon_kg(
    energy: pd.Series,
    commodity: str,
    factors: dict[str, float],
    intensity: pd.Series | None = None,
    max_gap: str = "3h",
) -> pd.Series:
    """Emissions [kgCO2] per interval of ``energy`` [kWh per interval, UTC index].

    With ``intensity`` [gCO2/kWh, UTC index] (electricity), each interval uses the intensity
    in force at its start (carried forward at most ``max_gap``); intervals it does not cover
    fall back to ``factors[commodity]`` [kgCO2/kWh], and with no factor either raise
    :class:`CarbonError`.
    """
    if not isinstance(energy.index, pd.DatetimeIndex) or energy.index.tz is None:
        raise CarbonError("energy: expected a Series indexed by tz-aware (UTC) times")
    per_kwh = np.full(len(energy), np.nan)
    if intensity is not None and not intensity.empty:
        series = intensity.dropna().sort_index()
        series = series[~series.index.duplicated(keep="last")]
        src = series.index.tz_convert("UTC").astype("datetime64[ns, UTC]").asi8
        at = energy.index.tz_convert("UTC").astype("datetime64[ns, UTC]").asi8
        pos = np.searchsorted(src, at, side="right") - 1
        valid = pos >= 0
        age = np.where(valid, at - src[np.clip(pos, 0, None)], np.iinfo(np.int64).max)
        valid &= age <= pd.Timedelta(max_gap).value
        per_kwh[valid] = series.to_numpy(dtype=float)[pos[valid]] / 1000.0
    missing = np.isnan(per_kwh)
    if missing.any():
        if commodity not in factors:
            raise CarbonError(
                f"no emission factor for commodity {commodity!r} and {int(missing.sum())} "
                f"intervals without an intensity reading (first {energy.index[missing][0]}); "
                f"add [carbon] factors.{commodity} = <kgCO2/kWh> to the config"
            )
        per_kwh[missing] = factors[commodity]
    return pd.Series(energy.to_numpy(dtype=float) * per_kwh, index=energy.index, name="co2_kg")


def intensity_from_readings(readings: pd.DataFrame, meter: str) -> pd.Series:
    """The hourly grid intensity [gCO2/kWh] stored as ``carbon_intensity`` readings of
    ``meter`` (ingested like weather), as a Series on a UTC index."""
    rows = readings[(readings["meter"] == meter) & (readings["quantity"] == "carbon_intensity")]
    if rows.empty:
        raise CarbonError(
            f"meter {meter!r} has no 'carbon_intensity' readings; ingest the grid intensity "
            f"[gCO2/kWh] as readings of that meter or unset [carbon] intensity_meter"
        )
    index = pd.DatetimeIndex(rows["time"]).tz_convert("UTC").astype("datetime64[ns, UTC]")
    return pd.Series(rows["value"].to_numpy(dtype=float), index=index,
                     name="carbon_intensity").sort_index()
