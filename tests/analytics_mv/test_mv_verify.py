"""``verify_document`` (issue #15 item 7, on a result JSON): a stored result recomputes to the
same numbers from the store's data and its own spec, and a tampered number is named."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from wattlens.analytics.mv import MVSpec, mv_job, verify_document
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.store.duck import DuckDBStore

from . import synthetic


@pytest.fixture
def store(tmp_path, weather: pd.DataFrame):
    store = DuckDBStore(tmp_path / "mv.duckdb")
    daily = synthetic.load(weather, meter="m1", saving=0.1)
    temperature = pd.DataFrame({"time": weather.index, "meter": "wx", "quantity": "temperature",
                                "value": weather["temperature"].to_numpy(), "quality": "ok"})
    store.write_readings(pd.concat([daily, temperature], ignore_index=True))
    yield store
    store.close()


def test_a_result_verifies_and_a_tampered_number_is_named(store) -> None:
    meter = MeterInfo(id="m1", calendar=SiteCalendar(timezone=synthetic.TZ), weather_meter="wx")
    spec = MVSpec(meter="m1", baseline=("2018-01-01", "2018-12-31"),
                  reporting=("2019-01-01", "2019-12-31"), model="caltrack-daily")
    doc = mv_job(store, meter, spec)
    assert verify_document(store, meter, doc) == []
    tampered = copy.deepcopy(doc)
    tampered["result"]["reporting"]["savings_kwh"] += 1.0
    tampered["series"]["actual"][3] *= 1.01
    differences = verify_document(store, meter, tampered)
    assert len(differences) == 2
    assert differences[0].startswith("result.reporting.savings_kwh: recorded")
    assert differences[1].startswith("series.actual[3]")
    changed = copy.deepcopy(doc)
    changed["spec"]["confidence"] = 0.8  # a spec that does not produce these numbers
    assert any(d.startswith("result.reporting.savings_interval_kwh")
               for d in verify_document(store, meter, changed))
