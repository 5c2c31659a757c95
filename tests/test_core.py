"""The bottom layer: registry policy, warnings as data, the one interval rule, the site
calendar (closures, bridge days, working hours, tariff day types) and the meter context."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from wattlens.config import parse_config
from wattlens.core.base import Registry
from wattlens.core.calendar import Closure, SiteCalendar, WorkingHours
from wattlens.core.intervals import IntervalError, infer_interval, interval_hours
from wattlens.core.warnings import DataWarning, unique


def test_registry_refuses_a_duplicate_and_names_the_known_ones() -> None:
    reg: Registry[int] = Registry("detector")
    reg.register("spike")(1)
    with pytest.raises(ValueError, match="detector 'spike' is already registered"):
        reg.register("spike")(2)
    assert reg["spike"] == 1 and "spike" in reg and reg.names() == ["spike"]
    with pytest.raises(KeyError, match="unknown detector 'dip'; choose one of spike"):
        reg["dip"]


def test_data_warning_round_trips_as_json() -> None:
    w = DataWarning("baseline.sparse", "baseline has 40 % of its days", {"share": 0.4})
    assert DataWarning.from_dict(w.to_dict()) == w
    assert str(w) == w.message
    assert unique([w, w, DataWarning("x", "y")]) == [w, DataWarning("x", "y")]


def test_interval_is_the_most_common_spacing() -> None:
    times = pd.date_range("2019-01-01", periods=10, freq="15min", tz="UTC")
    gappy = times.delete([3, 4, 7])  # gaps: 30 and 45 min spacings besides the 15 min ones
    assert infer_interval(gappy) == pd.Timedelta("15min")
    assert interval_hours(pd.Series(gappy)) == 0.25
    assert infer_interval(times[:1], default=pd.Timedelta("1h")) == pd.Timedelta("1h")
    assert interval_hours(times[:1]) == 1.0
    with pytest.raises(IntervalError, match="at least two readings"):
        infer_interval(times[:1])


def _hours(start: str, days: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=24 * days, freq="1h", tz="UTC")


def test_closures_bridges_and_working_hours() -> None:
    cal = SiteCalendar(
        timezone="Europe/London", country="GB-ENG",
        closures=(Closure(start=dt.date(2019, 8, 12), end=dt.date(2019, 8, 16)),),
        working_hours=WorkingHours(start=8, end=18),
    )
    days = cal.days(_hours("2019-08-12", 1))  # a closed Monday
    assert days["closure"].all() and not days["working"].any() and not days["occupied"].any()
    open_day = cal.days(pd.DatetimeIndex([pd.Timestamp("2019-08-19 07:30", tz="UTC")]))
    assert open_day["working"].all() and open_day["hour"].iloc[0] == 8  # 08:30 BST
    assert open_day["occupied"].all()
    # 2019-12-27 (Fri) lies between Boxing Day and the weekend: a bridge day, not working
    bridge = cal.days(pd.DatetimeIndex([pd.Timestamp("2019-12-27 12:00", tz="UTC")]))
    assert bridge["bridge"].all() and not bridge["working"].any()
    # tariffs: a public holiday is a tariff holiday, a site closure is not
    types = cal.day_types(pd.DatetimeIndex(
        [pd.Timestamp("2019-08-26 12:00", tz="UTC"), pd.Timestamp("2019-08-13 12:00", tz="UTC")]))
    assert list(types) == ["holiday", "weekday"]


def test_calendar_refuses_bad_settings() -> None:
    with pytest.raises(ValidationError, match="not an IANA timezone"):
        SiteCalendar(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="at or before they start"):
        WorkingHours(start=19, end=7)
    with pytest.raises(ValueError, match="not known to the holidays package"):
        SiteCalendar(country="XX")


def test_config_builds_each_meter_context_once() -> None:
    cfg = parse_config({"sites": [{
        "id": "gj", "timezone": "Asia/Seoul", "country": "KR", "weather_meter": "gj-temp",
        "working_hours": {"start": 9, "end": 18},
        "closures": [{"start": "2026-12-24", "end": "2026-12-31"}],
        "buildings": [{"id": "lab", "floor_area_m2": 900, "meters": [
            {"id": "lab-elec", "commodity": "electricity", "interval": "15min",
             "tags": {"use": "cooling"}}]}],
    }]})
    info = cfg.meter_infos()["lab-elec"]
    assert (info.site, info.building, info.timezone, info.country) == ("gj", "lab", "Asia/Seoul", "KR")
    assert info.interval_h == 0.25 and info.use == "cooling" and info.weather_meter == "gj-temp"
    assert info.calendar.working_hours == WorkingHours(start=9, end=18)
    assert info.calendar.closures[0].end == dt.date(2026, 12, 31)
