"""Totals and comparisons over a date range: energy per commodity, cost and CO2 per site →
building → meter (through :func:`wattlens.analytics.kpis.kpis`, the one KPI code), and several
meters or buildings side by side, per m² of floor area (kWh/m²) when the areas are known.

Reads go through :class:`~wattlens.dashboard.queries.DashboardData` and stay within the user's
meter scope; :func:`totals_rows` and :func:`compare_frame` are pure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from wattlens.analytics import kpis
from wattlens.analytics.tariffs import TariffError
from wattlens.core.meters import MeterInfo
from wattlens.dashboard.access import AccessDenied, User
from wattlens.dashboard.queries import DashboardData

log = logging.getLogger(__name__)

LEVELS = ("site", "building", "meter")
TOTAL_COLUMNS = ["level", "id", "name", "commodity", "energy_kwh", "cost", "co2_kg",
                 "floor_area_m2", "kwh_per_m2"]


def per_m2(energy_kwh: float, area_m2: float | None) -> float | None:
    """Energy per floor area [kWh/m²] over the range; None when the area is unknown."""
    return float(energy_kwh) / area_m2 if area_m2 else None


def _number(value: Any, digits: int) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _areas(infos: Sequence[MeterInfo]) -> dict[tuple[str, str | None], float | None]:
    """Floor area [m²] per (level, id): a building's own, a site's the sum of its buildings'
    when every one is known, a meter's its building's."""
    out: dict[tuple[str, str | None], float | None] = {}
    for info in infos:
        out[("meter", info.id)] = info.floor_area_m2
        out[("building", info.building)] = info.floor_area_m2
    for site in {i.site for i in infos}:
        buildings = {i.building: i.floor_area_m2 for i in infos if i.site == site}
        known = [a for a in buildings.values() if a]
        out[("site", site)] = sum(known) if len(known) == len(buildings) else None
    return out


def totals_rows(kpi: pd.DataFrame, infos: Sequence[MeterInfo], names: dict[str, str]
                ) -> list[dict[str, Any]]:
    """Table rows from :func:`~wattlens.analytics.kpis.kpis` output: each site (per commodity
    and ``all``), then each of its buildings, then the building's meters (submeters after
    their parent, not counted in the building), in ``infos`` order. Energy [kWh], cost
    [currency], CO2 [kg], floor area [m²] and energy per floor area [kWh/m²]."""
    areas = _areas(infos)
    indexed = {(r["level"], r["id"], r["commodity"]): r for r in kpi.to_dict("records")}

    def rows_of(level: str, key: str | None, label: str) -> list[dict[str, Any]]:
        found = [r for (lv, k, _c), r in indexed.items() if lv == level and k == key]
        found.sort(key=lambda r: (r["commodity"] == "all", r["commodity"]))
        area = areas.get((level, key))
        return [{"level": level, "id": key, "name": label, "commodity": r["commodity"],
                 "energy_kwh": _number(r["consumption_kwh"], 1), "cost": _number(r["cost"], 2),
                 "co2_kg": _number(r["co2_kg"], 1), "floor_area_m2": _number(area, 0) if area
                 else None, "kwh_per_m2": _number(per_m2(r["consumption_kwh"], area), 2)}
                for r in found]

    out: list[dict[str, Any]] = []
    for site in dict.fromkeys(i.site for i in infos):
        out += rows_of("site", site, names.get(site or "", site or ""))
        for building in dict.fromkeys(i.building for i in infos if i.site == site):
            out += rows_of("building", building, names.get(building or "", building or ""))
            for info in infos:
                if info.site == site and info.building == building:
                    out += rows_of("meter", info.id, info.label)
    return out


def read_kpis(data: DashboardData, infos: Sequence[MeterInfo], start: Any, end: Any
              ) -> pd.DataFrame:
    """KPIs of ``infos`` (already within the user's scope) over [start, end); costs are left
    out (NaN) with a log line when a tariff cannot price them."""
    readings = data.store.read_readings([i.id for i in infos], "energy", start, end)
    try:
        return kpis.kpis(readings, infos, data.tariffs, data.carbon)
    except TariffError as exc:
        log.warning("totals: costs left out: %s", exc)
        return kpis.kpis(readings, infos, None, data.carbon)


def scope(data: DashboardData, user: User, site: str | None = None,
          building: str | None = None) -> list[MeterInfo]:
    """The user's meters, narrowed to ``site`` and ``building`` when given."""
    return [i for i in data.catalogue(user)
            if site in (None, i.site) and building in (None, i.building)]


def totals(data: DashboardData, user: User, start: Any, end: Any, site: str | None = None,
           building: str | None = None) -> list[dict[str, Any]]:
    """:func:`totals_rows` of the user's meters (narrowed to ``site``/``building``)."""
    infos = scope(data, user, site, building)
    if not infos:
        return []
    return totals_rows(read_kpis(data, infos, start, end), infos, data.access.names)


def members(data: DashboardData, user: User, by: str, ids: Sequence[str], commodity: str
            ) -> dict[str, list[MeterInfo]]:
    """Meters of each compared entity: a meter itself, or a building's main meters of
    ``commodity``. AccessDenied naming a meter or building outside the user's scope."""
    if by == "meter":
        return {m: [data.info(user, m)] for m in data.allowed(user, list(ids))}
    visible = data.catalogue(user)
    out = {}
    for building in ids:
        inside = [i for i in visible if i.building == building]
        if not inside:
            raise AccessDenied(f"user {user.name!r} may not see building {building!r}; pick "
                               f"one from the list")
        out[building] = [i for i in inside if i.parent is None and i.commodity == commodity]
    return out


def compare_frame(daily: pd.DataFrame, groups: dict[str, list[MeterInfo]], normalise: bool
                  ) -> tuple[pd.DataFrame, list[str]]:
    """Daily energy per compared entity: ``daily`` (``time``, ``meter``, ``value`` [kWh/day])
    summed over each entity's meters → ``time``, ``entity``, ``value`` [kWh/day, or kWh/m²
    per day with ``normalise``]. Also the entities left out for want of a floor area."""
    parts, missing = [], []
    for entity, infos in groups.items():
        area = infos[0].floor_area_m2 if infos else None
        if normalise and not area:
            missing.append(entity)
            continue
        rows = daily[daily["meter"].isin([i.id for i in infos])]
        summed = rows.groupby("time", as_index=False)["value"].sum()
        if normalise:
            summed["value"] = summed["value"] / area
        parts.append(summed.assign(entity=entity))
    if not parts:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                             "entity": pd.Series(dtype=object),
                             "value": pd.Series(dtype="float64")}), missing
    return pd.concat(parts, ignore_index=True)[["time", "entity", "value"]], missing
