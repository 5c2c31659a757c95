"""Recommendations: rules that find an energy-saving opportunity in a year of readings and
quantify it per year in kWh, cost (through the meter's tariff) and CO2.

Each rule is registered by name with :func:`register_rule` and returns
:class:`Opportunity` s: the energy it would save per interval [kWh] over the analysed window
(so that time-of-use prices and hourly carbon intensity apply to the right hours), any demand
charge it would avoid, a confidence in 0..1, evidence numbers and a plain-language title.
:func:`recommend` annualises (× 365 / days analysed), prices, ranks by value and returns
:class:`Recommendation` s plus warnings.

Savings of overlapping rules are combined once per meter (:func:`combine`): each rule in
``settings.order`` takes its saving, hour by hour, from what the rules before it left above
the meter's *floor* (the lowest load it sustained for a week), so the same kWh is never
claimed twice and a meter's total never exceeds the energy above that floor, let alone its
consumption; each recommendation reports its share. Yardsticks depend on the building's use
(the meter's ``use`` tag, see :class:`BuildingUse`) and name their source; where no published
figure is certain the yardstick is the meter's own best comparable weeks.

Working hours are the meter's calendar's (``[[sites]] working_hours``, one window, default
07–19 local) on working days (not weekends, public holidays of the site's country, closures
or bridge days); everything else is *after hours*. Each rule's tunables are a frozen
settings model in :class:`RecommendationSettings`; rules return warnings as data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from wattlens.analytics.anomalies import degree_days
from wattlens.analytics.caltrack.degree_days import cooling_degrees, heating_degrees
from wattlens.analytics.carbon import CarbonError, carbon_kg
from wattlens.analytics.tariffs import Tariff, TariffError, TariffsSection, marginal_price
from wattlens.core.base import Frozen, Registry
from wattlens.core.intervals import infer_interval
from wattlens.core.meters import MeterInfo
from wattlens.core.warnings import DataWarning, unique
from wattlens.store.schema import validate_readings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings
class AfterHoursBaseloadSettings(Frozen):
    """``after-hours-baseload``: after-hours load above the same week's standby."""

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
    """``temperature-sensitivity``: heating or cooling balance points off good practice;
    applies only to buildings whose use heats and cools for comfort (see ``uses``)."""

    heating_good_c: float = Field(15.5, description="good-practice heating balance [degC]")
    heating_source: str = Field(
        "CIBSE TM41:2006, the conventional UK degree-day base temperature of 15.5 °C",
        description="where heating_good_c comes from (shown with every claim)")
    cooling_good_c: float = Field(22.0, description="good-practice cooling balance [degC]")
    cooling_source: str = Field(
        "wattlens setting cooling_good_c (no published figure)",
        description="where cooling_good_c comes from (shown with every claim)")
    min_r2: float = Field(0.5, ge=0, le=1, description="least R² of the change-point fit")
    min_days: int = Field(60, ge=10, description="days with energy and temperature needed")
    min_hours_per_day: int = Field(20, ge=1, le=24, description="hours making a full day")
    balance_min_c: float = Field(8.0, description="lowest balance point tried [degC]")
    balance_max_c: float = Field(26.0, description="highest balance point tried [degC]")
    confidence: float = Field(0.9, ge=0, le=1, description="confidence of a full year")


class AlwaysOnSettings(Frozen):
    """``always-on``: weekly baseload above what the meter's own best comparable weeks
    achieved (working weeks of the same season); no published standby share is certain
    enough to claim against."""

    best_share: float = Field(
        0.25, gt=0, lt=1, description="yardstick: the baseload bettered by this share of "
        "comparable weeks")
    heating_months: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 10, 11, 12],
        description="months of the heating season; weeks compare within their season")
    min_weeks: int = Field(6, ge=2, description="comparable weeks a season needs")
    min_excess_share: float = Field(
        0.1, ge=0, description="least mean excess as a share of the yardstick")
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

TM46 = "CIBSE TM46:2008 Energy benchmarks, typical annual energy per m² of floor area"


