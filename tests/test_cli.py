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


def test_demo_loads_the_sample_and_prints_a_summary(workdir):
    env = {**os.environ, "COLUMNS": "160"}
    done = subprocess.run([sys.executable, "-m", "wattlens", "demo", "--no-serve"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "b2-elec" in done.stdout and "bedford-weather" in done.stdout
    assert "loaded 146,064 readings of 7 meters" in done.stdout  # history before the replay
    assert "forecasts: prophet issued for 6/6 meters" in done.stdout
    assert "anomalies:" in done.stdout and "recommendations:" in done.stdout


def _config(path: Path, db: Path) -> Path:
    path.write_text(f'data_dir = "{path.parent / "data"}"\n[store]\nkind = "duckdb"\n'
                    f'path = "{db}"\n')
    return path


def test_config_before_the_command_works_like_after_it(workdir):
    """Issue #13 item 19: `wattlens --config FILE <command>`."""
    before = _config(workdir / "a.toml", workdir / "a.duckdb")
    result = runner.invoke(app, ["--config", str(before), "store", "init"])
    assert result.exit_code == 0, result.output
    assert (workdir / "a.duckdb").exists()
    after = _config(workdir / "b.toml", workdir / "b.duckdb")
    result = runner.invoke(app, ["-c", str(before), "store", "init", "--config", str(after)])
    assert result.exit_code == 0 and (workdir / "b.duckdb").exists()  # the command's own wins


def test_rich_markup_never_eats_text(workdir):
    """Issue #13 item 19: square brackets in data and messages are printed as they are."""
    from wattlens.store.duck import DuckDBStore

    cfg = _config(workdir / "w.toml", workdir / "w.duckdb")
    store = DuckDBStore(workdir / "w.duckdb")
    store.init()
    store.write_readings(pd.DataFrame({"time": [pd.Timestamp("2019-01-01", tz="UTC")],
                                       "meter": ["[b]1"], "value": [1.0]}))
    store.put_document("ingest-status", "src", {
        "type": "files", "last_error": "locked; point [store] path elsewhere"})
    store.close()
    result = runner.invoke(app, ["store", "meters", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert "[b]1" in result.output, result.output
    result = runner.invoke(app, ["ingest", "status", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert "point [store] path elsewhere" in result.output, result.output


@pytest.mark.parametrize("path", [(), ("import", "readings"), ("ingest", "run")],
                         ids=lambda p: " ".join(p) or "wattlens")
def test_help_is_readable_at_80_columns(path):
    done = subprocess.run([sys.executable, "-m", "wattlens", *path, "--help"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "80", "TERM": "dumb"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = " ".join(" ".join(line.strip("│ ").split()) for line in lines)
    if not path:  # one line per command: no line break inside a description
        commands = lines[lines.index("Commands:") + 1:]
        assert [line.split()[0] for line in commands if line.strip()][:2] == ["recommend",
                                                                               "savings"]
    if path == ("import", "readings"):
        assert "time,meter,value[,quantity]" in text  # brackets are not markup
