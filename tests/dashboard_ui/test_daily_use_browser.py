"""Daily-use features in real headless Chromium (issue #16 item 4): presets remembered in the URL,
the Totals and Compare pages, no horizontal overflow at 400 px on any page, and the Explorer's
CSV downloaded at hour resolution."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from dashboard_seed import needs_browser, site_config
from selenium.webdriver.common.by import By
from test_browser import PAGES, grid_rows, open_page, ready, settled, severe, traces, wait

from wattlens.config import parse_config
from wattlens.dashboard import presets
from wattlens.dashboard.app import create_app

pytestmark = [pytest.mark.browser, needs_browser()]

AREAS = {"b2": 5000.0, "b97": 2500.0}
"""Floor areas [m²] given to two of the sample's three buildings (b119 has none)."""


def _config():
    """The sample site with floor areas on b2 and b97."""
    raw = site_config().model_dump(mode="json", exclude_none=True)
    for building in raw["sites"][0]["buildings"]:
        if building["id"] in AREAS:
            building["floor_area_m2"] = AREAS[building["id"]]
    return parse_config(raw)


@pytest.fixture
def app(seeded_duck):
    return create_app(_config(), seeded_duck)


def _dates(duo, page: str) -> tuple[str, str]:
    """The date pickers' first and last date (the start input carries the picker's id)."""
    return tuple(duo.driver.execute_script(
        "const s = document.getElementById(arguments[0]);"
        "const e = document.querySelector('.dash-datepicker-end-date');"
        "return [s ? s.value : null, e ? e.value : null];", f"{page}-period"))


def _choose(duo, dropdown_id: str, label: str) -> None:
    duo.find_element(f"#{dropdown_id}").click()
    wait(lambda: duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"), timeout=5,
         what=f"{dropdown_id} options")
    for option in duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
        if option.text.strip() == label:
            option.click()
            return
    raise AssertionError(f"no option {label!r} in {dropdown_id}")


def test_presets_in_the_url_hourly_csv_and_sorted_anomalies(dash_duo, app, seeded_duck,
                                                           tmp_path):
    """One server for three Explorer/Forecast/Anomalies checks (each browser start costs)."""
    dash_duo.start_server(app)
    presets_are_remembered_in_the_url(dash_duo)
    explorer_csv_download_at_hour_resolution(dash_duo, seeded_duck, tmp_path)
    anomalies_table_is_sorted_as_it_says_before_any_click(dash_duo, seeded_duck)


def presets_are_remembered_in_the_url(dash_duo) -> None:
    open_page(dash_duo, "/explorer?meter=b2-elec&range=last-week")
    expected = presets.preset_strings("last-week", "Europe/London")
    wait(lambda: _dates(dash_duo, "explorer") == expected, what="last week's dates")
    assert "last week" in dash_duo.find_element("#explorer-range").text
    settled(dash_duo)
    assert "range=last-week" in dash_duo.driver.current_url
    assert "start=" not in dash_duo.driver.current_url  # a preset is recomputed on each visit
    _choose(dash_duo, "explorer-range", "this year")
    wait(lambda: "range=this-year" in dash_duo.driver.current_url, what="the URL to follow")
    assert _dates(dash_duo, "explorer") == presets.preset_strings("this-year", "Europe/London")
    open_page(dash_duo, "/forecast?meter=b2-elec&start=2019-12-04&end=2019-12-31")
    wait(lambda: _dates(dash_duo, "forecast") == ("2019-12-04", "2019-12-31"),
         what="the URL's own dates")
    assert dash_duo.find_element("#forecast-range").text.strip() in ("", "choose a range")
    assert severe(dash_duo) == []


def _cells(duo) -> list[list[str]]:
    rows = duo.driver.find_elements(By.CSS_SELECTOR, "#totals-grid tr")
    return [[c.text for c in r.find_elements(By.CSS_SELECTOR, "td")] for r in rows[1:]]


def test_totals_and_compare_pages(dash_duo, app, seeded_duck):
    dash_duo.start_server(app)
    totals_page_adds_up_sites_buildings_and_meters(dash_duo, seeded_duck)
    compare_page_puts_buildings_side_by_side_per_m2(dash_duo)