class BuildingUse(Frozen):
    """What a building's use (the meter's ``use`` tag) tells the rules: whether it is used
    around the clock (no after-hours, weekend or early-start claims), whether it heats and
    cools for comfort (the balance-point yardstick applies) and its published typical energy
    intensity, with the source, shown as context (never claimed as a saving)."""

    around_the_clock: bool = Field(False, description="occupied 24/7: schedule rules skipped")
    comfort: bool = Field(False, description="balance-point yardsticks apply")
    benchmark: str | None = Field(None, description="benchmark category and source")
    electricity_kwh_m2: float | None = Field(
        None, gt=0, description="typical electricity per year [kWh/m²]")
    fossil_kwh_m2: float | None = Field(
        None, gt=0, description="typical fossil-thermal (gas) per year [kWh/m²]")


def _default_uses() -> dict[str, BuildingUse]:
    return {
        "office": BuildingUse(comfort=True, benchmark=f"General office ({TM46})",
                              electricity_kwh_m2=95, fossil_kwh_m2=120),
        "school": BuildingUse(comfort=True, benchmark=f"Schools and seasonal public "
                              f"buildings ({TM46})", electricity_kwh_m2=40, fossil_kwh_m2=150),
        "university": BuildingUse(comfort=True, benchmark=f"University campus ({TM46})",
                                  electricity_kwh_m2=80, fossil_kwh_m2=240),
        "retail": BuildingUse(comfort=True),
        "laboratory": BuildingUse(benchmark=f"Laboratory or operating theatre ({TM46})",
                                  electricity_kwh_m2=160, fossil_kwh_m2=160),
        "hospital": BuildingUse(around_the_clock=True, benchmark=f"Hospital - clinical and "
                                f"research ({TM46})", electricity_kwh_m2=90, fossil_kwh_m2=420),
        "data centre": BuildingUse(around_the_clock=True),
    }


def use_name(tag: str | None) -> str | None:
    """A ``use`` tag as a key of ``uses``: lower case, ``-``/``_`` as spaces, US spelling
    of centre accepted ('data-center' → 'data centre')."""
    if not tag:
        return None
    return " ".join(tag.lower().replace("-", " ").replace("_", " ").split()).replace(
        "center", "centre")


DEFAULT_ORDER = ["early-start-late-shutdown", "weekend-holiday-operation",
                 "after-hours-baseload", "always-on", "simultaneous-heating-cooling",
                 "temperature-sensitivity", "peak-demand"]


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
    preoccupancy_hours: int = Field(
        2, ge=0, le=12, description="hours before working hours start allowed for pre-heat "
        "or pre-cool on working days: plant running then is not flagged")
    order: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ORDER),
        description="order in which rules claim a meter's energy hour by hour; a rule takes "
        "only what the rules before it left (unlisted rules come last)")
    uses: dict[str, BuildingUse] = Field(
        default_factory=_default_uses,
        description="building uses (meter tag 'use') and what they imply; configured ones are "
        "added to (or replace) the built-in ones")
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

    @field_validator("uses")
    @classmethod
    def _use_names(cls, value: dict[str, BuildingUse]) -> dict[str, BuildingUse]:
        """The built-in uses with the configured ones added or replacing them, named as tags
        are matched (:func:`use_name`: 'Data-Center' = 'data centre')."""
        return {**_default_uses(), **{use_name(k) or k: v for k, v in value.items()}}


@dataclass
class RecommendContext:
    """Side data and settings shared by every rule."""

    weather: pd.DataFrame | None = None
    settings: RecommendationSettings = RecommendationSettings()


