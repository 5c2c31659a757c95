"""A real influxd with authentication on: credentials from the environment, never logged."""

import logging

import pandas as pd
import pytest

from tests.support.influxd import LocalInfluxd
from wattlens.store import open_store
from wattlens.store.base import StoreError
from wattlens.store.settings import StoreConfig

pytestmark = pytest.mark.influx


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with LocalInfluxd(tmp_path_factory.mktemp("influxd-auth"), auth=True) as server:
        server.create_admin("admin", "s3cret-pw")
        yield server


def test_auth_enabled_round_trip_with_password_from_environment(secured, monkeypatch, caplog):
    monkeypatch.setenv("WL_TEST_PW", "s3cret-pw")
    cfg = StoreConfig(kind="influx", url=secured.url, database="secured", username="admin",
                      password_env="WL_TEST_PW")
    store = open_store(cfg)
    caplog.set_level(logging.DEBUG)
    store.init()
    t = pd.date_range("2019-01-01", periods=24, freq="h", tz="UTC")
    store.write_readings(pd.DataFrame({"time": t, "meter": "m", "value": 1.25}))
    assert store.read_readings(["m"])["value"].sum() == 30.0
    assert "s3cret-pw" not in caplog.text and "s3cret-pw" not in repr(store)
    assert "s3cret-pw" not in cfg.model_dump_json()


def test_wrong_password_is_a_clear_error(secured, monkeypatch):
    monkeypatch.setenv("WL_TEST_PW", "wrong")
    cfg = StoreConfig(kind="influx", url=secured.url, database="secured", username="admin",
                      password_env="WL_TEST_PW")
    with pytest.raises(StoreError, match="refused the credentials.*password_env"):
        open_store(cfg).read_readings()
