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
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import dash
import flask
import flask_login
from dash import Dash, Input, Output, dcc, html
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_talisman import Talisman
from markupsafe import escape
from werkzeug.middleware.proxy_fix import ProxyFix

import wattlens.forecasting.mv  # noqa: F401 - registers the prophet M&V baseline
from wattlens.config import Config, ConfigError, load_config
from wattlens.core.meters import MeterInfo
from wattlens.dashboard import components, exports, i18n, urlstate
from wattlens.dashboard.access import Access, AccessDenied
from wattlens.dashboard.config import DashboardConfig
from wattlens.dashboard.data import EXTENSION, request_data
from wattlens.dashboard.errors import on_error
from wattlens.dashboard.i18n import _
from wattlens.dashboard.queries import DashboardData
from wattlens.store.base import Store

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
_PUBLIC_PATHS = frozenset({"/login", "/logout", "/_favicon.ico"})
_PUBLIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
_API = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")
SESSION_KIND = "dashboard-session"
"""Store document kind holding each user's session epoch (raised by a logout)."""
MIN_SECRET_BYTES = 32

_LOGIN_FORM = """<!doctype html><html lang="{lang}"><head><title>wattlens · {title}</title>
<link rel="stylesheet" href="/assets/style.css"><link rel="stylesheet" href="/assets/i18n.css">
</head><body class="login">
<form method="post" class="login-box"><h2>wattlens</h2><p id="login-message">{message}</p>
<label>{user} <input name="username" id="username" autocomplete="username" required></label>
<label>{password} <input name="password" id="password" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-button">{title}</button></form>
<p class="login-languages">{languages}</p></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _public(path: str) -> bool:
    """Paths served without login: matched exactly (``/loginx`` is not ``/login``)."""
    return path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES)


class _SessionUser(flask_login.UserMixin):
    """The Flask-Login user of a session: its id names the user, their credential tag and the
    session epoch, so a password change or a logout makes older ids unknown."""

    def __init__(self, name: str, tag: str, epoch: int) -> None:
        self.name = name
        self.id = f"{name}\x1f{tag}\x1f{epoch}"


def _epoch(data: DashboardData, name: str) -> int:
    """The user's session epoch (shared by every worker through the store)."""
    return int((data.store.get_document(SESSION_KIND, name) or {}).get("epoch", 0))


def _secret_key(settings: DashboardConfig, multi_worker: bool) -> str:
    """The session signing key from ``settings.secret_key_env``. With logins it must be
    >= 32 bytes, and set at all when several workers may serve (each would draw its own
    random key and refuse the others' cookies); otherwise a random per-process key."""
    secret = os.environ.get(settings.secret_key_env, "")
    env = settings.secret_key_env
    if settings.login and secret and len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"${env} is {len(secret.encode())} bytes; the session key must be at least "
            f"{MIN_SECRET_BYTES} bytes: set it to the output of "
            f"`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    if settings.login and not secret:
        if multi_worker:
            raise ConfigError(
                f"${env} is unset: with logins under several workers every worker needs the "
                f"same session key (>= {MIN_SECRET_BYTES} bytes); export it in the service "
                f"environment, e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        log.warning("%s is unset: sessions end when the dashboard restarts", env)
    return secret or secrets.token_hex(32)


def _add_login(server: flask.Flask, data: DashboardData) -> None:
    """Session login with Flask-Login: POST /login (rate-limited per address, failed attempts
    per user name locked out), POST /logout (ends every session of the user), and every other
    request refused until signed in."""
    settings = data.settings
    manager = flask_login.LoginManager(server)
    limiter = Limiter(get_remote_address, app=server, storage_uri=settings.limiter_storage_uri,
                      default_limits=[])

    @manager.user_loader
    def _load(session_id: str) -> _SessionUser | None:
        name, tag, epoch = (session_id.split("\x1f") + ["", ""])[:3]
        if not tag or tag != data.access.credential_tag(name):
            return None
        current = _epoch(data, name)
        return _SessionUser(name, tag, current) if epoch == str(current) else None

    @server.before_request
    def _require_login() -> Any:
        path = flask.request.path
        if not data.access.login_required or _public(path):
            return None
        if flask_login.current_user.is_authenticated:
            return None
        if path.startswith(_API):
            return flask.jsonify({"error": _("not logged in; open /login")}), 401
        return flask.redirect(f"/login?next={flask.request.full_path.rstrip('?')}")

    def _form(message: str, status: int = 200) -> tuple[str, int]:
        target = _safe_next(flask.request.values.get("next"))
        languages = " · ".join(
            f'<a href="/login?lang={code}&amp;next={escape(quote(target))}" id="lang-{code}">'
            f"{escape(name)}</a>" for code, name in i18n.LANGUAGES.items())
        return _LOGIN_FORM.format(
            lang=i18n.language(), title=escape(_("sign in")), user=escape(_("user")),
            password=escape(_("password")), message=escape(message), next=escape(target),
            languages=languages), status

    def _user_key() -> str:
        return "user:" + flask.request.form.get("username", "")

    @server.errorhandler(429)
    def _too_many(exc: Exception) -> Any:
        log.warning("login refused (rate limit %s) for user %r from %s",
                    getattr(exc, "description", ""), flask.request.form.get("username", ""),
                    flask.request.remote_addr)
        return _form(_("Too many sign-in attempts; wait a few minutes and try again."), 429)

    @server.route("/login", methods=["GET", "POST"])
    @limiter.limit(settings.login_rate, methods=["POST"])
    @limiter.limit(settings.lockout, methods=["POST"], key_func=_user_key,
                   deduct_when=lambda response: response.status_code != 302)
    def login() -> Any:
        if flask.request.method != "POST":
            return _form(_("Sign in to see your meters."))
        name = flask.request.form.get("username", "")
        user = data.access.authenticate(name, flask.request.form.get("password", ""))
        if user is None:
            log.warning("failed login for user %r from %s", name, flask.request.remote_addr)
            return _form(_("Wrong user name or password."))
        flask.session.clear()
        flask_login.login_user(_SessionUser(user.name, data.access.credential_tag(user.name),
                                            _epoch(data, user.name)))
        log.info("user %s signed in from %s", user.name, flask.request.remote_addr)
        return flask.redirect(_safe_next(flask.request.form.get("next")))

    @server.route("/logout", methods=["GET", "POST"])
    def logout() -> Any:
        if flask.request.method != "POST":  # not the app shell either (Dash catches all paths)
            flask.abort(405, valid_methods=["POST"])
        user = flask_login.current_user
        if user.is_authenticated:
            data.store.put_document(SESSION_KIND, user.name, {"epoch": _epoch(data, user.name) + 1})
            log.info("user %s signed out (every session of the user ended)", user.name)
        flask_login.logout_user()
        flask.session.clear()
        return flask.redirect("/login")


class _ScriptSources:
    """The CSP's script-src, read by Talisman on each response: this origin and the hashes of
    Dash's inline scripts (its pages router adds one on the first request, so they cannot be
    hashed once at start)."""

    def __init__(self, app: Dash) -> None:
        self.app = app

    def __iter__(self) -> Iterator[str]:
        return iter(["'self'", *self.app.csp_hashes()])


def _add_headers(app: Dash, settings: DashboardConfig) -> None:
    """Security headers (Flask-Talisman): a CSP Dash renders under (its one inline script by
    hash, styles inline as plotly injects them), no framing, same-origin referrers, HSTS and
    Secure cookies when ``secure_cookie`` says a TLS proxy is in front; and the trusted Host
    names (others get 400)."""
    server = app.server
    server.config["TRUSTED_HOSTS"] = list(settings.trusted_hosts)
    Talisman(
        server, force_https=False, frame_options="DENY", referrer_policy="same-origin",
        content_security_policy={
            "default-src": "'self'", "script-src": _ScriptSources(app),
            "style-src": ["'self'", "'unsafe-inline'"], "img-src": ["'self'", "data:"],
            "font-src": ["'self'", "data:"], "connect-src": "'self'", "object-src": "'none'",
            "base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'",
        },
        strict_transport_security=settings.secure_cookie,
        session_cookie_secure=settings.secure_cookie, session_cookie_http_only=True,
    )
    if settings.proxies:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.proxies,
                                   x_proto=settings.proxies, x_host=settings.proxies)


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