@dataclass
class Opportunity:
    """What a rule found. ``saved`` is energy the rule alone would save [kWh per hour] over
    the analysed window (UTC index); ``share`` what it is credited once combined with the
    meter's other rules (:func:`combine`); ``demand_saving`` the avoided demand charges
    [currency] in the window. ``confidence`` is the rule's own (before coverage and
    consistency); ``consistency`` (0..1) overrides the share of weeks showing the pattern;
    ``yardstick`` says what the load is compared with and its source."""

    rule: str
    meter: str
    title: str
    saved: pd.Series
    confidence: float
    evidence: dict[str, Any]
    yardstick: str
    demand_saving: float = 0.0
    consistency: float | None = None
    share: pd.Series | None = None


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
    use: BuildingUse | None = None

    @property
    def scale(self) -> float:
        """Annualisation factor (365 / days with data)."""
        return 365.0 / self.days

    @property
    def coverage(self) -> float:
        return min(1.0, self.days / 365.0)

    @cached_property
    def week(self) -> np.ndarray:
        """Local week (its Monday, naive) of each hour."""
        day = pd.DatetimeIndex(self.calendar["day"])
        return np.asarray(day - pd.to_timedelta(day.day_of_week, unit="D"))


@dataclass
class MeterTotal:
    """One meter's combined claim, annualised [kWh per year]: its consumption, the energy
    above its floor (the most any measure can save) and what all its rules save together."""

    consumption_kwh: float
    bound_kwh: float
    combined_kwh: float
    floor_kw: float
    measures: int


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


def _fmt(kw: float) -> str:
    return f"{kw:,.1f} kW"


MIN_WEEK_HOURS = 72
"""Hours of data a week needs to count (for baseloads and consistency)."""


def weekly(m: MeterYear, quantile: float, hours: np.ndarray | None = None,
           min_hours: int = MIN_WEEK_HOURS) -> pd.Series:
    """A ``quantile`` (0..1) of hourly load [kW] in each local week (of its ``hours`` only,
    if given) with at least ``min_hours`` of data."""
    values = m.hourly.to_numpy()
    load = pd.Series(values if hours is None else np.where(hours, values, np.nan),
                     index=m.week)
    grouped = load.groupby(level=0)
    return grouped.quantile(quantile)[grouped.count() >= min_hours]


def weekly_baseload(m: MeterYear, percentile: float) -> pd.Series:
    """Baseload [kW] of each local week with at least ``MIN_WEEK_HOURS`` of data: the
    ``percentile`` of its hourly load."""
    return weekly(m, percentile / 100.0)


def each_hour(m: MeterYear, per_week: pd.Series) -> np.ndarray:
    """A per-week number at each hour of the window (NaN in weeks without one)."""
    return pd.Series(m.week).map(per_week).to_numpy(dtype=float)


def _week_night(m: MeterYear) -> np.ndarray:
    """Each hour's week's typical after-hours load [kW] (median over its after-hours hours,
    at least a day's worth): weather and season change it, so each week is its own
    comparison."""
    return each_hour(m, weekly(m, 0.5, _after_hours(m), min_hours=24))


def floor_kw(m: MeterYear, ctx: RecommendContext) -> float:
    """The lowest load [kW] the meter sustained for a week (the least weekly baseload): no
    measure is credited with taking the load below what the meter has shown it can reach."""
    base = weekly_baseload(m, ctx.settings.standby_percentile)
    return float(base.min()) if not base.empty else float(np.nanmin(m.hourly.to_numpy()))


def _skipped(code: str, rule: str, why: str, meters: list[str], **data: Any
             ) -> list[DataWarning]:
    """One warning naming the meters a rule made no claim for, and why."""
    if not meters:
        return []
    return [DataWarning(code, f"{rule}: no claim for {len(meters)} meter(s) "
                              f"({', '.join(meters)}): {why}", {"meters": meters, **data})]


def _scheduled(meters: dict[str, MeterYear], rule: str) -> tuple[list[MeterYear], Found]:
    """The meters whose building is not used around the clock (schedule rules judge only
    those), and the warning naming the others."""
    kept = [m for m in meters.values() if not (m.use and m.use.around_the_clock)]
    rest = sorted(set(meters) - {m.meter for m in kept})
    return kept, ([], _skipped("recommendations.around-the-clock", rule, "their building's "
                               "use runs around the clock (tag 'use')", rest))


