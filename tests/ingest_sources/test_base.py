"""The plug-in contract: registry, Rejected, prefetch."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pandas as pd
import pytest

from wattlens.config import parse_config
from wattlens.ingest.base import (
    RECORD_CHARS,
    SOURCES,
    Batch,
    Rejected,
    SitePosition,
    Source,
    prefetch,
)
from wattlens.ingest.live import DEFAULT_INTERVAL, meter_interval
from wattlens.ingest.sources.files import FilesSource


def test_builtin_sources_are_registered_and_follow_the_protocol(tmp_path) -> None:
    assert {"files", "greenbutton", "weather"} <= set(SOURCES)
    source = FilesSource("x", FilesSource.Options(root=tmp_path, glob="*.csv",
                                                  columns={"kwh": {"meter": "m"}}))
    assert isinstance(source, Source)


def test_a_taken_source_type_is_refused() -> None:
    with pytest.raises(ValueError, match="source type 'files' is already registered"):
        SOURCES.register("files")(type("Other", (), {"Options": FilesSource.Options}))
    assert SOURCES["files"] is FilesSource


def test_rejected_cuts_huge_records() -> None:
    rejected = Rejected.of("mqtt", "x" * 10_000, "too big")
    assert len(rejected.record) < RECORD_CHARS + 40 and rejected.record.endswith("[10000 chars]")


def numbered(n: int, fail_at: int | None = None) -> Iterator[Batch]:
    for i in range(n):
        if i == fail_at:
            raise RuntimeError(f"device gone at {i}")
        yield Batch(checkpoint={"i": i})


def test_prefetch_keeps_order_and_raises_in_place() -> None:
    assert [b.checkpoint["i"] for b in prefetch(numbered(50), depth=3)] == list(range(50))
    seen = []
    with pytest.raises(RuntimeError, match="device gone at 7"):
        for batch in prefetch(numbered(20, fail_at=7)):
            seen.append(batch.checkpoint["i"])
    assert seen == list(range(7))


def test_prefetch_stops_its_reader_when_the_consumer_stops() -> None:
    before = threading.active_count()
    stream = prefetch(numbered(10_000))
    assert next(stream).checkpoint == {"i": 0}
    stream.close()
    assert threading.active_count() == before


def test_the_entry_point_hands_sources_meters_and_site_positions_only() -> None:
    config = parse_config({"sites": [{
        "id": "cam", "latitude": 52.2, "longitude": 0.12, "weather_meter": "cam-weather",
        "buildings": [{"id": "b2", "meters": [
            {"id": "b2-elec", "commodity": "electricity", "interval": "30min"}]}]}]})
    context = config.ingest_context()
    assert context.sites == {"cam": SitePosition(id="cam", latitude=52.2, longitude=0.12,
                                                 weather_meter="cam-weather")}
    assert meter_interval(context.meters, "b2-elec") == pd.Timedelta("30min")
    assert meter_interval(context.meters, "elsewhere") == DEFAULT_INTERVAL
