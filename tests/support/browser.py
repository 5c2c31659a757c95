"""Headless Chromium options for dash[testing] (the Debian binary, no network side-channels),
shared by the dashboard tests and the service's browser test."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def chromium_options(profile: Path) -> Any:
    """Selenium Chrome options: headless Debian chromium with a fresh profile in ``profile``."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    return options
