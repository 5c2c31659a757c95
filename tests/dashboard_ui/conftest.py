"""Dashboard fixtures: seeded DuckDBStore and InfluxStore (the session's real influxd), and
headless Chromium options for dash[testing]."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_seed import seed

from tests.support.browser import chromium_options
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore

_databases = itertools.count()


@pytest.fixture(scope="session")
def seeded_duck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path_factory.mktemp("dash") / "wattlens.duckdb")
    seed(store)
    yield store
    store.close()


@pytest.fixture(scope="session")
def seeded_influx(influxd) -> Iterator[InfluxStore]:
    store = InfluxStore(influxd.url, f"dash_{next(_databases)}")
    seed(store)
    yield store
    store.close()


@pytest.fixture(params=["duckdb", pytest.param("influx", marks=pytest.mark.influx)])
def seeded(request: pytest.FixtureRequest):
    """The seeded store of each implementation (shared by the session: tests that write use
    their own meters or events)."""
    return request.getfixturevalue("seeded_duck" if request.param == "duckdb"
                                   else "seeded_influx")


def pytest_setup_options():
    """Headless Chromium for dash[testing] (see tests/support/browser.py), a fresh profile."""
    return chromium_options(Path(tempfile.mkdtemp(prefix=f"wattlens-chromium-{os.getpid()}-")))


@pytest.fixture(scope="session", autouse=True)
def _clean_profiles() -> Iterator[None]:
    """Remove this process's throwaway Chromium profiles at the end."""
    yield
    for leftover in Path(tempfile.gettempdir()).glob(f"wattlens-chromium-{os.getpid()}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
