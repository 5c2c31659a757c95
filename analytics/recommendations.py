"""Recommendations: rules that find an energy-saving opportunity in a year of readings and
quantify it per year in kWh, cost (through the meter's tariff) and CO2.

Each rule is registered by name with :func:`register_rule` and returns
:class:`Opportunity` s: the energy it would save per interval [kWh] over the analysed window
(so that time-of-use prices and hourly carbon intensity apply to the right hours), any demand
charge it would avoid, a confidence in 0..1, evidence numbers and a plain-language title.
:func:`recommend` annualises (× 365 / days analysed), prices, ranks by value and returns
:class:`Recommendation` s plus warnings.

Working hours are the meter's calendar's (``[[sites]] working_hours``, one window, default
07–19 local) on working days (not weekends, public holidays of the site's country, closures
or bridge days); everything else is *after hours*. Each rule's tunables are a frozen
settings model in :class:`RecommendationSettings`; rules return warnings as data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from wattlens.analytics.anomalies import degree_days
from wattlens.analytics.caltrack.degree_days import cooling_degrees, heating_degrees
from wattlens.analytics.carbon import CarbonError, carbon_kg
from wattlens.analytics.tariffs import Tariff, TariffError, TariffsSection, energy_price
from wattlens.core.base import Frozen, Registry
from wattlens.core.intervals import infer_interval
from wattlens.core.meters import MeterInfo
from wattlens.core.warnings import DataWarning, unique
from wattlens.store.schema import validate_readings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings
class AfterHoursBaseloadSettings(Frozen):
    """``after-hours-baseload``: after-hours load above standby."""

    min_share: float = Field(0.1, ge=0, description="least excess as a share of standby")
    confidence: float = Field(0.8, ge=0, le=1, description="confidence of a full year")


class WeekendHolidaySettings(Frozen):
    """``weekend-holiday-operation``: off-day daytime load above the after-hours level."""

    min_share: float = Field(
        0.1, ge=0, description="an hour counts above this share of the occupied span"
    )
    confidence: float = Field(0.75, ge=0, le=1, description="confidence of a full year")


class EarlyStartSettings(Frozen):
    """``early-start-late-shutdown``: plant running before opening or after closing."""

    threshold_share: float = Field(
        0.5, gt=0, lt=1, description="share of the way from after-hours to occupied load"
    )
    confidence: float = Field(0.7, ge=0, le=1, description="confidence of a full year")


class PeakDemandSettings(Frozen):
    """``peak-demand``: monthly demand charges on short peaks."""

    shave_intervals: int = Field(4, ge=1, description="hours a month the cap may be exceeded")
    confidence: float = Field(0.6, ge=0, le=1, description="confidence of a full year")


class TemperatureSensitivitySettings(Frozen):
    """``temperature-sensitivity``: heating or cooling balance points off good practice."""

    heating_good_c: float = Field(15.5, description="good-practice heating balance [degC]")
    cooling_good_c: float = Field(22.0, description="good-practice cooling balance [degC]")
    min_r2: float = Field(0.5, ge=0, le=1, description="least R² of the change-point fit")
    min_days: int = Field(60, ge=10, description="days with energy and temperature needed")
    min_hours_per_day: int = Field(20, ge=1, le=24, description="hours making a full day")
    balance_min_c: float = Field(8.0, description="lowest balance point tried [degC]")
    balance_max_c: float = Field(26.0, description="highest balance point tried [degC]")
    confidence: float = Field(0.9, ge=0, le=1, description="confidence of a full year")


class AlwaysOnSettings(Frozen):
    """``always-on``: standby load above good practice."""

    good_share: float = Field(0.4, gt=0, le=1, description="good-practice standby share")
    achievable: float = Field(
        0.5, gt=0, le=1, description="share of the excess that can be switched off"
    )
    confidence: float = Field(0.5, ge=0, le=1, description="confidence of a full year")


class SimultaneousSettings(Frozen):
    """``simultaneous-heating-cooling``: heating and cooling running together."""

    active_share: float = Field(
        0.1, gt=0, lt=1, description="on above this share of the 95th percentile over standby"
    )
    confidence: float = Field(0.6, ge=0, le=1, description="confidence of a full year")


class RecommendationSettings(Frozen):
    """Tunables of every rule, ``[analytics.recommendations.<rule>]`` in the config
    (``after_hours_baseload``, ``always_on``, ...); written into every result."""

    window_days: int = Field(365, ge=30, description="days analysed before the last reading")
    min_days: int = Field(90, ge=1, description="days of data a meter needs")
    full_year_days: int = Field(
        330, ge=1, description="fewer days of data are scaled to a year with a warning"
    )
    standby_percentile: float = Field(
        2.0, gt=0, lt=50, description="percentile of hourly load taken as standby"
    )
    after_hours_baseload: AfterHoursBaseloadSettings = Field(
        default_factory=AfterHoursBaseloadSettings, description="after-hours-baseload rule"
    )
    weekend_holiday_operation: WeekendHolidaySettings = Field(
        default_factory=WeekendHolidaySettings, description="weekend-holiday-operation rule"
    )
    early_start_late_shutdown: EarlyStartSettings = Field(
        default_factory=EarlyStartSettings, description="early-start-late-shutdown rule"
    )
    peak_demand: PeakDemandSettings = Field(
        default_factory=PeakDemandSettings, description="peak-demand rule"
    )
    temperature_sensitivity: TemperatureSensitivitySettings = Field(
        default_factory=TemperatureSensitivitySettings, description="temperature-sensitivity rule"
    )
    always_on: AlwaysOnSettings = Field(
        default_factory=AlwaysOnSettings, description="always-on rule"
    )
    simultaneous_heating_cooling: SimultaneousSettings = Field(
        default_factory=SimultaneousSettings, description="simultaneous-heating-cooling rule"
    )


@dataclass
class RecommendContext:
    """Side data and settings shared by every rule."""

    weather: pd.DataFrame | None = None
    settings: RecommendationSettings = RecommendationSettings()


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
    tariff: Tariff | None = None

    @property
    def scale(self) -> float:
        """Annualisation factor (365 / days with data)."""
        return 365.0 / self.days

    @property
    def coverage(self) -> float:
        return min(1.0, self.days / 365.0)


Found = tuple[list[Opportunity], list[DataWarning]]
"""What a rule returns: its opportunities and the warnings (with numbers) it raised."""
Rule = Callable[[dict[str, MeterYear], RecommendContext], Found]
RULES: Registry[Rule] = Registry("rule")
"""Registered recommendation rules by name: ``fn(meters, ctx) -> (opportunities, warnings)``."""
register_rule = RULES.register


# --------------------------------------------------------------------------- shared numbers
def _after_hours(m: MeterYear) -> np.ndarray:
    """Hours outside the meter's working hours (any day)."""
    hour = m.calendar["hour"].to_numpy()
    hours = m.info.calendar.working_hours
    return (hour < hours.start) | (hour >= hours.end)


