"""The running app's data: :func:`request_data` finds the app's
:class:`~wattlens.dashboard.queries.DashboardData` and the user of the current request.

Access control lives in :mod:`wattlens.dashboard.access`, the cache in
:mod:`wattlens.dashboard.cache`, the reads in :mod:`wattlens.dashboard.queries`.
"""

from __future__ import annotations

import flask
import flask_login

from wattlens.dashboard.access import ANONYMOUS, User
from wattlens.dashboard.queries import DashboardData

EXTENSION = "wattlens_dashboard"
"""Key of the :class:`DashboardData` in ``flask_app.extensions``."""


def request_data() -> tuple[DashboardData, User]:
    """The app's :class:`DashboardData` and the user of the current request."""
    data: DashboardData = flask.current_app.extensions[EXTENSION]
    if not data.access.login_required:
        return data, ANONYMOUS
    return data, data.access.user(getattr(flask_login.current_user, "name", None))