# --------------------------------------------------------------------------- rules
@register_rule("after-hours-baseload")
def after_hours_baseload(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """After-hours load above the standby of the same week: each after-hours hour could
    drop to its week's standby, by at most the week's typical after-hours excess (evening
    tails belong to the early-start/late-shutdown rule; heating that runs all night in a
    cold week raises that week's standby too, so it is not claimed)."""
    s = ctx.settings.after_hours_baseload
    kept, (out, warnings) = _scheduled(meters, "after-hours-baseload")
    for m in kept:
        after = _after_hours(m)
        standby = each_hour(m, weekly_baseload(m, ctx.settings.standby_percentile))
        night = _week_night(m)
        excess = np.clip(night - standby, 0, None)
        typical = {k: float(np.nanmedian(v[after])) if np.isfinite(v[after]).any() else 0.0
                   for k, v in (("night", night), ("standby", standby), ("excess", excess))}
        if typical["excess"] <= max(s.min_share * typical["standby"], 1e-6):
            continue
        load = m.hourly.to_numpy()
        saved = np.where(after, np.clip(load - standby, 0, excess), 0.0)
        working = m.info.calendar.working_hours
        hours = 24 - (working.end - working.start)
        out.append(Opportunity(
            "after-hours-baseload", m.meter,
            f"Switch off more out of hours on {m.meter}: after-hours load is typically "
            f"{_fmt(typical['night'])}, {_fmt(typical['excess'])} above the same week's "
            f"standby ({_fmt(typical['standby'])} typical)",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index), s.confidence,
            {"after_hours_median_kw": typical["night"], "standby_kw": typical["standby"],
             "excess_kw": typical["excess"], "after_hours_per_day": hours,
             "days_analysed": m.days},
            f"the meter's own standby in the same week (the load only "
            f"{ctx.settings.standby_percentile:g} % of its hours fall below)"))
    return out, warnings


@register_rule("weekend-holiday-operation")
def weekend_holiday_operation(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """Daytime load on weekends, public holidays, closures and bridge days above the same
    week's after-hours level: the building runs as if occupied when it is not."""
    s = ctx.settings.weekend_holiday_operation
    kept, (out, warnings) = _scheduled(meters, "weekend-holiday-operation")
    for m in kept:
        week_night = _week_night(m)
        night = float(np.nanmedian(week_night)) if np.isfinite(week_night).any() else np.nan
        cal = m.calendar
        load = m.hourly.to_numpy()
        occupied = cal["working"].to_numpy() & ~_after_hours(m)
        occupied_kw = float(np.nanmedian(load[occupied])) if occupied.any() else np.nan
        span = occupied_kw - night
        if not np.isfinite(span) or span <= 0:
            continue
        off_day = ~cal["working"].to_numpy() & ~_after_hours(m)
        extra = load - week_night
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
            f"{_fmt(kw)} above the same week's after-hours level ({_fmt(night)} typical)",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index), s.confidence,
            {"off_day_excess_kw": kw, "after_hours_median_kw": night,
             "occupied_median_kw": occupied_kw, "hours_above_threshold": int(hit.sum()),
             "off_days": int(n_days), "days_analysed": m.days},
            "the meter's own typical after-hours load in the same week"))
    return out, warnings


