"""One meter's context: where it is, what it measures, how often it reports.

Built once from the config at the entry point (:meth:`wattlens.config.Config.meter_infos`)
and passed to ingest, forecasting, analytics and the dashboard, which never read the config.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from wattlens.core.base import Duration, Frozen
from wattlens.core.calendar import SiteCalendar

Commodity = Literal["electricity", "gas", "heat", "water"]
MeterKind = Literal["interval", "register", "power"]


class MeterInfo(Frozen):
    """What every part may know about a meter besides its readings."""

    id: str = Field(min_length=1, description="meter id")
    name: str = ""
    building: str | None = None
    site: str | None = None
    commodity: Commodity = "electricity"
    kind: MeterKind = "interval"
    interval: Duration = "1h"
    parent: str | None = None
    floor_area_m2: float | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    calendar: SiteCalendar = SiteCalendar()
    weather_meter: str | None = Field(
        None, description="meter id of the site's outdoor temperature [degC] readings"
    )

    @property
    def label(self) -> str:
        """The name shown to people (the id when the meter has no name)."""
        return self.name or self.id

    @property
    def timezone(self) -> str:
        return self.calendar.timezone

    @property
    def country(self) -> str | None:
        return self.calendar.country

    @property
    def interval_td(self) -> pd.Timedelta:
        """The configured reading interval."""
        return pd.Timedelta(self.interval)

    @property
    def interval_h(self) -> float:
        """The configured reading interval [h]."""
        return self.interval_td / pd.Timedelta("1h")

    @property
    def use(self) -> str | None:
        """What the meter serves, from its ``use`` tag (``heating``, ``cooling``, ...)."""
        return self.tags.get("use")
