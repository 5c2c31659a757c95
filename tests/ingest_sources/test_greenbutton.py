"""Green Button edge cases beyond the golden files: several files, the meter template, the
backfill command's exit code and water volumes through to the store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.config import ConfigError, parse_config
from wattlens.ingest.sources.greenbutton import GreenButtonSource

CASES = Path(__file__).resolve().parents[1] / "data" / "greenbutton"


def test_malformed_xml_is_rejected_and_other_files_kept(tmp_path: Path) -> None:
    good = CASES / "electricity_delta" / "usage.xml"
    (tmp_path / "a.xml").write_bytes(good.read_bytes())
    (tmp_path / "b.xml").write_bytes(good.read_bytes()[:900])  # truncated
    source = GreenButtonSource("gb", GreenButtonSource.Options(root=tmp_path))
    batches = list(source.fetch(None))
    assert len(batches[0].readings) == 3
    (bad,) = batches[1].rejected
    assert "b.xml" in bad.record and "not well-formed XML" in bad.reason
    assert list(source.fetch(batches[-1].checkpoint)) == []


def test_default_template_names_usage_point_and_meter_reading() -> None:
    options = GreenButtonSource.Options(root=CASES / "meter_reading_ids_repeat")
    (batch,) = list(GreenButtonSource("gb", options).fetch(None))
    assert sorted(set(batch.readings["meter"])) == ["gb-1-1", "gb-2-1"]


@pytest.mark.parametrize("template", ["gb-{usage_point}-{meter}", "gb-{0}", "gb-{}"])
def test_unknown_template_placeholders_are_refused_by_name(template: str) -> None:
    with pytest.raises(ConfigError, match="placeholders are"):
        parse_config({"sources": [{"name": "gb", "type": "greenbutton", "meter": template}]})


def _write_config(workdir: Path, case: str, **options: str) -> None:
    extra = "".join(f'{k} = "{v}"\n' for k, v in options.items())
    (workdir / "wattlens.toml").write_text(
        f'[[sources]]\nname = "utility"\ntype = "greenbutton"\nroot = "{CASES / case}"\n'
        f'glob = "*.xml"\n{extra}')


def test_backfill_that_rejected_every_file_exits_non_zero(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write_config(tmp_path, "connect_api_no_reading_type")
    result = CliRunner().invoke(app, ["ingest", "backfill", "utility", "--start",
                                      "2024-01-01T00:00Z", "--end", "2024-01-02T00:00Z"])
    assert result.exit_code == 1, result.output
    assert "backfilled 0 readings" in result.output and "rejected" in result.output


def test_backfill_with_nothing_in_range_and_nothing_rejected_exits_zero(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write_config(tmp_path, "gas_bulk")
    result = CliRunner().invoke(app, ["ingest", "backfill", "utility", "--start",
                                      "2020-01-01T00:00Z", "--end", "2020-01-02T00:00Z"])
    assert result.exit_code == 0, result.output
    assert "backfilled 0 readings" in result.output


def test_water_volume_is_stored_and_exported_as_m3(tmp_path: Path, monkeypatch) -> None:
    """Water and gas volumes of one file through backfill into the embedded store and out."""
    monkeypatch.chdir(tmp_path)
    _write_config(tmp_path, "water_and_gas_volumes", meter="{commodity}-{usage_point}")
    with open(tmp_path / "wattlens.toml", "a") as config:
        config.write("kwh_per_unit = 11.2\n")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "backfill", "utility", "--start",
                                 "2024-01-01T00:00Z", "--end", "2024-01-02T00:00Z"])
    assert result.exit_code == 0, result.output
    assert "backfilled 6 readings" in result.output
    result = runner.invoke(app, ["export", "readings", "water.csv", "--meter", "water-8",
                                 "--quantity", "volume"])
    assert result.exit_code == 0, result.output
    water = pd.read_csv(tmp_path / "water.csv")
    assert water["quantity"].unique().tolist() == ["volume"]
    assert water["value"].round(9).tolist() == [0.12, 0.0, 0.045]
