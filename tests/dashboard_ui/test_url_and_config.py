"""Page state from the URL respects the user's scope, and the removed [dashboard] price and CO2
keys are refused with a pointer to [tariffs] and [carbon]."""

from __future__ import annotations

import json

import pytest
from dashboard_seed import PASSWORDS, site_config
from pydantic import ValidationError

from tests.support import probe
from wattlens.config import ConfigError, parse_config
from wattlens.dashboard.app import create_app
from wattlens.dashboard.config import DashboardConfig


@pytest.fixture
def alice(seeded):
    client = create_app(site_config(login=True), seeded).server.test_client()
    client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"]})
    return client


def _page(client, path: str, search: str) -> str:
    """The page layout the router builds for ``path`` + ``search``, as JSON text."""
    router = probe.find(probe.callbacks(client), "_pages_content")
    answer = probe.call(client, router, {"_pages_location.pathname": path,
                                         "_pages_location.search": search})
    assert answer.status == 200, answer.body[:300]
    return answer.body.decode()


def _url_store(body: str, page: str) -> dict:
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == f"{page}-url":
                found.append(node["props"]["data"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(body))
    return found[0]


def test_a_url_naming_the_users_meter_opens_it(alice):
    body = _page(alice, "/explorer", "?meter=b2-gas&start=2019-06-01&end=2019-06-30")
    assert _url_store(body, "explorer") == {"meter": "b2-gas", "start": "2019-06-01",
                                            "end": "2019-06-30"}
    assert _picked(alice, "?meter=b2-gas&start=2019-06-01") == "b2-gas"


def _picked(client, search: str) -> str | None:
    """The meter the shell's picker takes from a URL's query string (None: unchanged)."""
    pick = next(cb for cb in probe.callbacks(client) if cb.output == "meter-picker.value")
    answer = probe.call(client, pick, {"url.search": search})
    body = answer.json() or {}
    return body.get("response", {}).get("meter-picker", {}).get("value")


def test_a_url_naming_another_users_meter_reveals_nothing(alice, seeded):
    body = _page(alice, "/explorer", "?meter=b97-elec&start=2019-06-01&end=2019-06-30")
    assert "b97" not in body and _url_store(body, "explorer")["meter"] is None
    foreign = seeded.read_events(["b97-elec"]).iloc[0]["event_id"]
    body = _page(alice, "/anomalies", f"?event={foreign}")
    assert foreign not in body and "b97" not in body
    assert _url_store(body, "anomalies") == {"meter": None, "event": None}
    own = seeded.read_events(["b2-elec"]).iloc[0]["event_id"]
    assert _url_store(_page(alice, "/anomalies", f"?event={own}"), "anomalies") == {
        "meter": "b2-elec", "event": own}
    assert _picked(alice, f"?event={own}") == "b2-elec"  # an alert link picks its meter
    for search in ("?meter=b97-elec", f"?event={foreign}", "?meter=nope"):
        assert _picked(alice, search) is None, search


@pytest.mark.parametrize("key", ["price_per_kwh", "co2_kg_per_kwh", "currency"])
def test_removed_dashboard_price_keys_point_to_tariffs_and_carbon(key):
    value = "EUR" if key == "currency" else {"electricity": 0.25}
    with pytest.raises(ValidationError, match=r"\[tariffs\].*\[carbon\]"):
        DashboardConfig(**{key: value})
    with pytest.raises(ConfigError, match=key):
        parse_config({"dashboard": {key: value}})