def totals_page_adds_up_sites_buildings_and_meters(dash_duo, seeded_duck) -> None:
    open_page(dash_duo, "/totals?meter=b2-elec&start=2019-06-01&end=2019-06-30")
    wait(lambda: len(_cells(dash_duo)) > 10, what="the totals table")
    rows = _cells(dash_duo)
    assert rows[0][:3] == ["site", "Cambridge (sample)", "electricity"]
    start, end = pd.Timestamp("2019-05-31 23:00Z"), pd.Timestamp("2019-06-30 23:00Z")
    energy = seeded_duck.read_readings(["b2-elec", "b2-gas"], "energy", start, end)
    b2 = next(r for r in rows if r[:3] == ["building", "Building b2", "all"])
    assert float(b2[3].replace(",", "")) == pytest.approx(energy["value"].sum(), abs=0.1)
    per_m2 = float(b2[7].replace(",", ""))
    assert per_m2 == pytest.approx(energy["value"].sum() / AREAS["b2"], abs=0.1)
    names = [r[1] for r in rows]
    assert names.index("Building b2") < names.index("b2 elec lab") < names.index("Building b97")
    assert "7 meters" in dash_duo.find_element("#totals-note").text
    assert severe(dash_duo) == []


def compare_page_puts_buildings_side_by_side_per_m2(dash_duo) -> None:
    open_page(dash_duo, "/compare?meter=b2-elec&start=2019-06-01&end=2019-06-30")
    wait(lambda: traces(dash_duo, "compare-lines") == 3, what="three meters compared")
    dash_duo.find_element("#compare-by input[value='building']").click()
    wait(lambda: traces(dash_duo, "compare-lines") == 3, what="three buildings compared")
    dash_duo.find_element("#compare-normalise input[value='m2']").click()
    wait(lambda: "Building b119" in dash_duo.find_element("#compare-note").text,
         what="the note naming the building without an area")
    wait(lambda: traces(dash_duo, "compare-lines") == 2, what="two buildings per m²")
    bars = dash_duo.driver.execute_script(
        "return document.querySelector('#compare-bars .js-plotly-plot')._fullData[0].x")
    assert list(bars) == ["Building b2", "Building b97"]
    assert "kWh/m²" in dash_duo.find_element("#compare-bars").text
    assert severe(dash_duo) == []


_WIDTH = "return document.documentElement.scrollWidth"


def test_every_page_fits_400_px(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    try:
        open_page(dash_duo, "/")
        for path in [*PAGES.values(), "/totals", "/compare", "/jobs"]:
            name = "live" if path == "/" else path.strip("/")
            dash_duo.find_element(f"#nav-{name}").click()  # in-app navigation: no reload
            wait(lambda p=path: dash_duo.driver.execute_script(
                "return window.location.pathname") == p, what=f"{path} to open")
            ready(dash_duo, path)
            settled(dash_duo)
            time.sleep(0.3)  # plotly's resize
            width = dash_duo.driver.execute_script(_WIDTH)
            assert width <= 400, f"{path} is {width} px wide at 400 px"
        assert severe(dash_duo) == []
    finally:
        dash_duo.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def explorer_csv_download_at_hour_resolution(dash_duo, seeded_duck, tmp_path) -> None:
    dash_duo.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": str(tmp_path)})
    open_page(dash_duo, "/explorer?meter=b97-elec&start=2019-06-01&end=2019-06-07")
    wait(lambda: "2019-06-07" in (dash_duo.find_element("#explorer-download")
                                  .get_attribute("href") or ""), what="the CSV link")
    dash_duo.find_element("#explorer-download").click()
    wait(lambda: list(tmp_path.glob("b97-elec_20190601_20190607_1h.csv")), timeout=20,
         what="the downloaded CSV")
    csv = pd.read_csv(next(tmp_path.glob("b97-elec_*.csv")))
    stored = seeded_duck.aggregate(["b97-elec"], "energy", pd.Timestamp("2019-05-31 23:00Z"),
                                   pd.Timestamp("2019-06-07 23:00Z"), every="1h", how="sum",
                                   tz="Europe/London")
    assert len(csv) == 7 * 24 == len(stored)
    assert csv["time"].iloc[0] == "2019-06-01T00:00:00+01:00"
    assert csv["energy_kwh"].tolist() == stored["value"].round(4).tolist()
    assert severe(dash_duo) == []


def anomalies_table_is_sorted_as_it_says_before_any_click(dash_duo, seeded_duck) -> None:
    events = seeded_duck.read_events().sort_values("start", ascending=False)
    open_page(dash_duo, "/anomalies?meter=b2-elec")
    dash_duo.find_element("#anomalies-scope input").click()  # every meter's events
    wait(lambda: len(grid_rows(dash_duo, "anomalies-grid")) == min(len(events), 10),
         what="every event in the table")
    rows = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#anomalies-grid .ag-center-cols-container .ag-row")
    shown = [r.get_attribute("row-id") for r in
             sorted(rows, key=lambda r: int(r.get_attribute("row-index")))]
    assert shown == events["event_id"].head(10).tolist()
    header = dash_duo.find_element("#anomalies-grid .ag-header-cell[col-id='start']")
    assert header.get_attribute("aria-sort") == "descending"
    count = len(events)
    assert dash_duo.find_element("#anomalies-count").text == f"{count} events"
    assert severe(dash_duo) == []
