"""Tariffs with dated versions: flat or time-of-use energy rates, demand charges, standing charges.

A :class:`Tariff` holds :class:`TariffVersion` s, each valid from a local date until the next
one. A version prices energy either at one ``energy_rate`` [currency/kWh] or by time-of-use
``bands``: each band names the seasons, day types and local hours it covers and its rate.
Demand is charged per kW of the month's peak (mean power over one metering interval) or of a
contracted capacity; standing charges are per day and/or per month.

- :func:`energy_price` → price [currency/kWh] at each time;
- :func:`bill` → per local calendar month: kWh, peak kW, energy, demand, standing, total.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from wattlens.core.base import Frozen
from wattlens.core.calendar import SiteCalendar, check_country
from wattlens.core.intervals import interval_hours

DayType = Literal["weekday", "saturday", "sunday", "holiday"]
DAY_TYPES: tuple[DayType, ...] = ("weekday", "saturday", "sunday", "holiday")


class TariffError(ValueError):
    """A tariff cannot price the given times or readings; the message says what to add."""


class Season(Frozen):
    """A named set of calendar months, e.g. summer = [6, 7, 8]."""

    name: str = Field(min_length=1)
    months: list[int] = Field(min_length=1, description="months 1..12")

    @field_validator("months")
    @classmethod
    def _months(cls, value: list[int]) -> list[int]:
        bad = [m for m in value if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months {bad} are not 1..12")
        return value


def _parse_hours(text: str) -> tuple[int, int]:
    """'09:00-12:00' → (540, 720) minutes of the local day; '23:00-09:00' wraps midnight."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        minutes = []
        for part in (start, end):
            hh, mm = part.split(":")
            minutes.append(int(hh) * 60 + int(mm))
    except ValueError:
        raise ValueError(f"{text!r} is not an hour range; write e.g. '09:00-12:00'") from None
    if not all(0 <= m <= 24 * 60 for m in minutes) or minutes[0] == minutes[1]:
        raise ValueError(f"{text!r}: hours must be 00:00..24:00 and start != end")
    return minutes[0], minutes[1]


class Band(Frozen):
    """A time-of-use band: a rate [currency/kWh] applying on the listed seasons, day types and
    local hour ranges. Empty ``seasons`` means every season."""

    name: str = Field(min_length=1, description="e.g. 'peak', 'mid', 'light'")
    rate: float = Field(ge=0, description="energy rate [currency/kWh]")
    seasons: list[str] = Field(default_factory=list, description="season names; empty = all")
    day_types: list[DayType] = Field(
        default_factory=lambda: list(DAY_TYPES), description="weekday, saturday, sunday, holiday"
    )
    hours: list[str] = Field(
        default_factory=lambda: ["00:00-24:00"], description="local ranges like '10:00-12:00'"
    )

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for text in value:
            _parse_hours(text)
        return value


class TariffVersion(Frozen):
    """One dated version of a tariff."""

    valid_from: dt.date = Field(description="first local date this version applies")
    energy_rate: float | None = Field(None, ge=0, description="flat rate [currency/kWh]")
    seasons: list[Season] = Field(default_factory=list, description="seasons used by bands")
    bands: list[Band] = Field(default_factory=list, description="time-of-use bands, first wins")
    demand_rate: float = Field(0.0, ge=0, description="demand charge [currency/kW per month]")
    demand_rate_by_season: dict[str, float] = Field(
        default_factory=dict, description="demand charge per season, overrides demand_rate"
    )
    demand_basis: Literal["monthly_peak", "contracted"] = Field(
        "monthly_peak", description="charge the month's metered peak or the contracted kW"
    )
    contracted_kw: float | None = Field(None, gt=0, description="contracted capacity [kW]")
    standing_per_day: float = Field(0.0, ge=0, description="standing charge [currency/day]")
    standing_per_month: float = Field(0.0, ge=0, description="standing charge [currency/month]")

    @model_validator(mode="after")
    def _consistent(self) -> TariffVersion:
        if (self.energy_rate is None) == (not self.bands):
            raise ValueError(
                f"version from {self.valid_from}: give either energy_rate (flat) or bands "
                f"(time-of-use), exactly one of them"
            )
        names = {s.name for s in self.seasons}
        for band in self.bands:
            unknown = set(band.seasons) - names
            if unknown:
                raise ValueError(
                    f"band {band.name!r} names season(s) {sorted(unknown)} that are not defined "
                    f"in seasons {sorted(names)}"
                )
        months = [m for s in self.seasons for m in s.months]
        if len(months) != len(set(months)):
            raise ValueError("a month belongs to two seasons; give each month one season")
        if self.demand_basis == "contracted" and self.contracted_kw is None:
            raise ValueError("demand_basis 'contracted' needs contracted_kw")
        return self

    def season_of(self, month: int) -> str | None:
        """The season name of a month, or None."""
        return next((s.name for s in self.seasons if month in s.months), None)


