"""Every registered page in real headless Chromium, in Korean and in English: no untranslated
string (no English source string of the catalog on a Korean page, no Hangul on an English one),
no console error, screenshots at 1400 px and 400 px wide, the navbar's language switch, and the
date pickers' weeks starting on Monday. One browser session visits the pages in a loop."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import dash
import pytest
from babel.messages.pofile import read_po
from dashboard_seed import needs_browser, site_config
from selenium.webdriver.common.by import By
from test_browser import SCREENSHOTS, open_page, ready, settled, severe, wait

from wattlens.dashboard.app import create_app

pytestmark = [pytest.mark.browser, needs_browser()]

CATALOG = (Path(__file__).resolve().parents[2] / "dashboard" / "translations" / "ko"
           / "LC_MESSAGES" / "messages.po")
WIDTHS = (1400, 400)
README_PAGE = "live"
"""The page whose screenshots the README shows (docs/screenshots/<page>-<lang>[-400].png)."""
DATA = [".no-webgl"]
"""Elements whose text is data, not UI: plotly's own notice that headless Chromium has no WebGL
(a real browser draws the chart instead)."""
ALLOWED = {"kWh", "kW", "kWh/m²", "UTC", "CO2", "kgCO2", "wattlens", "ASHRAE Guideline 14"}
"""Source strings that are proper names or units, the same in every language."""
_COMMAND = re.compile(r"`[^`]*`")
"""Commands quoted in messages (`wattlens run`) are names too."""
_PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%[sdr]")

_TEXT = """
const skip = new Set();
for (const sel of arguments[0]) {
  document.querySelectorAll(sel).forEach(el => skip.add(el));
}
const hidden = el => { for (; el; el = el.parentElement) { if (skip.has(el)) return true; }
                       return false; };
const out = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walk.nextNode(); node; node = walk.nextNode()) {
  const el = node.parentElement;
  if (!el || hidden(el) || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  if ((box.width === 0 && box.height === 0 && el.tagName !== 'tspan' && el.tagName !== 'text')
      || style.visibility === 'hidden' || style.display === 'none') continue;
  out.push(node.textContent.trim());
}
document.querySelectorAll('input[placeholder]').forEach(i => out.push(i.placeholder));
return out.filter(t => t).join('\\n');
"""


def _fragments() -> dict[str, re.Pattern[str]]:
    """Every English source string of the catalog (split at its placeholders) that has letters
    and is not a name or unit, as a case-sensitive whole-word pattern."""
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="ko")
    found: dict[str, re.Pattern[str]] = {}
    for message in catalog:
        for source in (message.id,) if isinstance(message.id, str) else message.id:
            for part in _PLACEHOLDER.split(source or ""):
                part = part.strip(" :;,.()[]·—=-")
                if re.search(r"[A-Za-z]{2}", part) and part not in ALLOWED:
                    found[part] = re.compile(rf"(?<![\w-]){re.escape(part)}(?![\w-])")
    return found


def visible_text(duo) -> str:
    """The page's visible text (charts' SVG text and input placeholders included)."""
    return duo.driver.execute_script(_TEXT, DATA)


def names(config) -> list[str]:
    """The configured names and ids of sites, buildings and meters (data, not UI), longest
    first."""
    found = {name for site in config.sites for name in (site.id, site.name)}
    found |= {name for info in config.meter_infos().values()
              for name in (info.id, info.label, info.building or "")}
    found |= {b.name for site in config.sites for b in site.buildings}
    return sorted((n for n in found if n), key=len, reverse=True)


def untranslated(text: str, fragments: dict[str, re.Pattern[str]], data: list[str]
                 ) -> list[str]:
    """The catalog's English fragments left in ``text`` once names and commands are out."""
    text = _COMMAND.sub(" ", text)
    for name in data:
        text = text.replace(name, " ")
    lines = text.splitlines()
    return sorted(f"{part} (in {next(line for line in lines if pattern.search(line))!r})"
                  for part, pattern in fragments.items() if pattern.search(text))