def _user_locale(data: DashboardData) -> str | None:
    """The signed-in user's configured language, if any."""
    if not data.access.login_required:
        return None
    return data.access.locale_of(getattr(flask_login.current_user, "name", None))


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
        names = {"store": i18n.lazy_gettext("all meters")}
    try:
        return Access(meters, config.dashboard, names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


class _App(Dash):
    """Dash whose pages declare the request's language (``<html lang>``): screen readers
    and fonts follow it, and the date pickers take their day names from it; the tab title
    while a page updates is translated."""

    def interpolate_index(self, **kwargs: Any) -> str:
        page = super().interpolate_index(**kwargs)
        return page.replace("<html>", f'<html lang="{i18n.language()}">', 1)

    def _config(self) -> dict[str, Any]:  # Dash's page config; no public hook to translate it
        config: dict[str, Any] = super()._config()
        config["update_title"] = _("wattlens · updating…")
        return config


def create_app(config_or_store: Config | Store | None = None, store: Store | None = None,
               multi_worker: bool = False) -> Dash:
    """A ready dashboard for ``config`` (its store opened here) and/or an open ``store``.

    With only a store, every energy meter in it is shown in UTC and login is off.
    ``multi_worker``: several processes may serve it (gunicorn ``-w``), so a login session key
    must come from the environment.
    """
    config, store = _coerce(config_or_store, store)
    data = DashboardData(store, _access(config, store), config.dashboard, config.tariffs,
                         config.carbon, config.analytics.savings)
    server = flask.Flask("wattlens.dashboard", root_path=str(HERE))
    server.secret_key = _secret_key(config.dashboard, multi_worker)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    server.extensions[EXTENSION] = data
    app = _App(
        "wattlens.dashboard", server=server, use_pages=True, pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"), title="wattlens", on_error=on_error,
        external_scripts=[i18n.PLOTLY_LOCALES],
    )
    app.layout = _shell
    _shell_callbacks(app)
    site_locale = next((site.locale for site in config.sites if site.locale), None)
    i18n.init_app(server, site_locale, lambda: _user_locale(data),
                  secure_cookie=config.dashboard.secure_cookie)
    _add_login(server, data)
    exports.register(server)
    # Claim this app's page callbacks now (dash.callback collects them globally until the
    # first request), so several apps built in one process each keep their own.
    with server.test_request_context():
        app._setup_server()  # noqa: SLF001 — Dash has no public hook for this
    _add_headers(app, config.dashboard)
    return app


def create_server(config_path: str | os.PathLike[str] | None = None) -> flask.Flask:
    """The WSGI server of an app built from a config file (``$WATTLENS_CONFIG``,
    ``./wattlens.toml`` or the defaults), for a WSGI server that may run several workers."""
    path = config_path or os.environ.get("WATTLENS_CONFIG")
    if path is None and Path("wattlens.toml").exists():
        path = "wattlens.toml"
    config = load_config(path) if path else Config()
    return create_app(config, multi_worker=True).server


def __getattr__(name: str) -> Any:
    """``wattlens.dashboard.app.server`` for gunicorn, built on first access from the config."""
    if name == "server":
        return create_server()
    raise AttributeError(name)
