"""A wrong config file fails with the key, the value and the fix."""


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
