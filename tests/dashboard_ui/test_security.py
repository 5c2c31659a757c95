"""The dashboard is safe on a network (issue #13, items 7-11 and 14): binds, sessions, login
throttling, the session key, headers, trusted hosts and public paths, and bounded notes.
Requests go through the Flask test client; the browser side is in test_security_browser.py."""

from __future__ import annotations

import logging
import statistics
import time

import pandas as pd
import pytest
from dashboard_seed import PASSWORDS, site_config
from typer.testing import CliRunner
from werkzeug.security import generate_password_hash

from tests.support import probe
from wattlens.cli import app as cli
from wattlens.config import Config, ConfigError
from wattlens.dashboard.app import create_app, create_server
from wattlens.dashboard.config import DashboardConfig, bind_host
from wattlens.store.duck import DuckDBStore

SECRET = "k" * 32
OWN = "b2-elec"


def login(client, name: str, password: str | None = None):
    return client.post("/login", data={"username": name,
                                       "password": PASSWORDS[name] if password is None
                                       else password, "next": "/"})


def signed_in(client) -> bool:
    return client.get("/_dash-layout").status_code == 200


def with_dashboard(config: Config, **changes) -> Config:
    """``config`` with ``changes`` to its [dashboard] section."""
    return config.model_copy(update={"dashboard": config.dashboard.model_copy(update=changes)})


@pytest.fixture
def duck(seeded_duck):
    return seeded_duck


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("WATTLENS_DASHBOARD_SECRET", SECRET)
    return SECRET


# ----------------------------------------------------------------------------- 7. binds
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "energy.example.org"])
def test_a_network_bind_without_logins_is_refused(host):
    with pytest.raises(ValueError, match="without logins.*login = true.*--insecure-no-login"):
        bind_host(DashboardConfig(), host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_loopback_binds_need_no_login(host):
    assert bind_host(DashboardConfig(), host) == host


def test_logins_or_an_explicit_override_allow_a_network_bind(caplog):
    users = [{"name": "a", "password_hash": generate_password_hash("pw-for-a")}]
    assert bind_host(DashboardConfig(login=True, users=users), "0.0.0.0") == "0.0.0.0"
    with caplog.at_level(logging.WARNING):
        assert bind_host(DashboardConfig(), "0.0.0.0", insecure_no_login=True) == "0.0.0.0"
    assert "INSECURE" in caplog.text and "WITHOUT LOGIN" in caplog.text
    assert bind_host(DashboardConfig(host="0.0.0.0", insecure_no_login=True)) == "0.0.0.0"


@pytest.fixture
def never_serve(monkeypatch):
    """Fail instead of serving, so a missing refusal cannot bind a non-loopback address."""
    def refuse(*args, **kwargs):
        raise AssertionError("the dashboard was about to serve")

    monkeypatch.setattr("dash.Dash.run", refuse)
    monkeypatch.setattr("wattlens.cli.run.Supervisor", refuse)


def test_the_commands_refuse_a_network_bind_without_logins(tmp_path, monkeypatch, never_serve):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wattlens.toml").write_text(
        f'data_dir = "{tmp_path}"\n[store]\npath = "{tmp_path / "w.duckdb"}"\n'
        '[dashboard]\nhost = "0.0.0.0"\n')
    runner = CliRunner()
    for args in (["dashboard", "--host", "0.0.0.0"], ["dashboard"], ["run", "--role", "web"]):
        result = runner.invoke(cli, args)
        assert result.exit_code != 0, args
        assert "refusing to serve the dashboard on 0.0.0.0 without logins" in result.output, (
            args, result.output, result.exception)
    loud = runner.invoke(cli, ["dashboard", "--insecure-no-login"])
    assert isinstance(loud.exception, AssertionError)  # got past the check, to serving


# --------------------------------------------------------------------------- 8. sessions
@pytest.fixture
def client(duck, secret):
    return create_app(site_config(login=True), duck).server.test_client()


def test_logout_is_a_post_and_ends_every_copy_of_the_session(duck, secret):
    server = create_app(site_config(login=True), duck).server
    browser, thief = server.test_client(), server.test_client()
    assert login(browser, "alice").status_code == 302
    thief.set_cookie("session", browser.get_cookie("session").value)
    assert signed_in(thief)
    assert browser.get("/logout").status_code == 405  # a link or <img> cannot log you out
    assert signed_in(browser)
    assert browser.post("/logout").headers["Location"] == "/login"
    assert not signed_in(browser)
    assert not signed_in(thief), "a copied cookie outlived the logout"
    assert login(browser, "alice").status_code == 302 and signed_in(browser)


