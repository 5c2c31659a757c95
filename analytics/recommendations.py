"""Recommendations: rules that find an energy-saving opportunity in a year of readings and
quantify it per year in kWh, cost (through the meter's tariff) and CO2.

Each rule is registered by name with :func:`register_rule` and returns
:class:`Opportunity` s: the energy it would save per interval [kWh] over the analysed window
(so that time-of-use prices and hourly carbon intensity apply to the right hours), any demand
charge it would avoid, a confidence in 0..1, evidence numbers and a plain-language title.
:func:`recommend` annualises (× 365 / days analysed), prices, ranks by value and returns
:class:`Recommendation` s plus warnings.

Local working hours are ``open_hour``–``close_hour`` on working days (not weekends, not
public holidays of the site's country); everything else is *after hours*.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wattlens.analytics.anomalies import degree_days, infer_step, local_calendar
from wattlens.analytics.carbon import CarbonError, carbon_kg
from wattlens.analytics.tariffs import Tariff, TariffError, energy_price
from wattlens.core.base import Frozen
from wattlens.store.schema import validate_readings

log = logging.getLogger(__name__)


class RecommendationSettings(Frozen):
    """Tunables of every rule, ``[analytics.recommendations.<rule>]``
    in the config; written into every result."""



@dataclass
class MeterInfo:
    """What a rule may know about a meter besides its readings."""

    commodity: str = "electricity"
    tz: str = "UTC"
    country: str | None = None
    building: str | None = None
    use: str | None = None  # "heating" / "cooling" from the meter's tags
    tariff: Tariff | None = None


@dataclass
class RecommendContext:
    """Settings and side data shared by every rule; rules record warnings here."""

    weather: pd.DataFrame | None = None
    open_hour: int = 7
    close_hour: int = 19
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a warning once."""
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass
class Opportunity:
    """What a rule found. ``saved`` is energy saved [kWh per interval] over the analysed
    window (UTC index); ``demand_saving`` the avoided demand charges [currency] in it."""

    rule: str
    meter: str
    title: str
    saved: pd.Series
    confidence: float
    evidence: dict[str, Any]
    demand_saving: float = 0.0


@dataclass
class Recommendation:
    """A ranked, annualised recommendation (the CLI's JSON record)."""

    rule: str
    meter: str
    title: str
    annual_kwh: float
    annual_cost: float | None
    annual_co2_kg: float | None
    confidence: float
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "meter": self.meter, "title": self.title,
            "annual_kwh": self.annual_kwh, "annual_cost": self.annual_cost,
            "annual_co2_kg": self.annual_co2_kg, "confidence": self.confidence,
            "evidence": self.evidence,
        }


@dataclass
class MeterYear:
    """One meter's analysed window: hourly energy [kWh per hour] (NaN = missing) with its
    local calendar, and the share of the year it covers."""

    meter: str
    hourly: pd.Series
    calendar: pd.DataFrame
    days: float
    info: MeterInfo

    @property
    def scale(self) -> float:
        """Annualisation factor (365 / days with data)."""
        return 365.0 / self.days

    @property
    def coverage(self) -> float:
        return min(1.0, self.days / 365.0)


Rule = Callable[[dict[str, MeterYear], RecommendContext], list[Opportunity]]
RULES: dict[str, Rule] = {}
"""Registered recommendation rules by name."""


