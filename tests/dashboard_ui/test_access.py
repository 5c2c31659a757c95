"""Login and access control, proved with crafted ``/_dash-update-component`` requests: a user
scoped to building b2 gets b2 data but nothing of b97, whatever callback they call."""

from __future__ import annotations

import pytest
from dashboard_seed import PASSWORDS, site_config
from pydantic import ValidationError

from tests.support import probe
from wattlens.dashboard.app import create_app
from wattlens.dashboard.config import DashboardConfig

FOREIGN = "b97-elec"
OWN = "b2-elec"
BASE_VALUES = {
    "live-tick.n_intervals": 1, "url.pathname": "/", "anomalies-scope.value": ["meter"],
    "forecast-horizon.value": "day-ahead (0-24 h)", "explorer-against.value": "year",
    "explorer-download-button.n_clicks": 1, "mv-run.n_clicks": 1,
    "mv-report-button.n_clicks": 1, "mv-model.value": "caltrack-daily",
    "mv-confidence.value": 0.9, "mv-baseline.start_date": "2018-01-01",
    "mv-baseline.end_date": "2018-12-31", "mv-reporting.start_date": "2019-01-01",
    "mv-reporting.end_date": "2019-12-31",
}


@pytest.fixture
def client(seeded):
    app = create_app(site_config(login=True), seeded)
    return app.server.test_client()


def login(client, name: str) -> None:
    response = client.post("/login", data={"username": name, "password": PASSWORDS[name],
                                           "next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def leaked(answer: probe.Answer) -> list[str]:
    """Outputs of a callback answer that carry data: traces, rows, files, tables, dates —
    anything but the refusal message."""
    body = answer.json() or {}
    found = []
    for component, props in (body.get("response") or {}).items():
        for prop, value in props.items():
            if prop == "figure":
                has = bool(value.get("data"))
            elif prop == "children" and isinstance(value, str):
                has = "may not see" not in value and "not visible to you" not in value
            else:
                has = value not in (None, [], {}, "")
            if has:
                found.append(f"{component}.{prop}")
    return found


def test_requests_without_login_are_refused(client):
    assert client.get("/").status_code == 302
    assert client.get("/explorer").headers["Location"].startswith("/login")
    assert client.get("/_dash-layout").status_code == 401
    cb = probe.find(probe.callbacks(_logged_in(client)), "explorer-series")
    client.post("/logout")
    assert probe.call(client, cb, {"meter-picker.value": OWN}).status == 401


def _logged_in(client):
    login(client, "admin")
    return client


def test_wrong_password_and_open_redirect(client):
    bad = client.post("/login", data={"username": "alice", "password": "nope"})
    assert bad.status_code == 200 and b"Wrong user name or password" in bad.data
    response = client.post("/login", data={"username": "alice",
                                           "password": PASSWORDS["alice"],
                                           "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_scoped_user_sees_only_their_meters_in_the_picker(client):
    login(client, "alice")
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "b2-elec" in layout and "b2-gas" in layout
    assert "b97" not in layout and "b119" not in layout


def test_crafted_callbacks_cannot_fetch_another_buildings_data(client, seeded):
    login(client, "alice")
    cbs = probe.callbacks(client)
    meter_cbs = [cb for cb in cbs if cb.output != "error-banner.style"  # no data: a reset
                 and any(i["id"] == "meter-picker" for i in cb.inputs + cb.state)]
    assert len(meter_cbs) >= 12
    for cb in meter_cbs:
        own = probe.call(client, cb, {**BASE_VALUES, "meter-picker.value": OWN})
        foreign = probe.call(client, cb, {**BASE_VALUES, "meter-picker.value": FOREIGN})
        assert foreign.status == 200, cb.output
        assert leaked(foreign) == [], f"{cb.output} leaked {leaked(foreign)} for {FOREIGN}"
        assert "may not see meter" in foreign.body.decode(), cb.output
        assert leaked(own), f"{cb.output} returned nothing for the user's own meter"


def test_events_recommendations_and_annotations_are_scoped(client, seeded):
    login(client, "alice")
    cbs = probe.callbacks(client)
    grid = probe.call(client, probe.find(cbs, "anomalies-grid"),
                      {"meter-picker.value": OWN, "anomalies-scope.value": []})
    rows = grid.json()["response"]["anomalies-grid"]["rowData"]
    assert rows and {r["meter"] for r in rows} == {OWN}
    recs = probe.call(client, probe.find(cbs, "savings-recommendations"),
                      {"meter-picker.value": OWN})
    assert {r["meter"] for r in recs.json()["response"]["savings-recommendations"]["rowData"]} \
        == {OWN}
    foreign = seeded.read_events([FOREIGN]).iloc[0]
    row = {"event_id": foreign["event_id"], "meter": FOREIGN, "kind": foreign["kind"]}
    chart = probe.call(client, probe.find(cbs, "anomalies-chart"),
                       {"anomalies-grid.selectedRows": [row]})
    assert leaked(chart) == [] and "may not see meter" in chart.body.decode()
    saved = probe.call(client, probe.find(cbs, "anomalies-saved"),
                       {"anomalies-grid.selectedRows": [row], "anomalies-ack.n_clicks": 1,
                        "anomalies-note.value": "alice was here"},
                       changed="anomalies-ack.n_clicks")
    assert "may not see meter" in saved.body.decode()
    # and without the meter hint the event is simply not found in the user's scope
    del row["meter"]
    chart = probe.call(client, probe.find(cbs, "anomalies-chart"),
                       {"anomalies-grid.selectedRows": [row]})
    assert leaked(chart) == [] and "not visible to you" in chart.body.decode()
    after = seeded.read_events([FOREIGN])
    assert "alice" not in set(after["annotated_by"])


def test_freshness_hides_other_buildings_and_sources(client):
    login(client, "alice")
    cb = probe.find(probe.callbacks(client), "live-freshness")
    text = probe.call(client, cb, {"meter-picker.value": OWN, "live-tick.n_intervals": 1}
                      ).body.decode()
    assert "meter b2-elec" in text and "b97" not in text and "b119" not in text
    assert "source modbus-b97" not in text
    client.post("/logout")
    login(client, "admin")
    text = probe.call(client, cb, {"meter-picker.value": OWN, "live-tick.n_intervals": 1}
                      ).body.decode()
    assert "source modbus-b97" in text and "12 readings in the last hour" in text


def test_plain_passwords_are_refused_in_the_config():
    with pytest.raises(ValidationError, match="hash-password"):
        DashboardConfig(login=True, users=[{"name": "bob", "password_hash": "hunter2"}])
    with pytest.raises(ValidationError, match="at least one"):
        DashboardConfig(login=True)
