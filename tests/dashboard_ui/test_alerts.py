"""The Alerts page's callbacks over HTTP, on both stores: the feed is newest first and scoped to
the user's meters, its filters go to the URL, and acknowledging or annotating changes the event
in the store — never one outside the user's scope."""

from __future__ import annotations

import dash
import pandas as pd
import pytest
from dashboard_seed import PASSWORDS, site_config

from tests.support import probe
from wattlens.dashboard.app import create_app

OWN_EVENT = {"meter": "b2-gas", "start": pd.Timestamp("2015-03-02 09:00Z"),
             "end": pd.Timestamp("2015-03-02 11:00Z"), "kind": "spike",
             "severity": 0.8, "excess_kwh": 50.0, "details": '{"cost": 12.345}'}
"""An event of this module's own (the seeded store is shared: others do not look at 2015)."""


def _login(client, name: str) -> None:
    client.post("/login", data={"username": name, "password": PASSWORDS[name], "next": "/"})


def _feed(client, **values) -> dict:
    cb = probe.find(probe.callbacks(client), "alerts-grid")
    answer = probe.call(client, cb, {f"alerts-{k}.value": v for k, v in values.items()})
    assert answer.status == 200, answer.body
    return answer.json()["response"]


def test_feed_is_newest_first_and_scoped(seeded):
    client = create_app(site_config(login=True), seeded).server.test_client()
    _login(client, "admin")
    everything = _feed(client)["alerts-grid"]["rowData"]
    expected = seeded.read_events().sort_values("start", ascending=False)
    assert [r["event_id"] for r in everything] == expected["event_id"].tolist()
    first = everything[0]
    assert first["link"] == f"[open](/anomalies?event={first['event_id']})"
    assert first["meter_name"] == first["meter"].replace("-", " ")  # the configured name
    assert first["start"].endswith(("GMT", "BST"))  # the site's local time
    client.get("/logout")
    _login(client, "alice")
    response = _feed(client)
    mine = response["alerts-grid"]["rowData"]
    assert mine and {r["meter"] for r in mine} <= {"b2-elec", "b2-gas", "b2-elec-lab"}
    assert [r["event_id"] for r in mine] == [r["event_id"] for r in everything
                                             if r["meter"].startswith("b2-")]
    assert {o["value"] for o in response["alerts-meter"]["options"]} == {
        "b2-elec", "b2-gas", "b2-elec-lab"}
    refused = probe.call(client, probe.find(probe.callbacks(client), "alerts-grid"),
                         {"alerts-meter.value": "b97-elec"})
    assert "may not see meter" in refused.body.decode()
    assert "b97-elec" not in str(refused.json()["response"].get("alerts-grid"))


def test_filters_count_and_url(seeded):
    client = create_app(site_config(), seeded).server.test_client()
    one = _feed(client, meter="b97-elec")
    assert one["alerts-count"]["children"] == "1 event, newest first"
    assert one["alerts-location"]["search"] == "?meter=b97-elec"
    none = _feed(client, meter="b119-gas", status="non-routine")
    assert none["alerts-grid"]["rowData"] == []
    assert none["alerts-count"]["children"].startswith("No events match these filters")
    assert none["alerts-location"]["search"] == "?status=non-routine&meter=b119-gas"


def test_url_filters_are_read_and_unknown_ones_ignored(seeded):
    app = create_app(site_config(), seeded)
    page = dash.page_registry["wattlens.dashboard.pages.alerts"]
    with app.server.test_request_context("/alerts"):
        shown = str(page["layout"](status="acknowledged", meter="b97-elec"))
        assert "value='acknowledged'" in shown and "value='b97-elec'" in shown
        ignored = str(page["layout"](status="bogus", meter="nowhere"))
        assert "value='bogus'" not in ignored and "value='nowhere'" not in ignored


def _save(client, row: dict, button: str, **states) -> str:
    cb = probe.find(probe.callbacks(client), "alerts-saved")
    values = {"alerts-grid.selectedRows": [row], f"alerts-{button}.n_clicks": 1,
              **{f"alerts-{k}.value": v for k, v in states.items()}}
    return probe.call(client, cb, values, changed=f"alerts-{button}.n_clicks").body.decode()


def test_acknowledge_and_annotate_change_the_status_in_the_store(seeded):
    seeded.write_events(pd.DataFrame([OWN_EVENT]))
    client = create_app(site_config(login=True), seeded).server.test_client()
    _login(client, "alice")
    (row,) = [r for r in _feed(client, meter="b2-gas")["alerts-grid"]["rowData"]
              if r["start"].startswith("2015-03-02")]
    assert row["status"] == "open" and row["cost"] == pytest.approx(12.35)
    assert "marked acknowledged by alice" in _save(client, row, "ack", note="seen it")
    stored = seeded.read_events(["b2-gas"], "2015-03-01T00:00Z", "2015-03-03T00:00Z").iloc[0]
    assert (stored["status"], stored["annotated_by"], stored["note"]) == (
        "acknowledged", "alice", "seen it")
    acked = _feed(client, meter="b2-gas", status="acknowledged")["alerts-grid"]["rowData"]
    assert row["event_id"] in [r["event_id"] for r in acked]
    _save(client, row, "annotate", annotation="non-routine", note="tenant party")
    stored = seeded.read_events(["b2-gas"], "2015-03-01T00:00Z", "2015-03-03T00:00Z").iloc[0]
    assert (stored["status"], stored["note"]) == ("non-routine", "tenant party")


def test_an_event_outside_the_scope_cannot_be_acted_on(seeded):
    client = create_app(site_config(login=True), seeded).server.test_client()
    _login(client, "alice")
    foreign = seeded.read_events(["b97-elec"]).iloc[0]
    row = {"event_id": foreign["event_id"], "meter": "b97-elec", "kind": foreign["kind"]}
    assert "may not see meter" in _save(client, row, "ack")
    del row["meter"]  # without the row's meter the event is not found in alice's scope
    assert "not visible to you" in _save(client, row, "annotate", annotation="non-routine")
    after = seeded.read_events(["b97-elec"])
    assert "alice" not in set(after["annotated_by"])