def test_a_password_change_ends_existing_sessions(duck, secret):
    config = site_config(login=True)
    before, admin = (create_app(config, duck).server.test_client() for _ in range(2))
    login(before, "alice")
    login(admin, "admin")
    users = [u.model_copy(update={"password_hash": generate_password_hash("new-alice-pw")})
             if u.name == "alice" else u for u in config.dashboard.users]
    after = create_app(with_dashboard(config, users=users), duck).server.test_client()
    for c, name in ((before, "alice"), (admin, "admin")):
        after.set_cookie("session", c.get_cookie("session").value)
        assert signed_in(after) == (name == "admin"), name


def test_the_secure_cookie_flag_follows_the_config(duck, secret):
    for secure in (False, True):
        config = with_dashboard(site_config(login=True), secure_cookie=secure)
        response = login(create_app(config, duck).server.test_client(), "alice")
        cookie = response.headers["Set-Cookie"]
        assert ("Secure" in cookie) == secure and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# ----------------------------------------------------------------------- 9. login throttle
def test_failed_logins_lock_the_user_out_and_are_logged(duck, secret, caplog):
    config = with_dashboard(site_config(login=True), login_rate="100 per minute",
                            lockout="3 per 15 minutes")
    c = create_app(config, duck).server.test_client()
    with caplog.at_level(logging.WARNING, logger="wattlens.dashboard.app"):
        for _ in range(3):
            assert b"Wrong user name" in login(c, "alice", "guess").data
    assert "failed login for user 'alice' from 127.0.0.1" in caplog.text
    locked = login(c, "alice")  # even the right password, while locked
    assert locked.status_code == 429 and b"Too many sign-in attempts" in locked.data
    assert login(c, "admin").status_code == 302  # other users are not locked


def test_logins_are_rate_limited_per_address(duck, secret):
    config = with_dashboard(site_config(login=True), login_rate="3 per minute")
    c = create_app(config, duck).server.test_client()
    answers = [login(c, name, "guess").status_code for name in ("a", "b", "c", "d")]
    assert answers == [200, 200, 200, 429]


