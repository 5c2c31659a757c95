"""The dashboard in real headless Chromium (dash[testing] + selenium + Debian chromedriver),
once on DuckDBStore and once on InfluxStore (real influxd)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
from dashboard_seed import needs_browser, site_config
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from wattlens.dashboard.app import create_app

pytestmark = [pytest.mark.browser, needs_browser()]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
"""Where the README's screenshots live; rewritten only with WATTLENS_SCREENSHOTS=1 (make
screenshots), otherwise the test writes its screenshots to a temporary directory."""
GRAPHS = {
    "/": ["live-today"],
    "/explorer": ["explorer-series", "explorer-carpet", "explorer-profiles",
                  "explorer-signature", "explorer-comparison", "explorer-hierarchy"],
    "/forecast": ["forecast-chart", "forecast-residuals"],
}
PAGES = {"live": "/", "explorer": "/explorer", "forecast": "/forecast",
         "anomalies": "/anomalies", "savings": "/savings", "alerts": "/alerts"}

_FINGERPRINT = """
const el = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!el || !el._fullData) { return null; }
// _fullData holds the decoded arrays (figures arrive base64-packed)
return JSON.stringify(el._fullData.map(t => [t.name, Array.from(t.y || []).slice(0, 200),
    Array.from(t.z || []).slice(0, 40).map(row => Array.from(row).slice(0, 24))]));
