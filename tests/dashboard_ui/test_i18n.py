"""Korean and English without a browser: every extracted string has a Korean translation, the
request's language is chosen in the documented order, Korean numbers, money and dates."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from dashboard_seed import PASSWORDS, site_config

from wattlens.config import ConfigError, parse_config
from wattlens.dashboard import components, i18n
from wattlens.dashboard.app import create_app

ROOT = Path(__file__).resolve().parents[2]
KOREAN = ROOT / "dashboard" / "translations" / "ko" / "LC_MESSAGES" / "messages.po"


def _extract(tmp_path: Path) -> Path:
    """The strings marked in the dashboard's code now, extracted as `make i18n` does."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    "babel.cfg", "-k", "lazy_gettext", "-k", "N_", "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    return pot


def test_every_marked_string_has_a_korean_translation(tmp_path):
    with _extract(tmp_path).open("rb") as f:
        template = read_po(f)
    with KOREAN.open("rb") as f:
        korean = read_po(f, locale="ko")
    untranslated = []
    for message in template:
        if not message.id:
            continue
        found = korean.get(message.id)
        strings = () if found is None else (
            found.string if isinstance(found.string, tuple) else (found.string,))
        if found is None or found.fuzzy or not all(strings):
            untranslated.append(message.id)
    assert not untranslated, (
        f"{len(untranslated)} strings have no Korean translation: {untranslated[:20]}; run "
        f"`make i18n` and translate them in {KOREAN.relative_to(ROOT)}")
    # placeholders the Korean drops or invents would raise when the string is formatted
    errors = [(m.id, [str(e) for e in errs]) for m, errs in korean.check()]
    assert not errors, errors


def test_the_compiled_catalog_is_current():
    compiled = KOREAN.with_suffix(".mo")
    assert compiled.exists() and compiled.stat().st_mtime >= KOREAN.stat().st_mtime, (
        f"{compiled.relative_to(ROOT)} is missing or older than its .po: run `make catalogs`")
    with i18n.locale_context("ko"):
        assert i18n.gettext("Live") == "실시간"


def _app(seeded_duck, site_locale=None, user_locale=None, login=False):
    raw = site_config(login=login).model_dump(mode="json", exclude_unset=True)
    if site_locale:
        raw["sites"][0]["locale"] = site_locale
    if user_locale:
        raw["dashboard"]["users"][0]["locale"] = user_locale  # alice
    return create_app(parse_config(raw), seeded_duck)


def _nav(client, path="/_dash-layout", **headers) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return "Korean" if "실시간" in response.get_data(as_text=True) else "English"


def test_language_order_choice_user_site_browser_english(seeded_duck):
    plain = _app(seeded_duck).server.test_client()
    assert _nav(plain) == "English"  # nothing says otherwise
    assert _nav(plain, **{"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}) == "Korean"
    assert _nav(plain, **{"Accept-Language": "fr-FR"}) == "English"

    site = _app(seeded_duck, site_locale="ko-KR").server.test_client()
    assert _nav(site, **{"Accept-Language": "en-GB"}) == "Korean"  # the site over the browser
    assert _nav(site, "/_dash-layout?lang=en") == "English"  # the choice over the site...
    assert site.get_cookie(i18n.COOKIE).value == "en"
    assert _nav(site) == "English"  # ... remembered for the callbacks and the next visits
    assert _nav(site, "/_dash-layout?lang=xx") == "English"  # unknown languages are ignored

    users = _app(seeded_duck, site_locale="en-GB", user_locale="ko-KR", login=True)
    client = users.server.test_client()
    login = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "sign in" in login and 'lang="en"' in login
    client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"]})
    assert _nav(client) == "Korean"  # alice's own default over the site's
    assert _nav(client, "/_dash-layout?lang=en") == "English"  # her choice over her default
    admin = users.server.test_client()
    admin.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert _nav(admin, **{"Accept-Language": "ko"}) == "English"  # admin: the site's en-GB


def test_login_form_in_korean(seeded_duck):
    client = _app(seeded_duck, login=True).server.test_client()
    page = client.get("/login?lang=ko").get_data(as_text=True)
    assert 'lang="ko"' in page and "로그인" in page and "비밀번호" in page
    wrong = client.post("/login", data={"username": "alice", "password": "nope"})
    assert "사용자 이름 또는 비밀번호가 틀렸습니다." in wrong.get_data(as_text=True)


def test_unknown_locales_are_refused_in_the_config():
    raw = site_config().model_dump(mode="json", exclude_unset=True)
    raw["sites"][0]["locale"] = "klingon-XX"
    with pytest.raises(ConfigError, match="unknown locale 'klingon-XX'"):
        parse_config(raw)


def test_korean_numbers_money_dates_and_plurals():
    with i18n.locale_context("ko"):
        assert i18n.money(1234567.8, "KRW") == "₩1,234,568"  # won: no decimals
        assert i18n.money(1234.5, "GBP") == "£1,234.50"  # the tariff's currency, not the UI's
        assert i18n.day(dt.date(2026, 12, 6)) == "2026년 12월 6일 (일)"
        assert i18n.number(1234.56, 1) == "1,234.6"
        assert components.count(1, "event") == "이벤트 1건"
        assert components.count(2, "event") == "이벤트 2건"
    with i18n.locale_context("en"):
        assert i18n.day(dt.date(2026, 12, 6)) == "Sun, Dec 6, 2026"
        assert i18n.money(1234.5, "GBP") == "£1,234.50"
        assert components.count(1, "event") == "1 event"
        assert components.count(2, "event") == "2 events"
    with i18n.locale_context("de"):  # formats follow the locale even without a catalog
        assert i18n.money(1234.5, "EUR") == "1.234,50\xa0€"


def test_date_pickers_start_the_week_on_monday():
    with i18n.locale_context("ko"):
        picker = components.period("p")
    assert picker.first_day_of_week == 1
    assert picker.start_date_placeholder_text == "시작일"


def test_the_page_declares_its_language_and_its_updating_title(seeded_duck):
    client = _app(seeded_duck).server.test_client()
    for lang, title in (("ko", "wattlens · 갱신 중…"), ("en", "wattlens · updating…")):
        page = client.get(f"/?lang={lang}").get_data(as_text=True)
        assert f'<html lang="{lang}">' in page
        config = json.loads(re.search(r'id="_dash-config"[^>]*>(.*?)</script>', page, re.S)[1])
        assert config["update_title"] == title
    script = client.get(i18n.PLOTLY_LOCALES).get_data(as_text=True)
    assert '"Zoom": "확대/축소"' in script  # the charts' toolbar, from the catalog
    assert '"short": ["일", "월", "화"' in script  # the date pickers' weekdays, from CLDR
