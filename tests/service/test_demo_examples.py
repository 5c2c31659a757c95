"""The shipped operations examples stay true: the commented ``[jobs]`` block of the example
config is the defaults, the compose file and its config agree, the systemd unit runs
``wattlens run``. (Neither the compose file nor the unit is started here: no container
runtime or systemd in the test environment.)"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import yaml

from wattlens.config import load_config
from wattlens.service.settings import JobsSection

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_the_commented_jobs_block_of_the_example_config_is_the_defaults() -> None:
    text = (ROOT / "wattlens" / "wattlens.example.toml").read_text(encoding="utf-8")
    block = text[text.index("# [jobs]\n"):]
    block = block[:block.index("\n\n")]
    body = "\n".join(line[2:] for line in block.splitlines())
    assert JobsSection.model_validate(tomllib.loads(body)["jobs"]) == JobsSection()


def test_compose_file_runs_wattlens_on_its_influxdb() -> None:
    compose = yaml.safe_load((EXAMPLES / "compose.yaml").read_text(encoding="utf-8"))
    influx, app = compose["services"]["influxdb"], compose["services"]["wattlens"]
    assert app["command"][:2] == ["wattlens", "run"]
    assert app["depends_on"]["influxdb"]["condition"] == "service_healthy"
    mounted = {v.split(":")[1]: v.split(":")[0] for v in app["volumes"] if v.startswith("./")}
    config = load_config(EXAMPLES / mounted[app["command"][app["command"].index("--config") + 1]])
    env = influx["environment"]
    assert config.store.kind == "influx" and config.store.url == "http://influxdb:8086"
    assert config.store.database == env["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert config.store.org == env["DOCKER_INFLUXDB_INIT_ORG"]
    assert config.store.token_env in app["environment"]
    assert f"127.0.0.1:{config.dashboard.port}:{config.dashboard.port}" in app["ports"]


def test_systemd_unit_runs_wattlens_run_and_stops_with_sigterm() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(EXAMPLES / "wattlens.service", encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].split()[1:3] == ["run", "--config"]
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) > 10
    assert unit["Install"]["WantedBy"] == "multi-user.target"