class Tariff(Frozen):
    """A named tariff with dated versions. ``source`` says where the numbers come from."""

    id: str = Field(min_length=1)
    name: str = ""
    commodity: Literal["electricity", "gas", "heat", "water"] = "electricity"
    currency: str = Field("GBP", description="ISO currency code")
    source: str = Field("", description="publisher, document and date of the numbers")
    holidays_country: str | None = Field(
        None, description="ISO country (or subdivision, e.g. GB-ENG) whose public holidays "
        "are day type 'holiday'"
    )
    versions: list[TariffVersion] = Field(min_length=1)

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return check_country(value)

    @model_validator(mode="after")
    def _sorted(self) -> Tariff:
        dates = [v.valid_from for v in self.versions]
        if len(set(dates)) != len(dates):
            raise ValueError(f"tariff {self.id!r}: two versions share a valid_from date")
        return self

    def version_index(self, local_dates: pd.DatetimeIndex) -> np.ndarray:
        """Index into :meth:`ordered` of the version valid on each local date; -1 if none."""
        starts = np.array(
            [np.datetime64(v.valid_from, "D") for v in self.ordered()], dtype="datetime64[D]"
        )
        days = local_dates.tz_localize(None).to_numpy().astype("datetime64[D]")
        return np.searchsorted(starts, days, side="right") - 1

    def ordered(self) -> list[TariffVersion]:
        """Versions sorted by ``valid_from``."""
        return sorted(self.versions, key=lambda v: v.valid_from)


class TariffsSection(Frozen):
    """The ``[tariffs]`` config section: the catalogue and which tariff prices which meter."""

    catalog: list[Tariff] = Field(default_factory=list, description="[[tariffs.catalog]]")
    meters: dict[str, str] = Field(
        default_factory=dict, description="meter id → tariff id; unlisted meters use default"
    )
    default: dict[str, str] = Field(
        default_factory=dict, description="commodity → tariff id used when a meter is unlisted"
    )

    @model_validator(mode="after")
    def _known_ids(self) -> TariffsSection:
        ids = {t.id for t in self.catalog}
        for where, mapping in (("meters", self.meters), ("default", self.default)):
            unknown = sorted(set(mapping.values()) - ids)
            if unknown:
                raise ValueError(
                    f"tariffs.{where} names tariff(s) {unknown} that are not in "
                    f"tariffs.catalog {sorted(ids)}; add them or fix the id"
                )
        return self

    def for_meter(self, meter: str, commodity: str) -> Tariff | None:
        """The tariff pricing ``meter`` (of ``commodity``), or None."""
        wanted = self.meters.get(meter) or self.default.get(commodity)
        return next((t for t in self.catalog if t.id == wanted), None)


def _in_hours(minute: np.ndarray, ranges: list[str]) -> np.ndarray:
    hit = np.zeros(len(minute), dtype=bool)
    for text in ranges:
        start, end = _parse_hours(text)
        hit |= (minute >= start) & (minute < end) if start < end else (
            (minute >= start) | (minute < end)
        )
    return hit


