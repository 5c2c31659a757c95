"""The Dash app factory and the WSGI entry point.

``create_app(config)`` or ``create_app(store)`` (or both) builds a multi-page app whose pages live
in :mod:`wattlens.dashboard.pages` (``dash.register_page``; they never import this module). This
is the only dashboard module reading the :class:`~wattlens.config.Config`: it hands the store,
the meter catalogue (:meth:`~wattlens.config.Config.meter_infos`), the ``[dashboard]``,
``[tariffs]`` and ``[carbon]`` sections to a :class:`wattlens.dashboard.queries.DashboardData`
attached to the Flask server, so several apps can run in one process and nothing is kept at
module level.

For gunicorn: ``gunicorn 'wattlens.dashboard.app:server'`` builds the app from ``$WATTLENS_CONFIG``
(or ``./wattlens.toml``, or the defaults) when a worker imports it.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dash
import flask
from dash import Dash, Input, Output, dcc, html

import wattlens.forecasting.mv  # noqa: F401 - registers the prophet M&V baseline
from wattlens.config import Config, ConfigError, load_config
from wattlens.core.meters import MeterInfo
from wattlens.dashboard import components, urlstate
from wattlens.dashboard.access import SESSION_USER, Access, AccessDenied
from wattlens.dashboard.data import EXTENSION, request_data
from wattlens.dashboard.errors import on_error
from wattlens.dashboard.queries import DashboardData
from wattlens.store.base import Store

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
_PUBLIC = ("/login", "/logout", "/_dash-component-suites/", "/assets/", "/_favicon.ico")
_API = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")

_LOGIN_FORM = """<!doctype html><html><head><title>wattlens · sign in</title>
<link rel="stylesheet" href="/assets/style.css"></head><body class="login">
<form method="post" class="login-box"><h2>wattlens</h2><p>{message}</p>
<label>user <input name="username" id="username" autocomplete="username" required></label>
<label>password <input name="password" id="password" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-button">sign in</button></form></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _add_login(server: flask.Flask, data: DashboardData) -> None:
    """Session login: /login, /logout, and every other request refused until signed in."""

    @server.before_request
    def _require_login() -> Any:
        path = flask.request.path
        if not data.access.login_required or path.startswith(_PUBLIC):
            return None
        name = flask.session.get(SESSION_USER)
        try:
            data.access.user(name)
        except AccessDenied:
            if path.startswith(_API):
                return flask.jsonify({"error": "not logged in; open /login"}), 401
            return flask.redirect(f"/login?next={flask.request.full_path.rstrip('?')}")
        return None

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        from markupsafe import escape

        target = _safe_next(flask.request.values.get("next"))
        message = "Sign in to see your meters."
        if flask.request.method == "POST":
            user = data.access.authenticate(flask.request.form.get("username", ""),
                                     flask.request.form.get("password", ""))
            if user is not None:
                flask.session.clear()
                flask.session[SESSION_USER] = user.name
                log.info("user %s signed in", user.name)
                return flask.redirect(target)
            message = "Wrong user name or password."
        return _LOGIN_FORM.format(message=escape(message), next=escape(target))

    @server.route("/logout")
    def logout() -> Any:
        flask.session.clear()
        return flask.redirect("/login")


def _shell() -> html.Div:
    """The layout around every page, built per page load for the signed-in user."""
    try:
        data, user = request_data()
        catalogue = data.catalogue(user)
        names = data.access.names
        name = user.name if data.access.login_required else None
    except (AccessDenied, RuntimeError, KeyError):
        catalogue, names, name = [], {}, None
    return html.Div([
        dcc.Location(id="url"),
        components.navbar(list(dash.page_registry.values()), name),
        components.picker(catalogue, names, None),
        components.error_banner(),
        html.Main(dash.page_container, className="page"),
    ], className="shell")