def _standby(m: MeterYear, ctx: RecommendContext) -> float:
    """Standby load [kW]: a low percentile (``standby_percentile``) of hourly load — what
    never switches off."""
    return float(np.nanpercentile(m.hourly.to_numpy(), ctx.settings.standby_percentile))


def _night(m: MeterYear) -> float:
    """Typical after-hours load [kW]: the median over all hours outside working hours."""
    return float(np.nanmedian(m.hourly.to_numpy()[_after_hours(m)]))


def _fmt(kw: float) -> str:
    return f"{kw:,.1f} kW"


def _confidence(base: float, m: MeterYear, extra: float = 1.0) -> float:
    return round(float(np.clip(base * m.coverage * extra, 0.0, 1.0)), 2)


# --------------------------------------------------------------------------- rules
@register_rule("after-hours-baseload")
def after_hours_baseload(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """After-hours load above the meter's standby: each after-hours hour could drop to
    standby, by at most the typical after-hours excess (evening tails belong to the
    early-start/late-shutdown rule)."""
    s = ctx.settings.after_hours_baseload
    out = []
    for m in meters.values():
        standby, night = _standby(m, ctx), _night(m)
        excess_kw = night - standby
        if excess_kw <= max(s.min_share * standby, 1e-6):
            continue
        load = m.hourly.to_numpy()
        saved = np.where(_after_hours(m), np.clip(load - standby, 0, excess_kw), 0.0)
        working = m.info.calendar.working_hours
        hours = 24 - (working.end - working.start)
        out.append(Opportunity(
            "after-hours-baseload", m.meter,
            f"Switch off more out of hours on {m.meter}: after-hours load is typically "
            f"{_fmt(night)}, {_fmt(excess_kw)} above the standby of {_fmt(standby)}",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index),
            _confidence(s.confidence, m),
            {"after_hours_median_kw": night, "standby_kw": standby, "excess_kw": excess_kw,
             "after_hours_per_day": hours, "days_analysed": m.days}))
    return out, []


