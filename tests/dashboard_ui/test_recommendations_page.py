"""The Savings page's recommendations: stored by the recommend job from the real sample, shown
with each meter's share and the selected one's evidence as sentences and a small chart."""

from __future__ import annotations

import json

import pytest
from dashboard_seed import PASSWORDS, RECOMMENDATIONS, site_config

from tests.support import probe
from wattlens.analytics.jobs import recommend_job
from wattlens.dashboard.app import create_app
from wattlens.sample import load_sample
from wattlens.store.duck import DuckDBStore


def test_evidence_is_sentences_and_a_chart(tmp_path):
    store = DuckDBStore(tmp_path / "recs.duckdb")
    store.init()
    store.write_readings(load_sample())
    store.put_document("recommendation", "retired-rule:b2-elec", {  # an earlier run's
        "rule": "retired-rule", "meter": "b2-elec", "title": "stale", "annual_kwh": 1.5e6,
        "generated_at": "2019-01-01T00:00:00+00:00"})
    config = site_config(login=True)
    meters = config.meter_infos()
    recs, _ = recommend_job(store, meters, end="2020-01-01T00:00Z")
    assert any(r.meter == "b2-elec" for r in recs)
    client = create_app(config, store).server.test_client()
    client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                "next": "/"})
    cbs = probe.callbacks(client)
    grid = probe.call(client, probe.find(cbs, "savings-recommendations"),
                      {"meter-picker.value": "b2-elec"}).json()["response"]
    rows = grid["savings-recommendations"]["rowData"]
    (picked,) = grid["savings-recommendations"]["selectedRows"]
    assert picked["meter"] == "b2-elec" and len(rows) == len(recs)
    assert "stale" not in {r["title"] for r in rows}
    only = probe.call(client, probe.find(cbs, "savings-recommendations"),
                      {"meter-picker.value": "b2-elec", "savings-rec-scope.value": ["meter"]})
    mine = only.json()["response"]["savings-recommendations"]["rowData"]
    assert mine and {r["meter"] for r in mine} == {"b2-elec"}
    for meter in {r["meter"] for r in rows}:  # shares of a meter add up to its combined share
        mine = [r for r in rows if r["meter"] == meter]
        combined = json.loads(mine[0]["evidence"])["meter_share"]
        assert sum(r["share"] for r in mine) == pytest.approx(combined, abs=1e-3)
        assert combined < 1
    shown = probe.call(client, probe.find(cbs, "savings-rec-evidence"),
                       {"savings-recommendations.selectedRows": [picked]}).json()["response"]
    sentences = [li["props"]["children"] for li in shown["savings-rec-evidence"]["children"]]
    assert sentences[0].startswith(picked["title"])
    assert any("together save" in s for s in sentences)
    assert not any("{" in s for s in sentences)  # words, not JSON
    figure = shown["savings-rec-chart"]["figure"]
    assert len(figure["data"]) == 4 and len(figure["data"][0]["y"]) == 24
    store.close()


def test_evidence_of_older_documents_is_still_words(seeded):
    client = create_app(site_config(login=True), seeded).server.test_client()
    client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                "next": "/"})
    cbs = probe.callbacks(client)
    old = {**RECOMMENDATIONS["after-hours/b2-elec"], "evidence": '{"night_kw": 12.3}'}
    shown = probe.call(client, probe.find(cbs, "savings-rec-evidence"),
                       {"savings-recommendations.selectedRows": [old]}).json()["response"]
    sentences = [li["props"]["children"] for li in shown["savings-rec-evidence"]["children"]]
    assert sentences == ["Cut b2 night baseload.", "night kw: 12.3"]
    assert shown["savings-rec-chart"]["figure"]["data"] == []