def register_rule(name: str) -> Callable[[Rule], Rule]:
    """Register ``fn(meters, ctx) -> list[Opportunity]`` under ``name``."""

    def decorator(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn

    return decorator


# --------------------------------------------------------------------------- shared numbers
def _after_hours(m: MeterYear, ctx: RecommendContext) -> np.ndarray:
    hour = m.calendar["hour"].to_numpy()
    return (hour < ctx.open_hour) | (hour >= ctx.close_hour)


def _standby(m: MeterYear) -> float:
    """Standby load [kW]: the 2nd percentile of hourly load — what never switches off."""
    return float(np.nanpercentile(m.hourly.to_numpy(), 2))


def _night(m: MeterYear, ctx: RecommendContext) -> float:
    """Typical after-hours load [kW]: the median over all hours outside working hours."""
    return float(np.nanmedian(m.hourly.to_numpy()[_after_hours(m, ctx)]))


def _fmt(kw: float) -> str:
    return f"{kw:,.1f} kW"


def _confidence(base: float, m: MeterYear, extra: float = 1.0) -> float:
    return round(float(np.clip(base * m.coverage * extra, 0.0, 1.0)), 2)


# --------------------------------------------------------------------------- rules
@register_rule("after-hours-baseload")
def after_hours_baseload(meters: dict[str, MeterYear], ctx: RecommendContext,
                         min_share: float = 0.1) -> list[Opportunity]:
    """After-hours load above the meter's standby: each after-hours hour could drop to
    standby, by at most the typical after-hours excess (evening tails belong to the
    early-start/late-shutdown rule)."""
    out = []
    for m in meters.values():
        standby, night = _standby(m), _night(m, ctx)
        excess_kw = night - standby
        if excess_kw <= max(min_share * standby, 1e-6):
            continue
        load = m.hourly.to_numpy()
        saved = np.where(_after_hours(m, ctx), np.clip(load - standby, 0, excess_kw), 0.0)
        hours = 24 - (ctx.close_hour - ctx.open_hour)
        out.append(Opportunity(
            "after-hours-baseload", m.meter,
            f"Switch off more out of hours on {m.meter}: after-hours load is typically "
            f"{_fmt(night)}, {_fmt(excess_kw)} above the standby of {_fmt(standby)}",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index),
            _confidence(0.8, m),
            {"after_hours_median_kw": night, "standby_kw": standby, "excess_kw": excess_kw,
             "after_hours_per_day": hours, "days_analysed": m.days}))
    return out


@register_rule("weekend-holiday-operation")
def weekend_holiday_operation(meters: dict[str, MeterYear], ctx: RecommendContext,
                              min_share: float = 0.1) -> list[Opportunity]:
    """Weekend and public-holiday daytime load above the after-hours level: the building
    runs as if occupied when it is not."""
    out = []
    for m in meters.values():
        night = _night(m, ctx)
        cal = m.calendar
        load = m.hourly.to_numpy()
        occupied = cal["working"].to_numpy() & ~_after_hours(m, ctx)
        occupied_kw = float(np.nanmedian(load[occupied])) if occupied.any() else np.nan
        span = occupied_kw - night
        if not np.isfinite(span) or span <= 0:
            continue
        off_day = ~cal["working"].to_numpy() & ~_after_hours(m, ctx)
        extra = load - night
        hit = off_day & (extra > min_share * span)
        saved = np.where(hit, extra, 0.0)
        total = float(np.nansum(saved))
        n_days = cal.loc[off_day, "day"].nunique()
        if total <= 0 or n_days == 0:
            continue
        kw = float(np.nanmean(np.where(off_day, np.clip(extra, 0, None), np.nan)))
        out.append(Opportunity(
            "weekend-holiday-operation", m.meter,
            f"Turn {m.meter} down at weekends and holidays: daytime load on those days is "
            f"{_fmt(kw)} above the after-hours level of {_fmt(night)}",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index), _confidence(0.75, m),
            {"off_day_excess_kw": kw, "after_hours_median_kw": night,
             "occupied_median_kw": occupied_kw, "hours_above_threshold": int(hit.sum()),
             "off_days": int(n_days), "days_analysed": m.days}))
    return out


