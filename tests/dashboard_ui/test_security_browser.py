"""The hardened dashboard in real headless Chromium (issue #13, items 8 and 11): Dash renders
under the Content-Security-Policy without a console error, the policy really blocks injected
inline scripts, and the logout button (a POST) ends the session."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from dashboard_seed import PASSWORDS, needs_browser, site_config
from test_browser import wait

from wattlens.dashboard.app import create_app

pytestmark = [pytest.mark.browser, needs_browser()]

_INJECT = """
const s = document.createElement('script');
s.textContent = 'window.__injected = 1;';
document.body.appendChild(s);
return window.__injected === 1;
"""


def drawn(duo, graph: str) -> bool:
    return bool(duo.driver.execute_script(
        "const el = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return !!(el && el._fullData && el._fullData.length);", graph))


def test_pages_render_under_the_csp_and_logout_ends_the_session(dash_duo, seeded_duck):
    dash_duo.start_server(create_app(site_config(login=True), seeded_duck), navigate=False)
    driver = dash_duo.driver
    driver.get(dash_duo.server.url + "/explorer")
    dash_duo.wait_for_element("#login-button", timeout=10)
    dash_duo.find_element("#username").send_keys("alice")
    dash_duo.find_element("#password").send_keys(PASSWORDS["alice"])
    dash_duo.find_element("#login-button").click()
    dash_duo.wait_for_element("#meter-picker", timeout=20)
    for graph in ("explorer-series", "explorer-carpet", "explorer-profiles"):
        wait(lambda g=graph: drawn(dash_duo, g), what=f"{graph} to draw")
    for path, graph in (("/", "live-today"), ("/forecast", "forecast-chart")):
        driver.get(dash_duo.server.url + path)
        wait(lambda g=graph: drawn(dash_duo, g), what=f"{graph} to draw")
    errors = [e for e in dash_duo.get_logs() or [] if "favicon" not in e.get("message", "")]
    assert errors == [], errors  # no CSP violation, no failed script

    assert driver.execute_script(_INJECT) is False, "an injected inline script ran"
    blocked = [e["message"] for e in dash_duo.get_logs() or []]
    assert any("Content Security Policy" in m for m in blocked), blocked

    dash_duo.find_element("#logout-button").click()
    dash_duo.wait_for_element("#login-button", timeout=10)
    assert urlparse(driver.current_url).path == "/login"
    driver.get(dash_duo.server.url + "/explorer")
    dash_duo.wait_for_element("#login-button", timeout=10)  # signed out for good