@register_rule("early-start-late-shutdown")
def early_start_late_shutdown(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """On working days the typical load rises above ``threshold_share`` of the way from the
    after-hours to the occupied level before the working hours start or stays there after
    they end. The ``preoccupancy_hours`` before the start (pre-heat, pre-cool) are allowed."""
    s = ctx.settings.early_start_late_shutdown
    pre = ctx.settings.preoccupancy_hours
    kept, (out, warnings) = _scheduled(meters, "early-start-late-shutdown")
    for m in kept:
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
        early = [h for h in profile.index if h < open_hour - pre and profile[h] > threshold]
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
            f"{close_hour:02d}:00 (with {pre} h allowed before {open_hour:02d}:00 to pre-heat "
            f"or pre-cool)",
            pd.Series(np.nan_to_num(saved), index=m.hourly.index), s.confidence,
            {"start_hour": start_h, "stop_hour": stop_h, "early_hours": len(early),
             "late_hours": len(late), "night_kw": night, "occupied_kw": occupied,
             "preoccupancy_hours": pre, "days_analysed": m.days},
            f"the site's working hours {open_hour:02d}:00–{close_hour:02d}:00 less {pre} h "
            f"pre-occupancy, and the meter's own working-day night load {_fmt(night)}"))
    return out, warnings


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
            pd.Series(0.0, index=m.hourly.index), s.confidence,
            {"mean_peak_reduction_kw": float(np.mean(shaved)), "months": len(shaved),
             "shaved_hours_per_month": shave_intervals, "currency": tariff.currency},
            f"the meter's own {shave_intervals + 1}th-highest hour of each month",
            demand_saving=saving, consistency=len(shaved) / len(set(month))))
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
    is slope × the degree days between the fitted and good-practice balance points, spread
    over the day's hours in proportion to the load above the meter's floor. Only buildings
    whose use heats and cools for comfort are judged: the good-practice balance points are
    comfort figures, not those of laboratories, hospitals or unknown uses."""
    s = ctx.settings.temperature_sensitivity
    heating_good_c, cooling_good_c = s.heating_good_c, s.cooling_good_c
    if ctx.weather is None or "temperature" not in ctx.weather.columns \
            or ctx.weather["temperature"].dropna().empty:
        return [], [DataWarning(
            "recommendations.no-weather",
            "temperature-sensitivity: no temperature given (--weather); rule skipped")]
    comfort = [m for m in meters.values() if m.use and m.use.comfort]
    other = sorted(m.meter for m in meters.values() if m.use and not m.use.comfort)
    out: list[Opportunity] = []
    warnings = _skipped(
        "recommendations.no-yardstick", "temperature-sensitivity", "no comfort balance-point "
        "yardstick for their building's use (tag 'use'; uses with one: " + ", ".join(
            sorted(k for k, u in ctx.settings.uses.items() if u.comfort)) + ")", other)
    by_tz = {tz: degree_days(ctx.weather["temperature"], tz)
             for tz in {m.info.timezone for m in comfort}}
    for m in comfort:
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
            day = m.calendar["day"].to_numpy()
            above = np.clip(m.hourly.to_numpy() - floor_kw(m, ctx), 0, None)
            weight = pd.Series(np.nan_to_num(above), index=m.hourly.index)
            weight = weight / weight.groupby(day).transform("sum").replace(0.0, np.nan)
            saved = (weight * pd.Series(day, index=weight.index).map(day_saved)).fillna(0.0)
            what = "Heating" if heating else "Cooling"
            out.append(Opportunity(
                "temperature-sensitivity", m.meter,
                f"{what} on {m.meter} starts at {tb:.1f} °C outdoors; good practice is "
                f"{good:.1f} °C — review set-points and controls",
                saved.astype(float), s.confidence * r2,
                {"mode": what.lower(), "balance_point_c": tb, "good_practice_c": good,
                 "slope_kwh_per_degree_day": slope, "base_kwh_per_day": base, "r2": r2,
                 "days_analysed": len(dd)},
                f"a {what.lower()} balance point of {good:.1f} °C for a building used as "
                f"{m.info.use} ({s.heating_source if heating else s.cooling_source})",
                consistency=1.0))
    return out, warnings


@register_rule("always-on")
def always_on(meters: dict[str, MeterYear], ctx: RecommendContext) -> Found:
    """Weekly baseload (a low percentile of the week's hourly load) above the yardstick of
    the meter's own best comparable weeks: the ``best_share`` quantile of the baseloads of
    full working weeks (no holiday, closure or bridge day) of the same season. Assumes
    ``achievable`` of the excess can be switched off once found (a survey finds what)."""
    s = ctx.settings.always_on
    heating_months = set(s.heating_months)
    out = []
    for m in meters.values():
        base = weekly_baseload(m, ctx.settings.standby_percentile)
        if base.empty:
            continue
        cal = pd.DataFrame({"working": m.calendar["working"].to_numpy(),
                            "weekday": pd.DatetimeIndex(m.calendar["day"]).day_of_week < 5},
                           index=m.week)
        full = cal.groupby(level=0).apply(
            lambda w: bool((w["working"] == w["weekday"]).all()))
        season = pd.Series(np.isin(pd.DatetimeIndex(base.index).month, list(heating_months)),
                           index=base.index)
        yardstick = pd.Series(np.nan, index=base.index)
        for heating in (True, False):
            comparable = base[(season == heating) & full.reindex(base.index).fillna(False)]
            if len(comparable) >= s.min_weeks:
                yardstick[season == heating] = float(comparable.quantile(s.best_share))
        excess = (base - yardstick).clip(lower=0).dropna()
        judged = yardstick.dropna()
        if excess.empty or excess.mean() <= s.min_excess_share * judged.mean():
            continue
        per_hour = s.achievable * pd.Series(m.week).map(excess).fillna(0.0).to_numpy()
        present = m.hourly.notna().to_numpy()
        weeks_above = int((excess > s.min_excess_share * judged.reindex(excess.index)).sum())
        mean_base = float(base.reindex(judged.index).mean())
        out.append(Opportunity(
            "always-on", m.meter,
            f"Find what keeps {m.meter}'s always-on load up: its weekly baseload averages "
            f"{_fmt(mean_base)}, {_fmt(float(excess.mean()))} above what its own best "
            f"{s.best_share:.0%} of comparable weeks reached",
            pd.Series(np.where(present, per_hour, 0.0), index=m.hourly.index), s.confidence,
            {"baseload_kw": mean_base, "excess_kw": float(excess.mean()),
             "yardstick_heating_kw": float(yardstick[season].mean()),
             "yardstick_other_kw": float(yardstick[~season].mean()),
             "weeks_judged": len(judged), "weeks_above": weeks_above,
             "achievable_share_of_excess": s.achievable, "days_analysed": m.days},
            f"the meter's own best {s.best_share:.0%} of full working weeks in the same "
            f"season (no published standby share is certain enough to claim against)"))
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
                saved, s.confidence,
                {"building": building, "heating_meter": heat.meter,
                 "cooling_meter": cool.meter, "simultaneous_hours": int(both.sum()),
                 "mean_overlap_kw": float(np.mean(overlap[both])), "days_analysed": m.days},
                "each meter's own standby; the smaller excess of the two in shared hours"))
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
    unknown: list[str] = []
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
        year.use = settings.uses.get(use_name(info.use) or "")
        if year.use is None:
            unknown.append(meter)
        data[meter] = year
    warnings += _skipped(
        "recommendations.unknown-use", "use-based yardsticks", "their building's use is not "
        f"known (set the meter's tag 'use' to one of {sorted(settings.uses)}); only the "
        "meter's own history is used as a yardstick", unknown)
    return data, warnings


def combine(found: list[Opportunity], data: dict[str, MeterYear], ctx: RecommendContext
            ) -> dict[str, MeterTotal]:
    """Credit each opportunity its ``share``: per meter, rules in ``settings.order`` (then by
    confidence) take, hour by hour, at most what the rules before them left above the
    meter's floor, so the shares add up to at most the energy above the floor. Returns each
    meter's totals, annualised."""
    rank = {name: i for i, name in enumerate(ctx.settings.order)}
    totals = {}
    for meter, m in data.items():
        mine = sorted((o for o in found if o.meter == meter),
                      key=lambda o: (rank.get(o.rule, len(rank)), -o.confidence))
        load = np.nan_to_num(m.hourly.to_numpy())
        floor = floor_kw(m, ctx)
        left = np.clip(load - floor, 0, None)
        bound = float(left.sum())
        for o in mine:
            alone = np.clip(o.saved.reindex(m.hourly.index).fillna(0.0).to_numpy(), 0, None)
            taken = np.minimum(alone, left)
            left = left - taken
            o.share = pd.Series(taken, index=m.hourly.index)
        combined = bound - float(left.sum())
        totals[meter] = MeterTotal(float(load.sum()) * m.scale, bound * m.scale,
                                   combined * m.scale, floor, len(mine))
    return totals


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
    unknown = [n for n in [*names, *settings.order] if n not in RULES]
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown} (rules or settings order); choose from "
                         f"{RULES.names()}")
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
    totals = combine(found, data, ctx)
    recs = []
    for o in found:
        rec, warned = _annualise(o, data[o.meter], totals[o.meter], carbon_factors or {},
                                 intensity)
        if rec.annual_kwh > 0 or o.demand_saving > 0:
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


