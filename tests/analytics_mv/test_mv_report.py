"""M&V reports a third party can trust (issue #15 item 7): the PDF and HTML carry the result
JSON, render Hangul, and ``wattlens mv verify`` recomputes them from the store, names a changed
number (in the embedded JSON or on the pages) and checks the operator's Ed25519 signature."""

from __future__ import annotations

import copy
import io
import json
import re
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pypdf
import pytest
from typer.testing import CliRunner

from wattlens.cli import app
from wattlens.config import load_config
from wattlens.core.meters import MeterInfo
from wattlens.dashboard.i18n import locale_context
from wattlens.dashboard.report import read_report, render_report, report_pdf
from wattlens.store.duck import DuckDBStore

from . import synthetic

CONFIG = """
[store]
kind = "duckdb"
path = "{path}"

[[sites]]
id = "campus"
name = "시험 캠퍼스"
timezone = "Europe/London"
weather_meter = "wx"

[[sites.buildings]]
id = "main"
name = "본관"

[[sites.buildings.meters]]
id = "m1"
name = "본관 전기"
commodity = "electricity"
"""
SPEC_ARGS = ["--meter", "m1", "--baseline", "2018-01-01", "2018-12-31", "--reporting",
             "2019-01-01", "2019-12-31"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, weather: pd.DataFrame
          ) -> dict[str, Any]:
    """A store with meter m1 (10 % saving from 2019) and its outdoor temperature, its
    config, a result document written by `mv run --out` and an operator key pair."""
    folder = tmp_path_factory.mktemp("report")
    store = DuckDBStore(folder / "mv.duckdb")
    temperature = pd.DataFrame({"time": weather.index, "meter": "wx",
                                "quantity": "temperature",
                                "value": weather["temperature"].to_numpy(), "quality": "ok"})
    store.write_readings(pd.concat([synthetic.load(weather, meter="m1", saving=0.1),
                                    temperature], ignore_index=True))
    store.close()
    config = folder / "wattlens.toml"
    config.write_text(CONFIG.format(path=folder / "mv.duckdb"), encoding="utf-8")
    result = folder / "result.json"
    run = CliRunner().invoke(app, ["mv", "run", *SPEC_ARGS, "--out", str(result),
                                   "--config", str(config)])
    assert run.exit_code == 0, run.output
    key = folder / "operator.key"
    made = CliRunner().invoke(app, ["mv", "keygen", str(key)])
    assert made.exit_code == 0, made.output
    return {"folder": folder, "config": config, "result": result, "key": key,
            "doc": json.loads(result.read_text(encoding="utf-8")),
            "info": load_config(config).meter_infos()["m1"], "keygen_output": made.output}


def _cli(setup: dict[str, Any], *args: str) -> Any:
    return CliRunner().invoke(app, ["mv", *args, "--config", str(setup["config"])])


def _report(setup: dict[str, Any], name: str, *args: str) -> Path:
    out = setup["folder"] / name
    made = _cli(setup, "report", str(setup["result"]), "--out", str(out), *args)
    assert made.exit_code == 0, made.output
    return out


