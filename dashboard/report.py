"""The M&V report, HTML or PDF, rendered from the result document of
:func:`wattlens.analytics.mv.mv_job`: periods, the baseline-against-actual and cumulative-savings
charts, the model and its coefficients, data sufficiency, non-routine events, the uncertainty,
treatment against control (when the result has a ``control`` section), the SHA-256 of the
input data and the software versions.

Each report carries the result document itself, so ``wattlens mv verify REPORT`` can recompute
it from the store: the HTML in ``<script type="application/json" id="mv-result">``, the PDF as
the embedded file ``mv-result.json``. A report may be signed (Ed25519) over the canonical JSON
of that document (:func:`canonical_json`); the signature travels beside it
(``id="mv-signature"`` / ``mv-signature.json``).

:func:`summary_rows` formats the headline numbers once; the Savings page and the report both
show these rows, so what is downloaded is exactly what was shown. Text goes through ``_()``
and numbers and dates through Babel in the current locale: render inside
:func:`wattlens.dashboard.i18n.locale_context` for Korean or English.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import unicodedata
from difflib import SequenceMatcher
from html import escape, unescape
from typing import TYPE_CHECKING, Any

import pandas as pd
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask_babel import get_locale

from wattlens.analytics.mv import frame_of
from wattlens.core.meters import MeterInfo
from wattlens.dashboard.i18n import _, locale_context

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RESULT_ID = "mv-result"
"""Id of the HTML script element, and stem of the PDF attachment, holding the result JSON."""
SIGNATURE_ID = "mv-signature"
"""Id of the HTML script element, and stem of the PDF attachment, holding the signature."""

COLOURS = {"baseline": "#8c959f", "actual": "#0969da", "savings": "#1a7f37"}


class ReportError(ValueError):
    """A report that cannot be read (no embedded result, broken JSON or signature)."""


# ---- formatting ----------------------------------------------------------------------------


def _locale() -> str:
    """The current locale (``en`` outside any locale context)."""
    return str(get_locale() or "en")


def _num(value: Any, unit: str = "", digits: int = 1) -> str:
    """``value`` with ``digits`` decimals and group separators in the current locale."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    text = format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0",
                          locale=_locale())
    return f"{text} {unit}".strip()


def _plain(value: Any) -> str:
    """Any JSON value of a result as text (floats with up to 6 decimals)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float):
        return format_decimal(value, format="#,##0.######", locale=_locale())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "–"
    return str(value)


def _span(period: list[str] | None) -> str:
    """A local-date period [first, last] as text."""
    if not period:
        return _("none")
    return _("{start} to {end}").format(start=period[0], end=period[1])


def _long_date(iso: str) -> str:
    return format_date(pd.Timestamp(iso).date(), format="long", locale=_locale())


def warning_text(warning: str | dict[str, Any]) -> str:
    """A result warning as text (plain text, or a DataWarning's ``to_dict()``)."""
    return warning if isinstance(warning, str) else str(warning.get("message", warning))


def summary_rows(project: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(slug, label, formatted value) of every headline number of an M&V project."""
    base = project["result"].get("baseline", {})
    rep = project["result"].get("reporting", {})
    interval = rep.get("savings_interval_kwh") or [None, None]
    g14 = base.get("g14_pass")
    conf = format_decimal(project["confidence"] * 100, format="0.#", locale=_locale()) + " %"
    return [
        ("meter", _("meter"), project["meter"]),
        ("model", _("baseline model"), project["model"]),
        ("baseline-period", _("baseline period"), _span(project["periods"]["baseline"])),
        ("blackout-period", _("blackout period"), _span(project["periods"]["blackout"])),
        ("reporting-period", _("reporting period"), _span(project["periods"]["reporting"])),
        ("cv-rmse", _("baseline CV(RMSE)"), _num(base.get("cv_rmse_pct"), "%")),
        ("nmbe", _("baseline NMBE"), _num(base.get("nmbe_pct"), "%", 2)),
        ("r2", _("baseline R²"), _num(base.get("r2"), "", 3)),
        ("g14", _("ASHRAE Guideline 14"),
         {True: _("pass"), False: _("fail"), None: "–"}[None if g14 is None else bool(g14)]),
        ("actual", _("actual energy"), _num(rep.get("actual_kwh"), "kWh", 0)),
        ("baseline", _("adjusted baseline"), _num(rep.get("adjusted_baseline_kwh"), "kWh", 0)),
        ("savings", _("avoided energy"), _num(rep.get("savings_kwh"), "kWh", 0)),
        ("savings-pct", _("savings"), _num(rep.get("savings_pct"), "%", 2)),
        ("fsu", _("fractional savings uncertainty ({confidence})").format(confidence=conf),
         _num(rep.get("fsu_pct"), "%")),
        ("interval", _("savings interval ({confidence})").format(confidence=conf),
         f"{_num(interval[0], '', 0)} – {_num(interval[1], 'kWh', 0)}"),
        ("hash", _("input data SHA-256"), project["data_sha256"]),
    ]


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested JSON object as (dotted key, leaf value) rows."""
    if isinstance(value, dict):
        return [row for key, sub in value.items() for row in _flat(sub, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), value)]


def _table(rows: list[tuple[str, Any]], element_id: str) -> str:
    """Rows of (label, JSON value) as an HTML table."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(_plain(value))}</td></tr>"
                   for label, value in rows)
    return f"<table id=\"{element_id}\">{body}</table>"


# ---- charts --------------------------------------------------------------------------------


def _svg(figure: Figure, prefix: str) -> str:
    """A figure as inline SVG (no XML prolog), scaled to the page width, its element ids
    prefixed with ``prefix`` (two charts on a page must not share ids)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'(id="|href="#|url\(#)', rf"\g<1>{prefix}-", text)
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="chart"', text,
                  count=1)


