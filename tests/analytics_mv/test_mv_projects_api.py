"""M&V projects through the HTTP API over real HTTP: a start-up's token creates, lists and runs
projects on its own meters only; another tenant's projects answer 404 on every route."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from wattlens.analytics.projects import PROJECT_KIND
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.service.api.app import create_api
from wattlens.service.api.auth import Tokens
from wattlens.service.api.settings import ApiToken
from wattlens.service.metrics import ServiceMetrics
from wattlens.store.duck import DuckDBStore

from . import synthetic

TOKENS = {"acme": "tok-acme-5d1", "rival": "tok-rival-88c"}
CATALOGUE = {m: MeterInfo(id=m, site="lab", building=b,
                          calendar=SiteCalendar(timezone=synthetic.TZ), weather_meter="wx")
             for m, b in (("t1", "acme"), ("c1", "acme"), ("other", "rival"))}
PROJECT = {"name": "Acme heat pump", "treatment": ["t1"], "control": ["c1"],
           "baseline": ["2018-01-01", "2018-12-31"], "reporting": ["2019-01-01", "2019-12-31"],
           "non_routine": [{"start": "2019-05-01", "end": "2019-05-02", "reason": "audit"}]}


@pytest.fixture(scope="module")
def url(tmp_path_factory, weather: pd.DataFrame) -> Iterator[str]:
    store = DuckDBStore(tmp_path_factory.mktemp("api") / "w.duckdb")
    temperature = pd.DataFrame({"time": weather.index, "meter": "wx", "quantity": "temperature",
                                "value": weather["temperature"].to_numpy(), "quality": "ok"})
    store.write_readings(pd.concat(
        [synthetic.load(weather, m, saving=s, seed=k)
         for k, (m, s) in enumerate((("t1", 0.1), ("c1", 0.0), ("other", 0.0)))]
        + [temperature], ignore_index=True))
    tokens = Tokens([ApiToken(name="acme", token_hash=generate_password_hash(TOKENS["acme"]),
                              buildings=["acme"]),
                     ApiToken(name="rival", token_hash=generate_password_hash(TOKENS["rival"]),
                              meters=["other"])], CATALOGUE)
    server = make_server("127.0.0.1", 0, create_api(store, CATALOGUE, tokens, ServiceMetrics()),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.port}/api/v1"
    server.shutdown()
    assert set(store.list_documents(PROJECT_KIND)) == {p for p in _created}
    store.close()


_created: list[str] = []


def _client(url: str, who: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120,
                        headers={"Authorization": f"Bearer {TOKENS[who]}"})


def test_a_start_up_creates_and_runs_a_project_on_its_own_meters(url: str) -> None:
    with _client(url, "acme") as acme:
        made = acme.post("/projects", json=PROJECT)
        assert made.status_code == 201, made.text
        project = made.json()
        _created.append(project["id"])
        assert project["owner"] == "token:acme" and project["status"] == "draft"
        assert [p["id"] for p in acme.get("/projects").json()] == [project["id"]]
        ran = acme.post("/projects/run", params={"key": project["id"]})
        assert ran.status_code == 200, ran.text
        doc = ran.json()
        assert doc["control"]["did"]["savings_pct"] == pytest.approx(10, abs=1)
        assert doc["control"]["placebo"]["c1"]["contains_zero"]
        one = acme.get("/projects/one", params={"key": project["id"]}).json()
        assert one["project"]["status"] == "done" and one["result"] == doc
        assert one["project"]["non_routine"][0]["reason"] == "audit"


def test_another_tenant_neither_sees_nor_runs_nor_creates_on_foreign_meters(url: str) -> None:
    with _client(url, "acme") as acme:
        mine = acme.post("/projects", json={**PROJECT, "name": "second"}).json()["id"]
        _created.append(mine)
        stolen = acme.post("/projects", json={**PROJECT, "treatment": ["other"]})
        assert stolen.status_code == 404 and "no meter 'other'" in stolen.json()["error"]
    with _client(url, "rival") as rival:
        assert rival.get("/projects").json() == []
        for response in (rival.get("/projects/one", params={"key": mine}),
                         rival.post("/projects/run", params={"key": mine})):
            assert response.status_code == 404 and "t1" not in response.text
        theirs = rival.post("/projects", json={**PROJECT, "treatment": ["other"],
                                               "control": []})
        assert theirs.status_code == 201, theirs.text
        _created.append(theirs.json()["id"])
        bad = rival.post("/projects", json={**PROJECT, "treatment": ["other"],
                                            "control": ["other"]})
        assert bad.status_code == 422 and "both treatment and control" in bad.text
    with _client(url, "acme") as acme:
        assert theirs.json()["id"] not in {p["id"] for p in acme.get("/projects").json()}
        assert acme.get("/projects/one", params={"key": theirs.json()["id"]}).status_code == 404
