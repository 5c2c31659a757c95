"""Weather (Open-Meteo against a loopback replay server) and the example config's sources."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pandas as pd
import pytest

from wattlens.cli import EXAMPLE_CONFIG as EXAMPLE
from wattlens.config import load_config, parse_config
from wattlens.ingest.base import SourceUnavailable, build_source
from wattlens.ingest.sources.weather import WeatherSource
from wattlens.store.schema import validate_readings


def archive_body(times: list[str], temperature: list[float | None]) -> str:
    """An Open-Meteo archive answer (documented JSON shape) for the given hours."""
    return json.dumps({
        "latitude": 52.2, "longitude": 0.12, "generationtime_ms": 0.3,
        "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT",
        "elevation": 14.0,
        "hourly_units": {"time": "iso8601", "temperature_2m": "°C",
                         "relative_humidity_2m": "%", "shortwave_radiation": "W/m²"},
        "hourly": {"time": times, "temperature_2m": temperature,
                   "relative_humidity_2m": [80.0] * len(times),
                   "shortwave_radiation": [0.0] * len(times)},
    })


def weather_source(replay: Any, **options) -> WeatherSource:
    site = {"id": "cam", "timezone": "Europe/London", "latitude": 52.2, "longitude": 0.12,
            "weather_meter": "cam-weather"}
    table = {"name": "om", "type": "weather", "site": "cam",
             "archive_url": replay.url("/v1/archive"),
             "forecast_url": replay.url("/v1/forecast"), **options}
    config = parse_config({"sites": [site], "sources": [table]})
    source = build_source(config.sources[0], config.ingest_context())
    assert isinstance(source, WeatherSource)
    return source


def day_body(day: str, days: int = 1) -> str:
    """Hourly answer for ``days`` days from ``day``, every value present."""
    times = pd.date_range(day, periods=24 * days, freq="h").strftime("%Y-%m-%dT%H:%M")
    return archive_body(list(times), [float(h % 24) for h in range(24 * days)])


def test_archive_walks_from_since_in_chunks_and_resumes_from_checkpoint(
        open_meteo: Any) -> None:
    source = weather_source(open_meteo, since="2024-01-01", chunk_days=10)
    source.today = pd.Timestamp("2024-01-31T12:00Z")  # archive lags 5 days → up to 26 Jan
    open_meteo.bodies = [day_body("2024-01-01", 10), day_body("2024-01-11", 10),
                         day_body("2024-01-21", 6)]
    batches = list(source.fetch(None))
    asked = [(q["start_date"], q["end_date"]) for _, q in open_meteo.requests]
    assert asked == [("2024-01-01", "2024-01-10"), ("2024-01-11", "2024-01-20"),
                     ("2024-01-21", "2024-01-26")]
    path, query = open_meteo.requests[0]
    assert path == "/v1/archive" and query["timezone"] == "GMT"
    assert query["hourly"] == "temperature_2m,relative_humidity_2m,shortwave_radiation"
    assert (query["latitude"], query["longitude"]) == ("52.2", "0.12")  # from the site
    assert [b.checkpoint for b in batches] == [{"next_day": "2024-01-11"},
                                               {"next_day": "2024-01-21"},
                                               {"next_day": "2024-01-27"}]
    readings = validate_readings(pd.concat([b.readings for b in batches]))
    assert set(readings["meter"]) == {"cam-weather"}
    assert len(readings) == 26 * 24 * 3
    open_meteo.requests.clear()
    assert list(source.fetch(batches[-1].checkpoint)) == []  # up to date: no request
    assert open_meteo.requests == []


def test_forecast_goes_to_its_own_meter(open_meteo: Any) -> None:
    source = weather_source(open_meteo, mode="forecast", forecast_days=3)
    open_meteo.body = day_body("2024-02-01")
    (batch,) = list(source.fetch(None))
    assert set(batch.readings["meter"]) == {"cam-weather-forecast"}
    path, query = open_meteo.requests[0]
    assert path == "/v1/forecast" and query["forecast_days"] == "3"


def test_server_errors_are_unavailable_and_bad_requests_are_misuse(open_meteo: Any) -> None:
    source = weather_source(open_meteo, since="2024-01-01")
    source.today = pd.Timestamp("2024-01-10T00:00Z")
    open_meteo.status, open_meteo.body = 503, '{"error": true, "reason": "overloaded"}'
    with pytest.raises(SourceUnavailable, match="503"):
        list(source.fetch(None))
    open_meteo.status = 400
    open_meteo.body = '{"error": true, "reason": "Latitude must be in range of -90 to 90°."}'
    with pytest.raises(ValueError, match="Latitude must be in range"):
        list(source.fetch(None))
    open_meteo.status, open_meteo.body = 200, "<html>captive portal</html>"
    with pytest.raises(SourceUnavailable, match="non-JSON"):
        list(source.fetch(None))


def test_unreachable_service_raises_source_unavailable(open_meteo: Any) -> None:
    source = weather_source(open_meteo, since="2024-01-01", timeout_s=2,
                            archive_url="http://127.0.0.1:9/v1/archive")
    source.today = pd.Timestamp("2024-01-10T00:00Z")
    with pytest.raises(SourceUnavailable, match="unreachable"):
        list(source.fetch(None))


def test_weather_needs_a_position() -> None:
    with pytest.raises(ValueError, match="needs a latitude and longitude"):
        config = parse_config({"sources": [{"name": "w", "type": "weather", "meter": "x"}]})
        build_source(config.sources[0], config.ingest_context())


def test_example_config_sections_validate() -> None:
    """The active example sections load; the commented-out ones do too once uncommented."""
    config = load_config(EXAMPLE)
    assert {s.type for s in config.sources} >= {"weather"}
    text = EXAMPLE.read_text()
    start = text.index("# ---- Ingest sources: files, Green Button, weather")
    block = text[start:].split("\n\n[[sources]]")[0]
    toml_line = re.compile(r"^#\s+(\[|[A-Za-z_]+\s*=)")
    uncommented = "\n".join(line[1:] for line in block.splitlines() if toml_line.match(line))
    data = tomllib.loads(uncommented)
    sources = parse_config({"sites": [s.model_dump(mode="json") for s in config.sites],
                            **data}).sources
    assert [s.type for s in sources] == ["files", "files", "greenbutton"]


def test_archive_refetches_recent_days_it_has_not_filled_yet(open_meteo: Any) -> None:
    source = weather_source(open_meteo, since="2024-03-01", chunk_days=31)
    source.today = pd.Timestamp("2024-03-10T08:00Z")  # archive up to 5 March
    times = [f"2024-03-0{d}T{h:02d}:00" for d in range(1, 6) for h in range(24)]
    temps = [5.0] * (3 * 24 + 12) + [None] * 36  # filled up to 4 March 11:00
    open_meteo.body = archive_body(times, temps)
    (batch,) = list(source.fetch(None))
    assert batch.checkpoint == {"next_day": "2024-03-04"}
    assert batch.readings["time"].max() == pd.Timestamp("2024-03-05T23:00Z")  # humidity etc.
    open_meteo.body = archive_body(times[72:], [6.0] * 48)
    (again,) = list(source.fetch(batch.checkpoint))
    assert open_meteo.requests[-1][1]["start_date"] == "2024-03-04"
    assert again.checkpoint == {"next_day": "2024-03-06"}