def _axes() -> tuple[Figure, Axes]:
    """A new page-wide chart: local dates on x (months), kWh on y."""
    from matplotlib.dates import AutoDateLocator, DateFormatter  # heavy; only reports draw
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 2.8))
    ax = figure.add_subplot()
    ax.grid(True, color="#eaeef2")
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(AutoDateLocator(maxticks=8))
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m"))
    ax.set_ylabel("kWh")
    return figure, ax


def _naive(times: pd.Series, tz: str) -> Any:
    """UTC times as naive local times (matplotlib's dates)."""
    return times.dt.tz_convert(tz).dt.tz_localize(None).to_numpy()


def baseline_chart(series: pd.DataFrame, tz: str, prefix: str = "baseline") -> str:
    """Adjusted baseline against actual energy per observation [kWh] as SVG (the legend
    is the page's, so its words are translated; ``prefix`` of its element ids)."""
    figure, ax = _axes()
    times = _naive(series["time"], tz)
    ax.plot(times, series["baseline"], color=COLOURS["baseline"], linewidth=1)
    ax.plot(times, series["actual"], color=COLOURS["actual"], linewidth=1)
    return _svg(figure, prefix)


def cumulative_chart(cumulative: pd.DataFrame, tz: str, prefix: str = "cumulative") -> str:
    """Cumulative savings [kWh] with its uncertainty band as SVG (``prefix`` of its element
    ids)."""
    figure, ax = _axes()
    times = _naive(cumulative["time"], tz)
    ax.fill_between(times, cumulative["lower"], cumulative["upper"], color=COLOURS["savings"],
                    alpha=0.2, linewidth=0)
    ax.plot(times, cumulative["cumulative"], color=COLOURS["savings"], linewidth=1.5)
    ax.axhline(0, color="#57606a", linewidth=0.8)
    return _svg(figure, prefix)


def _legend(*items: tuple[str, str]) -> str:
    return "<p class=\"legend\">" + "".join(
        f"<span><i style=\"background:{colour}\"></i>{escape(label)}</span>"
        for label, colour in items) + "</p>"


# ---- signing -------------------------------------------------------------------------------


