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
    drawn = [y for y in _series(year)["y"] if y is not None]  # None: a gap-edge break
    assert len(drawn) <= 2000  # resampled: a year of hours is 8,760
    zoom = {"meter-picker.value": "b2-elec", "explorer-series.relayoutData": {
        "xaxis.range[0]": "2019-06-03 00:00:00", "xaxis.range[1]": "2019-06-10 00:00:00"}}
    week = probe.call(client, cb, zoom, changed="explorer-series.relayoutData")
    x = _series(week)["x"]
    assert len(x) == 7 * 24  # every hourly reading of the week, nothing outside it
    assert x[0] == "2019-06-03 00:00:00" and x[-1] == "2019-06-09 23:00:00"  # local time
    raw = seeded.read_readings(["b2-elec"], "energy", pd.Timestamp("2019-06-02 23:00Z"),
                               pd.Timestamp("2019-06-09 23:00Z"))
    assert _series(week)["y"] == raw["value"].round(3).tolist()  # kWh per hour = mean kW


def test_csv_download_holds_the_stored_data_not_the_points_drawn(seeded):
    """The Explorer's CSV link streams the store's hourly sums of the period, every hour."""
    client = create_app(site_config(), seeded).server.test_client()
    link = probe.call(client, probe.find(probe.callbacks(client), "explorer-download"),
                      {"meter-picker.value": "b97-elec", "explorer-resolution.value": "1h",
                       "explorer-period.start_date": "2019-01-01",
                       "explorer-period.end_date": "2019-12-31"})
    response = client.get(link.json()["response"]["explorer-download"]["href"])
    assert "b97-elec_20190101_20191231_1h.csv" in response.headers["Content-Disposition"]
    csv = pd.read_csv(io.StringIO(response.get_data(as_text=True)))
    assert list(csv.columns) == ["time", "meter", "energy_kwh"]
    assert len(csv) > 2000  # the year's hours, not the ~2,000 points drawn
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