@register_rule("weekend-holiday-operation")
def weekend_holiday_operation(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """Daytime load on weekends, public holidays, closures and bridge days above the
    after-hours level: the building runs as if occupied when it is not."""
    s = ctx.settings.weekend_holiday_operation
    out = []
    for m in meters.values():
        night = _night(m)
        cal = m.calendar
        load = m.hourly.to_numpy()
        occupied = cal["working"].to_numpy() & ~_after_hours(m)
        occupied_kw = float(np.nanmedian(load[occupied])) if occupied.any() else np.nan
        span = occupied_kw - night
        if not np.isfinite(span) or span <= 0:
            continue
        off_day = ~cal["working"].to_numpy() & ~_after_hours(m)
        extra = load - night
        hit = off_day & (extra > s.min_share * span)
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
            pd.Series(np.nan_to_num(saved), index=m.hourly.index),
            _confidence(s.confidence, m),
            {"off_day_excess_kw": kw, "after_hours_median_kw": night,
             "occupied_median_kw": occupied_kw, "hours_above_threshold": int(hit.sum()),
             "off_days": int(n_days), "days_analysed": m.days}))
    return out, []


@register_rule("early-start-late-shutdown")
def early_start_late_shutdown(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """On working days the typical load rises above ``threshold_share`` of the way from the
    after-hours to the occupied level before the working hours start or stays there after
    they end."""
    s = ctx.settings.early_start_late_shutdown
    out = []
    for m in meters.values():
        hours = m.info.calendar.working_hours
        open_hour, close_hour = hours.start, hours.end
        cal = m.calendar
        working = cal["working"].to_numpy()
        if not working.any():
            continue
        load = m.hourly.to_numpy()
        hour = cal["hour"].to_numpy()
        profile = pd.Series(load[working]).groupby(hour[working]).median()
        outside = (profile.index < open_hour) | (profile.index >= close_hour)
        night = float(profile[outside].median())
        occupied = float(profile[~outside].median())
        threshold = night + s.threshold_share * (occupied - night)
        if occupied <= night:
            continue
        early = [h for h in profile.index if h < open_hour and profile[h] > threshold]
        late = [h for h in profile.index if h >= close_hour and profile[h] > threshold]
        if not early and not late:
            continue
        hit = working & np.isin(hour, early + late)
        saved = np.where(hit, np.clip(load - night, 0, None), 0.0)
        start_h = min(early) if early else open_hour
        stop_h = max(late) + 1 if late else close_hour
        out.append(Opportunity(
            "early-start-late-shutdown", m.meter,
            f"Match {m.meter}'s plant times to occupancy: on working days it runs from "
            f"{start_h:02d}:00 to {stop_h:02d}:00 local, not {open_hour:02d}:00–"
            f"{close_hour:02d}:00",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index),
            _confidence(s.confidence, m),
            {"start_hour": start_h, "stop_hour": stop_h, "early_hours": len(early),
             "late_hours": len(late), "night_kw": night, "occupied_kw": occupied,
             "days_analysed": m.days}))
    return out, []


@register_rule("peak-demand")
def peak_demand(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """Monthly demand charges on short peaks: capping each month's demand at the level
    exceeded in only ``shave_intervals`` hours avoids (peak − cap) × demand rate; the
    energy is shifted, not saved."""
    s = ctx.settings.peak_demand
    shave_intervals = s.shave_intervals
    out, skipped = [], []
    for m in meters.values():
        tariff = m.tariff
        versions = tariff.ordered() if tariff else []
        if tariff is None or not versions or not any(
            v.demand_rate > 0 or v.demand_rate_by_season for v in versions
        ) or all(v.demand_basis == "contracted" for v in versions):
            skipped.append(m.meter)
            continue
        local = m.hourly.index.tz_convert(m.info.timezone)
        month = local.tz_localize(None).to_period("M")
        saving, shaved = 0.0, []
        for period, values in m.hourly.groupby(month):
            top = np.sort(values.dropna().to_numpy())[::-1]
            if len(top) <= shave_intervals:
                continue
            peak, cap = float(top[0]), float(top[shave_intervals])
            start = period.to_timestamp().tz_localize(m.info.timezone)
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
            pd.Series(0.0, index=m.hourly.index), _confidence(s.confidence, m),
            {"mean_peak_reduction_kw": float(np.mean(shaved)), "months": len(shaved),
             "shaved_hours_per_month": shave_intervals, "currency": tariff.currency},
            demand_saving=saving))
    warnings = [DataWarning(
        "recommendations.no-demand-charge",
        f"peak-demand: {len(skipped)} meter(s) have no tariff with a monthly-peak demand "
        f"charge ({', '.join(skipped)}); rule skipped for them", {"meters": skipped},
    )] if skipped else []
    return out, warnings