def canonical_json(doc: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the result document as JSON with sorted keys, no
    whitespace, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def sign_result(doc: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """An Ed25519 signature of ``doc`` (:func:`canonical_json`) with its public key."""
    public = key.public_key()
    return {
        "algorithm": "Ed25519",
        "signed": "canonical JSON of the embedded result: keys sorted, no whitespace, UTF-8",
        "public_key": base64.b64encode(public.public_bytes(Encoding.Raw,
                                                           PublicFormat.Raw)).decode(),
        "fingerprint": key_fingerprint(public),
        "signature": base64.b64encode(key.sign(canonical_json(doc))).decode(),
    }


def check_signature(doc: dict[str, Any], signature: dict[str, Any],
                    trusted: Ed25519PublicKey | None = None) -> str | None:
    """Why ``signature`` does not prove ``doc`` came unaltered from the holder of ``trusted``
    (default: the key recorded in the signature, which proves integrity only), or None when
    it does."""
    try:
        recorded = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
        raw = base64.b64decode(signature["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        return f"the signature block cannot be read ({exc})"
    if signature.get("algorithm") != "Ed25519":
        return f"unknown signature algorithm {signature.get('algorithm')!r} (Ed25519 expected)"
    key = trusted or recorded
    if trusted is not None and key_fingerprint(trusted) != key_fingerprint(recorded):
        return (f"signed with key {key_fingerprint(recorded)}, not with the trusted key "
                f"{key_fingerprint(trusted)}")
    try:
        key.verify(raw, canonical_json(doc))
    except InvalidSignature:
        return (f"the signature of key {key_fingerprint(key)} does not match the embedded "
                f"result: the report was altered after signing")
    return None


# ---- the report ----------------------------------------------------------------------------


def _script(element_id: str, value: Any) -> str:
    """``value`` as JSON in a script element (``</`` escaped so it cannot end the element)."""
    text = json.dumps(value, indent=1, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _control_section(control: Any) -> str:
    """The treatment-against-control (difference in differences) section of a result."""
    if not isinstance(control, dict):
        return ""
    title = _("Treatment against control (difference in differences)")
    lead = _("Savings of the treatment meters relative to matched control meters over the "
             "same periods, beside the single-meter estimate above.")
    return f"<h2>{escape(title)}</h2><p>{escape(lead)}</p>" + _table(_flat(control), "control")


def _non_routine(project: dict[str, Any], tz: str) -> str:
    """Non-routine windows left out of the estimate, and the project's non-routine events
    (with their reasons) when the result records them, as list items."""
    windows = project.get("inputs", {}).get("excluded_non_routine") or []
    events = project.get("non_routine") or project.get("spec", {}).get("non_routine") or []
    texts = [_("{start} to {end} (left out of both periods)").format(
        start=_when(a, tz), end=_when(b, tz)) for a, b in windows]
    texts += ["; ".join(f"{k}: {_plain(v)}" for k, v in e.items()) if isinstance(e, dict)
              else _plain(e) for e in events]
    return "".join(f"<li>{escape(t)}</li>" for t in texts or [_("none")])


def _when(iso: str, tz: str) -> str:
    return format_datetime(pd.Timestamp(iso).tz_convert(tz).to_pydatetime(), format="medium",
                           locale=_locale())


def _monthly(project: dict[str, Any], tz: str) -> str:
    monthly = frame_of(project["series"])
    if monthly.empty:
        return ""
    monthly["month"] = monthly["time"].dt.tz_convert(tz).dt.strftime("%Y-%m")
    sums = monthly.groupby("month")[["baseline", "actual"]].sum()
    return "".join(f"<tr><td>{m}</td><td>{_num(r.baseline, '', 0)}</td>"
                   f"<td>{_num(r.actual, '', 0)}</td><td>{_num(r.baseline - r.actual, '', 0)}"
                   f"</td></tr>" for m, r in sums.iterrows())


STYLE = """
@page { size: A4; margin: 16mm 14mm 18mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; color: #57606a } }
body { font-family: "Noto Sans CJK KR", "Noto Sans KR", "Noto Sans", "DejaVu Sans", sans-serif;
  max-width: 60em; margin: 2em auto; color: #24292f; font-size: 10pt; line-height: 1.4 }
@media print { body { margin: 0; max-width: none } }
h1 { font-size: 17pt } h2 { font-size: 13pt; margin-top: 1.4em; break-after: avoid }
table { border-collapse: collapse; margin: 0.4em 0 }
th, td { border: 1px solid #d0d7de; padding: 3px 7px; text-align: left; vertical-align: top }
td { overflow-wrap: anywhere }
pre { background: #f6f8fa; padding: 0.8em; white-space: pre-wrap; overflow-wrap: anywhere;
  font-size: 8pt }
svg.chart { width: 100%; height: auto }
.legend span { margin-right: 1.5em } .legend i { display: inline-block; width: 1.2em;
  height: 0.5em; margin-right: 0.4em }
.note { color: #57606a; font-size: 9pt }
"""


def _h2(text: str) -> str:
    return f"<h2>{escape(text)}</h2>"


def _charts(project: dict[str, Any], tz: str) -> str:
    """The baseline-against-actual and cumulative-savings charts with their legends: of the
    result's meter, then of each other treatment meter of a project, titled by meter."""
    others = project.get("treatment_results") or {}
    out = _meter_charts(project, tz, f" · {project['meter']}" if others else "", 0)
    for n, doc in enumerate(others.values(), start=1):
        out += _meter_charts(doc, tz, f" · {doc['meter']}", n)
    return out


def _meter_charts(doc: dict[str, Any], tz: str, suffix: str, n: int) -> str:
    series, cumulative = frame_of(doc["series"]), frame_of(doc["cumulative"])
    out = ""
    if not series.empty:
        title = _("Adjusted baseline against actual [kWh per {per}]").format(
            per=_(doc.get("per", "day")))
        out += (_h2(title + suffix) + _legend((_("adjusted baseline"), COLOURS["baseline"]),
                                              (_("actual"), COLOURS["actual"]))
                + baseline_chart(series, tz, f"baseline{n}"))
    if not cumulative.empty:
        conf = format_decimal(doc["confidence"] * 100, format="0.#", locale=_locale())
        band = _("interval ({confidence})").format(confidence=f"{conf} %")
        out += (_h2(_("Cumulative savings [kWh]") + suffix)
                + _legend((_("cumulative savings"), COLOURS["savings"]), (band, "#a8dab5"))
                + cumulative_chart(cumulative, tz, f"cumulative{n}"))
    return out


def _model_section(result: dict[str, Any]) -> str:
    """The model, its coefficients and the uncertainty with every number in it."""
    model = [(_("model"), result.get("model")), (_("model form"), result.get("model_form")),
             (_("granularity"), result.get("granularity")),
             (_("parameters"), result.get("baseline", {}).get("n_params"))]
    uncertainty = dict(result.get("uncertainty", {}))
    method = str(uncertainty.pop("method", ""))
    return (_h2(_("Model and coefficients"))
            + _table(model + _flat(result.get("coefficients", {})), "coefficients")
            + _h2(_("Uncertainty")) + _table(_flat(uncertainty), "uncertainty")
            + f"<p class=\"note\">{escape(method)}</p>")


def _sufficiency_section(project: dict[str, Any], tz: str) -> str:
    """Data sufficiency, the warnings and the non-routine events left out."""
    sufficiency = project["result"].get("sufficiency", {})
    rows = [(_("disqualified by"), sufficiency.get("disqualified")),
            (_("estimate forced"), sufficiency.get("forced"))]
    texts = [warning_text(w) for w in project["warnings"]] or [_("none")]
    return (_h2(_("Data sufficiency and warnings")) + _table(rows, "sufficiency")
            + f"<p>{escape(str(sufficiency.get('note') or ''))}</p><ul id=\"warnings\">"
            + "".join(f"<li>{escape(t)}</li>" for t in texts) + "</ul>"
            + _h2(_("Non-routine events"))
            + f"<ul id=\"non-routine\">{_non_routine(project, tz)}</ul>")


def _data_section(project: dict[str, Any], tz: str) -> str:
    """Input data hashes and counts, settings and the monthly table."""
    result = project["result"]
    inputs = result.get("inputs", {})
    hashes = [(_("energy and temperature readings as stored (SHA-256)"),
               project["data_sha256"]),
              (_("cleaned meter readings used (SHA-256)"), inputs.get("readings_sha256")),
              (_("outdoor temperature used (SHA-256)"), inputs.get("temperature_sha256")),
              (_("meter readings used"), inputs.get("readings_used")),
              (_("temperature readings used"), inputs.get("temperature_readings")),
              (_("reading interval"), inputs.get("interval"))]
    head = "".join(f"<th>{escape(h)}</th>" for h in (_("month"), _("adjusted baseline"),
                                                      _("actual"), _("avoided")))
    return (_h2(_("Input data")) + _table(hashes, "hashes")
            + f"<p class=\"note\">{escape(str(inputs.get('hashed', '')))}</p>"
            + _h2(_("Settings")) + _table(_flat(result.get("settings", {})), "settings")
            + _h2(_("Monthly adjusted baseline against actual [kWh]"))
            + f"<table><tr>{head}</tr>{_monthly(project, tz)}</table>")


def _verification_section(project: dict[str, Any], signature: dict[str, str] | None) -> str:
    """How to verify the report, its signature and what made it."""
    text = _("This report carries its result document (JSON). `wattlens mv verify` on this "
             "file recomputes it from the stored readings with the recorded model and settings "
             "and names every number that differs.")
    out = (_h2(_("Verification")) + f"<p>{escape(text)}</p><pre id=\"reproduce\">"
           + escape(str(project.get("inputs", {}).get("reproduce", ""))) + "</pre>")
    if signature is not None:
        signed = _("Signed (Ed25519) by the key with fingerprint {fingerprint}.").format(
            fingerprint=signature["fingerprint"])
        out += f"<p id=\"signed\">{escape(signed)}</p>"
    computed = format_datetime(pd.Timestamp(project["computed_at"]).tz_convert("UTC")
                               .to_pydatetime(), format="medium", locale=_locale())
    software = ", ".join(f"{k} {v}"
                         for k, v in (project["result"].get("software") or {}).items())
    made = _("Result computed by wattlens on {when} (UTC); software: {software}.").format(
        when=computed, software=software)
    return out + f"<p class=\"note\">{escape(made)}</p>"


def _lead(project: dict[str, Any], info: MeterInfo, names: dict[str, str]) -> str:
    """The opening sentence: meter, place, periods, time zone, IPMVP option."""
    periods = project["periods"]
    option = (_("B (an equipment submeter)") if info.parent
              else _("C (a whole-building meter)"))
    place = ", ".join(names.get(p, p) for p in (info.building, info.site) if p) or "–"
    return _("Meter {label} ({meter}, {commodity}) at {place}. Baseline {b0} to {b1}, "
             "reporting {r0} to {r1}; dates are local ({tz}), energy in kWh. IPMVP Option "
             "{option}; savings = adjusted baseline − actual.").format(
        label=info.label, meter=info.id, commodity=_(info.commodity), place=place,
        b0=_long_date(periods["baseline"][0]), b1=_long_date(periods["baseline"][1]),
        r0=_long_date(periods["reporting"][0]), r1=_long_date(periods["reporting"][1]),
        tz=info.timezone, option=option)


def render_report(project: dict[str, Any], info: MeterInfo, names: dict[str, str],
                  signature: dict[str, str] | None = None) -> str:
    """The report of an M&V result document on meter ``info`` as a standalone HTML document
    in the current locale (``names``: display names of site and building ids;
    ``signature``: :func:`sign_result` of ``project``, embedded when given)."""
    tz = info.timezone
    rows = "".join(f"<tr><th>{escape(label)}</th><td id='{slug}'>{escape(str(value))}</td></tr>"
                   for slug, label, value in summary_rows(project))
    title = _("M&V report") + f" · {project['meter']}"
    heading = _("Measurement & verification report")
    body = (f"<h1>{escape(heading)}</h1>"
            f"<p>{escape(_lead(project, info, names))}</p>"
            + _h2(_("Result")) + f"<table id=\"summary\">{rows}</table>"
            + _charts(project, tz) + _control_section(project.get("control"))
            + _model_section(project["result"]) + _sufficiency_section(project, tz)
            + _data_section(project, tz) + _verification_section(project, signature))
    scripts = _script(RESULT_ID, project)
    if signature is not None:
        scripts += _script(SIGNATURE_ID, signature)
    return (f"<!doctype html>\n<html lang=\"{escape(_locale())}\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n{body}\n"
            f"{scripts}\n</body></html>")


def report_pdf(project: dict[str, Any], info: MeterInfo, names: dict[str, str],
               signature: dict[str, str] | None = None) -> bytes:
    """The report of :func:`render_report` as PDF (WeasyPrint), with the result document
    attached as the embedded file ``mv-result.json`` (and ``mv-signature.json`` when
    signed)."""
    import weasyprint  # heavy (pango); only reports need it

    files = [weasyprint.Attachment(string=json.dumps(project, ensure_ascii=False),
                                   name=f"{RESULT_ID}.json", relationship="Data",
                                   description="M&V result document (wattlens mv verify)")]
    if signature is not None:
        files.append(weasyprint.Attachment(string=json.dumps(signature),
                                           name=f"{SIGNATURE_ID}.json", relationship="Data",
                                           description="Ed25519 signature of mv-result.json"))
    html = render_report(project, info, names, signature)
    pdf = weasyprint.HTML(string=html).write_pdf(attachments=files)
    assert pdf is not None  # no target: write_pdf returns the bytes
    return pdf


def _pdf(data: bytes) -> Any:
    import pypdf  # only verification reads PDFs

    return pypdf.PdfReader(io.BytesIO(data))


def _page_text(html: str) -> str:
    """The words and numbers an HTML report shows (its scripts, styles and charts left out)."""
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _pdf_text(reader: Any) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


_NUMBER = re.compile(r"\d(?:[\d.,:-]*\d)?")
"""A number or date as a report writes it (``39,982.4``, ``2018-01-01``, ``12:00``)."""


def _where(text: str, at: int) -> str:
    """A few words of ``text`` before position ``at``: what a number on the pages belongs to."""
    return " ".join(unicodedata.normalize("NFKC", text[max(0, at - 60):at]).split()[-6:])


def shown_differences(data: bytes, doc: dict[str, Any], signature: dict[str, Any] | None,
                      info: MeterInfo, names: dict[str, str]) -> list[str]:
    """Every number and date the pages of a report show otherwise than the same report
    rendered again from its embedded result ``doc`` and ``signature`` (:func:`read_report`;
    in the report's language, on meter ``info`` with display ``names``), one line each with
    the words before it; empty for a bare result JSON (it shows nothing). Only numbers are
    compared, so a report verifies however its words are laid out."""
    if data.lstrip()[:1] in (b"{", b"["):
        return []
    if data.startswith(b"%PDF"):
        reader = _pdf(data)
        lang = str(reader.trailer["/Root"].get("/Lang") or "en")
        with locale_context(lang):
            expected = _pdf_text(_pdf(report_pdf(doc, info, names, signature)))
        shown = _pdf_text(reader)
    else:
        html = data.decode("utf-8", errors="replace")
        declared = re.search(r'<html lang="([^"]+)"', html)
        with locale_context(declared.group(1) if declared else "en"):
            expected = _page_text(render_report(doc, info, names, signature))
        shown = _page_text(html)
    seen, wanted = list(_NUMBER.finditer(shown)), list(_NUMBER.finditer(expected))
    matcher = SequenceMatcher(None, [m.group() for m in seen], [m.group() for m in wanted],
                              autojunk=False)
    lines = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        at = seen[i1].start() if i1 < len(seen) else len(shown)
        there = " ".join(m.group() for m in seen[i1:i2]) or "nothing"
        due = " ".join(m.group() for m in wanted[j1:j2]) or "nothing"
        lines.append(f"after {_where(shown, at)!r}: the pages show {there}, the embedded "
                     f"result gives {due}")
    return lines


def read_report(data: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The result document and signature (None when unsigned) carried by a report: a PDF of
    :func:`report_pdf`, an HTML of :func:`render_report` or a bare result JSON."""
    if data.startswith(b"%PDF"):
        attached = _pdf(data).attachments
        parts = {name: attached[f"{name}.json"][0]
                 for name in (RESULT_ID, SIGNATURE_ID) if f"{name}.json" in attached}
    elif data.lstrip()[:1] in (b"{", b"["):
        parts = {RESULT_ID: data}
    else:
        text = data.decode("utf-8", errors="replace")
        parts = {name: match.group(1).encode() for name in (RESULT_ID, SIGNATURE_ID)
                 if (match := re.search(rf'<script type="application/json" id="{name}">(.*?)'
                                        r"</script>", text, re.DOTALL))}
    if RESULT_ID not in parts:
        raise ReportError(f"no embedded result document ({RESULT_ID}.json); give a report "
                          f"written by `wattlens mv report` or a result JSON")
    try:
        doc = json.loads(parts[RESULT_ID])
        signature = json.loads(parts[SIGNATURE_ID]) if SIGNATURE_ID in parts else None
    except json.JSONDecodeError as exc:
        raise ReportError(f"the embedded result or signature is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ReportError("the embedded result is not a JSON object; give an M&V result")
    return doc, signature
