"""The wattlens command line: --help everywhere, import/export round trip, demo summary."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.config import load_config
from wattlens.store.duck import DuckDBStore

runner = CliRunner()


def all_commands(command, path: tuple[str, ...] = ()):
    yield path
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from all_commands(sub, (*path, name))


@pytest.mark.parametrize("path", list(all_commands(get_command(app))), ids=lambda p: " ".join(p) or "wattlens")
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_writes_a_config_that_loads(workdir):
    assert runner.invoke(app, ["init", "site.toml"]).exit_code == 0
    again = runner.invoke(app, ["init", "site.toml"])
    assert again.exit_code == 2 and "--force" in again.output
    assert load_config(workdir / "site.toml").sites


def test_import_export_round_trip(workdir):
    Path("in.csv").write_text(
        "time,meter,value,quantity\n"
        "2019-03-31T00:30:00+00:00,b 1,1.5,energy\n"
        "2019-03-31T02:30:00+01:00,b 1,2.0,energy\n"
        "2019-03-31T03:00:00Z,b 1,0,energy\n"
        "2019-03-31T03:00:00Z,t,7.5,temperature\n"
    )
    result = runner.invoke(app, ["import", "readings", "in.csv", "--missing-zero"])
    assert result.exit_code == 0, result.output
    assert "imported 3 readings of 2 meters" in result.output
    result = runner.invoke(app, ["export", "readings", "out.csv", "--meter", "b 1"])
    assert result.exit_code == 0, result.output
    out = pd.read_csv("out.csv")
    assert out["time"].tolist() == ["2019-03-31T00:30:00Z", "2019-03-31T01:30:00Z"]
    assert out["value"].tolist() == [1.5, 2.0]


def test_bad_import_writes_nothing_and_says_why(workdir):
    Path("bad.csv").write_text("time,meter,value\n2019-01-01T00:00:00Z,m,1\n2019-01-01 01:00,m,2\n")
    result = runner.invoke(app, ["import", "readings", "bad.csv"])
    assert result.exit_code == 2
    assert "without a timezone" in result.output and "nothing was written" in result.output
    assert runner.invoke(app, ["export", "readings", "out.csv"]).exit_code == 0
    assert pd.read_csv("out.csv").empty


def test_bad_config_is_reported_not_raised(workdir):
    Path("wattlens.toml").write_text('[store]\nkind = "mongo"\n')
    result = runner.invoke(app, ["store", "init"])
    assert result.exit_code == 2 and "store.kind = 'mongo'" in result.output


def test_demo_loads_the_sample_shifted_to_now_and_prints_a_summary(workdir):
    env = {**os.environ, "COLUMNS": "160"}
    done = subprocess.run([sys.executable, "-m", "wattlens", "demo", "--no-serve"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "so its history ends now" in done.stdout
    assert "readings written to data/demo/wattlens.duckdb" in done.stdout
    assert "job day-ahead@Europe/London ok" in done.stderr  # prophet, as issued at start
    assert "forecasts_issued 6, forecasts_failed 0" in done.stderr
    assert "anomalies:" in done.stdout and "job recommend ok" in done.stderr
    store = DuckDBStore(workdir / "data/demo/wattlens.duckdb")
    newest = store.latest()["time"].max()
    store.close()
    now = pd.Timestamp.now(tz="UTC")
    assert now - pd.Timedelta("3min") < newest < now  # history ends now (1-min readings)