def consistency(saved: pd.Series, m: MeterYear) -> tuple[int, int]:
    """Weeks (with at least ``MIN_WEEK_HOURS`` of data) in which ``saved`` [kWh per hour] is
    positive, and weeks with data."""
    frame = pd.DataFrame({"saved": saved.to_numpy(), "n": m.hourly.notna().to_numpy()},
                         index=m.week).groupby(level=0).sum()
    weeks = frame[frame["n"] >= MIN_WEEK_HOURS]
    return int((weeks["saved"] > 0).sum()), len(weeks)


def profile(m: MeterYear, share: pd.Series) -> dict[str, list[float]]:
    """Mean load [kW] by local hour on working days and on other days, now and after the
    measure (the small chart beside the evidence)."""
    frame = pd.DataFrame({"now": m.hourly.to_numpy(),
                          "after": m.hourly.to_numpy() - share.to_numpy(),
                          "hour": m.calendar["hour"].to_numpy(),
                          "working": m.calendar["working"].to_numpy()})
    out: dict[str, list[float]] = {"hour": list(range(24))}
    for key, rows in (("working", frame[frame["working"]]), ("off", frame[~frame["working"]])):
        means = rows.groupby("hour")[["now", "after"]].mean().reindex(range(24))
        out[f"{key}_kw"] = [round(float(v), 2) for v in means["now"].fillna(0.0)]
        out[f"{key}_after_kw"] = [round(float(v), 2) for v in means["after"].fillna(0.0)]
    return out