@register_rule("early-start-late-shutdown")
def early_start_late_shutdown(meters: dict[str, MeterYear], ctx: RecommendContext
                              ) -> list[Opportunity]:
    """On working days the typical load rises above half-way between after-hours and
    occupied levels before ``open_hour`` or stays there after ``close_hour``."""
    out = []
    for m in meters.values():
        cal = m.calendar
        working = cal["working"].to_numpy()
        if not working.any():
            continue
        load = m.hourly.to_numpy()
        hour = cal["hour"].to_numpy()
        profile = pd.Series(load[working]).groupby(hour[working]).median()
        outside = (profile.index < ctx.open_hour) | (profile.index >= ctx.close_hour)
        night = float(profile[outside].median())
        occupied = float(profile[~outside].median())
        threshold = night + 0.5 * (occupied - night)
        if occupied <= night:
            continue
        early = [h for h in profile.index if h < ctx.open_hour and profile[h] > threshold]
        late = [h for h in profile.index if h >= ctx.close_hour and profile[h] > threshold]
        if not early and not late:
            continue
        hit = working & np.isin(hour, early + late)
        saved = np.where(hit, np.clip(load - night, 0, None), 0.0)
        start_h = min(early) if early else ctx.open_hour
        stop_h = max(late) + 1 if late else ctx.close_hour
        out.append(Opportunity(
            "early-start-late-shutdown", m.meter,
            f"Match {m.meter}'s plant times to occupancy: on working days it runs from "
            f"{start_h:02d}:00 to {stop_h:02d}:00 local, not {ctx.open_hour:02d}:00–"
            f"{ctx.close_hour:02d}:00",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index), _confidence(0.7, m),
            {"start_hour": start_h, "stop_hour": stop_h, "early_hours": len(early),
             "late_hours": len(late), "night_kw": night, "occupied_kw": occupied,
             "days_analysed": m.days}))
    return out


@register_rule("peak-demand")
def peak_demand(meters: dict[str, MeterYear], ctx: RecommendContext,
                shave_intervals: int = 4) -> list[Opportunity]:
    """Monthly demand charges on short peaks: capping each month's demand at the level
    exceeded in only ``shave_intervals`` hours avoids (peak − cap) × demand rate; the
    energy is shifted, not saved."""
    out, skipped = [], []
    for m in meters.values():
        tariff = m.info.tariff
        versions = tariff.ordered() if tariff else []
        if not versions or not any(
            v.demand_rate > 0 or v.demand_rate_by_season for v in versions
        ) or all(v.demand_basis == "contracted" for v in versions):
            skipped.append(m.meter)
            continue
        local = m.hourly.index.tz_convert(m.info.tz)
        month = local.tz_localize(None).to_period("M")
        saving, shaved = 0.0, []
        for period, values in m.hourly.groupby(month):
            top = np.sort(values.dropna().to_numpy())[::-1]
            if len(top) <= shave_intervals:
                continue
            peak, cap = float(top[0]), float(top[shave_intervals])
            start = period.to_timestamp().tz_localize(m.info.tz)
            idx = max(int(tariff.version_index(pd.DatetimeIndex([start]))[0]), 0)
            version = versions[idx]
            rate = version.demand_rate_by_season.get(version.season_of(start.month) or "",
                                                     version.demand_rate)
            saving += (peak - cap) * rate
            shaved.append(peak - cap)
        if saving <= 0:
            continue
        out.append(Opportunity(
            "peak-demand", m.meter,
            f"Shave {m.meter}'s monthly peaks: capping demand at the level of the "
            f"{shave_intervals + 1}th-highest hour cuts the peak by {_fmt(float(np.mean(shaved)))} "
            f"a month on average",
            pd.Series(0.0, index=m.hourly.index), _confidence(0.6, m),
            {"mean_peak_reduction_kw": float(np.mean(shaved)), "months": len(shaved),
             "shaved_hours_per_month": shave_intervals, "currency": tariff.currency},
            demand_saving=saving))
    if skipped:
        ctx.warn(f"peak-demand: {len(skipped)} meter(s) have no tariff with a monthly-peak "
                 f"demand charge ({', '.join(skipped)}); rule skipped for them")
    return out


def _fit_change_point(temp: np.ndarray, y: np.ndarray, heating: bool
                      ) -> tuple[float, float, float, float]:
    """Best balance point [degC], slope [kWh/K·day], base [kWh/day] and R² of
    y = base + slope·max(0, ±(Tb − T)) over a 0.5 K grid."""
    best = (np.nan, 0.0, float(np.mean(y)), 0.0)
    total = float(np.sum((y - y.mean()) ** 2)) or 1e-12
    for tb in np.arange(8.0, 26.01, 0.5):
        x = np.clip(tb - temp, 0, None) if heating else np.clip(temp - tb, 0, None)
        if np.std(x) == 0:
            continue
        slope, base = np.polyfit(x, y, 1)
        if slope <= 0:
            continue
        r2 = 1 - float(np.sum((y - base - slope * x) ** 2)) / total
        if r2 > best[3]:
            best = (float(tb), float(slope), float(base), r2)
    return best


