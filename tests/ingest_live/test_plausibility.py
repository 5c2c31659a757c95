"""Issue #13 item 4: implausible values are stored flagged ``suspect``, never silently."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from wattlens.config import parse_config
from wattlens.ingest.base import Batch
from wattlens.ingest.plausibility import Plausibility
from wattlens.ingest.worker import SourceStatus, Worker
from wattlens.store.schema import validate_readings


def hourly(meter: str, values: list[float], start: str = "2019-01-01T00:00Z") -> pd.DataFrame:
    return validate_readings(pd.DataFrame({
        "time": pd.date_range(start, periods=len(values), freq="1h"), "meter": meter,
        "quantity": "energy", "value": values, "quality": "ok"}))


def quality(store, meter: str) -> pd.Series:
    stored = store.read_readings([meter], "energy")
    return stored.set_index("value")["quality"]


def test_implausible_energy_is_stored_suspect_with_a_warning(
    store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = parse_config({"plausibility": {"meters": {"m2": {"energy": [0, 50]}}}}).plausibility
    worker = Worker(store, [], tmp_path / "data", plausibility=settings)
    worker.status["src"] = SourceStatus("files")
    typical = [10.0 + (i % 7) for i in range(100)]
    with caplog.at_level(logging.WARNING, logger="wattlens.ingest"):
        worker.handle("src", Batch(hourly("m1", typical)))
        assert "suspect" not in caplog.text
        # the next day: one absurd value, one 500x the meter's usual, one normal
        worker.handle("src", Batch(hourly("m1", [1e300, 5000.0, 15.5], "2019-01-10T00:00Z")))
        # a brand-new meter read in one go: its own batch is its history
        worker.handle("src", Batch(hourly("m3", [*typical, 2e6], "2019-01-01T00:00Z")))
        # a configured per-meter ceiling applies from the first reading
        worker.handle("src", Batch(hourly("m2", [60.0, 40.0])))
    flags = quality(store, "m1")
    assert flags[1e300] == "suspect" and flags[5000.0] == "suspect" and flags[15.5] == "ok"
    assert (flags.drop([1e300, 5000.0]) == "ok").all()
    assert quality(store, "m3")[2e6] == "suspect"
    assert (quality(store, "m3").drop(2e6) == "ok").all()
    assert quality(store, "m2")[60.0] == "suspect" and quality(store, "m2")[40.0] == "ok"
    for text in ("meter 'm1' energy: 1 outside the limits [0, 1e+07]", "1 above 20 x its typical",
                 "meter 'm3' energy", "meter 'm2' energy: 1 outside the limits [0, 50]"):
        assert text in caplog.text, caplog.text


def test_limits_are_configurable_and_checked() -> None:
    settings = Plausibility(quantities={"energy": (0, 100)}, history_factor=5)
    assert settings.limits("any", "energy") == (0, 100)
    assert settings.limits("any", "temperature") == (-90.0, 60.0)
    with pytest.raises(ValueError, match="history_factor"):
        Plausibility(history_factor=0.5)
