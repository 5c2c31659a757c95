"""``wattlens mv create|list|show|run`` and ``mv verify`` on a project, over a real DuckDB
store and a config file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from wattlens.analytics.projects import PROJECT_KIND, PROJECT_RESULT_KIND
from wattlens.cli import app
from wattlens.store.duck import DuckDBStore

from . import synthetic

CONFIG = """
[store]
kind = "duckdb"
path = "{path}"

[[sites]]
id = "lab"
timezone = "Europe/London"
weather_meter = "wx"

[[sites.buildings]]
id = "acme"

[[sites.buildings.meters]]
id = "t1"
commodity = "electricity"

[[sites.buildings.meters]]
id = "c1"
commodity = "electricity"
"""


def _cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_create_list_run_show_and_verify_a_project(tmp_path: Path, weather) -> None:
    path = tmp_path / "w.duckdb"
    store = DuckDBStore(path)
    temperature = pd.DataFrame({"time": weather.index, "meter": "wx", "quantity": "temperature",
                                "value": weather["temperature"].to_numpy(), "quality": "ok"})
    store.write_readings(pd.concat([synthetic.load(weather, "t1", saving=0.1, seed=2),
                                    synthetic.load(weather, "c1", seed=3), temperature]))
    store.close()
    config = tmp_path / "wattlens.toml"
    config.write_text(CONFIG.format(path=path), encoding="utf-8")
    created = _cli("mv", "create", "Acme heat pump", "--treatment", "t1", "--control", "c1",
                   "--baseline", "2018-01-01", "2018-12-31", "--reporting", "2019-01-01",
                   "2019-12-31", "--non-routine", "2019-02-01,2019-02-03,roof works",
                   "--adjustment", "-120,extra pump metered", "--owner", "user:acme",
                   "-c", config)
    assert created.exit_code == 0, created.output
    pid = created.stdout.strip().splitlines()[-1]
    assert pid.startswith("acme-heat-pump-")
    listed = _cli("mv", "list", "-c", config)
    assert listed.exit_code == 0 and pid in listed.output and "draft" in listed.output
    before = _cli("mv", "show", pid, "-c", config)
    assert before.exit_code == 0 and "not run yet" in before.output
    early = _cli("mv", "report", "--project", pid, "-c", config)
    assert early.exit_code == 2 and f"`wattlens mv run {pid}` first" in early.output
    ran = _cli("mv", "run", pid, "-c", config)
    assert ran.exit_code == 0, ran.output
    assert "difference in differences" in ran.output and "placebo: control c1" in ran.output
    out = tmp_path / "result.json"
    shown = _cli("mv", "show", pid, "--out", out, "-c", config)
    assert shown.exit_code == 0, shown.output
    assert '"status": "done"' in shown.output and "roof works" in shown.output
    assert "single meter" in shown.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["comparison"]["single_meter"]["adjustments_kwh"] == -120
    assert _cli("mv", "verify", out, "-c", config).exit_code == 0
    report = tmp_path / "report.html"
    written = _cli("mv", "report", "--project", pid, "--out", report, "-c", config)
    assert written.exit_code == 0 and "wrote" in written.output, written.output
    assert _cli("mv", "verify", report, "-c", config).exit_code == 0
    doc["control"]["did"]["savings_pct"] += 0.5
    out.write_text(json.dumps(doc), encoding="utf-8")
    tampered = _cli("mv", "verify", out, "-c", config)
    assert tampered.exit_code == 1 and "control.did.savings_pct" in tampered.output
    both = _cli("mv", "run", pid, "--meter", "t1", "-c", config)
    assert both.exit_code == 2 and "not both" in both.output
    unknown = _cli("mv", "create", "x", "--treatment", "nope", "--baseline", "2018-01-01",
                   "2018-12-31", "--reporting", "2019-01-01", "2019-12-31", "-c", config)
    assert unknown.exit_code == 2 and "no meter 'nope'" in unknown.output
    store = DuckDBStore(path)
    assert list(store.list_documents(PROJECT_KIND)) == [pid]
    assert list(store.list_documents(PROJECT_RESULT_KIND)) == [pid]
    store.close()
