"""Golden cases: every ``tests/data/<source>/<case>/`` holds a raw payload, its source config
(``source.toml``), the expected readings (``expected.csv``) and the expected rejections
(``rejected.txt``: one reason fragment per line, in order)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from wattlens.config import parse_config
from wattlens.ingest.base import build_source
from wattlens.store.csvio import read_readings_csv
from wattlens.store.schema import validate_readings

DATA = Path(__file__).resolve().parents[1] / "data"
CASES = sorted(
    case for kind in ("files", "greenbutton", "weather")
    for case in (DATA / kind).iterdir() if (case / "source.toml").exists()
)


def run_case(case: Path, server_url: str) -> tuple[pd.DataFrame, list]:
    """Run the case's source over its payload; readings and rejections of all batches."""
    table = tomllib.loads((case / "source.toml").read_text())
    window = table.pop("test", {})
    table = {"name": case.name, **table}
    if table["type"] == "weather" and table.get("mode", "archive") != "file":
        table["archive_url"] = f"{server_url}/v1/archive"
        table["forecast_url"] = f"{server_url}/v1/forecast"
    else:
        table["root"] = str(case)
    config = parse_config({"sources": [table]})
    source = build_source(config.sources[0], config.ingest_context())
    end = pd.Timestamp(window["end"]) if "end" in window else None
    batches = list(source.fetch(None, None, end))
    source.close()
    readings = pd.concat([b.readings for b in batches], ignore_index=True)
    return validate_readings(readings), [r for b in batches for r in b.rejected]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_golden_case(case: Path, open_meteo) -> None:
    if (case / "response.json").exists():
        open_meteo.body = (case / "response.json").read_text()
    readings, rejected = run_case(case, open_meteo.url(""))
    expected = read_readings_csv(case / "expected.csv")
    pd.testing.assert_frame_equal(readings, expected, check_exact=False, rtol=1e-9)
    fragments = [line for line in (case / "rejected.txt").read_text().splitlines() if line]
    reasons = [r.reason for r in rejected]
    assert len(reasons) == len(fragments), reasons
    for fragment, reason in zip(fragments, reasons, strict=True):
        assert fragment in reason
    assert all(r.source == case.name and r.record for r in rejected)


def test_every_source_type_has_golden_cases() -> None:
    assert {c.parent.name for c in CASES} == {"files", "greenbutton", "weather"}