def _fit_change_point(temp: np.ndarray, y: np.ndarray, heating: bool,
                      s: TemperatureSensitivitySettings) -> tuple[float, float, float, float]:
    """Best balance point [degC], slope [kWh/K·day], base [kWh/day] and R² of
    y = base + slope·max(0, ±(Tb − T)) over a 0.5 K grid from ``balance_min_c`` to
    ``balance_max_c``."""
    best = (np.nan, 0.0, float(np.mean(y)), 0.0)
    total = float(np.sum((y - y.mean()) ** 2)) or 1e-12
    for tb in np.arange(s.balance_min_c, s.balance_max_c + 0.01, 0.5):
        x = heating_degrees(temp, tb) if heating else cooling_degrees(temp, tb)
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
def temperature_sensitivity(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """Heating that starts above a ``heating_good_c`` outdoor temperature, or cooling below
    ``cooling_good_c``: daily energy vs daily mean temperature, change-point fit; the saving
    is slope × the degree days between the fitted and good-practice balance points."""
    s = ctx.settings.temperature_sensitivity
    heating_good_c, cooling_good_c = s.heating_good_c, s.cooling_good_c
    if ctx.weather is None or "temperature" not in ctx.weather.columns \
            or ctx.weather["temperature"].dropna().empty:
        return [], [DataWarning(
            "recommendations.no-weather",
            "temperature-sensitivity: no temperature given (--weather); rule skipped")]
    out, warnings = [], []
    by_tz = {tz: degree_days(ctx.weather["temperature"], tz)
             for tz in {m.info.timezone for m in meters.values()}}
    for m in meters.values():
        daily_n = m.hourly.groupby(m.calendar["day"].to_numpy()).count()
        daily = m.hourly.groupby(m.calendar["day"].to_numpy()).sum()[
            daily_n >= s.min_hours_per_day]
        dd = by_tz[m.info.timezone].reindex(daily.index).dropna()
        if len(dd) < s.min_days:
            warnings.append(DataWarning(
                "recommendations.few-weather-days",
                f"temperature-sensitivity: meter {m.meter!r} has {len(dd)} days with both "
                f"energy and temperature (want >= {s.min_days}); skipped",
                {"meter": m.meter, "days": len(dd), "wanted": s.min_days}))
            continue
        y, temp = daily.reindex(dd.index).to_numpy(), dd["temperature"].to_numpy()
        for heating in (True, False):
            tb, slope, base, r2 = _fit_change_point(temp, y, heating, s)
            good = heating_good_c if heating else cooling_good_c
            if r2 < s.min_r2 or not np.isfinite(tb) or (tb <= good if heating else tb >= good):
                continue
            degrees = heating_degrees if heating else cooling_degrees
            per_day = slope * (degrees(temp, tb) - degrees(temp, good))
            day_saved = pd.Series(per_day, index=dd.index)
            hourly_day = pd.Series(m.calendar["day"].to_numpy(), index=m.hourly.index)
            counts = hourly_day.map(hourly_day.value_counts())
            saved = hourly_day.map(day_saved).fillna(0.0) / counts
            what = "Heating" if heating else "Cooling"
            out.append(Opportunity(
                "temperature-sensitivity", m.meter,
                f"{what} on {m.meter} starts at {tb:.1f} °C outdoors; good practice is "
                f"{good:.1f} °C — review set-points and controls",
                saved.astype(float), _confidence(s.confidence, m, r2),
                {"mode": what.lower(), "balance_point_c": tb, "good_practice_c": good,
                 "slope_kwh_per_degree_day": slope, "base_kwh_per_day": base, "r2": r2,
                 "days_analysed": len(dd)}))
    return out, warnings


@register_rule("always-on")
def always_on(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """Always-on load (standby, a low percentile of hourly load) above ``good_share`` of the
    mean load: equipment that never switches off. Assumes ``achievable`` of the excess over
    good practice can be switched off once found (a survey finds what it is)."""
    s = ctx.settings.always_on
    good_share, achievable = s.good_share, s.achievable
    out = []
    for m in meters.values():
        standby = _standby(m, ctx)
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
            _confidence(s.confidence, m),
            {"standby_kw": standby, "mean_kw": mean, "standby_share": standby / mean,
             "good_share": good_share, "achievable_share_of_excess": achievable,
             "reducible_kw": excess, "days_analysed": m.days}))
    return out, []


