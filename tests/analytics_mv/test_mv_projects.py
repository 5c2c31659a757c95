"""M&V projects (issue #15 items 1-2) on a real DuckDB store: stored and listed by scope, run
with status, treatment against control (difference in differences) recovering a known saving
that a common shock hides from the single-meter estimate, the placebo on the control, and
verification of the stored result."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from wattlens.analytics.projects import (
    PROJECT_KIND,
    Adjustment,
    NonRoutineEvent,
    Project,
    ProjectError,
    ProjectNotFound,
    create_project,
    get_project,
    list_projects,
    project_result,
    run_project,
    verify_result,
)
from wattlens.analytics.savings import SavingsError
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.store.duck import DuckDBStore

from . import synthetic

SAVING = 0.10
SHOCK = 0.15
"""Known saving of the treatment, and the common shock: from the reporting year on, both
treatment and control use 15 % more (longer opening hours, say)."""
CATALOGUE = {m: MeterInfo(id=m, site="lab", building=b,
                          calendar=SiteCalendar(timezone=synthetic.TZ), weather_meter="wx")
             for m, b in (("t1", "acme"), ("c1", "acme"), ("other", "rival"))}
ACME = frozenset({"t1", "c1"})
PERIODS = {"baseline": ("2018-01-01", "2018-12-31"), "reporting": ("2019-01-01", "2019-12-31")}


def _shocked(frame: pd.DataFrame) -> pd.DataFrame:
    after = frame["time"] >= pd.Timestamp(synthetic.REP[0], tz=synthetic.TZ)
    return frame.assign(value=frame["value"].where(~after, frame["value"] * (1 + SHOCK)))


@pytest.fixture(scope="module")
def store(tmp_path_factory, weather: pd.DataFrame):
    store = DuckDBStore(tmp_path_factory.mktemp("projects") / "mv.duckdb")
    treated = _shocked(synthetic.load(weather, meter="t1", saving=SAVING, seed=2))
    control = _shocked(synthetic.load(weather, meter="c1", saving=0.0, seed=3))
    other = synthetic.load(weather, meter="other", saving=0.0, seed=4)
    temperature = pd.DataFrame({"time": weather.index, "meter": "wx", "quantity": "temperature",
                                "value": weather["temperature"].to_numpy(), "quality": "ok"})
    store.write_readings(pd.concat([treated, control, other, temperature], ignore_index=True))
    yield store
    store.close()


def _project(pid: str, **extra: object) -> Project:
    fields: dict = {"id": pid, "name": pid, "owner": "user:acme", "treatment": ["t1"],
                    "control": ["c1"], **PERIODS, **extra}
    return Project.model_validate(fields)


@pytest.fixture(scope="module")
def ab_result(store) -> dict:
    create_project(store, CATALOGUE, _project("ab"), ACME)
    return run_project(store, CATALOGUE, "ab", ACME)


def test_did_recovers_the_saving_that_a_common_shock_hides(ab_result) -> None:
    single = ab_result["comparison"]["single_meter"]
    did = ab_result["control"]["did"]
    placebo = ab_result["control"]["placebo"]["c1"]
    truth = SAVING * 100
    # the shock makes the single-meter estimate wrong by far more than its interval
    expected_single = (1 - (1 - SAVING) * (1 + SHOCK)) * 100  # -3.5 %
    assert single["savings_pct"] == pytest.approx(expected_single, abs=1.0)
    low, high = single["savings_interval_kwh"]
    truth_kwh = SAVING * did["counterfactual_kwh"]
    assert not low <= truth_kwh <= high
    # the difference in differences recovers it, its interval holding the truth
    assert did["savings_pct"] == pytest.approx(truth, abs=0.5)
    assert did["savings_interval_kwh"][0] <= truth_kwh <= did["savings_interval_kwh"][1]
    # uncertainty propagated: wider than the single-meter estimate's, by the control's part
    assert did["half_width_kwh"] > single["half_width_kwh"]
    # the placebo on the control finds the shock (-15 %) and says so
    assert placebo["savings_pct"] == pytest.approx(-SHOCK * 100, abs=1.0)
    assert not placebo["contains_zero"]
    changed = [w for w in ab_result["warnings"] if w["code"] == "control-changed"]
    assert len(changed) == 1 and "'c1'" in changed[0]["message"]
    print(f"\nsingle-meter {single['savings_pct']:.2f} %, DiD {did['savings_pct']:.2f} % "
          f"[{did['savings_interval_kwh'][0]:,.0f}, {did['savings_interval_kwh'][1]:,.0f}] kWh, "
          f"placebo {placebo['savings_pct']:.2f} %, truth {truth:.1f} %")


def test_without_a_shock_the_placebo_is_zero_and_both_estimates_agree(store, weather) -> None:
    quiet = synthetic.load(weather, meter="q1", saving=SAVING, seed=5)
    quiet_control = synthetic.load(weather, meter="q2", saving=0.0, seed=6)
    store.write_readings(pd.concat([quiet, quiet_control], ignore_index=True))
    catalogue = {**CATALOGUE, **{m: CATALOGUE["t1"].model_copy(update={"id": m})
                                 for m in ("q1", "q2")}}
    create_project(store, catalogue, _project("quiet", treatment=["q1"], control=["q2"]), None)
    doc = run_project(store, catalogue, "quiet", None)
    assert doc["control"]["placebo"]["q2"]["contains_zero"]
    assert "control-changed" not in {w["code"] for w in doc["warnings"]}
    single = doc["comparison"]["single_meter"]
    assert single["savings_pct"] == pytest.approx(SAVING * 100, abs=0.5)
    assert doc["control"]["did"]["savings_pct"] == pytest.approx(SAVING * 100, abs=0.7)


def test_a_scoped_caller_sees_and_creates_only_projects_on_its_meters(store, ab_result) -> None:
    create_project(store, CATALOGUE, _project("rival-trial", treatment=["other"], control=[],
                                              owner="user:rival"), frozenset({"other"}))
    with pytest.raises(ProjectError, match="no meter 'other'"):
        create_project(store, CATALOGUE, _project("steal", treatment=["other"], control=[]),
                       ACME)
    with pytest.raises(ProjectError, match="no meter 'c1'"):  # a control outside the scope
        create_project(store, CATALOGUE, _project("mixed", treatment=["other"]),
                       frozenset({"other"}))
    assert "steal" not in store.list_documents(PROJECT_KIND)
    mine = {p.id for p in list_projects(store, ACME)}
    assert "ab" in mine and "rival-trial" not in mine
    assert {p.id for p in list_projects(store, frozenset({"other"}))} == {"rival-trial"}
    assert "rival-trial" in {p.id for p in list_projects(store, None)}
    for call in (lambda: get_project(store, "rival-trial", ACME),
                 lambda: project_result(store, "rival-trial", ACME),
                 lambda: run_project(store, CATALOGUE, "rival-trial", ACME)):
        with pytest.raises(ProjectNotFound):
            call()
    assert get_project(store, "rival-trial", None).status == "draft"  # not run by ACME


def test_status_goes_draft_done_and_failed_with_the_error(store, ab_result) -> None:
    assert get_project(store, "ab", ACME).status == "done"
    assert project_result(store, "ab", ACME) == ab_result
    create_project(store, CATALOGUE, _project("empty-years", baseline=("2015-01-01",
                                                                       "2015-12-31"),
                                              reporting=("2016-01-01", "2016-12-31")), ACME)
    assert get_project(store, "empty-years", ACME).status == "draft"
    with pytest.raises(SavingsError):
        run_project(store, CATALOGUE, "empty-years", ACME)
    failed = get_project(store, "empty-years", ACME)
    assert failed.status == "failed" and failed.error
    with pytest.raises(ProjectError, match="taken"):
        create_project(store, CATALOGUE, _project("ab"), ACME)


def test_non_routine_events_and_adjustments_are_applied_with_their_reasons(store) -> None:
    project = _project("nre", control=[], non_routine=[NonRoutineEvent(
        start="2019-03-01", end="2019-03-10", reason="chiller repair", meters=("t1",))],
        adjustments=[Adjustment(kwh=500.0, reason="new server rack, metered")])
    create_project(store, CATALOGUE, project, ACME)
    doc = run_project(store, CATALOGUE, "nre", ACME)
    t1 = doc  # the (first) treatment meter's result document, with the project's parts
    assert t1["spec"]["exclude"] == [["2019-03-01", "2019-03-10"]]
    assert len(t1["inputs"]["excluded_non_routine"]) == 1
    single = doc["comparison"]["single_meter"]
    assert single["adjustments_kwh"] == 500.0
    assert single["savings_kwh"] == pytest.approx(
        t1["result"]["reporting"]["savings_kwh"] + 500.0)
    assert doc["project"]["non_routine"][0]["reason"] == "chiller repair"
    assert doc["control"] is None and doc["control_results"] == {}
    assert doc["non_routine"][-1] == {"adjustment_kwh": 500.0,
                                      "reason": "new server rack, metered"}
    with pytest.raises(ValueError, match="not in the project"):
        _project("x", non_routine=[NonRoutineEvent(start="2019-03-01", end="2019-03-02",
                                                   reason="r", meters=("zz",))])
    with pytest.raises(ValueError, match="both treatment and control"):
        _project("x", control=["t1"])


def test_a_project_result_verifies_and_a_tampered_number_is_named(store, ab_result) -> None:
    assert verify_result(store, CATALOGUE, ab_result) == []
    tampered = copy.deepcopy(ab_result)
    tampered["control"]["did"]["savings_kwh"] *= 1.01
    tampered["control_results"]["c1"]["series"]["actual"][5] += 1.0
    found = verify_result(store, CATALOGUE, tampered)
    assert [d.split(":")[0] for d in found] == ["control.did.savings_kwh",
                                                "control_results.c1.series.actual[5]"]
    single = ab_result["control_results"]["c1"]  # a single meter's result still verifies
    assert verify_result(store, CATALOGUE, single) == []


@pytest.mark.parametrize("kind", ["duck_store", pytest.param("influx_store",
                                                             marks=pytest.mark.influx)])
def test_projects_are_store_documents_in_duckdb_and_influxdb(kind, request, weather) -> None:
    """The whole life of a project on each store: created, listed by scope, run (its result
    stored beside it), and a failed run recorded."""
    store = request.getfixturevalue(kind)
    temperature = pd.DataFrame({"time": weather.index, "meter": "wx", "quantity": "temperature",
                                "value": weather["temperature"].to_numpy(), "quality": "ok"})
    hourly = [synthetic.load(weather, m, saving=s, seed=k)
             for k, (m, s) in enumerate((("t1", SAVING), ("c1", 0.0)))]
    store.write_readings(pd.concat([*hourly, temperature], ignore_index=True))
    made = create_project(store, CATALOGUE, _project("life"), ACME)
    assert [p.id for p in list_projects(store, ACME)] == ["life"]
    assert list_projects(store, frozenset({"other"})) == []
    doc = run_project(store, CATALOGUE, "life", ACME)
    assert doc["control"]["did"]["savings_pct"] == pytest.approx(SAVING * 100, abs=1)
    assert project_result(store, "life", ACME) == doc
    assert get_project(store, "life", ACME) == made.model_copy(update={"status": "done"})
    create_project(store, CATALOGUE, _project("none", reporting=("2021-01-01", "2021-12-31")),
                   ACME)
    with pytest.raises(SavingsError):
        run_project(store, CATALOGUE, "none", ACME)
    assert get_project(store, "none", None).status == "failed"