def _shell_callbacks(app: Dash) -> None:
    """Site → building → meter filtering, the meter named in the URL, and clearing the error
    banner on navigation."""

    @app.callback(Output("building-picker", "options"), Input("site-picker", "value"))
    def _buildings(site: str | None) -> list[dict[str, str]]:
        data, user = request_data()
        seen: dict[str, str] = {}
        for m in data.catalogue(user):
            if site in (None, m.site) and m.building:
                seen[m.building] = data.access.name_of(m.building)
        return [{"label": v, "value": k} for k, v in seen.items()]

    @app.callback(Output("meter-picker", "options"), Input("site-picker", "value"),
                  Input("building-picker", "value"))
    def _meters(site: str | None, building: str | None) -> list[dict[str, str]]:
        data, user = request_data()
        return components.meter_options([
            m for m in data.catalogue(user)
            if site in (None, m.site) and building in (None, m.building)
        ])

    @app.callback(Output("meter-picker", "value"), Input("url", "search"))
    def _meter_from_url(search: str | None) -> Any:
        """The meter a page's URL names (bookmarks, alert links, back and forward)."""
        query = urlstate.query_of(search)
        return urlstate.meter_of(query.get("meter"), query.get("event")) or dash.no_update

    @app.callback(Output("error-banner", "style"), Input("url", "pathname"),
                  Input("meter-picker", "value"))
    def _clear_banner(_path: str, _meter: str) -> dict[str, str]:
        return {"display": "none"}


def _coerce(config_or_store: Config | Store | None, store: Store | None) -> tuple[Config, Store]:
    config = config_or_store if isinstance(config_or_store, Config) else None
    if config_or_store is not None and config is None:
        store = config_or_store  # type: ignore[assignment]
    config = config or Config()
    if store is None:
        from wattlens.store import open_store

        store = open_store(config.store)
    return config, store


def _access(config: Config, store: Store) -> Access:
    """The meter catalogue and logins of ``config``; without sites every energy meter in the
    store, in UTC."""
    meters = config.meter_infos()
    names = {s.id: s.name or s.id for s in config.sites}
    names.update({b.id: b.name or b.id for s in config.sites for b in s.buildings})
    if not meters:
        meters = {m: MeterInfo(id=m, site="store", building="store")
                  for m in store.meters("energy")}
        names = {"store": "all meters"}
    try:
        return Access(meters, config.dashboard, names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def create_app(config_or_store: Config | Store | None = None, store: Store | None = None) -> Dash:
    """A ready dashboard for ``config`` (its store opened here) and/or an open ``store``.

    With only a store, every energy meter in it is shown in UTC and login is off.
    """
    config, store = _coerce(config_or_store, store)
    data = DashboardData(store, _access(config, store), config.dashboard, config.tariffs,
                         config.carbon, config.analytics.savings)
    server = flask.Flask("wattlens.dashboard", root_path=str(HERE))
    secret = os.environ.get(config.dashboard.secret_key_env)
    server.secret_key = secret or secrets.token_hex(32)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    server.extensions[EXTENSION] = data
    if config.dashboard.login and not secret:
        log.warning("%s is unset: sessions end when the dashboard restarts",
                    config.dashboard.secret_key_env)
    app = Dash(
        "wattlens.dashboard", server=server, use_pages=True, pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"), title="wattlens", on_error=on_error,
        update_title="wattlens · updating…",
    )
    app.layout = _shell
    _shell_callbacks(app)
    _add_login(server, data)
    # Claim this app's page callbacks now (dash.callback collects them globally until the
    # first request), so several apps built in one process each keep their own.
    with server.test_request_context():
        app._setup_server()  # noqa: SLF001 — Dash has no public hook for this
    return app


def create_server(config_path: str | os.PathLike[str] | None = None) -> flask.Flask:
    """The WSGI server of an app built from a config file (``$WATTLENS_CONFIG``,
    ``./wattlens.toml`` or the defaults)."""
    path = config_path or os.environ.get("WATTLENS_CONFIG")
    if path is None and Path("wattlens.toml").exists():
        path = "wattlens.toml"
    config = load_config(path) if path else Config()
    return create_app(config).server


def __getattr__(name: str) -> Any:
    """``wattlens.dashboard.app.server`` for gunicorn, built on first access from the config."""
    if name == "server":
        return create_server()
    raise AttributeError(name)
