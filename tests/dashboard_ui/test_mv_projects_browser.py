"""End to end in real headless Chromium (issue #15 acceptance): a start-up user logs in, creates
an M&V project on its own meter with a control meter, runs it and downloads the PDF report;
``wattlens mv verify`` on that PDF passes, and the report's embedded result with one number
changed fails."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from dashboard_seed import PASSWORDS, needs_browser, seed, site_config
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from test_mv_job import CONFIG as B2_CONFIG
from typer.testing import CliRunner

from wattlens.cli import app as cli
from wattlens.dashboard.app import create_app
from wattlens.dashboard.report import read_report
from wattlens.store.duck import DuckDBStore

pytestmark = [pytest.mark.browser, needs_browser()]

CONFIG = B2_CONFIG + """
[[sites.buildings.meters]]
id = "b2-elec-lab"
commodity = "electricity"
parent = "b2-elec"
"""
"""The store and building b2's meters, with the submeter that is the project's control."""


def wait(condition, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - the page is still re-rendering
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def choose(duo, dropdown: str, label_part: str) -> None:
    """Pick the option containing ``label_part`` in a (multi) dropdown, then close it."""
    duo.find_element(f"#{dropdown}").click()
    options = ".dash-dropdown-option"
    wait(lambda: duo.driver.find_elements(By.CSS_SELECTOR, options), what=f"{dropdown} options")
    for option in duo.driver.find_elements(By.CSS_SELECTOR, options):
        if label_part in option.text:
            option.click()
            break
    else:
        raise AssertionError(f"no option containing {label_part!r} in {dropdown}")
    duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def test_a_start_up_creates_runs_downloads_and_verifies_a_project(dash_duo, tmp_path: Path):
    path = tmp_path / "w.duckdb"
    store = DuckDBStore(path)
    seed(store)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dash_duo.start_server(create_app(site_config(login=True), store), navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": str(downloads)})
    dash_duo.driver.get(dash_duo.server.url + "/savings")
    dash_duo.wait_for_element("#login-button", timeout=10)
    dash_duo.find_element("#username").send_keys("alice")
    dash_duo.find_element("#password").send_keys(PASSWORDS["alice"])
    dash_duo.find_element("#login-button").click()
    dash_duo.wait_for_element("#mvp-new", timeout=20)
    wait(lambda: dash_duo.find_element("#mvp-reporting").get_attribute("value"),
         what="the default periods")
    dash_duo.find_element("#mvp-new summary").click()
    dash_duo.find_element("#mvp-name").send_keys("Lab heat recovery")
    choose(dash_duo, "mvp-treatment", "(b2-elec,")
    choose(dash_duo, "mvp-control", "(b2-elec-lab,")
    dash_duo.find_element("#mvp-create").click()
    wait(lambda: "created" in dash_duo.find_element("#mvp-message").text, timeout=30,
         what="the project to be created")
    dash_duo.find_element("#mvp-run").click()
    wait(lambda: dash_duo.find_element("#mvp-out-did-kwh").text, timeout=120,
         what="the project's result")
    shown = {c.get_attribute("id"): c.text for c in dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#mvp-comparison td")}
    assert {"mvp-out-single-meter-kwh", "mvp-out-did-pct",
            "mvp-out-placebo-b2-elec-lab-interval"} <= set(shown)
    dash_duo.find_element("#mvp-pdf-button").click()
    wait(lambda: list(downloads.glob("mv_lab-heat-recovery-*.pdf")), timeout=90,
         what="the PDF report")
    pdf = next(downloads.glob("mv_lab-heat-recovery-*.pdf"))
    doc, _signature = read_report(pdf.read_bytes())
    assert doc["project"]["owner"] == "user:alice"
    assert doc["project"]["treatment"] == ["b2-elec"]
    assert doc["project"]["control"] == ["b2-elec-lab"]
    assert f"{doc['control']['did']['savings_kwh']:,.0f}" == shown["mvp-out-did-kwh"]
    assert dash_duo.get_logs() == [] or all("favicon" in e["message"]
                                            for e in dash_duo.get_logs())
    store.close()  # the CLI opens the store file itself

    config = tmp_path / "wattlens.toml"
    config.write_text(CONFIG.format(path=path), encoding="utf-8")
    verified = CliRunner().invoke(cli, ["mv", "verify", str(pdf), "-c", str(config)])
    assert verified.exit_code == 0, verified.output
    assert "every number matches" in verified.output
    doc["control"]["did"]["savings_kwh"] += 1.0  # one number changed
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    failed = CliRunner().invoke(cli, ["mv", "verify", str(tampered), "-c", str(config)])
    assert failed.exit_code == 1, failed.output
    assert "control.did.savings_kwh" in failed.output
