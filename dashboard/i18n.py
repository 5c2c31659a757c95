"""Translations of the dashboard and its reports: gettext message catalogs through Flask-Babel.

Every visible string is written in English inside ``_()`` (or ``ngettext`` for counts,
``lazy_gettext`` for strings built at import time) and translated per request from the compiled
catalogs under ``dashboard/translations`` (``make i18n`` extracts and updates them; the build
compiles the ``.mo`` files); numbers, money and dates go through Babel's formatters in the
request's locale (:func:`number`, :func:`money`, :func:`day`).

The request's locale, first found wins: the language chosen in the navbar or the URL
(``?lang=ko``, then remembered in the :data:`COOKIE`), the user's ``locale`` in
``[[dashboard.users]]``, the site's ``locale``, the browser's Accept-Language, English.
``init_app`` attaches Flask-Babel to the dashboard's server; ``locale_context(lang)``
translates a block as ``lang`` inside or outside a request (the CLI's reports).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask
from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.numbers import format_currency, format_decimal
from flask_babel import Babel, force_locale, get_locale, gettext, lazy_gettext, ngettext

_ = gettext


def N_(message: str) -> str:  # noqa: N802 - gettext's name for a marker
    """Mark ``message`` for extraction without translating it (static names, e.g. a page's
    ``register_page`` name); translate it where it is shown with ``_(message)``."""
    return message

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"en": "English", "ko": "한국어"}
"""The languages with a catalog (English is the source language), as the switch names them."""
COOKIE = "wattlens_lang"
"""Cookie remembering the language chosen in the navbar or with ``?lang=`` (a year)."""
_COOKIE_AGE_S = 365 * 24 * 3600

__all__ = ["LANGUAGES", "N_", "PLOTLY_LOCALES", "_", "day", "gettext", "init_app", "language",
           "lazy_gettext", "locale_context", "money", "ngettext", "number", "parse_locale"]


def parse_locale(name: str) -> Locale:
    """A Babel locale from ``ko-KR``, ``ko_KR`` or ``ko``; ValueError naming the fix when
    Babel does not know it."""
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"unknown locale {name!r}: use a language tag such as 'ko-KR' or 'en-GB' "
            f"(the dashboard is translated into {', '.join(sorted(LANGUAGES))})"
        ) from None


def _chosen() -> str | None:
    """The language picked explicitly: ``?lang=`` of this request, else the cookie."""
    for value in (flask.request.args.get("lang"), flask.request.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return None


def init_app(server: flask.Flask, site_locale: str | None = None,
             user_locale: Callable[[], str | None] = lambda: None,
             secure_cookie: bool = False) -> Babel:
    """Attach Flask-Babel to ``server``: each request's locale is the explicit choice, else
    ``user_locale()`` (the signed-in user's default), else ``site_locale`` (e.g. ``"ko-KR"``),
    else the browser's Accept-Language, else English. A ``?lang=`` choice is remembered in a
    cookie (``Secure`` with ``secure_cookie``)."""
    server.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)

    def select() -> str:
        choice = _chosen() or user_locale() or site_locale
        if choice:
            return str(parse_locale(choice))
        return flask.request.accept_languages.best_match(LANGUAGES) or "en"

    @server.after_request
    def _remember(response: flask.Response) -> flask.Response:
        lang = flask.request.args.get("lang")
        if lang in LANGUAGES and flask.request.cookies.get(COOKIE) != lang:
            response.set_cookie(COOKIE, lang, max_age=_COOKIE_AGE_S, samesite="Lax",
                                httponly=True, secure=secure_cookie)
        return response

    server.add_url_rule(PLOTLY_LOCALES, "plotly_locales", plotly_locales)
    return Babel(server, locale_selector=select)


def _locale() -> Locale:
    """The request's (or :func:`locale_context`'s) locale; English outside both."""
    return get_locale() or Locale("en")


def language() -> str:
    """The current language code (``"ko"``, ``"en"``)."""
    return _locale().language


def number(value: float, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals and the locale's grouping ("1,234.5")."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=_locale())


def money(value: float, currency: str) -> str:
    """``value`` in ``currency`` (an ISO code: KRW without decimals, "₩1,235"; GBP "£1,234.50")
    as the locale writes it; a plain number when ``currency`` is empty (no tariff)."""
    if not currency:
        return number(value, 2)
    return format_currency(value, currency, locale=_locale())


def day(date: dt.date) -> str:
    """A date with its weekday as the locale writes it ("2026년 12월 6일 (일)",
    "Sun, Dec 6, 2026")."""
    return format_skeleton("yMMMEd", date, locale=_locale())


PLOTLY_LOCALES = "/_i18n/plotly-locales.js"
"""The script registering each translated language with Plotly (its toolbar words, month and
day names, date tick labels; graphs pick one by ``locale``) and with the date pickers
(date-fns locales, picked by the page's ``<html lang>``); the app loads it."""


def _plotly_words() -> dict[str, str]:
    """Plotly's own words on our charts (toolbar buttons, snapshot and zoom messages; its
    English is the key) in the current language."""
    return {
        # TRANSLATORS: the chart toolbar's buttons (Plotly)
        "Autoscale": _("Autoscale"), "Box Select": _("Box Select"),
        "Compare data on hover": _("Compare data on hover"), "Download plot": _("Download plot"),
        "Download plot as a PNG": _("Download plot as a PNG"),
        "Lasso Select": _("Lasso Select"), "Pan": _("Pan"), "Reset": _("Reset"),
        "Reset axes": _("Reset axes"), "Reset view": _("Reset view"),
        "Reset views": _("Reset views"),
        "Show closest data on hover": _("Show closest data on hover"),
        "Toggle Spike Lines": _("Toggle Spike Lines"),
        "Toggle show closest data on hover": _("Toggle show closest data on hover"),
        "Zoom": _("Zoom"), "Zoom in": _("Zoom in"), "Zoom out": _("Zoom out"),
        "Snapshot succeeded": _("Snapshot succeeded"),
        "Taking snapshot - this may take a few seconds":
            _("Taking snapshot - this may take a few seconds"),
        "Sorry, there was a problem downloading your snapshot!":
            _("Sorry, there was a problem downloading your snapshot!"),
        "Double-click to zoom back out": _("Double-click to zoom back out"),
        "Double-click on legend to isolate one trace":
            _("Double-click on legend to isolate one trace"),
    }


def _plotly_locale(lang: str, names: dict[str, Any]) -> dict[str, object]:
    """Plotly's locale module for ``lang``: its words (:func:`_plotly_words`) from the
    catalog, month and day names (``names``: :func:`_date_names`), date tick patterns (d3
    time format) from the catalog."""
    with force_locale(lang):
        return {"moduleType": "locale", "name": lang, "dictionary": _plotly_words(), "format": {
            "days": names["days"]["wide"], "shortDays": names["days"]["abbreviated"],
            "months": names["months"]["wide"], "shortMonths": names["months"]["abbreviated"],
            "date": "%Y-%m-%d",
            # TRANSLATORS: chart date labels in d3 time format: %b month, %-d day, %Y year
            "dayMonth": _("%b %-d"), "dayMonthYear": _("%b %-d, %Y"), "month": _("%b %Y"),
            "year": "%Y"}}


def _date_names(lang: str) -> dict[str, Any]:
    """CLDR names (Babel) of ``lang``'s days (from Sunday, as Plotly and date-fns count),
    months, quarters, eras and day periods by width, for the charts and the date pickers."""
    loc = Locale.parse(lang)
    sunday_first = [(6 + i) % 7 for i in range(7)]
    return {
        "days": {w: [names[d] for d in sunday_first]
                 for w, names in loc.days["format"].items()},
        "months": {w: [names[m] for m in range(1, 13)]
                   for w, names in loc.months["format"].items()},
        "quarters": {w: [names[q] for q in range(1, 5)]
                     for w, names in loc.quarters["format"].items()},
        "eras": {"narrow": [loc.eras["narrow"][e] for e in (0, 1)],
                 "abbreviated": [loc.eras["abbreviated"][e] for e in (0, 1)],
                 "wide": [loc.eras["wide"][e] for e in (0, 1)]},
        "periods": {p: loc.day_periods["format"]["abbreviated"][p] for p in ("am", "pm")},
    }


_LOCALES_JS = """(function () {
var plotly = %(plotly)s, dates = %(dates)s;
if (window.Plotly && window.Plotly.register) { window.Plotly.register(plotly); }
else { window.PlotlyLocales = (window.PlotlyLocales || []).concat(plotly); }
function pick(names, shift) {
  return function (n, o) {
    var w = (o && o.width) || "wide";
    return (names[w] || names.abbreviated || names.wide)[n - shift];
  };
}
function dateFnsLocale(code, d) {
  return {code: code, options: {weekStartsOn: 1, firstWeekContainsDate: 4},
    localize: {ordinalNumber: function (n) { return String(n); }, era: pick(d.eras, 0),
      quarter: pick(d.quarters, 1), month: pick(d.months, 0), day: pick(d.days, 0),
      dayPeriod: function (p) { return d.periods[p] || p; }},
    formatLong: {date: function () { return "yyyy-MM-dd"; },
      time: function () { return "HH:mm"; },
      dateTime: function () { return "{{date}} {{time}}"; }}};
}
window.dateFns = window.dateFns || {};
Object.defineProperty(window.dateFns, "locale", {configurable: true, get: function () {
  var lang = document.documentElement.lang, found = {};
  if (dates[lang]) { found[lang] = dateFnsLocale(lang, dates[lang]); }
  return found;
}});
})();
"""


def plotly_locales() -> flask.Response:
    """JavaScript registering :func:`_plotly_locale` of every translated language with
    Plotly (at once when it is loaded, else through ``window.PlotlyLocales``, read when it
    loads), and the date pickers' day and month names (``window.dateFns.locale``: Dash's
    date pickers look there; only the page's language is offered, so an English page keeps
    date-fns's own English)."""
    dates = {lang: _date_names(lang) for lang in LANGUAGES if lang != "en"}
    script = _LOCALES_JS % {
        "plotly": json.dumps([_plotly_locale(lang, names) for lang, names in dates.items()],
                             ensure_ascii=False),
        "dates": json.dumps(dates, ensure_ascii=False)}
    return flask.Response(script, mimetype="text/javascript")


@contextmanager
def locale_context(lang: str) -> Iterator[None]:
    """Translate and format as ``lang`` (e.g. ``"ko"``) inside the block: in a request of the
    dashboard, or outside any (a report written by the CLI) through a bare Flask app."""
    if flask.has_app_context():
        with force_locale(lang):
            yield
        return
    app = flask.Flask(__name__)
    init_app(app)
    with app.app_context(), force_locale(lang):
        yield
