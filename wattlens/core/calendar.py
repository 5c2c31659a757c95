"""The site-local calendar: the one place every part of wattlens asks what kind of day and
hour a time is.

A country is an ISO 3166 code, optionally with a subdivision after a hyphen, as the
``holidays`` package knows them: ``GB`` has the UK-wide holidays only, ``GB-ENG`` adds
England's (Easter Monday, the August bank holiday), ``US-CA`` California's, ``KR`` Korea's
(with the lunar holidays Seollal, Buddha's Birthday and Chuseok, substitute holidays 대체공휴일,
election days and temporary holidays as the package's release knows them).

:class:`SiteCalendar` joins the site's timezone, country, closures and working hours;
:meth:`SiteCalendar.days` gives per time the local date and hour, ``weekend``, ``holiday``,
``closure``, ``bridge`` and ``working`` (a weekday that is none of the others),
``occupied`` (working day, within working hours) and ``festival`` (in the calendar week of a
lunar festival: Seollal or Chuseok for ``KR``, :data:`LUNAR_FESTIVALS`). Times go in UTC
tz-aware; local time is used only to decide the day and hour.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, TypeVar

import holidays
import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from wattlens.core.base import Frozen, TimeZone

_Times = TypeVar("_Times", pd.DatetimeIndex, pd.Timestamp)

BRIDGE_MAX_DAYS = 2
"""Longest run of weekdays between days off whose days are bridge days [days]."""
BRIDGE_PAD = pd.Timedelta(days=14)
"""Calendar looked at either side of the dates judged, to see the runs they are in."""
LUNAR_FESTIVALS: dict[str, tuple[str, ...]] = {"KR": ("Korean New Year", "Chuseok")}
"""Country → the ``holidays`` package's English names of its lunar festivals whose whole
calendar week (Monday-Sunday) is a ``festival`` week: many staff take the working days
around Seollal and Chuseok off, so those weeks' load differs from an ordinary week's."""


class UnknownCountry(ValueError):
    """The holidays package does not know this country or subdivision code."""


@lru_cache(maxsize=128)
def public_holidays(country: str, years: tuple[int, ...]) -> frozenset[dt.date]:
    """Public holidays (local dates) of ``country`` in ``years``."""
    code, _, subdiv = country.partition("-")
    try:
        found = holidays.country_holidays(code, subdiv=subdiv or None, years=list(years))
    except NotImplementedError as exc:
        raise UnknownCountry(
            f"country {country!r} is not known to the holidays package ({exc}); give an ISO "
            f"code such as GB, or a subdivision such as GB-ENG, or leave it out"
        ) from None
    return frozenset(found)


@lru_cache(maxsize=128)
def festival_weeks(country: str, years: tuple[int, ...]) -> frozenset[dt.date]:
    """Local dates of the calendar weeks (Monday-Sunday) holding a day of a lunar festival of
    ``country`` (:data:`LUNAR_FESTIVALS`, substitute days included) in ``years``."""
    code, _, subdiv = country.partition("-")
    names = LUNAR_FESTIVALS.get(code)
    if not names:
        return frozenset()
    found = holidays.country_holidays(code, subdiv=subdiv or None, years=list(years),
                                      language="en_US")
    weeks: set[dt.date] = set()
    for day, name in found.items():
        if any(festival in name for festival in names):
            monday = day - dt.timedelta(days=day.weekday())
            weeks.update(monday + dt.timedelta(days=i) for i in range(7))
    return frozenset(weeks)


def local_dates(times: _Times, tz: str) -> _Times:
    """Local calendar date (as naive midnight) of each tz-aware time (or of one), in ``tz``."""
    return times.tz_convert(tz).tz_localize(None).normalize()


def holiday_mask(dates: pd.DatetimeIndex, country: str) -> np.ndarray:
    """Whether each local date (naive midnight, as from :func:`local_dates`) is a public
    holiday of ``country``; UnknownCountry if the holidays package does not know it."""
    if not len(dates):
        return np.zeros(0, dtype=bool)
    years = tuple(range(int(dates.year.min()), int(dates.year.max()) + 1))
    calendar = pd.DatetimeIndex(sorted(public_holidays(country, years)))
    return np.asarray(dates.isin(calendar), dtype=bool)


def check_country(country: str | None) -> str | None:
    """``country`` if the holidays package knows it (None passes); else UnknownCountry."""
    if country is not None:
        public_holidays(country, (2000,))
    return country


class Closure(Frozen):
    """A site closure: local dates ``start`` .. ``end`` inclusive, non-working days."""

    start: dt.date = Field(description="first closed local date")
    end: dt.date = Field(description="last closed local date (inclusive)")
    name: str = Field("closure", description="what the closure is")

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.end < self.start:
            raise ValueError(
                f"closure ends ({self.end}) before it starts ({self.start}); swap them"
            )
        return self


class WorkingHours(Frozen):
    """The occupied hours of working days, local time: ``start`` <= hour < ``end``."""

    start: int = Field(7, ge=0, le=23, description="first occupied local hour")
    end: int = Field(19, ge=1, le=24, description="local hour occupancy ends (exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError(
                f"working hours end ({self.end}) at or before they start ({self.start}); "
                f"write e.g. start = 7, end = 19"
            )
        return self


class SiteCalendar(Frozen):
    """Where a meter is, as far as days and hours go: timezone, public holidays of
    ``country``, closures and working hours."""

    timezone: TimeZone = "UTC"
    country: str | None = None
    closures: tuple[Closure, ...] = ()
    working_hours: WorkingHours = WorkingHours()

    @model_validator(mode="after")
    def _known_country(self) -> SiteCalendar:
        check_country(self.country)
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON form saved with models and results."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SiteCalendar:
        return cls.model_validate(data)

    def _days_off(self, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """Public-holiday and closure flags of local dates (naive midnights)."""
        holiday = np.zeros(len(dates), dtype=bool)
        if self.country and len(dates):
            holiday = holiday_mask(dates, self.country)
        closure = np.zeros(len(dates), dtype=bool)
        for c in self.closures:
            closure |= np.asarray((dates >= pd.Timestamp(c.start)) & (dates <= pd.Timestamp(c.end)))
        return holiday, closure

    def _bridge_days(self, days: pd.DatetimeIndex) -> pd.Series:
        """Bridge days of consecutive local ``days`` (naive midnights) as a boolean Series.

        A bridge day is a weekday in a run of at most :data:`BRIDGE_MAX_DAYS` weekdays between
        days off, next to a public holiday or closure (the weekdays between Christmas and New
        Year, a Friday after a Thursday holiday): many organisations close or run down then,
        though no calendar says so. Runs touching either end of ``days`` are not judged.
        """
        holiday, closure = self._days_off(days)
        special = holiday | closure
        work = np.asarray((days.day_of_week < 5) & ~special)
        bridge = np.zeros(len(days), dtype=bool)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], work.astype(int), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):  # working runs
            if start == 0 or stop == len(days) or stop - start > BRIDGE_MAX_DAYS:
                continue
            before = np.flatnonzero(work[:start])
            after = np.flatnonzero(work[stop:])
            left = before[-1] + 1 if len(before) else 0
            right = stop + after[0] if len(after) else len(days)
            if special[left:start].any() or special[stop:right].any():
                bridge[start:stop] = True
        return pd.Series(bridge, index=days)

    def days(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        """Per UTC time: ``day`` (local date, naive midnight), ``hour`` (local), ``weekend``,
        ``holiday`` (public holiday), ``closure`` (in a site closure), ``bridge``, ``working`` (a
        weekday that is none of these), ``occupied`` (working, within working hours) and
        ``festival`` (in a Seollal or Chuseok week, :func:`festival_weeks`; working or not)."""
        times = pd.DatetimeIndex(times)
        local = times.tz_convert(self.timezone)
        day = local_dates(times, self.timezone)
        weekend = np.asarray(local.day_of_week >= 5)
        holiday, closure = self._days_off(day)
        bridge = np.zeros(len(times), dtype=bool)
        if len(times) and (self.country or self.closures):
            grid = pd.date_range(day.min() - BRIDGE_PAD, day.max() + BRIDGE_PAD, freq="D")
            bridge = self._bridge_days(grid).reindex(day).to_numpy(dtype=bool)
        festival = np.zeros(len(times), dtype=bool)
        if len(times) and self.country:
            years = tuple(range(int(day.year.min()), int(day.year.max()) + 1))
            weeks = pd.DatetimeIndex(sorted(festival_weeks(self.country, years)))
            festival = np.asarray(day.isin(weeks), dtype=bool)
        hour = np.asarray(local.hour)
        working = ~weekend & ~holiday & ~closure & ~bridge
        hours = self.working_hours
        return pd.DataFrame(
            {
                "day": day,
                "hour": hour,
                "weekend": weekend,
                "holiday": holiday,
                "closure": closure,
                "bridge": bridge,
                "working": working,
                "occupied": working & (hour >= hours.start) & (hour < hours.end),
                "festival": festival,
            },
            index=times,
        )

    def occupied(self, times: pd.DatetimeIndex) -> np.ndarray:
        """True for times on working days within working hours (local)."""
        return self.days(times)["occupied"].to_numpy()

    def day_types(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Tariff day type per UTC time: ``holiday`` (public holiday of the country; a site
        closure is not a tariff holiday), ``sunday``, ``saturday`` or ``weekday``."""
        times = pd.DatetimeIndex(times)
        dow = np.asarray(times.tz_convert(self.timezone).day_of_week)
        out = np.where(dow == 6, "sunday", np.where(dow == 5, "saturday", "weekday"))
        out = out.astype(object)
        holiday, _ = self._days_off(local_dates(times, self.timezone))
        out[holiday] = "holiday"
        return out