@register_rule("temperature-sensitivity")
def temperature_sensitivity(meters: dict[str, MeterYear], ctx: RecommendContext,
                            heating_good_c: float = 15.5, cooling_good_c: float = 22.0,
                            min_r2: float = 0.5) -> list[Opportunity]:
    """Heating that starts above a ``heating_good_c`` outdoor temperature, or cooling below
    ``cooling_good_c``: daily energy vs daily mean temperature, change-point fit; the saving
    is slope × the degree days between the fitted and good-practice balance points."""
    if ctx.weather is None or "temperature" not in ctx.weather.columns \
            or ctx.weather["temperature"].dropna().empty:
        ctx.warn("temperature-sensitivity: no temperature given (--weather); rule skipped")
        return []
    out = []
    by_tz = {tz: degree_days(ctx.weather["temperature"], tz)
             for tz in {m.info.tz for m in meters.values()}}
    for m in meters.values():
        daily_n = m.hourly.groupby(m.calendar["day"].to_numpy()).count()
        daily = m.hourly.groupby(m.calendar["day"].to_numpy()).sum()[daily_n >= 20]
        dd = by_tz[m.info.tz].reindex(daily.index).dropna()
        if len(dd) < 60:
            ctx.warn(f"temperature-sensitivity: meter {m.meter!r} has {len(dd)} days with both "
                     f"energy and temperature (want >= 60); skipped")
            continue
        y, temp = daily.reindex(dd.index).to_numpy(), dd["temperature"].to_numpy()
        for heating in (True, False):
            tb, slope, base, r2 = _fit_change_point(temp, y, heating)
            good = heating_good_c if heating else cooling_good_c
            if r2 < min_r2 or not np.isfinite(tb) or (tb <= good if heating else tb >= good):
                continue
            if heating:
                per_day = slope * (np.clip(tb - temp, 0, None) - np.clip(good - temp, 0, None))
            else:
                per_day = slope * (np.clip(temp - tb, 0, None) - np.clip(temp - good, 0, None))
            day_saved = pd.Series(per_day, index=dd.index)
            hourly_day = pd.Series(m.calendar["day"].to_numpy(), index=m.hourly.index)
            counts = hourly_day.map(hourly_day.value_counts())
            saved = hourly_day.map(day_saved).fillna(0.0) / counts
            what = "Heating" if heating else "Cooling"
            out.append(Opportunity(
                "temperature-sensitivity", m.meter,
                f"{what} on {m.meter} starts at {tb:.1f} °C outdoors; good practice is "
                f"{good:.1f} °C — review set-points and controls",
                saved.astype(float), _confidence(0.9, m, r2),
                {"mode": what.lower(), "balance_point_c": tb, "good_practice_c": good,
                 "slope_kwh_per_degree_day": slope, "base_kwh_per_day": base, "r2": r2,
                 "days_analysed": len(dd)}))
    return out


@register_rule("always-on")
def always_on(meters: dict[str, MeterYear], ctx: RecommendContext,
              good_share: float = 0.4, achievable: float = 0.5) -> list[Opportunity]:
    """Always-on load (standby, 2nd percentile of hourly load) above ``good_share`` of the
    mean load: equipment that never switches off. Assumes ``achievable`` of the excess over
    good practice can be switched off once found (a survey finds what it is)."""
    out = []
    for m in meters.values():
        standby = _standby(m)
        mean = float(np.nanmean(m.hourly.to_numpy()))
        if mean <= 0 or standby <= good_share * mean:
            continue
        excess = achievable * (standby - good_share * mean)
        present = m.hourly.notna().to_numpy()
        out.append(Opportunity(
            "always-on", m.meter,
            f"Find what never switches off on {m.meter}: {_fmt(standby)} runs around the clock, "
            f"{standby / mean:.0%} of the average load (good practice ≤ {good_share:.0%})",
            pd.Series(np.where(present, excess, 0.0), index=m.hourly.index),
            _confidence(0.5, m),
            {"standby_kw": standby, "mean_kw": mean, "standby_share": standby / mean,
             "good_share": good_share, "achievable_share_of_excess": achievable,
             "reducible_kw": excess, "days_analysed": m.days}))
    return out


