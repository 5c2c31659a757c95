"""The wattlens command line: --help everywhere, import/export round trip, demo summary."""

import json
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
    exported = runner.invoke(app, ["export", "readings", "out.csv"])
    assert exported.exit_code == 2
    assert "the store has no energy readings" in " ".join(exported.output.split())


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


def _import(*args: str, env: dict | None = None):
    return runner.invoke(app, ["import", "readings", *args], env={"COLUMNS": "200", **(env or {})})


def _exported(workdir) -> pd.DataFrame:
    assert runner.invoke(app, ["export", "readings", "out.csv"]).exit_code == 0
    return pd.read_csv(workdir / "out.csv")


def test_local_times_are_read_with_tz_and_dst_hours_reported(workdir):
    """Issue #13 item 15: --tz for times without an offset, DST-correct."""
    Path("local.csv").write_text(
        "time,meter,value\n2019-10-27 00:30,m,1\n2019-10-27 01:30,m,2\n2019-10-27 01:30,m,3\n"
        "2019-10-27 02:30,m,4\n")
    result = _import("local.csv", "--tz", "Europe/London")
    assert result.exit_code == 0, result.output
    out = _exported(workdir)
    assert out["time"].tolist() == ["2019-10-26T23:30:00Z", "2019-10-27T00:30:00Z",
                                    "2019-10-27T01:30:00Z", "2019-10-27T02:30:00Z"]
    Path("gap.csv").write_text("time,meter,value\n2019-03-31 00:30,g,1\n2019-03-31 01:30,g,2\n")
    result = _import("gap.csv", "--tz", "Europe/London")
    assert result.exit_code == 2
    assert "line 3" in result.output and "does not exist in Europe/London" in result.output
    result = _import("local.csv")  # without --tz: refused, and told how
    assert result.exit_code == 2 and "--tz" in result.output


def test_day_first_dates_need_a_format(workdir):
    """Issue #13 item 16: 01/02/2018 is never guessed US-style."""
    Path("uk.csv").write_text("time,meter,value\n01/02/2018 00:00,m,1\n")
    result = _import("uk.csv", "--tz", "Europe/London")
    assert result.exit_code == 2 and "01/02/2018" in result.output
    assert "--time-format" in result.output or "time_format" in result.output
    result = _import("uk.csv", "--tz", "Europe/London", "--time-format", "%d/%m/%Y %H:%M")
    assert result.exit_code == 0, result.output
    assert _exported(workdir)["time"].tolist() == ["2018-02-01T00:00:00Z"]


def test_semicolons_decimal_commas_blanks_and_spaces(workdir):
    """Issue #13 items 15 and 18: files as spreadsheets export them."""
    Path("eu.csv").write_text("time ; meter ; value\n2019-01-01T00:00Z; b1 ;1,5\n"
                              "2019-01-01T01:00Z;b1;\n2019-01-01T02:00Z;b1;2,25\n"
                              "2019-01-01T03:00Z;b1;\n")
    result = _import("eu.csv")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "';'-separated" in text and "decimal commas" in text
    assert "2 blank values read as missing readings (lines 3, 5)" in text
    out = _exported(workdir)
    assert out["meter"].tolist() == ["b1", "b1"] and out["value"].tolist() == [1.5, 2.25]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty (0 bytes)"),
    (b"time,meter,value\n", "has a header but no data rows"),
    ("time,meter,value\n2019-01-01T00:00Z,m,1\n".encode("utf-16"), "the file is UTF-16"),
    (b"time,meter,value\n2019-01-01T00:00Z,caf\xe9,1\n", "not UTF-8 text"),
], ids=["empty", "header-only", "utf-16", "latin-1"])
def test_unreadable_files_are_one_line_errors(workdir, content: bytes, message: str):
    Path("f.csv").write_bytes(content)
    result = _import("f.csv")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert result.output.count("\n") <= 2, result.output  # the error and "nothing written"


def test_unknown_meter_ids_are_warned_about(workdir):
    """Issue #13 item 18: a typo in a meter id does not silently vanish."""
    Path("wattlens.toml").write_text(
        'data_dir = "data"\n[store]\nkind = "duckdb"\npath = "w.duckdb"\n[[sites]]\nid = "s"\n'
        '[[sites.buildings]]\nid = "b"\n[[sites.buildings.meters]]\nid = "b1-elec"\n'
        'commodity = "electricity"\n')
    Path("in.csv").write_text("time,meter,value\n2019-01-01T00:00Z,b1-elec ,1\n"
                              "2019-01-01T00:00Z,b1-elce,2\n")
    result = _import("in.csv")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "1 meter ids are not in the config" in text and "'b1-elce' (did you mean 'b1-elec'?)" in text


