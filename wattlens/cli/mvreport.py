"""``wattlens mv report | keygen | verify``: M&V reports a third party can check.

``report`` renders a result as PDF (default) or HTML in Korean or English, with the result
JSON embedded and, when ``--sign KEYFILE`` is given, the testbed operator's Ed25519 signature
over it; ``keygen`` makes that key pair; ``verify`` reads a report (or a bare result JSON),
checks the signature and recomputes every number from the store's data. The commands register
on :data:`wattlens.cli.mv.mv_app`.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from pydantic import ValidationError
from rich.markup import escape

from wattlens.analytics.mv import MV_KIND, MVSpec, mv_result
from wattlens.analytics.projects import project_result, verify_result
from wattlens.cli.common import ConfigOption, console, fail, get_config
from wattlens.cli.mv import Period, _on_store, mv_app
from wattlens.config import Config
from wattlens.core.meters import MeterInfo
from wattlens.dashboard.i18n import locale_context
from wattlens.dashboard.report import (
    ReportError,
    check_signature,
    key_fingerprint,
    read_report,
    render_report,
    report_pdf,
    shown_differences,
    sign_result,
)


class Lang(StrEnum):
    """Languages of a report."""

    ko = "ko"
    en = "en"


def _say(text: str) -> None:
    console.print(escape(text), highlight=False, soft_wrap=True)


def _meter(cfg: Config, doc: dict[str, Any], source: str) -> MeterInfo:
    """The configured meter a result document names."""
    infos = cfg.meter_infos()
    meter = doc.get("meter")
    if meter not in infos:
        raise fail(f"{source}: meter {meter!r} is not configured here; use the configuration "
                   f"and store the result was made from")
    return infos[meter]


def _names(cfg: Config) -> dict[str, str]:
    """Display names of the configured sites and buildings by id."""
    names = {s.id: s.name or s.id for s in cfg.sites}
    names.update({b.id: b.name or b.id for s in cfg.sites for b in s.buildings})
    return names


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None, bytes]:
    """The result document, signature (None when unsigned) and bytes of a report file."""
    try:
        data = path.read_bytes()
        return (*read_report(data), data)
    except (OSError, ReportError) as exc:
        raise fail(f"{path}: cannot read the report ({exc})") from None


def _private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise fail(f"{path}: cannot read the signing key ({type(exc).__name__}); give a key "
                   f"written by `wattlens mv keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise fail(f"{path}: not an Ed25519 private key; make one with `wattlens mv keygen`")
    if path.stat().st_mode & 0o077:
        _say(f"warning: {path} is readable by others; chmod 600 {path}")
    return key


def _public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise fail(f"{path}: cannot read the public key ({type(exc).__name__}); give the .pub "
                   f"file written by `wattlens mv keygen`") from None
    if not isinstance(key, Ed25519PublicKey):
        raise fail(f"{path}: not an Ed25519 public key; give the .pub file of `mv keygen`")
    return key


@mv_app.command("keygen")
def mv_keygen(
    keyfile: Annotated[Path, typer.Argument(help="Private key file to write (mode 0600); the "
                                                 "public key goes to KEYFILE.pub.")],
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing key files (reports signed with the old key "
                            "then verify only against the old public key).")] = False,
) -> None:
    """Make the testbed operator's Ed25519 key pair for signing M&V reports."""
    public = keyfile.with_name(keyfile.name + ".pub")
    if not overwrite and (keyfile.exists() or public.exists()):
        raise fail(f"{keyfile} or {public} exists; pass --overwrite to replace the key pair")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    keyfile.unlink(missing_ok=True)
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM,
                                                     PublicFormat.SubjectPublicKeyInfo))
    _say(f"private key {keyfile} (keep it secret), public key {public} (give it to whoever "
         f"verifies); fingerprint {key_fingerprint(key.public_key())}")