@register_rule("simultaneous-heating-cooling")
def simultaneous_heating_cooling(meters: dict[str, MeterYear], ctx: RecommendContext,
                                 active_share: float = 0.1) -> list[Opportunity]:
    """Heating and cooling meters of one building (tags ``use = "heating"`` / ``"cooling"``)
    both active in the same hours: each could save the smaller of the two excesses over
    standby in those hours."""
    by_building: dict[str, dict[str, MeterYear]] = {}
    for m in meters.values():
        if m.info.building and m.info.use in ("heating", "cooling"):
            by_building.setdefault(m.info.building, {})[m.info.use] = m
    pairs = {b: v for b, v in by_building.items() if len(v) == 2}
    if not pairs:
        ctx.warn("simultaneous-heating-cooling: no building has both a meter tagged "
                 "use = 'heating' and one tagged use = 'cooling' (config); rule skipped")
        return []
    out = []
    for building, pair in pairs.items():
        heat, cool = pair["heating"], pair["cooling"]
        h = heat.hourly - _standby(heat)
        c = (cool.hourly - _standby(cool)).reindex(h.index)
        h_on = h > active_share * float(np.nanpercentile(h, 95))
        c_on = c > active_share * float(np.nanpercentile(c.dropna(), 95))
        both = (h_on & c_on).to_numpy()
        if not both.any():
            continue
        overlap = np.where(both, np.minimum(h, c), 0.0)
        for m in (heat, cool):
            saved = pd.Series(overlap, index=h.index).reindex(m.hourly.index).fillna(0.0)
            out.append(Opportunity(
                "simultaneous-heating-cooling", m.meter,
                f"Stop heating and cooling fighting in building {building}: both run together "
                f"for {int(both.sum())} hours ({m.meter} is the {m.info.use} meter)",
                saved, _confidence(0.6, m),
                {"building": building, "heating_meter": heat.meter,
                 "cooling_meter": cool.meter, "simultaneous_hours": int(both.sum()),
                 "mean_overlap_kw": float(np.mean(overlap[both])), "days_analysed": m.days}))
    return out


# --------------------------------------------------------------------------- running
def meter_year(meter: str, values: pd.Series, info: MeterInfo, days: int = 365
               ) -> MeterYear | None:
    """The last ``days`` of ``values`` (energy [kWh per interval], UTC index) as hourly
    energy [kWh per hour] on a full grid; None when the meter's interval is over 1 h."""
    step = infer_step(values.index)
    if step > pd.Timedelta("1h"):
        return None
    end = values.index.max() + step
    start = end - pd.Timedelta(days=days)
    values = values[values.index >= start]
    hourly = values.resample("1h").sum(min_count=1)
    counts = values.resample("1h").count()
    hourly = hourly[counts >= int(round(pd.Timedelta("1h") / step))]
    grid = pd.date_range(hourly.index.min(), end.floor("1h") - pd.Timedelta("1h"), freq="1h")
    hourly = hourly.reindex(grid)
    present = float(hourly.notna().sum()) / 24.0
    return MeterYear(meter, hourly, local_calendar(grid, info.tz, info.country), present, info)


