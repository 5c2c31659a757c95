"""Translations of the dashboard and its reports: gettext message catalogs through Flask-Babel.

Every visible string is written in English inside ``_()`` (or ``ngettext`` for counts,
``lazy_gettext`` for strings built at import time) and translated per request from the compiled
catalogs under ``dashboard/translations``; numbers, money and dates go through Babel's
formatters in the request's locale. ``init_app`` attaches Flask-Babel to the dashboard's server.
"""

from __future__ import annotations

import flask
from flask_babel import Babel, gettext, lazy_gettext, ngettext

_ = gettext

__all__ = ["_", "gettext", "init_app", "lazy_gettext", "ngettext"]


def init_app(server: flask.Flask) -> Babel:
    """Attach Flask-Babel to ``server`` (English until the language choice is wired in)."""
    return Babel(server, locale_selector=lambda: "en")