def test_import_streams_in_chunks_with_the_same_result(workdir, monkeypatch):
    """Issue #13 item 20: chunked reading gives what reading whole gives, duplicates across
    chunks are still refused, and line numbers stay right."""
    from wattlens.store.csvio import read_readings_chunks, read_readings_csv
    from wattlens.store.schema import ContractError

    times = pd.date_range("2019-01-01", periods=50, freq="h", tz="UTC")
    Path("big.csv").write_text("time,meter,value\n" + "".join(
        f"{t:%Y-%m-%dT%H:%M:%SZ},m,{i}\n" for i, t in enumerate(times)))
    chunks = [c.readings for c in read_readings_chunks("big.csv", chunk_rows=7)]
    assert len(chunks) == 9  # 8 chunks of rows and the closing one with the warnings
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True),
                                  read_readings_csv("big.csv"))
    with Path("big.csv").open("a") as handle:
        handle.write("2019-01-01T00:00:00Z,m,99\nnot a time,m,1\n")
    with pytest.raises(ContractError, match="lines 51-53"):
        list(read_readings_chunks("big.csv", chunk_rows=7))
    Path("dup.csv").write_text(Path("big.csv").read_text().rsplit("not a time", 1)[0])
    monkeypatch.setattr("wattlens.store.csvio.CHUNK_ROWS", 7)  # the duplicates in two chunks
    result = _import("dup.csv")
    assert result.exit_code == 2 and "appear more than once" in result.output


def test_export_weather_writes_the_file_the_other_commands_take(workdir):
    """Issue #13 item 18."""
    from wattlens.store.csvio import read_weather_csv

    Path("wx.csv").write_text(
        "time,meter,value,quantity\n2019-01-01T00:00Z,st-weather,4.5,temperature\n"
        "2019-01-01T00:00Z,st-weather,80,humidity\n2019-01-01T01:00Z,st-weather,4.0,temperature\n"
        "2019-01-01T01:00Z,st-weather,82,humidity\n2019-01-01T00:00Z,b1,3,energy\n")
    assert _import("wx.csv").exit_code == 0
    result = runner.invoke(app, ["export", "weather", "w.csv", "--meter", "st-weather"])
    assert result.exit_code == 0, result.output
    assert Path("w.csv").read_text().splitlines()[0] == "time,temperature,humidity"
    wide = read_weather_csv("w.csv")
    assert wide["temperature"].tolist() == [4.5, 4.0] and wide["humidity"].tolist() == [80, 82]
    result = runner.invoke(app, ["export", "weather", "w2.csv", "--meter", "b1"])
    assert result.exit_code == 2 and "no temperature readings" in result.output


def test_an_export_of_nothing_fails_naming_the_data_there_is(workdir):
    """Issue #13 item 17: a command that did nothing says so and exits non-zero."""
    Path("in.csv").write_text("time,meter,value\n2019-01-01T00:00Z,b1,1\n2019-03-01T00:00Z,b1,2\n")
    assert _import("in.csv").exit_code == 0
    result = runner.invoke(app, ["export", "readings", "out.csv", "--start", "2024-01-01T00:00Z"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 2 and not Path("out.csv").exists()
    assert "b1 2019-01-01..2019-03-01" in " ".join(result.output.split()), result.output


def test_forecast_run_on_old_data_names_the_date_to_use(workdir):
    """Issue #13 item 17: `forecast run` without --at on data that ended long ago."""
    Path("in.csv").write_text("time,meter,value\n2019-06-30T22:00Z,b1,1\n2019-06-30T23:00Z,b1,2\n")
    assert _import("in.csv").exit_code == 0
    result = runner.invoke(app, ["forecast", "run"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "end at 2019-06-30 23:00 UTC" in text and "--at 2019-07-01T00:00Z" in text


def test_savings_dates_are_never_guessed_and_the_periods_are_echoed(workdir):
    """Issue #13 item 16: 01/02/2018 needs --date-format; the JSON says which periods were
    used (UTC)."""
    from tests.analytics_mv import synthetic
    from wattlens.store.csvio import write_readings_csv

    weather = synthetic.temperature()
    write_readings_csv(synthetic.load(weather, meter="b1-elec", saving=0.1), "r.csv")
    weather.rename_axis("time").reset_index().assign(
        time=lambda f: f["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv("w.csv", index=False)
    args = ["savings", "--readings", "r.csv", "--weather", "w.csv", "--meter", "b1-elec",
            "--out", "out.json", "--tz", "Europe/London", "--model", "caltrack-daily",
            "--baseline", "01/01/2018", "01/01/2019", "--reporting", "15/01/2019", "01/01/2020"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "--date-format" in result.output
    assert not Path("out.json").exists()
    result = runner.invoke(app, [*args, "--date-format", "%d/%m/%Y"])
    assert result.exit_code == 0, result.output
    data = json.loads(Path("out.json").read_text())
    assert data["timezone"] == "Europe/London"
    assert data["periods"]["baseline"] == ["2018-01-01T00:00:00+00:00",
                                           "2019-01-01T00:00:00+00:00"]
    assert data["periods"]["reporting"] == ["2019-01-15T00:00:00+00:00",
                                            "2020-01-01T00:00:00+00:00"]
    assert "[caltrack-daily, daily]" in result.output  # not eaten as markup
