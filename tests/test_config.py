"""A wrong config file fails with the key, the value and the fix."""


import logging

import pytest

from wattlens.cli import EXAMPLE_CONFIG as EXAMPLE
from wattlens.config import ConfigError, load_config, parse_config


def site(**meter):
    return {"sites": [{"id": "s", "timezone": "Europe/London", "buildings": [
        {"id": "b", "meters": [{"id": "m", "commodity": "electricity", **meter}]}]}]}


def test_example_config_loads_and_is_frozen():
    cfg = load_config(EXAMPLE)
    assert cfg.store.kind == "duckdb"
    assert "b2-elec" in cfg.meters()
    assert cfg.site_of("b2-gas").timezone == "Europe/London"
    with pytest.raises(Exception, match="frozen"):
        cfg.store.kind = "influx"  # type: ignore[misc]


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"sites": [{"id": "s", "timezone": "London"}]},
         "sites[0].timezone = 'London': 'London' is not an IANA timezone name; write e.g. "
         "'Europe/London'"),
        (site(commodity="plutonium"), "sites[0].buildings[0].meters[0].commodity = 'plutonium'"),
        (site(kind="odometer"), "'interval', 'register' or 'power'"),
        (site(interval="often"), "'often' is not a duration; write e.g. '15min' or '1h'"),
        (site(colour="red"), "meters[0].colour = 'red': unknown key; remove it"),
        ({"store": {"kind": "postgres"}}, "store.kind = 'postgres'"),
        ({"store": {"batch_size": 0}}, "store.batch_size = 0"),
        (site(parent="nope"), "parent 'nope', which is not a configured meter"),
        ({"sites": [{"id": "s", "latitude": 123}]}, "sites[0].latitude = 123"),
    ],
)
def test_bad_config_names_key_value_and_fix(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(data, "site.toml")
    assert "site.toml: invalid configuration" in str(err.value)
    assert expected in str(err.value)


def test_duplicate_meter_ids_are_rejected():
    data = site()
    data["sites"][0]["buildings"].append({"id": "b2", "meters": [{"id": "m",
                                                                   "commodity": "gas"}]})
    with pytest.raises(ConfigError, match="meter id 'm' is used twice"):
        parse_config(data)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="wattlens init"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[store\nkind=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_secrets_come_only_from_the_environment(monkeypatch):
    with pytest.raises(ConfigError, match="store.token = <hidden>: secrets never go") as err:
        parse_config({"store": {"token": "abc123"}})
    assert "abc123" not in str(err.value)
    cfg = parse_config({"store": {"kind": "influx", "token_env": "MY_TOKEN"}})
    monkeypatch.setenv("MY_TOKEN", "t0k3n")
    assert cfg.store.secret("token") == "t0k3n"
    assert "t0k3n" not in cfg.model_dump_json()


# ---------------------------------------------------------- secrets never echoed (#13, 13)
@pytest.mark.parametrize("data, secret", [
    ({"dashboard": {"login": True, "users": [{"name": "bob", "password_hash": "hunter2-pw"}]}},
     "hunter2-pw"),
    ({"sources": [{"name": "m", "type": "mqtt", "topics": ["a/#"], "password": "s3cret-pw"}]},
     "s3cret-pw"),
    ({"sources": [{"name": "m", "type": "mqtt", "token": "tok-1234"}]}, "tok-1234"),
    ({"store": {"kind": "influx", "url": "http://admin:pw-in-url@127.0.0.1:8086"}},
     "pw-in-url"),
])
def test_config_errors_show_secrets_as_hidden(data, secret):
    with pytest.raises(ConfigError) as err:
        parse_config(data, "site.toml")
    assert secret not in str(err.value)
    assert "<hidden>" in str(err.value)


def test_urls_with_credentials_are_refused_with_the_fix():
    with pytest.raises(ConfigError) as err:
        parse_config({"store": {"kind": "influx",
                                "url": "https://admin:pw-in-url@influx.example:8086/"}})
    assert ("store.url = 'https://<hidden>@influx.example:8086/': a URL must not carry a user "
            "name and password") in str(err.value)
    assert "username" in str(err.value) and "password_env" in str(err.value)
    assert "admin" not in str(err.value)
    ok = parse_config({"store": {"kind": "influx", "url": "https://influx.example:8086/",
                                 "username": "admin", "password_env": "INFLUX_PW"}})
    assert ok.store.username == "admin"


@pytest.mark.parametrize("weak", [
    "pbkdf2:sha1:1$salt$0123abcd",
    "pbkdf2:sha256:1000$salt$0123abcd",
    "pbkdf2:md5:1000000$salt$0123abcd",
    "scrypt:1024:8:1$salt$0123abcd",
    "scrypt:32768$salt$0123abcd",
    "plain-password",
])
def test_weak_password_hashes_are_refused_at_load(weak):
    users = [{"name": "bob", "password_hash": weak}]
    with pytest.raises(ConfigError, match=r"password_hash = <hidden>: .*--hash-password"):
        parse_config({"dashboard": {"login": True, "users": users}})


def test_strong_password_hashes_load():
    from werkzeug.security import generate_password_hash

    for method in ("scrypt", "pbkdf2", "pbkdf2:sha256:600000", "pbkdf2:sha512:210000"):
        users = [{"name": "bob", "password_hash": generate_password_hash("pw", method=method)}]
        parse_config({"dashboard": {"login": True, "users": users}})


def test_a_failed_webhook_delivery_log_hides_the_url(tmp_path, caplog):
    import http.server
    import threading

    import pandas as pd

    from wattlens.analytics.alerts import AlertsSection, send_alerts
    from wattlens.core.net import free_port
    from wattlens.store.duck import DuckDBStore

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "T000/B000/XXXXsecretXXXX"
    rules = [{"name": "refused", "webhook": f"http://127.0.0.1:{free_port()}/hook/{token}"},
             {"name": "missing", "webhook": f"http://127.0.0.1:{server.server_port}/h/{token}"}]
    store = DuckDBStore(tmp_path / "a.duckdb")
    store.init()
    start = pd.Timestamp("2024-01-01", tz="UTC")
    store.write_events(pd.DataFrame({
        "meter": ["m"], "start": [start], "end": [start + pd.Timedelta("1h")],
        "kind": ["spike"], "severity": [0.9], "excess_kwh": [1.0], "details": ["{}"]}))
    try:
        with caplog.at_level(logging.WARNING, logger="wattlens.analytics.alerts"):
            report = send_alerts(store, store.read_events(),
                                 AlertsSection.model_validate({"rules": rules, "timeout_s": 2}))
    finally:
        server.shutdown()
        store.close()
    assert len(report.failed) == 2
    assert caplog.text.count("alert not delivered") == 2
    assert token not in caplog.text and "<hidden>" in caplog.text