@register_rule("simultaneous-heating-cooling")
def simultaneous_heating_cooling(meters: dict[str, MeterYear], ctx: RecommendContext
                                 ) -> Found:
    """Heating and cooling meters of one building (tags ``use = "heating"`` / ``"cooling"``)
    both active in the same hours: each could save the smaller of the two excesses over
    standby in those hours."""
    s = ctx.settings.simultaneous_heating_cooling
    active_share = s.active_share
    by_building: dict[str, dict[str, MeterYear]] = {}
    for m in meters.values():
        if m.info.building and m.info.use in ("heating", "cooling"):
            by_building.setdefault(m.info.building, {})[m.info.use] = m
    pairs = {b: v for b, v in by_building.items() if len(v) == 2}
    if not pairs:
        return [], [DataWarning(
            "recommendations.no-heating-cooling-pair",
            "simultaneous-heating-cooling: no building has both a meter tagged use = "
            "'heating' and one tagged use = 'cooling' (config); rule skipped")]
    out = []
    for building, pair in pairs.items():
        heat, cool = pair["heating"], pair["cooling"]
        h = heat.hourly - _standby(heat, ctx)
        c = (cool.hourly - _standby(cool, ctx)).reindex(h.index)
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
                saved, _confidence(s.confidence, m),
                {"building": building, "heating_meter": heat.meter,
                 "cooling_meter": cool.meter, "simultaneous_hours": int(both.sum()),
                 "mean_overlap_kw": float(np.mean(overlap[both])), "days_analysed": m.days}))
    return out, []


# --------------------------------------------------------------------------- running
def meter_year(meter: str, values: pd.Series, info: MeterInfo, days: int = 365,
               tariff: Tariff | None = None) -> MeterYear | None:
    """The last ``days`` of ``values`` (energy [kWh per interval], UTC index) as hourly
    energy [kWh per hour] on a full grid with the meter's calendar; None when the meter's
    interval is over 1 h."""
    step = infer_interval(values.index, default=pd.Timedelta("1h"))
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
    return MeterYear(meter, hourly, info.calendar.days(grid), present, info, tariff)


def _meter_years(energy: pd.DataFrame, meters: dict[str, MeterInfo], default: MeterInfo | None,
                 tariffs: TariffsSection | None, settings: RecommendationSettings
                 ) -> tuple[dict[str, MeterYear], list[DataWarning]]:
    """Each energy meter's analysed window, and warnings for those skipped or scaled."""
    data: dict[str, MeterYear] = {}
    warnings = []
    for meter, rows in energy.groupby("meter", sort=True):
        meter = str(meter)
        info = meters.get(meter) or (default or MeterInfo(id=meter)).model_copy(
            update={"id": meter})
        tariff = tariffs.for_meter(meter, info.commodity) if tariffs else None
        year = meter_year(meter, rows.set_index("time")["value"], info,
                          settings.window_days, tariff)
        if year is None:
            warnings.append(DataWarning(
                "recommendations.coarse-readings",
                f"meter {meter!r}: readings are coarser than hourly; the rules need hourly or "
                f"finer data; skipped", {"meter": meter}))
            continue
        numbers = {"meter": meter, "days": round(year.days, 1)}
        if year.days < settings.min_days:
            warnings.append(DataWarning(
                "recommendations.short-history",
                f"meter {meter!r}: {year.days:.0f} days of data in its last year (want >= "
                f"{settings.min_days}); skipped", {**numbers, "wanted": settings.min_days}))
            continue
        if year.days < settings.full_year_days:
            warnings.append(DataWarning(
                "recommendations.part-year",
                f"meter {meter!r}: {year.days:.0f} days of data in its last year; results are "
                f"scaled ×{year.scale:.2f} to a year and confidence is lowered",
                {**numbers, "scale": round(year.scale, 3)}))
        data[meter] = year
    return data, warnings


