"""One holiday calendar (wattlens.core.calendar) for forecasting, anomalies, tariffs, KPIs and
the dashboard."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from wattlens.config import SiteConfig
from wattlens.core.calendar import SiteCalendar, UnknownCountry, public_holidays
from wattlens.dashboard.transforms import day_type

EASTER_MONDAY_2019 = dt.date(2019, 4, 22)


def test_subdivision_adds_england_bank_holidays() -> None:
    uk, england = public_holidays("GB", (2019,)), public_holidays("GB-ENG", (2019,))
    assert EASTER_MONDAY_2019 not in uk
    assert EASTER_MONDAY_2019 in england
    assert uk < england


def test_every_caller_sees_the_same_subdivision_holidays() -> None:
    day = pd.DatetimeIndex([pd.Timestamp("2019-04-22 12:00", tz="Europe/London")])
    england = SiteCalendar(timezone="Europe/London", country="GB-ENG")
    assert england.days(day.tz_convert("UTC"))["holiday"].all()
    assert england.day_types(day)[0] == "holiday"
    assert day_type(pd.Series(day), england).iloc[0] == "Sunday / holiday"
    uk = SiteCalendar(timezone="Europe/London", country="GB")
    assert uk.day_types(day)[0] == "weekday"


def test_unknown_country_is_refused_with_the_fix() -> None:
    with pytest.raises(UnknownCountry, match="'XX'.*such as GB"):
        public_holidays("XX", (2019,))
    with pytest.raises(ValidationError, match="GB-ENG"):
        SiteConfig(id="site", country="GB-XYZ")
