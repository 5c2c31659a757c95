"""Key performance indicators per meter, rolled up to building and site, and submeter
reconciliation.

Per meter (energy readings [kWh per interval]): consumption [kWh], peak [kW] (highest
interval mean power), load factor (mean / peak power), baseload [kW] (5th percentile of
interval power), after-hours share (energy outside the occupied hours: the site calendar's
working hours on working days, so weekends, holidays, closures and bridge days count),
EUI [kWh/m²·year] (annualised, when the building's floor area is known), cost [currency]
through the meter's tariff and CO2 [kg] through the carbon factors.

Buildings and sites sum their main meters (meters without a ``parent``) per commodity and
over all commodities (``commodity = "all"``: consumption, EUI, cost, CO2 only). A submeter's
parent's unmetered remainder is :func:`submeter_reconciliation`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from wattlens.analytics.carbon import CarbonSection, carbon_kg
from wattlens.analytics.tariffs import TariffsSection, period_cost
from wattlens.core.intervals import interval_hours
from wattlens.core.meters import MeterInfo

BASELOAD_QUANTILE = 0.05
"""Quantile of interval power taken as the baseload."""
KPI_COLUMNS = [
    "level", "id", "commodity", "meters", "days", "consumption_kwh", "peak_kw", "load_factor",
    "baseload_kw", "after_hours_share", "eui_kwh_m2_year", "cost", "co2_kg",
]


def _energy(readings: pd.DataFrame, meter: str) -> pd.Series:
    rows = readings[(readings["meter"] == meter) & (readings["quantity"] == "energy")]
    return pd.Series(
        rows["value"].to_numpy(dtype=float),
        index=pd.DatetimeIndex(rows["time"]).tz_convert("UTC").astype("datetime64[ns, UTC]"),
        name=meter,
    ).sort_index()


def _meter_row(
    series: pd.Series,
    info: MeterInfo,
    tariffs: TariffsSection | None,
    carbon: CarbonSection | None,
    intensity: pd.Series | None,
) -> dict:
    step_h = interval_hours(series.index)
    power = series.to_numpy() / step_h
    days = len(series) * step_h / 24
    total = float(series.sum())
    peak = float(power.max())
    mean_kw = total / (len(series) * step_h)
    occ = info.calendar.occupied(series.index)
    cost = np.nan  # NaN: no tariff configured for this meter
    tariff = tariffs.for_meter(info.id, info.commodity) if tariffs else None
    if tariff is not None:
        frame = pd.DataFrame({"time": series.index, "meter": info.id, "value": series.values})
        cost = period_cost(tariff, frame, info.timezone)
    co2 = np.nan  # NaN: no factor (and no intensity series) for this commodity
    use = intensity if info.commodity == "electricity" else None
    if carbon is not None and (info.commodity in carbon.factors or use is not None):
        co2 = float(carbon_kg(series, info.commodity, carbon.factors, use, carbon.max_gap).sum())
    return {
        "level": "meter", "id": info.id, "commodity": info.commodity, "meters": 1,
        "days": days, "consumption_kwh": total, "peak_kw": peak,
        "load_factor": mean_kw / peak if peak > 0 else np.nan,
        "baseload_kw": float(np.quantile(power, BASELOAD_QUANTILE)),
        "after_hours_share": float(series[~occ].sum() / total) if total else np.nan,
        "eui_kwh_m2_year": _eui(total, days, info.floor_area_m2),
        "cost": cost, "co2_kg": co2,
    }


def _eui(kwh: float, days: float, area: float | None) -> float:
    if not area or days <= 0:
        return np.nan
    return kwh * 365.25 / days / area


def _rollup(level: str, key: str, group: list[tuple[pd.Series, dict]], commodity: str,
            area: float | None) -> dict:
    """Sum main meters; power KPIs only within one commodity."""
    rows = [row for _, row in group]
    total = float(sum(r["consumption_kwh"] for r in rows))
    days = max(r["days"] for r in rows)
    out = {
        "level": level, "id": key, "commodity": commodity, "meters": len(rows), "days": days,
        "consumption_kwh": total, "peak_kw": np.nan, "load_factor": np.nan,
        "baseload_kw": np.nan, "after_hours_share": np.nan,
        "eui_kwh_m2_year": _eui(total, days, area),
        "cost": float(np.sum([r["cost"] for r in rows])),
        "co2_kg": float(np.sum([r["co2_kg"] for r in rows])),
    }
    if commodity != "all":
        summed = pd.concat([s for s, _ in group], axis=1).sum(axis=1, min_count=1).dropna()
        step_h = interval_hours(summed.index)
        power = summed.to_numpy() / step_h
        out["peak_kw"] = float(power.max())
        out["load_factor"] = float(power.mean() / power.max()) if power.max() > 0 else np.nan
        out["baseload_kw"] = float(np.quantile(power, BASELOAD_QUANTILE))
        out["after_hours_share"] = float(
            np.average([r["after_hours_share"] for r in rows],
                       weights=[r["consumption_kwh"] for r in rows])
        ) if total else np.nan
    return out


def kpis(
    readings: pd.DataFrame,
    meters: Iterable[MeterInfo],
    tariffs: TariffsSection | None = None,
    carbon: CarbonSection | None = None,
    intensity: pd.Series | None = None,
) -> pd.DataFrame:
    """KPIs of every meter with readings, then per building and site (see module doc).
    ``meters``: e.g. the values of ``Config.meter_infos()``; ``intensity``: grid carbon
    intensity [gCO2/kWh] for electricity meters."""
    per_meter: list[tuple[MeterInfo, pd.Series, dict]] = []
    for info in meters:
        series = _energy(readings, info.id)
        if series.empty:
            continue
        per_meter.append((info, series, _meter_row(series, info, tariffs, carbon, intensity)))
    rows = [row for _, _, row in per_meter]
    mains = [(i, s, r) for i, s, r in per_meter if i.parent is None]
    areas = {i.building: i.floor_area_m2 for i, _, _ in per_meter}
    for level, key_of in (("building", lambda i: i.building), ("site", lambda i: i.site)):
        for key in sorted({key_of(i) for i, _, _ in mains} - {None}):
            members = [(i, s, r) for i, s, r in mains if key_of(i) == key]
            if level == "building":
                area = areas.get(key)
            else:
                known = {i.building: i.floor_area_m2 for i, _, _ in members}
                floors = [a for a in known.values() if a]
                area = sum(floors) if len(floors) == len(known) else None
            for commodity in sorted({i.commodity for i, _, _ in members}):
                group = [(s, r) for i, s, r in members if i.commodity == commodity]
                rows.append(_rollup(level, key, group, commodity, area))
            rows.append(_rollup(level, key, [(s, r) for _, s, r in members], "all", area))
    return pd.DataFrame(rows, columns=KPI_COLUMNS)


def submeter_reconciliation(readings: pd.DataFrame, meters: Iterable[MeterInfo]
                            ) -> pd.DataFrame:
    """Per parent meter: parent_kwh, submetered_kwh (sum of its children), unmetered_kwh
    (the remainder) and unmetered_share, over the intervals where the parent and every
    child have a reading; ``negative_intervals`` counts intervals where children exceed
    the parent (a wiring or scaling problem)."""
    children: dict[str, list[str]] = {}
    for info in meters:
        if info.parent is not None:
            children.setdefault(info.parent, []).append(info.id)
    rows = []
    for parent, kids in sorted(children.items()):
        frame = pd.concat([_energy(readings, m) for m in [parent, *kids]], axis=1).dropna()
        if frame.empty:
            continue
        parent_kwh = frame[parent]
        sub = frame[kids].sum(axis=1)
        remainder = parent_kwh - sub
        rows.append({
            "parent": parent, "children": ",".join(kids), "intervals": len(frame),
            "parent_kwh": float(parent_kwh.sum()), "submetered_kwh": float(sub.sum()),
            "unmetered_kwh": float(remainder.sum()),
            "unmetered_share": float(remainder.sum() / parent_kwh.sum())
            if parent_kwh.sum() else np.nan,
            "negative_intervals": int((remainder < -1e-9).sum()),
        })
    return pd.DataFrame(rows, columns=[
        "parent", "children", "intervals", "parent_kwh", "submetered_kwh", "unmetered_kwh",
        "unmetered_share", "negative_intervals",
    ])
