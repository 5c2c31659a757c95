"""Public holidays of a site's country: the one place every part of wattlens asks.

A country is an ISO 3166 code, optionally with a subdivision after a hyphen, as the
``holidays`` package knows them: ``GB`` has the UK-wide holidays only, ``GB-ENG`` adds
England's (Easter Monday, the August bank holiday), ``US-CA`` California's, ``KR`` Korea's.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


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


def check_country(country: str | None) -> str | None:
    """``country`` if the holidays package knows it (None passes); else UnknownCountry."""
    if country is not None:
        public_holidays(country, (2000,))
    return country