def recommend(
    readings: pd.DataFrame,
    *,
    weather: pd.DataFrame | None = None,
    meters: dict[str, MeterInfo] | None = None,
    default: MeterInfo | None = None,
    rules: Sequence[str] | None = None,
    carbon_factors: dict[str, float] | None = None,
    intensity: pd.Series | None = None,
    open_hour: int = 7,
    close_hour: int = 19,
    min_days: int = 90,
) -> tuple[list[Recommendation], list[str]]:
    """Run ``rules`` (default: all) on the last year of each energy meter in ``readings``.

    ``meters`` gives per-meter commodity, timezone, country, building, use and tariff
    (``default`` for unlisted meters); ``carbon_factors`` [kgCO2/kWh] per commodity and
    optional ``intensity`` [gCO2/kWh] price CO2. Returns recommendations ranked by annual
    cost (then kWh) and warnings with numbers."""
    names = list(rules) if rules else list(RULES)
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown}; choose from {sorted(RULES)}")
    readings = validate_readings(readings)
    energy = readings[readings["quantity"] == "energy"]
    ctx = RecommendContext(weather=weather, open_hour=open_hour, close_hour=close_hour)
    data: dict[str, MeterYear] = {}
    for meter, rows in energy.groupby("meter", sort=True):
        meter = str(meter)
        info = (meters or {}).get(meter) or default or MeterInfo()
        year = meter_year(meter, rows.set_index("time")["value"], info)
        if year is None:
            ctx.warn(f"meter {meter!r}: readings are coarser than hourly; the rules need "
                     f"hourly or finer data; skipped")
            continue
        if year.days < min_days:
            ctx.warn(f"meter {meter!r}: {year.days:.0f} days of data in its last year "
                     f"(want >= {min_days}); skipped")
            continue
        if year.days < 330:
            ctx.warn(f"meter {meter!r}: {year.days:.0f} days of data in its last year; results "
                     f"are scaled ×{year.scale:.2f} to a year and confidence is lowered")
        data[meter] = year
    if energy.empty:
        ctx.warn("readings: no energy readings; nothing to recommend")
    found: list[Opportunity] = []
    for name in names:
        found += RULES[name](data, ctx) if data else []
    recs = [_annualise(o, data[o.meter], ctx, carbon_factors or {}, intensity) for o in found]
    untariffed = sorted({r.meter for r in recs if r.annual_cost is None})
    if untariffed:
        ctx.warn(f"{len(untariffed)} meter(s) have no tariff ({', '.join(untariffed)}); their "
                 f"annual_cost is null (add [[tariffs]] and a default or meter_tariff entry to "
                 f"the config)")
    recs.sort(key=ranking_key, reverse=True)
    log.info("recommend: %d meters, %d recommendations, %d warnings", len(data), len(recs),
             len(ctx.warnings))
    return recs, ctx.warnings


def ranking_key(rec: Recommendation) -> tuple[bool, float, float]:
    """Sort key ranking recommendations (``reverse=True``): priced ones first, then by
    annual cost, then by annual kWh."""
    return rec.annual_cost is not None, rec.annual_cost or 0.0, rec.annual_kwh


def _annualise(o: Opportunity, m: MeterYear, ctx: RecommendContext,
               factors: dict[str, float], intensity: pd.Series | None) -> Recommendation:
    saved = o.saved.fillna(0.0)
    kwh = float(saved.sum()) * m.scale
    cost: float | None = None
    if m.info.tariff is not None:
        try:
            price = energy_price(m.info.tariff, pd.DatetimeIndex(saved.index), m.info.tz)
            cost = (float((saved * price.to_numpy()).sum()) + o.demand_saving) * m.scale
        except TariffError as exc:
            ctx.warn(f"{o.rule}: meter {o.meter!r}: cannot price the saving ({exc}); "
                     f"annual_cost is null")
    co2: float | None = None
    use_intensity = intensity if m.info.commodity == "electricity" else None
    if use_intensity is None and m.info.commodity not in factors:
        ctx.warn(f"no emission factor for {m.info.commodity}; annual_co2_kg is null for its "
                 f"meters (add [carbon] factors.{m.info.commodity} = <kgCO2/kWh> to the config)")
    else:
        try:
            co2 = float(carbon_kg(saved, m.info.commodity, factors, use_intensity).sum())
            co2 *= m.scale
        except CarbonError as exc:
            ctx.warn(f"meter {o.meter!r}: {exc}; annual_co2_kg is null")
    evidence = {k: ((round(v, 3) if np.isfinite(v) else None) if isinstance(v, float) else v)
                for k, v in o.evidence.items()}
    evidence["commodity"] = m.info.commodity
    return Recommendation(
        rule=o.rule, meter=o.meter, title=o.title, annual_kwh=round(kwh, 1),
        annual_cost=None if cost is None else round(cost, 2),
        annual_co2_kg=None if co2 is None else round(co2, 1),
        confidence=o.confidence, evidence=evidence)
