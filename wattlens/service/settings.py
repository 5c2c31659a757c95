"""The ``[jobs]`` section: when ``wattlens run`` issues forecasts, detects anomalies and
ranks recommendations. The defaults need no editing."""

from __future__ import annotations

from typing import Any

import pandas as pd
from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator

from wattlens.analytics.anomalies import DETECTORS
from wattlens.core.base import Duration, Frozen


class JobSchedule(Frozen):
    """When one job runs: a crontab line (``cron``) or a fixed interval (``every``)."""

    enabled: bool = Field(True, description="run this job at all")
    cron: str | None = Field(
        None, description="crontab line 'minute hour day month weekday', e.g. '0 0 * * *'"
    )
    every: Duration | None = Field(None, description="interval as a pandas duration, e.g. '15min'")

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"cron {value!r} is not a crontab line ({exc}); write five "
                                 f"fields 'minute hour day month weekday', e.g. '0 0 * * *'"
                                 ) from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> JobSchedule:
        given = (self.cron is not None) + (self.every is not None)
        if given > 1 or (given == 0 and self.enabled):
            raise ValueError(f"give exactly one of cron and every (got cron={self.cron!r}, "
                             f"every={self.every!r}), or enabled = false")
        return self

    @property
    def seconds(self) -> float:
        """The interval [s] (``every`` only)."""
        return float(pd.Timedelta(self.every).total_seconds())


def _scheduled(description: str, **when: str) -> Any:
    """A ``JobSchedule`` field whose default runs per ``when`` (``cron=`` or ``every=``)."""
    return Field(default_factory=lambda: JobSchedule(**when), description=description)


class JobsSection(Frozen):
    """The scheduled jobs of ``wattlens run --role jobs``. Cron lines of ``day_ahead`` and
    ``kpis`` are read in each site's timezone (one job per timezone); the other cron lines in
    UTC."""

    day_ahead: JobSchedule = _scheduled(
        "day-ahead forecasts, at local midnight of each site's timezone", cron="0 0 * * *")
    intraday: JobSchedule = _scheduled(
        "intraday forecast refresh of every energy meter", every="1h")
    detect: JobSchedule = _scheduled(
        "anomaly detection on the last detect_window, then alert dispatch", every="15min")
    recommend: JobSchedule = _scheduled(
        "recommendations, weekly (Monday 06:00 UTC)", cron="0 6 * * 1")
    kpis: JobSchedule = _scheduled(
        "daily KPI roll-ups of the local day before, at 00:30 in each site's timezone",
        cron="30 0 * * *")
    forecast_model: str = Field("prophet", description="model the forecast jobs issue")
    day_ahead_hours: int = Field(48, ge=1, description="horizon of day-ahead forecasts [h]")
    intraday_hours: int = Field(24, ge=1, description="horizon of intraday forecasts [h]")
    detect_window: Duration = Field(
        "2D", description="period each detection run reports (from local midnight of its start)"
    )
    detect_detectors: list[str] = Field(
        default_factory=list, description="detectors the detect job runs; empty = all"
    )
    detect_history_days: int = Field(
        365, ge=7, description="days of history each detection run learns from"
    )
    misfire_grace: Duration = Field(
        "1h", description="how late a missed run may still start; missed runs run once"
    )
    retries: int = Field(3, ge=0, le=10, description="retries of a failed run")
    retry_delay: Duration = Field("30s", description="wait before the first retry; doubles")
    retry_max_delay: Duration = Field("10min", description="longest wait between retries")

    @field_validator("detect_detectors")
    @classmethod
    def _known_detectors(cls, names: list[str]) -> list[str]:
        """Unknown detector names are refused when the config loads, not at the first run."""
        unknown = [n for n in names if n not in DETECTORS]
        if unknown:
            raise ValueError(f"unknown detector(s) {unknown} in [jobs] detect_detectors; "
                             f"choose from {DETECTORS.names()} (or leave it empty for all)")
        return names
