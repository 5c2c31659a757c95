"""Public holidays of a site's country: the one place every part of wattlens asks.

A country is an ISO 3166 code, optionally with a subdivision after a hyphen, as the
``holidays`` package knows them: ``GB`` has the UK-wide holidays only, ``GB-ENG`` adds
England's (Easter Monday, the August bank holiday), ``US-CA`` California's, ``KR`` Korea's.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TypeVar

import holidays
import numpy as np
import pandas as pd

_Times = TypeVar("_Times", pd.DatetimeIndex, pd.Timestamp)


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