def _priced(o: Opportunity, m: MeterYear, share: pd.Series
            ) -> tuple[float | None, dict[str, Any] | None, list[DataWarning]]:
    """Cost of ``share`` [currency per year] at the marginal price (energy rate and per-kWh
    surcharges) of the tariff version valid on each priced date, and the tariff named (id,
    versions used, source)."""
    if m.tariff is None:
        return None, None, []
    try:
        price = marginal_price(m.tariff, pd.DatetimeIndex(share.index), m.info.timezone)
    except TariffError as exc:
        return None, None, [DataWarning(
            "recommendations.unpriced",
            f"{o.rule}: meter {o.meter!r}: cannot price the saving ({exc}); annual_cost "
            f"is null", {"rule": o.rule, "meter": o.meter, "tariff": m.tariff.id})]
    cost = (float((share * price.to_numpy()).sum()) + o.demand_saving) * m.scale
    local = pd.DatetimeIndex(share.index).tz_convert(m.info.timezone).normalize()
    used = sorted(set(m.tariff.version_index(local).tolist()))
    versions = [m.tariff.ordered()[i].valid_from.isoformat() for i in used if i >= 0]
    return cost, {"id": m.tariff.id, "name": m.tariff.name, "currency": m.tariff.currency,
                  "versions": versions, "source": m.tariff.source}, []