def energy_price(tariff: Tariff, times: pd.DatetimeIndex, tz: str) -> pd.Series:
    """Energy price [currency/kWh] at each time (interval start, UTC) in local time ``tz``.
    Raises :class:`TariffError` for times before the first version or not covered by a band."""
    times = pd.DatetimeIndex(times)
    if times.tz is None:
        raise TariffError("times: expected tz-aware (UTC) times; localise them first")
    local = times.tz_convert(tz)
    idx = tariff.version_index(local.normalize())
    if (idx < 0).any():
        first = local[idx < 0][0]
        raise TariffError(
            f"tariff {tariff.id!r}: no version valid on {first.date()} (first version starts "
            f"{tariff.ordered()[0].valid_from}); add a version with an earlier valid_from"
        )
    price = np.full(len(times), np.nan)
    minute = np.asarray(local.hour * 60 + local.minute)
    kinds = SiteCalendar(timezone=tz, country=tariff.holidays_country).day_types(times)
    months = np.asarray(local.month)
    for i, version in enumerate(tariff.ordered()):
        rows = idx == i
        if not rows.any():
            continue
        if version.energy_rate is not None:
            price[rows] = version.energy_rate
            continue
        season = np.array([version.season_of(int(m)) for m in range(13)], dtype=object)[months]
        for band in version.bands:
            hit = rows & np.isnan(price) & np.isin(kinds, band.day_types)
            hit &= _in_hours(minute, band.hours)
            if band.seasons:
                hit &= np.isin(season, band.seasons)
            price[hit] = band.rate
        missing = rows & np.isnan(price)
        if missing.any():
            at = local[missing][0]
            raise TariffError(
                f"tariff {tariff.id!r} version {version.valid_from}: no band covers {at} "
                f"({kinds[missing][0]}, season {season[missing][0]}); add a band for it"
            )
    return pd.Series(price, index=times, name="price")


def bill(tariff: Tariff, readings: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Monthly bill of one meter's energy readings [kWh per interval] (time, value) in local
    months of ``tz``: columns month (local month start), kwh, peak_kw, energy_cost,
    demand_cost, standing_cost, total [currency]. Peak kW is the highest interval mean power.
    """
    if readings.empty:
        raise TariffError("readings: no rows to bill; give at least one energy reading")
    if readings["meter"].nunique() > 1:
        raise TariffError(
            f"readings: {readings['meter'].nunique()} meters given; bill one meter at a time"
        )
    times = pd.DatetimeIndex(readings["time"])
    values = readings["value"].to_numpy(dtype=float)
    hours = interval_hours(times)
    price = energy_price(tariff, times, tz).to_numpy()
    local = times.tz_convert(tz)
    month = local.tz_localize(None).to_period("M")
    frame = pd.DataFrame(
        {"month": month, "kwh": values, "cost": values * price, "kw": values / hours}
    )
    out = frame.groupby("month").agg(
        kwh=("kwh", "sum"), energy_cost=("cost", "sum"), peak_kw=("kw", "max")
    )
    starts = out.index.to_timestamp().tz_localize(tz)
    versions = tariff.ordered()
    vidx = tariff.version_index(pd.DatetimeIndex(starts))
    vidx = np.maximum(vidx, 0)  # a month starting before the first version: priced by it
    demand, standing = [], []
    for period, start, i in zip(out.index, starts, vidx, strict=True):
        version = versions[i]
        season = version.season_of(start.month)
        rate = version.demand_rate_by_season.get(season or "", version.demand_rate)
        kw = version.contracted_kw if version.demand_basis == "contracted" else out.at[
            period, "peak_kw"
        ]
        demand.append(rate * float(kw or 0.0))
        days = period.days_in_month
        standing.append(version.standing_per_month + version.standing_per_day * days)
    out["demand_cost"] = demand
    out["standing_cost"] = standing
    out["total"] = out["energy_cost"] + out["demand_cost"] + out["standing_cost"]
    out.index = starts
    out.index.name = "month"
    return out.reset_index()[
        ["month", "kwh", "peak_kw", "energy_cost", "demand_cost", "standing_cost", "total"]
    ]
