"""Translations of the dashboard and its reports: gettext message catalogs through Flask-Babel.

Every visible string is written in English inside ``_()`` (or ``ngettext`` for counts,
``lazy_gettext`` for strings built at import time) and translated per request from the compiled
catalogs under ``dashboard/translations``; numbers, money and dates go through Babel's
formatters in the request's locale. ``init_app`` attaches Flask-Babel to the dashboard's server;
``locale_context(lang)`` translates a block as ``lang`` inside or outside a request (the CLI's
reports).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask
from flask_babel import Babel, force_locale, gettext, lazy_gettext, ngettext

_ = gettext
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

__all__ = ["_", "gettext", "init_app", "lazy_gettext", "locale_context", "ngettext"]


def init_app(server: flask.Flask) -> Babel:
    """Attach Flask-Babel to ``server`` (English until the language choice is wired in)."""
    server.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    return Babel(server, locale_selector=lambda: "en")


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
