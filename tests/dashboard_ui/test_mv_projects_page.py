"""The Savings page's M&V projects through the dashboard's own callbacks (crafted
``/_dash-update-component`` requests, as the browser sends them): a user scoped to building b2
creates and runs projects on b2's meters only and never sees or reaches another user's."""

from __future__ import annotations

import pytest
from dashboard_seed import PASSWORDS, seed, site_config

from tests.support import probe
from wattlens.analytics.projects import Project, create_project, list_projects
from wattlens.dashboard.app import create_app
from wattlens.store.duck import DuckDBStore

FORM = {"mvp-model.value": "caltrack-daily", "mvp-confidence.value": 0.9,
        "mvp-baseline.start_date": "2018-01-01", "mvp-baseline.end_date": "2018-12-31",
        "mvp-reporting.start_date": "2019-01-01", "mvp-reporting.end_date": "2019-12-31"}


@pytest.fixture
def store(tmp_path):
    store = DuckDBStore(tmp_path / "w.duckdb")
    seed(store)
    yield store
    store.close()


@pytest.fixture
def client(store):
    client = create_app(site_config(login=True), store).server.test_client()
    response = client.post("/login", data={"username": "alice",
                                           "password": PASSWORDS["alice"], "next": "/"})
    assert response.status_code == 302
    return client


def _answer(client, values: dict, changed: str) -> dict:
    cb = probe.find(probe.callbacks(client), "mvp-result")
    answer = probe.call(client, cb, {**FORM, **values}, changed=changed)
    assert answer.status == 200, answer.body[:400]
    return answer.json()["response"]


def test_a_scoped_user_creates_runs_and_sees_only_own_projects(client, store) -> None:
    catalogue = site_config().meter_infos()
    foreign = create_project(store, catalogue, Project(
        id="b97-trial", name="b97 trial", owner="user:admin", treatment=("b97-elec",),
        baseline=("2018-01-01", "2018-12-31"), reporting=("2019-01-01", "2019-12-31")), None)
    first = _answer(client, {}, "mvp-project.value")
    assert first["mvp-project"]["options"] == []  # admin's b97 project is not listed
    assert {o["value"] for o in first["mvp-treatment"]["options"]} == {
        "b2-elec", "b2-gas", "b2-elec-lab"}
    made = _answer(client, {"mvp-create.n_clicks": 1, "mvp-name.value": "Lab retrofit",
                            "mvp-treatment.value": ["b2-elec"],
                            "mvp-control.value": ["b2-elec-lab"],
                            "mvp-events.value": "2019-06-01 2019-06-03 floor works"},
                   "mvp-create.n_clicks")
    pid = made["mvp-project"]["value"]
    assert pid.startswith("lab-retrofit-") and "created" in made["mvp-message"]["children"]
    ran = _answer(client, {"mvp-run.n_clicks": 1, "mvp-project.value": pid},
                  "mvp-run.n_clicks")
    shown = str(ran["mvp-result"]["children"])
    for cell in ("mvp-out-single-meter-kwh", "mvp-out-did-kwh", "mvp-out-placebo-b2-elec-lab-pct"):
        assert cell in shown
    assert ran["mvp-chart"]["figure"]["data"]
    assert [o["value"] for o in ran["mvp-project"]["options"]] == [pid]
    assert "done" in ran["mvp-project"]["options"][0]["label"]
    owned = [p for p in list_projects(store, None) if p.id == pid]
    assert owned[0].owner == "user:alice" and owned[0].non_routine[0].reason == "floor works"
    # a crafted request for another user's project, or a project on a foreign meter, fails
    peek = probe.call(client, probe.find(probe.callbacks(client), "mvp-result"),
                      {**FORM, "mvp-project.value": foreign.id}, changed="mvp-project.value")
    assert "b97-elec" not in peek.body.decode() and "no project" in peek.body.decode()
    steal = probe.call(client, probe.find(probe.callbacks(client), "mvp-result"),
                       {**FORM, "mvp-create.n_clicks": 1, "mvp-name.value": "steal",
                        "mvp-treatment.value": ["b97-elec"]}, changed="mvp-create.n_clicks")
    assert "no meter 'b97-elec'" in steal.body.decode()
    assert {p.id for p in list_projects(store, None)} == {pid, foreign.id}