def shoot(duo, path: Path, width: int, small: bool) -> None:
    """A full-page screenshot ``width`` px wide; ``small``: a 64-colour palette (committed
    PNGs), else the PNG as the browser gives it (faster)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    duo.driver.set_window_size(width, 1000)
    time.sleep(0.25)  # plotly re-lays out on resize
    height = duo.driver.execute_script("return document.documentElement.scrollHeight")
    duo.driver.set_window_size(width, min(height + 160, 4000))
    time.sleep(0.15)
    png = duo.driver.get_screenshot_as_png()
    duo.driver.set_window_size(1400, 1000)
    if not small:
        path.write_bytes(png)
        return
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


CALENDAR = {"ko": ("월", "확대/축소", r"\d{4}년 \d{1,2}월"), "en": ("Mo", "Zoom", r"\w+ \d{4}")}
"""Per language: the first weekday of the date picker (weeks start on Monday), the zoom
button's title in the charts' toolbar, the picker's month heading."""


def _calendar_and_toolbar(duo, lang: str) -> None:
    """The page declares ``lang``; its charts' toolbar buttons are titled in it; the first
    date picker's weeks start on Monday, with weekday and month headings in ``lang``."""
    monday, zoom, heading = CALENDAR[lang]
    assert duo.driver.execute_script("return document.documentElement.lang") == lang
    titles = {b.get_attribute("data-title")
              for b in duo.driver.find_elements(By.CSS_SELECTOR, ".modebar-btn")}
    assert zoom in titles, titles
    duo.driver.find_element(By.CSS_SELECTOR, ".dash-datepicker-input").click()
    header = ".dash-datepicker-calendar thead tr"
    wait(lambda: len(duo.driver.find_elements(By.CSS_SELECTOR, header)) > 1, timeout=5,
         what="the calendar")
    month, days = duo.driver.find_elements(By.CSS_SELECTOR, header)[:2]
    first = days.find_elements(By.TAG_NAME, "th")[0].text
    assert first == monday, f"{lang}: the week starts on {first!r}, not {monday!r}"
    assert re.fullmatch(heading, month.text), month.text
    duo.driver.find_element(By.TAG_NAME, "body").click()


def test_every_page_in_korean_and_english(dash_duo, seeded_duck, tmp_path):
    config = site_config()
    app = create_app(config, seeded_duck)
    data = names(config)
    pages = {p["module"].split(".")[-1]: p["relative_path"]
             for p in dash.page_registry.values()}
    publish = os.environ.get("WATTLENS_SCREENSHOTS") == "1"
    fragments = _fragments()
    dash_duo.start_server(app)
    problems: dict[str, list[str]] = {}
    for lang in ("ko", "en"):
        open_page(dash_duo, f"/?lang={lang}")  # then through the navbar: no reloads
        for name, path in pages.items():
            dash_duo.find_element(f"#nav-{name}").click()
            wait(lambda p=path: urlparse(dash_duo.driver.current_url).path == p,
                 what=f"{path} to open")
            ready(dash_duo, path)
            settled(dash_duo)
            where = f"{lang} {name}"
            assert severe(dash_duo) == [], f"{where}: browser console errors"
            banner = dash_duo.find_element("#error-banner")
            assert not banner.is_displayed(), f"{where}: {banner.text}"
            text = visible_text(dash_duo)
            if lang == "ko":
                assert "실시간" in text, f"{where}: the page is not in Korean"
                missed = untranslated(text, fragments, data)
            else:
                missed = sorted(set(re.findall(r"[\uac00-\ud7a3]+", text)) - {"한국어"})
            if missed:
                problems[where] = missed
            if path == "/explorer":
                _calendar_and_toolbar(dash_duo, lang)
            for width in WIDTHS:
                suffix = "" if width == 1400 else f"-{width}"
                readme = publish and name == README_PAGE
                shoot(dash_duo, (SCREENSHOTS if readme else tmp_path) / f"{name}-{lang}{suffix}.png",
                      width, small=readme)
            assert severe(dash_duo) == [], f"{where}: browser console errors after resizing"
    # the switch in the navbar: back to Korean from the English page, remembered
    dash_duo.find_element("#lang-ko").click()
    wait(lambda: "실시간" in dash_duo.find_element(".navbar").text, what="Korean navbar")
    open_page(dash_duo, "/alerts")
    wait(lambda: "경보" in dash_duo.find_element(".navbar").text, what="Korean remembered")
    assert not problems, "untranslated strings (page: strings): " + "; ".join(
        f"{where}: {missed}" for where, missed in problems.items())
