"""The M&V job (wattlens.analytics.mv) on a real store: it writes a result document keyed by its
spec, leaves out events annotated non-routine, and ``wattlens mv run`` runs the same job."""

from __future__ import annotations

import pytest
from dashboard_seed import seed, site_config
from typer.testing import CliRunner

from wattlens.analytics.mv import MV_KIND, MVSpec, frame_of, mv_job, mv_result
from wattlens.analytics.savings import SavingsError
from wattlens.cli import app as cli
from wattlens.store.duck import DuckDBStore

SPEC = MVSpec(meter="b2-elec", baseline=("2018-01-01", "2018-12-31"),
              reporting=("2019-01-01", "2019-12-31"))


@pytest.fixture
def store(tmp_path):
    """A seeded store of the test's own: the tests annotate events and write documents."""
    store = DuckDBStore(tmp_path / "wattlens.duckdb")
    seed(store)
    yield store
    store.close()


def test_the_job_stores_its_result_under_the_spec_key(store):
    info = site_config().meter_infos()["b2-elec"]
    doc = mv_job(store, info, SPEC)
    assert store.get_document(MV_KIND, SPEC.key) == doc
    assert doc["spec"]["baseline"] == ["2018-01-01", "2018-12-31"]
    assert doc["result"]["reporting"]["savings_kwh"] is not None
    series = frame_of(doc["series"])
    assert str(series["time"].dt.tz) == "UTC" and len(series) > 300  # a year of days
    assert mv_result(store, info, SPEC) == doc  # read back, not recomputed
    other = SPEC.model_copy(update={"confidence": 0.8})
    assert other.key != SPEC.key


def test_events_annotated_non_routine_are_left_out(store):
    info = site_config().meter_infos()["b2-elec"]
    event = store.read_events(["b2-elec"]).iloc[0]
    store.annotate_event(event["event_id"], "non-routine", by="test", note="planned")
    doc = mv_job(store, info, SPEC)
    assert doc["inputs"]["excluded_non_routine"] == [[str(event["start"]), str(event["end"])]]


def test_a_site_without_weather_is_refused_clearly(store):
    info = site_config().meter_infos()["b2-elec"].model_copy(update={"weather_meter": None})
    with pytest.raises(SavingsError, match="weather_meter"):
        mv_job(store, info, SPEC)


def test_periods_must_be_ordered():
    with pytest.raises(ValueError, match="swap the dates"):
        MVSpec(meter="m", baseline=("2018-12-31", "2018-01-01"),
               reporting=("2019-01-01", "2019-12-31"))


CONFIG = """
[store]
kind = "duckdb"
path = "{path}"

[[sites]]
id = "cambridge"
timezone = "Europe/London"
country = "GB"
weather_meter = "bedford-weather"

[[sites.buildings]]
id = "b2"

[[sites.buildings.meters]]
id = "b2-elec"
commodity = "electricity"
"""


def test_cli_runs_the_job_and_stores_the_document(tmp_path):
    path = tmp_path / "cli.duckdb"
    store = DuckDBStore(path)
    seed(store)
    store.close()
    config = tmp_path / "wattlens.toml"
    config.write_text(CONFIG.format(path=path), encoding="utf-8")
    args = ["mv", "run", "--meter", "b2-elec", "--baseline", "2018-01-01", "2018-12-31",
            "--reporting", "2019-01-01", "2019-12-31", "--config", str(config)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "b2-elec [caltrack-daily]: savings" in result.output
    assert f"{MV_KIND}/{SPEC.key}" in result.output
    store = DuckDBStore(path)
    assert list(store.list_documents(MV_KIND)) == [SPEC.key]
    store.close()
    unknown = CliRunner().invoke(cli, [*args[:3], "nope", *args[4:]])
    assert unknown.exit_code == 2 and "not configured" in unknown.output
