"""Fixtures for the live-ingest tests: a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import MOSQUITTO, Broker, start_broker

from .support import WorkerProcess


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """Debian's mosquitto on a free loopback port, with its own config and persistence dir;
    unlimited queues and in-flight windows so a stopped subscriber's session keeps everything."""
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto not installed; `apt-get install mosquitto` to run MQTT tests")
    broker = start_broker(tmp_path / "mosquitto")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; any still running at the end are killed."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