def test_keygen_writes_a_private_key_only_its_owner_reads(setup) -> None:
    key: Path = setup["key"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert Path(f"{key}.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    secret = "".join(key.read_text().splitlines()[1:-1])
    assert secret not in setup["keygen_output"].replace("\n", "")
    again = CliRunner().invoke(app, ["mv", "keygen", str(key)])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_the_pdf_embeds_the_result_and_renders_hangul(setup) -> None:
    pdf = _report(setup, "ko.pdf", "--lang", "ko").read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert json.loads(reader.attachments["mv-result.json"][0]) == setup["doc"]
    text = "".join(page.extract_text() for page in reader.pages)
    assert "본관 전기" in text and "시험 캠퍼스" in text  # names from the config
    assert "2018년 1월 1일" in text  # the baseline's first day, formatted by Babel for ko
    assert "39,98" in text  # the avoided energy [kWh] of the summary
    fonts = {str(font.get_object()["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    assert any("CJK" in f for f in fonts), fonts  # Hangul glyphs come from an embedded font
    assert b"<svg" not in pdf and len(reader.pages) >= 3  # the charts are drawn, not dumped


def test_the_html_report_carries_the_result_and_the_charts(setup) -> None:
    html = _report(setup, "en.html", "--html", "--lang", "en").read_text(encoding="utf-8")
    doc, signature = read_report(html.encode())
    assert doc == setup["doc"] and signature is None
    assert html.count('<svg') == 2  # baseline against actual; cumulative savings
    assert "Model and coefficients" in html and "heating_slope" in html
    assert setup["doc"]["result"]["inputs"]["readings_sha256"] in html
    assert "January 1, 2018" in html


def test_the_control_section_is_rendered_when_the_result_has_one(setup) -> None:
    doc = copy.deepcopy(setup["doc"])
    assert "Treatment against control" not in render_report(doc, setup["info"], {})
    doc["control"] = {"control": ["m2"], "savings_kwh": 1234.5, "savings_pct": 3.21}
    with locale_context("en"):
        html = render_report(doc, setup["info"], {})
    assert "Treatment against control" in html and "1,234.5" in html


def test_every_treatment_meter_of_a_project_gets_its_charts(setup) -> None:
    doc = copy.deepcopy(setup["doc"])
    doc["treatment_results"] = {"m2": {**copy.deepcopy(setup["doc"]), "meter": "m2"}}
    with locale_context("en"):
        html = render_report(doc, setup["info"], {})
    assert html.count("<svg") == 4
    assert f"Cumulative savings [kWh] · {doc['meter']}" in html
    assert "Cumulative savings [kWh] · m2" in html
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), ids  # two charts on a page never share an id


def test_verify_passes_on_an_untampered_signed_report(setup) -> None:
    pdf = _report(setup, "signed.pdf", "--sign", str(setup["key"]))
    checked = _cli(setup, "verify", str(pdf), "--public-key", f"{setup['key']}.pub")
    assert checked.exit_code == 0, checked.output
    assert "signature: valid, made with the trusted key" in checked.output
    assert "every number matches" in checked.output
    plain = _cli(setup, "verify", str(setup["result"]))  # the bare JSON verifies too
    assert plain.exit_code == 0, plain.output


def _tampered(setup: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(setup["doc"])
    doc["result"]["reporting"]["savings_kwh"] *= 1.05
    return doc


def test_verify_names_a_changed_number(setup) -> None:
    info: MeterInfo = setup["info"]
    out = setup["folder"] / "tampered.pdf"
    out.write_bytes(report_pdf(_tampered(setup), info, {}))
    checked = _cli(setup, "verify", str(out))
    assert checked.exit_code == 1
    differs = [line for line in checked.output.splitlines() if line.startswith("differs:")]
    assert len(differs) == 1 and differs[0].startswith(
        "differs: result.reporting.savings_kwh: recorded"), checked.output
    html = _report(setup, "edited.html", "--html").read_text(encoding="utf-8")
    actual = setup["doc"]["result"]["reporting"]["actual_kwh"]
    assert html.count(json.dumps(actual)) == 1  # only in the embedded JSON
    edited = setup["folder"] / "edited-after.html"
    edited.write_text(html.replace(json.dumps(actual), json.dumps(actual - 100)),
                      encoding="utf-8")
    checked = _cli(setup, "verify", str(edited))
    assert checked.exit_code == 1 and "result.reporting.actual_kwh" in checked.output


def test_a_signature_over_other_numbers_or_by_another_key_fails(setup) -> None:
    signed = _report(setup, "signed-2.pdf", "--sign", str(setup["key"]))
    doc, signature = read_report(signed.read_bytes())
    forged = setup["folder"] / "forged.pdf"
    forged.write_bytes(report_pdf(_tampered(setup), setup["info"], {}, signature))
    checked = _cli(setup, "verify", str(forged))
    assert checked.exit_code == 1
    assert "signature: INVALID" in checked.output and "altered after signing" in checked.output
    other = setup["folder"] / "other.key"
    assert CliRunner().invoke(app, ["mv", "keygen", str(other)]).exit_code == 0
    wrong = _cli(setup, "verify", str(signed), "--public-key", f"{other}.pub")
    assert wrong.exit_code == 1 and "not with the trusted key" in wrong.output
    unsigned = _cli(setup, "verify", str(setup["result"]), "--public-key", f"{other}.pub")
    assert unsigned.exit_code == 1 and "signature: none" in unsigned.output


def test_verify_names_a_number_changed_on_the_pages_only(setup) -> None:
    import weasyprint

    html = _report(setup, "shown.html", "--html").read_text(encoding="utf-8")
    shown = re.search(r"<td id='savings'>([^<]*)</td>", html)
    assert shown is not None
    edited = setup["folder"] / "shown-edited.html"
    edited.write_text(html.replace(shown.group(0), "<td id='savings'>99,999 kWh</td>"),
                      encoding="utf-8")
    checked = _cli(setup, "verify", str(edited))
    assert checked.exit_code == 1
    shown_lines = [line for line in checked.output.splitlines() if line.startswith("shown:")]
    assert len(shown_lines) == 1 and "the pages show 99,999, the embedded result gives" \
        in shown_lines[0] and "avoided" in shown_lines[0], checked.output
    assert "differs:" not in checked.output  # the embedded JSON itself is intact
    # a PDF whose pages were made from other numbers than the JSON it carries
    pages = render_report(_tampered(setup), setup["info"], {})
    pdf = setup["folder"] / "shown-edited.pdf"
    pdf.write_bytes(weasyprint.HTML(string=pages).write_pdf(attachments=[weasyprint.Attachment(
        string=json.dumps(setup["doc"]), name="mv-result.json")]))
    checked = _cli(setup, "verify", str(pdf))
    assert checked.exit_code == 1 and "shown: after" in checked.output, checked.output
    # a number outside the headline table: a month of the monthly table
    month = re.search(r"<tr><td>[^<]*</td><td>([^<]*)</td>", html)
    assert month is not None
    edited.write_text(html.replace(month.group(0), month.group(0).replace(
        f">{month.group(1)}<", ">1,234.5<")), encoding="utf-8")
    checked = _cli(setup, "verify", str(edited))
    assert checked.exit_code == 1 and "the pages show 1,234.5" in checked.output, checked.output


def test_report_of_a_stored_result_by_its_spec(setup) -> None:
    out = setup["folder"] / "stored.html"
    made = _cli(setup, "report", *SPEC_ARGS, "--out", str(out))
    assert made.exit_code == 0, made.output
    doc, _signature = read_report(out.read_bytes())
    assert doc["key"] == setup["doc"]["key"]  # the document `mv run` stored
    neither = _cli(setup, "report", "--out", str(out))
    assert neither.exit_code == 2 and "give a result file" in neither.output
