"""Callbacks answered over HTTP as the browser calls them, on both stores: zooming fetches finer
data for the visible range only; the CSV download holds what the chart shows."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from dashboard_seed import site_config

from tests.support import probe
from wattlens.dashboard.app import create_app


def _series(answer: probe.Answer) -> dict:
    return answer.json()["response"]["explorer-series"]["figure"]["data"][0]


def test_zoom_fetches_finer_buckets_for_the_visible_week(seeded):
    client = create_app(site_config(), seeded).server.test_client()
    cb = probe.find(probe.callbacks(client), "explorer-series")
    year = probe.call(client, cb, {"meter-picker.value": "b2-elec"})
    assert "from 1h buckets" in year.body.decode()
    assert len(_series(year)["x"]) <= 2000  # resampled: a year of hours is 8,760
    zoom = {"meter-picker.value": "b2-elec", "explorer-series.relayoutData": {
        "xaxis.range[0]": "2019-06-03 00:00:00", "xaxis.range[1]": "2019-06-10 00:00:00"}}
    week = probe.call(client, cb, zoom, changed="explorer-series.relayoutData")
    x = _series(week)["x"]
    assert len(x) == 7 * 24  # every hourly reading of the week, nothing outside it
    assert x[0] == "2019-06-03 00:00:00" and x[-1] == "2019-06-09 23:00:00"  # local time
    raw = seeded.read_readings(["b2-elec"], "energy", pd.Timestamp("2019-06-02 23:00Z"),
                               pd.Timestamp("2019-06-09 23:00Z"))
    assert _series(week)["y"] == raw["value"].round(3).tolist()  # kWh per hour = mean kW


def test_csv_download_holds_the_series_shown(seeded):
    client = create_app(site_config(), seeded).server.test_client()
    cbs = probe.callbacks(client)
    shown = _series(probe.call(client, probe.find(cbs, "explorer-series"),
                               {"meter-picker.value": "b97-elec"}))
    answer = probe.call(client, probe.find(cbs, "explorer-download"),
                        {"meter-picker.value": "b97-elec",
                         "explorer-download-button.n_clicks": 1})
    download = answer.json()["response"]["explorer-download"]["data"]
    csv = pd.read_csv(io.StringIO(download["content"]))
    assert download["filename"].startswith("b97-elec_")
    assert list(csv.columns) == ["time", "meter", "mean_power_kw", "bucket"]
    assert csv["mean_power_kw"].round(3).tolist() == shown["y"]
    assert csv["time"].str.endswith(("+00:00", "+01:00")).all()  # local, with its offset


def test_a_store_alone_is_enough(seeded):
    """Without sites in the config every energy meter of the store is shown, in UTC."""
    client = create_app(seeded).server.test_client()
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "b119-gas" in layout and "bedford-weather" not in layout  # energy meters only
    cb = probe.find(probe.callbacks(client), "explorer-series")
    figure = probe.call(client, cb, {"meter-picker.value": "b119-gas"}).json()
    assert figure["response"]["explorer-series"]["figure"]["layout"]["xaxis"]["title"][
        "text"] == "time (UTC)"


def _number(text: str) -> float:
    return float(text.split(" ")[0].replace(",", "").lstrip("€£₩"))


def test_kpi_costs_use_the_configured_tariff_and_carbon_factor(seeded):
    from wattlens.analytics.carbon import CarbonSection
    from wattlens.analytics.tariffs import TariffsSection

    tariffs = TariffsSection.model_validate({
        "catalog": [{"id": "flat-test", "currency": "EUR", "versions": [
            {"valid_from": "2015-01-01", "energy_rate": 0.5}]}],
        "default": {"electricity": "flat-test"}})
    config = site_config().model_copy(update={
        "tariffs": tariffs, "carbon": CarbonSection(factors={"electricity": 0.1})})
    client = create_app(config, seeded).server.test_client()
    cb = probe.find(probe.callbacks(client), "live-today")
    out = probe.call(client, cb, {"meter-picker.value": "b2-elec",
                                  "live-tick.n_intervals": 1}).json()["response"]
    energy = _number(out["kpi-energy-today"]["children"])
    assert out["kpi-cost-today"]["children"].startswith("€")  # the tariff's currency
    assert _number(out["kpi-cost-today"]["children"]) == pytest.approx(0.5 * energy, abs=1)
    assert _number(out["kpi-co2-today"]["children"]) == pytest.approx(0.1 * energy, abs=1)
    assert "flat-test" in out["live-status"]["children"]
