"""``weather`` source: outdoor weather for a site, from Open-Meteo over HTTP or from files.

Modes:

- ``archive`` — Open-Meteo historical weather API (``/v1/archive``): hourly
  ``temperature_2m`` [degC], ``relative_humidity_2m`` [%] and ``shortwave_radiation``
  [W/m2] for the site's latitude/longitude, fetched ``chunk_days`` at a time from ``since``
  (or the checkpoint) up to ``archive_delay_days`` before today. One batch per request.
  Recent days the archive has not filled yet (trailing ``null``) are fetched again later.
- ``forecast`` — Open-Meteo forecast API (``/v1/forecast``, ``past_days`` +
  ``forecast_days``); written to a separate meter (default ``<weather_meter>-forecast``) so
  forecasts never mix with observations.
- ``file`` — recorded weather files in the wattlens weather CSV format
  (``time,temperature[,humidity,ghi]``, ISO 8601 with offset) via the files source.

We always ask Open-Meteo for ``timezone=GMT`` and apply the response's
``utc_offset_seconds``; ``null`` values (no data) become absent rows. An unreachable service or
a 5xx answer raises :class:`~wattlens.ingest.base.SourceUnavailable`; a 4xx answer (bad request,
e.g. coordinates) raises ValueError with Open-Meteo's ``reason``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import requests
from pydantic import Field, model_validator

from wattlens.core.base import Frozen
from wattlens.ingest.base import SOURCES, Batch, IngestContext, SourceSection, SourceUnavailable
from wattlens.ingest.normalise import flag_suspicious
from wattlens.ingest.sources.files import ColumnMap, FilesSource
from wattlens.store.csvio import WEATHER_COLUMNS
from wattlens.store.schema import QUANTITIES, empty_readings, validate_readings

VARIABLES: dict[str, str] = {
    "temperature_2m": "temperature",  # [degC]
    "relative_humidity_2m": "humidity",  # [%]
    "shortwave_radiation": "ghi",  # [W/m2], mean of the preceding hour
}
"""Open-Meteo hourly variable → readings quantity."""

ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
RECENT_DAYS = 14
"""Archive chunks ending this close to today may still be filling in (trailing nulls)."""


@SOURCES.register("weather")
class WeatherSource:
    """Hourly weather readings of one weather meter."""

    class Options(Frozen):
        mode: Literal["archive", "forecast", "file"] = Field(
            "archive", description="archive | forecast (Open-Meteo) or file"
        )
        site: str | None = Field(None, description="site id (latitude/longitude/meter)")
        latitude: float | None = Field(None, ge=-90, le=90, description="[deg]")
        longitude: float | None = Field(None, ge=-180, le=180, description="[deg]")
        meter: str | None = Field(None, description="weather meter id (default: the site's)")
        since: str = Field("2015-01-01", description="archive: first day to fetch")
        chunk_days: int = Field(31, gt=0, le=366, description="archive: days per request")
        archive_delay_days: int = Field(5, ge=0, description="archive lags today by this")
        past_days: int = Field(1, ge=0, le=92, description="forecast: past days to include")
        forecast_days: int = Field(7, ge=1, le=16, description="forecast: days ahead")
        archive_url: str = Field(ARCHIVE_URL, description="Open-Meteo archive endpoint")
        forecast_url: str = Field(FORECAST_URL, description="Open-Meteo forecast endpoint")
        timeout_s: float = Field(30.0, gt=0, description="HTTP timeout [s]")
        root: Path = Field(Path("."), description="file: folder of the weather CSVs")
        glob: str = Field("*.csv", description="file: file pattern")

        @model_validator(mode="after")
        def _since(self) -> WeatherSource.Options:
            try:
                pd.Timestamp(self.since)
            except ValueError as exc:
                raise ValueError(f"since={self.since!r} is not a date; write e.g. "
                                 f"'2015-01-01'") from exc
            return self

    def __init__(self, name: str, options: Options, latitude: float | None,
                 longitude: float | None, meter: str,
                 today: pd.Timestamp | None = None) -> None:
        self.name, self.options, self.meter = name, options, meter
        self.latitude, self.longitude = latitude, longitude
        self.today = today
        self.session = requests.Session()
        self.files = None
        if options.mode == "file":
            columns = {  # the weather CSV format; only temperature is required
                column: ColumnMap(meter=meter, unit=QUANTITIES[quantity],
                                  optional=column != "temperature")
                for column, quantity in WEATHER_COLUMNS.items()
            }
            self.files = FilesSource(name, FilesSource.Options(
                root=options.root, glob=options.glob, columns=columns))
        elif latitude is None or longitude is None:
            raise ValueError(f"source {name!r}: Open-Meteo needs a latitude and longitude; "
                             f"set them on the source or on its site")

    @classmethod
    def from_config(cls, section: SourceSection, context: IngestContext) -> WeatherSource:
        """Build from a ``[[sources]]`` section; position and meter default to the site's."""
        options = section.options
        assert isinstance(options, cls.Options)
        site = context.sites.get(options.site) if options.site is not None else None
        if options.site is not None and site is None:
            raise ValueError(f"source {section.name!r}: site {options.site!r} is not "
                             f"configured; use one of {list(context.sites)}")
        latitude = options.latitude if options.latitude is not None else (
            site.latitude if site else None)
        longitude = options.longitude if options.longitude is not None else (
            site.longitude if site else None)
        meter = options.meter or (site.weather_meter if site else None)
        if meter is None:
            raise ValueError(f"source {section.name!r}: no weather meter; set 'meter' or the "
                             f"site's weather_meter")
        if options.mode == "forecast" and options.meter is None:
            meter = f"{meter}-forecast"
        return cls(section.name, options, latitude, longitude, meter)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def fetch(
        self,
        checkpoint: dict[str, Any] | None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Iterator[Batch]:
        """Archive: one batch per ``chunk_days`` from the checkpoint's ``next_day`` (or
        ``since``/``start``); forecast: one batch; file: the files source's batches."""
        if self.files is not None:
            yield from self.files.fetch(checkpoint, start, end)
            return
        today = (self.today or pd.Timestamp.now(tz="UTC")).tz_convert("UTC").normalize()
        if self.options.mode == "forecast":
            params = {"past_days": self.options.past_days,
                      "forecast_days": self.options.forecast_days}
            readings = self._request(self.options.forecast_url, params)
            yield Batch(_clip(readings, start, end), [], {"issued": today.isoformat()})
            return
        first = pd.Timestamp((checkpoint or {}).get("next_day", self.options.since), tz="UTC")
        if start is not None:
            first = start.tz_convert("UTC").normalize()
        last = today - pd.Timedelta(days=self.options.archive_delay_days)
        if end is not None:
            last = min(last, (end.tz_convert("UTC") - pd.Timedelta("1ns")).normalize())
        day = first
        while day <= last:
            stop = min(day + pd.Timedelta(days=self.options.chunk_days - 1), last)
            params = {"start_date": day.strftime("%Y-%m-%d"),
                      "end_date": stop.strftime("%Y-%m-%d")}
            readings = self._request(self.options.archive_url, params)
            following = stop + pd.Timedelta(days=1)
            hours = readings.loc[readings["quantity"] == "temperature", "time"]
            covered = hours.max() + pd.Timedelta("1h") if len(hours) else day
            if stop >= today - pd.Timedelta(days=RECENT_DAYS) and covered < following:
                # the archive has not caught up yet (trailing nulls): fetch again from the
                # first incomplete day next time; rewritten hours overwrite themselves
                yield Batch(_clip(readings, start, end), [],
                            {"next_day": covered.normalize().strftime("%Y-%m-%d")})
                return
            day = following
            yield Batch(_clip(readings, start, end), [],
                        {"next_day": day.strftime("%Y-%m-%d")})

    def _request(self, url: str, params: dict[str, Any]) -> pd.DataFrame:
        query = {"latitude": self.latitude, "longitude": self.longitude,
                 "hourly": ",".join(VARIABLES), "timezone": "GMT", **params}
        try:
            response = self.session.get(url, params=query, timeout=self.options.timeout_s)
        except requests.RequestException as exc:
            raise SourceUnavailable(f"{self.name}: Open-Meteo at {url} unreachable ({exc}); "
                                    f"will retry") from exc
        if response.status_code >= 500:
            raise SourceUnavailable(f"{self.name}: Open-Meteo answered {response.status_code}; "
                                    f"will retry")
        try:
            body = response.json()
        except ValueError:
            raise SourceUnavailable(f"{self.name}: Open-Meteo answered non-JSON "
                                    f"({response.text[:100]!r}); will retry") from None
        if response.status_code >= 400 or body.get("error"):
            raise ValueError(f"{self.name}: Open-Meteo refused the request "
                             f"({response.status_code}: {body.get('reason')}); fix the source "
                             f"options (latitude, longitude, dates)")
        return hourly_readings(body, self.meter)


def hourly_readings(body: dict[str, Any], meter: str) -> pd.DataFrame:
    """Readings of ``meter`` from an Open-Meteo JSON response (``hourly.time`` wall times in
    the response's ``timezone``, shifted by ``utc_offset_seconds``)."""
    hourly = body.get("hourly") or {}
    if "time" not in hourly:
        raise ValueError("Open-Meteo response has no hourly.time; the request must ask for "
                         f"hourly={','.join(VARIABLES)}")
    offset = pd.Timedelta(seconds=int(body.get("utc_offset_seconds", 0)))
    times = (pd.to_datetime(pd.Series(hourly["time"]), format="ISO8601") - offset
             ).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    parts = []
    for variable, quantity in VARIABLES.items():
        if variable not in hourly:
            continue
        values = pd.Series(hourly[variable], dtype="float64")
        present = np.isfinite(values.to_numpy())
        parts.append(pd.DataFrame({"time": times[present], "value": values[present],
                                   "quantity": quantity, "quality": "ok"}))
    if not parts:
        return empty_readings()
    readings = pd.concat(parts, ignore_index=True).assign(meter=meter)
    return validate_readings(flag_suspicious(readings), name=f"open-meteo {meter}")


def _clip(readings: pd.DataFrame, start: pd.Timestamp | None,
          end: pd.Timestamp | None) -> pd.DataFrame:
    keep = pd.Series(True, index=readings.index)
    if start is not None:
        keep &= readings["time"] >= start
    if end is not None:
        keep &= readings["time"] < end
    return readings[keep].reset_index(drop=True)