@mv_app.command("report")
def mv_report(
    source: Annotated[Path | None, typer.Argument(
        help="A result document (`mv run --out`) or a report holding one; or give --project, "
             "or --meter and the periods, for a stored result.")] = None,
    project: Annotated[str | None, typer.Option(
        help="A project id (see `wattlens mv list`): its latest stored result.")] = None,
    out: Annotated[Path, typer.Option(help="Report file to write.")] = Path("mv-report.pdf"),
    as_html: Annotated[bool, typer.Option("--html", help="Write HTML instead of PDF.")] = False,
    sign: Annotated[Path | None, typer.Option(
        help="Sign with this Ed25519 private key (from `wattlens mv keygen`).")] = None,
    lang: Annotated[Lang, typer.Option(help="Report language.")] = Lang.en,
    meter: Annotated[str | None, typer.Option(help="Meter id of a stored result.")] = None,
    baseline: Annotated[Period | None, typer.Option(
        help="Baseline FIRST LAST local dates of a stored result.")] = None,
    reporting: Annotated[Period | None, typer.Option(
        help="Reporting FIRST LAST local dates of a stored result.")] = None,
    blackout: Annotated[Period | None, typer.Option(
        help="Installation FIRST LAST local dates of a stored result.")] = None,
    model: Annotated[str, typer.Option(help="Baseline model of a stored result.")]
    = "caltrack-daily",
    confidence: Annotated[float, typer.Option(help="Confidence of a stored result.")] = 0.9,
    config: ConfigOption = None,
) -> None:
    """Write the M&V report of a result (PDF, or HTML with --html) with the result JSON
    embedded for `wattlens mv verify`, optionally signed."""
    cfg = get_config(config)
    key = _private_key(sign) if sign is not None else None
    if sum(x is not None for x in (source, project, meter)) > 1:
        raise fail("give one of a result file, --project or --meter")
    if source is not None:
        doc, _signature, _data = _read(source)
        info = _meter(cfg, doc, str(source))
    elif project is not None:
        found = _on_store(cfg, lambda store: project_result(store, project, None))
        if found is None:
            raise fail(f"project {project!r} has no result yet: `wattlens mv run {project}` "
                       f"first")
        doc = found
        info = _meter(cfg, doc, f"project {project}")
    elif meter is not None and baseline is not None and reporting is not None:
        infos = cfg.meter_infos()
        if meter not in infos:
            raise fail(f"meter {meter!r} is not configured; choose one of {sorted(infos)}")
        try:
            spec = MVSpec(meter=meter, baseline=baseline, reporting=reporting,
                          blackout=blackout, model=model, confidence=confidence,
                          settings=cfg.analytics.savings)
        except ValidationError as exc:
            raise fail(f"invalid M&V project: {exc}") from None
        info = infos[meter]
        doc = _on_store(cfg, lambda store: mv_result(store, info, spec))
    else:
        raise fail("give a result file, --project, or --meter with --baseline and "
                   "--reporting of a stored result")
    signature = sign_result(doc, key) if key is not None else None
    html = as_html or out.suffix.lower() in (".html", ".htm")
    with locale_context(lang.value):
        if html:
            out.write_text(render_report(doc, info, _names(cfg), signature), encoding="utf-8")
        else:
            out.write_bytes(report_pdf(doc, info, _names(cfg), signature))
    signed = f", signed by key {signature['fingerprint']}" if signature else ""
    _say(f"wrote {out} ({'HTML' if html else 'PDF'}, {lang.value}) for {MV_KIND}/"
         f"{doc.get('key')}{signed}")


@mv_app.command("verify")
def mv_verify(
    report: Annotated[Path, typer.Argument(
        help="A report (PDF or HTML of `wattlens mv report`) or a result document (JSON of "
             "`wattlens mv run --out`).")],
    public_key: Annotated[Path | None, typer.Option(
        help="The operator's public key (KEYFILE.pub of `mv keygen`): the report must be "
             "signed with it.")] = None,
    config: ConfigOption = None,
) -> None:
    """Check a report's signature (when signed, or when --public-key asks for one), that its
    pages show every number and date its embedded result renders to, and recompute that result from
    the store's data with the recorded model and settings; exit 1 naming every number that
    differs or a signature that does not hold."""
    doc, signature, data = _read(report)
    trusted = _public_key(public_key) if public_key is not None else None
    cfg = get_config(config)
    shown = shown_differences(data, doc, signature, _meter(cfg, doc, str(report)),
                              _names(cfg))
    for line in shown:
        _say(f"shown: {line}")
    problems = len(shown)
    if signature is None and trusted is not None:
        _say(f"signature: none, but --public-key {public_key} asks for one")
        problems += 1
    elif signature is not None:
        reason = check_signature(doc, signature, trusted)
        if reason is not None:
            _say(f"signature: INVALID — {reason}")
            problems += 1
        elif trusted is not None:
            _say(f"signature: valid, made with the trusted key {key_fingerprint(trusted)}")
        else:
            _say(f"signature: valid for the key it carries ({signature.get('fingerprint')}); "
                 f"pass --public-key to prove which operator signed")
    differences = _on_store(cfg, lambda store: verify_result(store, cfg.meter_infos(), doc))
    for line in differences:
        _say(f"differs: {line}")
    if differences or problems:
        raise fail(f"{report}: {len(differences)} values differ from the recomputation; "
                   f"{problems} problems with the signature or the numbers shown", code=1)
    _say(f"{report}: every number matches the recomputation from the store")