"""


def fingerprint(duo, graph_id: str) -> str | None:
    return duo.driver.execute_script(_FINGERPRINT, graph_id)


def traces(duo, graph_id: str) -> int:
    text = fingerprint(duo, graph_id)
    return len(json.loads(text)) if text else 0


def wait(condition, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def severe(duo) -> list[dict]:
    """Browser console errors (favicon 404s aside)."""
    return [e for e in duo.get_logs() if "favicon" not in e.get("message", "")]


def grid_rows(duo, grid_id: str) -> list[str]:
    return [r.text for r in duo.driver.find_elements(
        By.CSS_SELECTOR, f"#{grid_id} .ag-center-cols-container .ag-row")]


def open_page(duo, path: str) -> None:
    duo.driver.get(duo.server_url + path)
    duo.wait_for_element("#meter-picker", timeout=20)


def settled(duo) -> None:
    """Wait until no callback request is in flight."""
    wait(lambda: duo.redux_state_rqs == [], what="callbacks to finish")


def ready(duo, path: str) -> None:
    """Wait until every chart of the page has drawn data (or the page's table has rows)."""
    for graph in GRAPHS.get(path, []):
        wait(lambda g=graph: traces(duo, g) > 0, what=f"{graph} to draw")
    if path == "/":
        wait(lambda: "kWh" in duo.find_element("#kpi-energy-today").text, what="KPI cards")
    if path == "/anomalies":
        wait(lambda: grid_rows(duo, "anomalies-grid"), what="anomaly rows")
    if path == "/savings":
        wait(lambda: grid_rows(duo, "savings-recommendations"), what="recommendation rows")
    if path == "/alerts":
        wait(lambda: grid_rows(duo, "alerts-grid"), what="alert rows")


@pytest.fixture
def app(seeded):
    return create_app(site_config(), seeded)


def test_every_page_loads_without_console_errors(dash_duo, app, seeded, request, tmp_path):
    shots = SCREENSHOTS if os.environ.get("WATTLENS_SCREENSHOTS") == "1" else tmp_path
    dash_duo.start_server(app)
    for name, path in PAGES.items():
        open_page(dash_duo, path)
        ready(dash_duo, path)
        assert severe(dash_duo) == [], f"{name}: browser console errors"
        assert not dash_duo.find_element("#error-banner").is_displayed(), (
            f"{name}: {dash_duo.find_element('#error-banner').text}")
        if path == "/anomalies":  # show an event against its expected band
            select_first_event(dash_duo)
        if path == "/savings":  # and an M&V estimate
            run_mv(dash_duo)
        assert severe(dash_duo) == [], f"{name}: browser console errors after interaction"
        if "duckdb" in request.node.name:
            screenshot(dash_duo, shots / f"{name}.png")
            assert (shots / f"{name}.png").stat().st_size > 10_000


def screenshot(duo, path: Path) -> None:
    """A full-page screenshot (window grown to the page height, then restored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = duo.driver.execute_script("return document.documentElement.scrollHeight")
    duo.driver.set_window_size(1400, min(height + 160, 2800))
    time.sleep(0.5)  # let plotly re-lay out
    png = duo.driver.get_screenshot_as_png()
    duo.driver.set_window_size(1400, 1000)
    try:  # a 64-colour palette keeps the committed PNGs small (Pillow comes with matplotlib)
        from PIL import Image

        image = Image.open(io.BytesIO(png)).convert("RGB")
        image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    except ImportError:
        path.write_bytes(png)


def select_first_event(duo) -> None:
    settled(duo)

    def click() -> bool:
        try:  # the grid may re-render under us: retry on a stale row
            duo.driver.find_element(
                By.CSS_SELECTOR, "#anomalies-grid .ag-center-cols-container .ag-row "
                                 "[col-id='kind']").click()
        except (StaleElementReferenceException, NoSuchElementException):
            return False
        return True

    wait(click, what="a clickable event row")
    wait(lambda: traces(duo, "anomalies-chart") > 0, what="the event chart")


def run_mv(duo) -> dict[str, str]:
    """Estimate savings with the default periods and model; the numbers shown by id."""
    wait(lambda: duo.find_element("#mv-reporting").get_attribute("value"),
         what="the default periods")
    duo.find_element("#mv-run").click()
    wait(lambda: traces(duo, "mv-cumulative") > 0, timeout=40, what="the M&V result")
    cells = duo.driver.find_elements(By.CSS_SELECTOR, "#mv-summary-table td")
    return {c.get_attribute("id").removeprefix("mv-out-"): c.text for c in cells}


def _options(duo) -> list:
    return duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")


def _pick(duo, label_part: str) -> None:
    """Choose the meter whose option text contains ``label_part`` in the meter picker."""
    wait(lambda: duo.find_element("#meter-picker").is_displayed(), what="the meter picker")
    if label_part in duo.find_element("#meter-picker-value").text:
        return
    duo.find_element("#meter-picker").click()
    wait(lambda: _options(duo), timeout=5, what="the meter options")
    options = _options(duo)
    for option in options:
        if label_part in option.text:
            option.click()
            return
    raise AssertionError(f"no meter option containing {label_part!r} in "
                         f"{[o.text for o in options]}")


def test_meter_picker_changes_every_chart(dash_duo, app):
    dash_duo.start_server(app)
    for path, graphs in GRAPHS.items():
        open_page(dash_duo, path)
        _pick(dash_duo, "(b2-elec,")
        ready(dash_duo, path)
        settled(dash_duo)
        before = {g: fingerprint(dash_duo, g) for g in graphs}
        _pick(dash_duo, "(b97-elec,")
        for g in graphs:
            wait(lambda g=g, b=before: fingerprint(dash_duo, g) not in (b[g], None),
                 what=f"{g} to change with the meter on {path}")
    open_page(dash_duo, "/anomalies")
    ready(dash_duo, "/anomalies")
    wait(lambda: all("b97-elec" in r for r in grid_rows(dash_duo, "anomalies-grid")),
         what="anomaly table to follow the meter")
    open_page(dash_duo, "/savings")  # an M&V result is withdrawn when the meter changes
    _pick(dash_duo, "(b2-elec,")
    run_mv(dash_duo)
    _pick(dash_duo, "(b97-elec,")
    for g in ("mv-chart", "mv-cumulative"):
        wait(lambda g=g: traces(dash_duo, g) == 0, what=f"{g} to drop the b2 result")
    assert "b97 elec" in dash_duo.find_element("#mv-summary").text
    assert severe(dash_duo) == []


def test_live_page_shows_readings_arriving(dash_duo, app, seeded):
    dash_duo.start_server(app)
    open_page(dash_duo, "/")
    _pick(dash_duo, "(b119-gas,")
    wait(lambda: "b119 gas" in dash_duo.find_element("#live-status").text, what="live status")
    newest = seeded.latest(["b119-gas"])["time"].iloc[0]
    fresh = pd.DataFrame({"time": [newest + pd.Timedelta(hours=h) for h in (1, 2)],
                          "meter": "b119-gas", "value": [4321.5, 8765.25]})
    seeded.write_readings(fresh)
    wait(lambda: "8,765.25 kWh" in dash_duo.find_element("#live-status").text, timeout=25,
         what="the new reading on the live page")
    wait(lambda: 8765.25 in json.loads(fingerprint(dash_duo, "live-today"))[-1][1],
         what="the new reading in the chart")
    assert severe(dash_duo) == []


def test_acknowledging_an_anomaly_survives_reload(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/anomalies")
    _pick(dash_duo, "(b97-elec,")
    wait(lambda: any("level shift" in r for r in grid_rows(dash_duo, "anomalies-grid")),
         what="the b97 event")
    select_first_event(dash_duo)
    dash_duo.find_element("#anomalies-note").send_keys("chiller test, planned")
    dash_duo.find_element("#anomalies-nonroutine").click()
    wait(lambda: "non-routine" in dash_duo.find_element("#anomalies-saved").text,
         what="the save confirmation")
    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#anomalies-grid", timeout=20)
    wait(lambda: any("non-routine" in r and "chiller test, planned" in r
                     for r in grid_rows(dash_duo, "anomalies-grid")),
         what="the annotation after reload")
    assert severe(dash_duo) == []


def test_mv_report_downloads_with_the_numbers_shown(dash_duo, app, seeded, tmp_path):
    from wattlens.analytics.mv import data_hash

    dash_duo.start_server(app)
    dash_duo.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": str(tmp_path)})
    open_page(dash_duo, "/savings")
    _pick(dash_duo, "(b2-elec,")
    shown = run_mv(dash_duo)
    assert shown["meter"] == "b2-elec" and shown["g14"] in ("pass", "fail")
    assert shown["savings"].endswith("kWh") and shown["cv-rmse"].endswith("%")
    dash_duo.find_element("#mv-report-button").click()
    wait(lambda: list(tmp_path.glob("mv_b2-elec_*.html")), timeout=20, what="the report file")
    report = next(tmp_path.glob("mv_b2-elec_*.html")).read_text(encoding="utf-8")
    import html as html_lib
    import re

    in_report = {slug: html_lib.unescape(value) for slug, value in
                 re.findall(r"<td id='([a-z0-9-]+)'>([^<]*)</td>", report)}
    assert in_report == shown
    # the hash is of the store's readings for the project span: recompute it independently
    start = pd.Timestamp(shown["baseline-period"][:10]).tz_localize("Europe/London")
    end = pd.Timestamp(shown["reporting-period"][-10:]).tz_localize("Europe/London")
    end += pd.Timedelta("1D")
    energy = seeded.read_readings(["b2-elec"], "energy", start, end)
    temperature = seeded.read_readings(["bedford-weather"], "temperature", start, end)
    assert in_report["hash"] == data_hash(energy, temperature)
    assert '"caltrack"' in html_lib.unescape(report)  # the fitted model's parameters
    assert severe(dash_duo) == []


def test_login_scopes_what_the_browser_shows(dash_duo, seeded):
    from dashboard_seed import PASSWORDS

    dash_duo.start_server(create_app(site_config(login=True), seeded), navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/explorer")
    dash_duo.wait_for_element("#login-button", timeout=10)  # redirected to the login form
    dash_duo.find_element("#username").send_keys("alice")
    dash_duo.find_element("#password").send_keys(PASSWORDS["alice"])
    dash_duo.find_element("#login-button").click()
    dash_duo.wait_for_element("#meter-picker", timeout=20)
    assert urlparse(dash_duo.driver.current_url).path == "/explorer"  # + its state
    assert "signed in as alice" in dash_duo.find_element(".navbar").text
    dash_duo.find_element("#meter-picker").click()
    wait(lambda: _options(dash_duo), timeout=5, what="the meter options")
    labels = [o.text for o in _options(dash_duo)]
    assert labels and all("(b2-" in label for label in labels), labels
    ready(dash_duo, "/explorer")
    assert severe(dash_duo) == []


_X_RANGE = """
const el = document.querySelector('#explorer-series .js-plotly-plot');
if (!el || !el._fullData || !el._fullData.length) { return null; }
const x = Array.from(el._fullData[0].x || []);
return x.length ? [String(x[0]), String(x[x.length - 1])] : null;
"""


def test_a_bookmarked_explorer_url_opens_that_meter_and_period(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/explorer?meter=b97-elec&start=2019-06-01&end=2019-06-30")
    wait(lambda: "b97-elec" in dash_duo.find_element("#meter-picker-value").text,
         what="the URL's meter in the picker")
    wait(lambda: (dash_duo.driver.execute_script(_X_RANGE) or [""])[0].startswith("2019-06-01")
         and dash_duo.driver.execute_script(_X_RANGE)[1].startswith("2019-06-30"),
         what="the URL's period in the series chart")
    settled(dash_duo)
    assert "meter=b97-elec" in dash_duo.driver.current_url
    assert "start=2019-06-01" in dash_duo.driver.current_url
    _pick(dash_duo, "(b2-elec,")  # and a new choice is written back, to be bookmarked
    wait(lambda: "meter=b2-elec" in dash_duo.driver.current_url, what="the URL to follow")
    assert not dash_duo.find_element("#error-banner").is_displayed()
    assert severe(dash_duo) == []


def test_an_alert_link_opens_the_anomalies_page_with_its_event_selected(dash_duo, app, seeded):
    event = seeded.read_events(["b119-gas"]).iloc[0]  # not the meter picked by default
    dash_duo.start_server(app)
    open_page(dash_duo, f"/anomalies?event={event['event_id']}")
    event_selected(dash_duo, event)


def event_selected(duo, event: pd.Series) -> None:
    """The Anomalies page shows ``event`` selected, its meter picked and its chart drawn."""
    wait(lambda: event["meter"] in duo.find_element("#meter-picker-value").text,
         what="the event's meter in the picker")
    selected = "#anomalies-grid .ag-center-cols-container .ag-row-selected"
    wait(lambda: [r.text for r in duo.driver.find_elements(By.CSS_SELECTOR, selected)],
         what="the event's row selected")
    rows = duo.driver.find_elements(By.CSS_SELECTOR, selected)
    assert len(rows) == 1 and event["kind"] in rows[0].text
    assert rows[0].get_attribute("row-id") == event["event_id"]
    wait(lambda: traces(duo, "anomalies-chart") > 0, what="the event chart")
    assert f"event={event['event_id']}" in duo.driver.current_url
    assert not duo.find_element("#error-banner").is_displayed()
    assert severe(duo) == []


def test_alerts_list_events_newest_first_and_link_to_each(dash_duo, app, seeded):
    expected = seeded.read_events().sort_values("start", ascending=False, ignore_index=True)
    dash_duo.start_server(app)
    open_page(dash_duo, "/alerts")
    ready(dash_duo, "/alerts")
    rows = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#alerts-grid .ag-center-cols-container .ag-row")
    shown = [r.get_attribute("row-id") for r in
             sorted(rows, key=lambda r: int(r.get_attribute("row-index")))]
    assert shown == expected["event_id"].head(25).tolist()  # the first page, newest first
    count = "1 event" if len(expected) == 1 else f"{len(expected)} events"
    assert dash_duo.find_element("#alerts-count").text.startswith(count)
    event = expected[expected["meter"] == "b119-gas"].iloc[0]  # not the default meter
    dash_duo.find_element(f"#alerts-grid .ag-row[row-id='{event['event_id']}'] "
                          f"[col-id='link'] a").click()
    wait(lambda: "/anomalies?event=" in dash_duo.driver.current_url, what="the anomalies page")
    event_selected(dash_duo, event)