def test_behind_a_proxy_limits_and_logs_use_the_forwarded_address(duck, secret, caplog):
    config = with_dashboard(site_config(login=True), login_rate="2 per minute", proxies=1)
    c = create_app(config, duck).server.test_client()

    def attempt(address: str) -> int:
        return c.post("/login", data={"username": "alice", "password": "guess"},
                      headers={"X-Forwarded-For": address}).status_code

    with caplog.at_level(logging.WARNING, logger="wattlens.dashboard.app"):
        assert [attempt("203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert attempt("198.51.100.9") == 200  # another client behind the same proxy
    assert "failed login for user 'alice' from 203.0.113.7" in caplog.text


def test_unknown_users_take_as_long_to_refuse_as_wrong_passwords(client):
    def seconds(name: str) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            login(client, "alice", "guess") if name == "alice" else client.post(
                "/login", data={"username": name, "password": "guess"})
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known, unknown = seconds("alice"), seconds("nobody-by-this-name")
    assert unknown > 0.5 * known, f"unknown {unknown * 1000:.0f} ms, known {known * 1000:.0f} ms"


# ------------------------------------------------------------------------ 10. session key
def test_several_workers_with_logins_need_a_shared_key_of_32_bytes(duck, monkeypatch):
    monkeypatch.delenv("WATTLENS_DASHBOARD_SECRET", raising=False)
    with pytest.raises(ConfigError, match="WATTLENS_DASHBOARD_SECRET is unset.*several workers"):
        create_app(site_config(login=True), duck, multi_worker=True)
    monkeypatch.setenv("WATTLENS_DASHBOARD_SECRET", "short")
    with pytest.raises(ConfigError, match="is 5 bytes.*at least 32 bytes"):
        create_app(site_config(login=True), duck)
    monkeypatch.setenv("WATTLENS_DASHBOARD_SECRET", SECRET)
    config = site_config(login=True)
    one, two = (create_app(config, duck, multi_worker=True).server.test_client()
                for _ in range(2))
    login(one, "alice")
    two.set_cookie("session", one.get_cookie("session").value)
    assert signed_in(two)  # the workers share the key
    create_app(site_config(), duck, multi_worker=True)  # without logins no key is needed


def test_the_wsgi_entry_point_counts_as_several_workers(tmp_path, monkeypatch):
    path = tmp_path / "site.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "w.duckdb"}"\n[dashboard]\nlogin = true\n'
                    f'[[dashboard.users]]\nname = "a"\n'
                    f'password_hash = "{generate_password_hash("pw-for-a")}"\n')
    monkeypatch.delenv("WATTLENS_DASHBOARD_SECRET", raising=False)
    with pytest.raises(ConfigError, match="several workers"):
        create_server(path)


# ---------------------------------------------------------------- 11. headers and hosts
def test_security_headers_on_pages_and_the_login_form(client):
    login(client, "alice")
    for path in ("/login", "/", "/explorer"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
        assert "script-src 'self' 'sha256-" in csp and "unsafe-eval" not in csp, path
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_host_headers_are_refused(duck, secret):
    config = with_dashboard(site_config(login=True), trusted_hosts=["energy.example.org"])
    c = create_app(config, duck).server.test_client()
    assert c.get("/login", headers={"Host": "energy.example.org"}).status_code == 200
    assert c.get("/login", headers={"Host": "rebind.attacker.example"}).status_code == 400
    default = create_app(site_config(), duck).server.test_client()
    assert default.get("/", headers={"Host": "localhost:8050"}).status_code == 200
    assert default.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert default.get("/", headers={"Host": "rebind.attacker.example"}).status_code == 400


@pytest.mark.parametrize("path", ["/loginx", "/login/../explorer", "/logout-now",
                                  "/_favicon.icox", "/assetsx/style.css"])
def test_public_paths_are_matched_exactly(client, path):
    response = client.get(path)
    assert response.status_code in (302, 404), path
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login?next=")
    assert b"_dash-config" not in response.data  # never the app shell


# ------------------------------------------------------------------- 14. bounded notes
def test_long_notes_are_refused_and_annotations_read_only_for_the_events_read(tmp_path):
    store = DuckDBStore(tmp_path / "notes.duckdb")
    store.init()
    start = pd.Timestamp("2024-01-01", tz="UTC")
    store.write_events(pd.DataFrame({
        "meter": ["m1", "m2"], "start": [start, start], "end": [start + pd.Timedelta("1h")] * 2,
        "kind": ["spike", "spike"], "severity": [0.5, 0.5], "excess_kwh": [1.0, 1.0],
        "details": ["{}", "{}"]}))
    events = store.read_events()
    big = events.loc[events["meter"] == "m2", "event_id"].iloc[0]
    for _ in range(3):
        store.annotate_event(big, "acknowledged", by="mallory", note="x" * 5_000_000)
    import tracemalloc

    tracemalloc.start()
    mine = store.read_events(["m1"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert list(mine["meter"]) == ["m1"]
    assert peak < 5_000_000, f"reading m1's events allocated {peak / 1e6:.0f} MB of others' notes"
    store.close()


def test_the_dashboard_refuses_notes_over_2000_characters(client, duck):
    start = pd.Timestamp("2001-02-03", tz="UTC")  # this test's own event
    duck.write_events(pd.DataFrame({
        "meter": [OWN], "start": [start], "end": [start + pd.Timedelta("1h")],
        "kind": ["stuck"], "severity": [0.1], "excess_kwh": [0.0], "details": ["{}"]}))
    event = duck.read_events([OWN], start, start + pd.Timedelta("1h")).iloc[0]
    login(client, "alice")
    cb = probe.find(probe.callbacks(client), "anomalies-saved")
    row = {"event_id": event["event_id"], "meter": OWN, "kind": event["kind"]}

    def save(note: str) -> str:
        return probe.call(client, cb, {"anomalies-grid.selectedRows": [row],
                                       "anomalies-ack.n_clicks": 1, "anomalies-note.value": note},
                          changed="anomalies-ack.n_clicks").body.decode()

    def note() -> str:
        return duck.read_events([OWN], start, start + pd.Timedelta("1h"))["note"].iloc[0]

    assert "keep it to 2,000" in save("y" * 2001)
    assert note() == ""
    assert "marked" in save("z" * 2000)
    assert note() == "z" * 2000