def _sentences(o: Opportunity, m: MeterYear, total: MeterTotal, numbers: dict[str, Any],
               tariff: dict[str, Any] | None) -> list[str]:
    """The evidence in words."""
    alone, share = numbers["alone_kwh"], numbers["annual_kwh"]
    out = [o.title + ".", f"Yardstick: {o.yardstick}."]
    if o.demand_saving <= 0:
        out.append(
            f"On its own it would save {alone:,.0f} kWh a year; {alone - share:,.0f} kWh of "
            f"that is already credited to other measures on {m.meter}, so it is credited "
            f"{share:,.0f} kWh." if alone - share >= 0.5 else
            f"It saves {share:,.0f} kWh a year; no other measure on {m.meter} claims the same "
            f"energy.")
    out.append(
        f"All {total.measures} measure(s) on {m.meter} together save "
        f"{total.combined_kwh:,.0f} kWh a year, {numbers['meter_share']:.1%} of its "
        f"{total.consumption_kwh:,.0f} kWh; at most {total.bound_kwh:,.0f} kWh lies above "
        f"the lowest load it sustained for a week ({_fmt(total.floor_kw)}).")
    out.append(
        f"Seen in {numbers['weeks_with_pattern']} of {numbers['weeks_with_data']} weeks "
        f"with data; data cover {m.coverage:.0%} of the year; confidence "
        f"{numbers['confidence']:.2f}.")
    if tariff is not None:
        out.append(f"Priced with tariff {tariff['id']!r} (version(s) from "
                   f"{', '.join(tariff['versions'])}; source: {tariff['source'] or 'not given'})"
                   f" in {tariff['currency']}.")
    use = m.use
    typical = None if use is None else (
        use.electricity_kwh_m2 if m.info.commodity == "electricity" else
        use.fossil_kwh_m2 if m.info.commodity in ("gas", "heat") else None)
    if typical and m.info.floor_area_m2:
        out.append(
            f"For context (no claim): {m.meter} used "
            f"{total.consumption_kwh / m.info.floor_area_m2:,.0f} kWh/m² a year against "
            f"{typical:,.0f} kWh/m² typical for {use.benchmark if use else ''}.")
    return out


def _annualise(o: Opportunity, m: MeterYear, total: MeterTotal, factors: dict[str, float],
               intensity: pd.Series | None) -> tuple[Recommendation, list[DataWarning]]:
    share = o.share if o.share is not None else o.saved.fillna(0.0)
    kwh = float(share.sum()) * m.scale
    commodity = m.info.commodity
    cost, tariff, warnings = _priced(o, m, share)
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
            co2 = float(carbon_kg(share, commodity, factors, use_intensity).sum())
            co2 *= m.scale
        except CarbonError as exc:
            warnings.append(DataWarning(
                "recommendations.no-emissions", f"meter {o.meter!r}: {exc}; annual_co2_kg is "
                f"null", {"meter": o.meter, "commodity": commodity}))
    seen, weeks = consistency(o.saved.fillna(0.0), m)
    steady = o.consistency if o.consistency is not None else seen / max(weeks, 1)
    confidence = round(float(np.clip(o.confidence * m.coverage * steady, 0.0, 1.0)), 2)
    evidence = {k: ((round(v, 3) if np.isfinite(v) else None) if isinstance(v, float) else v)
                for k, v in o.evidence.items()}
    numbers = {
        "annual_kwh": round(kwh, 1), "alone_kwh": round(float(o.saved.sum()) * m.scale, 1),
        "meter_consumption_kwh": round(total.consumption_kwh, 1),
        "meter_combined_kwh": round(total.combined_kwh, 1),
        "meter_bound_kwh": round(total.bound_kwh, 1), "floor_kw": round(total.floor_kw, 3),
        "meter_share": round(total.combined_kwh / total.consumption_kwh, 4)
        if total.consumption_kwh > 0 else 0.0,
        "weeks_with_pattern": seen, "weeks_with_data": weeks,
        "coverage": round(m.coverage, 3), "confidence": confidence,
    }
    evidence.update(numbers)
    del evidence["annual_kwh"], evidence["confidence"]
    evidence.update({
        "commodity": commodity, "use": m.info.use, "yardstick": o.yardstick, "tariff": tariff,
        "period": {"start": m.hourly.index[0].isoformat(),
                   "end": (m.hourly.index[-1] + pd.Timedelta("1h")).isoformat()},
        "sentences": _sentences(o, m, total, numbers, tariff), "profile": profile(m, share)})
    return Recommendation(
        rule=o.rule, meter=o.meter, title=o.title, annual_kwh=round(kwh, 1),
        annual_cost=None if cost is None else round(cost, 2),
        annual_co2_kg=None if co2 is None else round(co2, 1),
        confidence=confidence, evidence=evidence), warnings
