"""Shared fixtures: real servers on free loopback ports with temporary data dirs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.influxd import LocalInfluxd
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore

_databases = itertools.count()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfluxd]:
    """A real InfluxDB 1.x server for the whole session."""
    with LocalInfluxd(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture
def influx_store(influxd: LocalInfluxd) -> Iterator[InfluxStore]:
    """An InfluxStore on a fresh database of the session's influxd."""
    store = InfluxStore(influxd.url, f"test_{next(_databases)}")
    store.init()
    yield store
    store.query(f'DROP DATABASE "{store.database}"')
    store.close()


@pytest.fixture
def duck_store(tmp_path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "wattlens.duckdb")
    yield store
    store.close()


@pytest.fixture(params=["duckdb", "influx"])
def store(request: pytest.FixtureRequest):
    """Each contract test runs once per store implementation."""
    return request.getfixturevalue("duck_store" if request.param == "duckdb" else "influx_store")