def recommend(
    readings: pd.DataFrame,
    *,
    weather: pd.DataFrame | None = None,
    meters: dict[str, MeterInfo] | None = None,
    default: MeterInfo | None = None,
    tariffs: TariffsSection | None = None,
    rules: Sequence[str] | None = None,
    carbon_factors: dict[str, float] | None = None,
    intensity: pd.Series | None = None,
    settings: RecommendationSettings | None = None,
) -> tuple[list[Recommendation], list[DataWarning]]:
    """Run ``rules`` (default: all) on the last year of each energy meter in ``readings``.

    ``meters`` gives each meter's context (commodity, calendar, building, ``use`` tag);
    ``default`` is the context of unlisted meters (its id replaced). ``tariffs`` price the
    savings; ``carbon_factors`` [kgCO2/kWh] per commodity and optional ``intensity``
    [gCO2/kWh] price CO2. Returns recommendations ranked by annual cost (then kWh) and
    warnings with numbers."""
    settings = settings or RecommendationSettings()
    names = list(rules) if rules else RULES.names()
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown}; choose from {RULES.names()}")
    readings = validate_readings(readings)
    energy = readings[readings["quantity"] == "energy"]
    ctx = RecommendContext(weather=weather, settings=settings)
    data, warnings = _meter_years(energy, meters or {}, default, tariffs, settings)
    if energy.empty:
        warnings.append(DataWarning("recommendations.no-readings",
                                    "readings: no energy readings; nothing to recommend"))
    found: list[Opportunity] = []
    for name in names:
        if data:
            more, warned = RULES[name](data, ctx)
            found += more
            warnings += warned
    recs = []
    for o in found:
        rec, warned = _annualise(o, data[o.meter], carbon_factors or {}, intensity)
        recs.append(rec)
        warnings += warned
    untariffed = sorted({r.meter for r in recs if r.annual_cost is None})
    if untariffed:
        warnings.append(DataWarning(
            "recommendations.no-tariff",
            f"{len(untariffed)} meter(s) have no tariff ({', '.join(untariffed)}); their "
            f"annual_cost is null (add [[tariffs.catalog]] and a tariffs.default or "
            f"tariffs.meters entry to the config)", {"meters": untariffed}))
    recs.sort(key=ranking_key, reverse=True)
    warnings = unique(warnings)
    log.info("recommend: %d meters, %d recommendations, %d warnings", len(data), len(recs),
             len(warnings))
    return recs, warnings


def ranking_key(rec: Recommendation) -> tuple[bool, float, float]:
    """Sort key ranking recommendations (``reverse=True``): priced ones first, then by
    annual cost, then by annual kWh."""
    return rec.annual_cost is not None, rec.annual_cost or 0.0, rec.annual_kwh


def _annualise(o: Opportunity, m: MeterYear, factors: dict[str, float],
               intensity: pd.Series | None) -> tuple[Recommendation, list[DataWarning]]:
    saved = o.saved.fillna(0.0)
    kwh = float(saved.sum()) * m.scale
    warnings = []
    commodity = m.info.commodity
    cost: float | None = None
    if m.tariff is not None:
        try:
            price = energy_price(m.tariff, pd.DatetimeIndex(saved.index), m.info.timezone)
            cost = (float((saved * price.to_numpy()).sum()) + o.demand_saving) * m.scale
        except TariffError as exc:
            warnings.append(DataWarning(
                "recommendations.unpriced",
                f"{o.rule}: meter {o.meter!r}: cannot price the saving ({exc}); annual_cost "
                f"is null", {"rule": o.rule, "meter": o.meter, "tariff": m.tariff.id}))
    co2: float | None = None
    use_intensity = intensity if commodity == "electricity" else None
    if use_intensity is None and commodity not in factors:
        warnings.append(DataWarning(
            "recommendations.no-emission-factor",
            f"no emission factor for {commodity}; annual_co2_kg is null for its meters (add "
            f"[carbon] factors.{commodity} = <kgCO2/kWh> to the config)",
            {"commodity": commodity}))
    else:
        try:
            co2 = float(carbon_kg(saved, commodity, factors, use_intensity).sum())
            co2 *= m.scale
        except CarbonError as exc:
            warnings.append(DataWarning(
                "recommendations.no-emissions", f"meter {o.meter!r}: {exc}; annual_co2_kg is "
                f"null", {"meter": o.meter, "commodity": commodity}))
    evidence = {k: ((round(v, 3) if np.isfinite(v) else None) if isinstance(v, float) else v)
                for k, v in o.evidence.items()}
    evidence["commodity"] = commodity
    return Recommendation(
        rule=o.rule, meter=o.meter, title=o.title, annual_kwh=round(kwh, 1),
        annual_cost=None if cost is None else round(cost, 2),
        annual_co2_kg=None if co2 is None else round(co2, 1),
        confidence=o.confidence, evidence=evidence), warnings
