"""One holiday calendar (wattlens.core.calendar) for forecasting, anomalies, tariffs, KPIs and
the dashboard."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from wattlens.config import SiteConfig
from wattlens.core.calendar import SiteCalendar, UnknownCountry, public_holidays
from wattlens.dashboard.transforms import day_type
from wattlens.forecasting.models import fit_model

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


SEOUL = SiteCalendar(timezone="Asia/Seoul", country="KR")
KR_DAYS_OFF = [  # the official calendar, written out (not from the holidays package)
    "2024-08-15", "2024-09-16", "2024-09-17", "2024-09-18", "2024-10-01", "2024-10-03",
    "2024-10-09", "2024-12-25",
    "2025-01-01", "2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30", "2025-03-03",
    "2025-05-05", "2025-05-06", "2025-06-03", "2025-06-06", "2025-08-15", "2025-10-03",
    "2025-10-06", "2025-10-07", "2025-10-08", "2025-10-09", "2025-12-25",
]


def _noon(*dates: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(f"{d} 12:00", tz="Asia/Seoul") for d in dates]
                            ).tz_convert("UTC")


def test_korean_days_off_lunar_substitute_election_and_temporary() -> None:
    """Seollal, Chuseok, 대체공휴일, election days and a temporary holiday are days off; the
    weeks of Seollal and Chuseok are festival weeks."""
    days = SEOUL.days(_noon(
        "2024-02-09",  # the day before Seollal (Friday)
        "2024-02-12",  # substitute holiday for Seollal (Monday)
        "2024-04-10",  # National Assembly election
        "2024-09-17",  # Chuseok (Tuesday)
        "2025-01-27",  # temporary public holiday before Seollal
        "2025-06-03",  # presidential election
        "2025-10-08",  # substitute holiday for Chuseok (Wednesday)
        "2024-02-14",  # ordinary Wednesday after Seollal: working, festival week
        "2024-03-13",  # ordinary Wednesday
    ))
    assert days["holiday"].tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert days["working"].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert days["festival"].tolist() == [1, 1, 0, 1, 1, 0, 1, 1, 0]
    assert list(SEOUL.day_types(_noon("2024-02-12", "2024-02-14"))) == ["holiday", "weekday"]
    assert SiteCalendar(timezone="Asia/Seoul").days(_noon("2024-02-12"))["festival"].sum() == 0


def _korean_office(start: str, end: str) -> pd.Series:
    """Hourly load [kWh]: 80 kWh in 08:00-18:00 on working days, 20 otherwise; days off from
    :data:`KR_DAYS_OFF` and weekends."""
    times = pd.date_range(start, end, freq="h", tz="Asia/Seoul", inclusive="left")
    off = times.normalize().tz_localize(None).isin(pd.DatetimeIndex(KR_DAYS_OFF))
    working = (times.day_of_week < 5) & ~off & (times.hour >= 8) & (times.hour < 18)
    noise = np.random.default_rng(1).normal(0, 1, len(times))
    return pd.Series(20 + 60 * working + noise, index=times.tz_convert("UTC"), name="gj-main")


@pytest.mark.parametrize(
    ("history", "horizon", "days_off", "working_day"),
    [
        (("2024-08-01", "2025-01-27"), ("2025-01-27", "2025-02-04"),
         ["2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30"], "2025-02-03"),  # Seollal
        (("2025-04-01", "2025-10-06"), ("2025-10-06", "2025-10-14"),
         ["2025-10-06", "2025-10-07", "2025-10-08"], "2025-10-13"),  # Chuseok, its substitute
    ],
)
def test_forecast_on_a_korean_site_treats_seollal_chuseok_and_substitutes_as_days_off(
    history: tuple[str, str], horizon: tuple[str, str], days_off: list[str], working_day: str
) -> None:
    """Prophet fitted on a synthetic Gwangju office forecasts the holidays (never seen in its
    history) at the weekend level; without the country it forecasts a working day."""
    load = _korean_office(history[0], horizon[1])
    fit_on = load[load.index < pd.Timestamp(history[1], tz="Asia/Seoul")]
    times = load.index[load.index >= pd.Timestamp(horizon[0], tz="Asia/Seoul")]

    def midday(site: SiteCalendar) -> pd.Series:
        pred = fit_model("prophet", fit_on, None, site).predict(times, None)
        local = pd.DatetimeIndex(pred["time"]).tz_convert("Asia/Seoul")
        rows = (local.hour >= 10) & (local.hour < 16)
        return pred["yhat"][rows].groupby(local[rows].strftime("%Y-%m-%d")).mean()

    with_kr = midday(SEOUL)
    assert (with_kr[days_off] < 35).all(), with_kr
    assert with_kr[working_day] > 65, with_kr
    without = midday(SiteCalendar(timezone="Asia/Seoul"))
    assert (without[days_off] > 65).all(), without
