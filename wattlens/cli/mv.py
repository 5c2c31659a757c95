"""``wattlens mv``: the M&V job on store data (the one the dashboard's Savings page runs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.markup import escape

import wattlens.forecasting.mv  # noqa: F401 - registers the prophet M&V baseline
from wattlens.analytics.mv import MV_KIND, MVSpec, mv_job
from wattlens.analytics.savings import SavingsError
from wattlens.cli.common import ConfigOption, console, fail, get_config, get_store, warn
from wattlens.config import Config
from wattlens.core.warnings import DataWarning
from wattlens.store.base import Store, StoreError

mv_app = typer.Typer(help="Measurement & verification on store data.", no_args_is_help=True)

Period = tuple[str, str]
T = TypeVar("T")


def _on_store(cfg: Config, job: Callable[[Store], T]) -> T:
    """``job`` on the configured store, closed afterwards; its errors end the command."""
    store = get_store(cfg)
    try:
        return job(store)
    except (SavingsError, StoreError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


@mv_app.command("run")
def mv_run(
    meter: Annotated[str, typer.Option(help="Meter id (a configured meter).")],
    baseline: Annotated[Period, typer.Option(help="Baseline FIRST LAST local dates "
                                                  "(both inclusive), e.g. 2018-01-01 2018-12-31.")],
    reporting: Annotated[Period, typer.Option(help="Reporting FIRST LAST local dates "
                                                   "(both inclusive).")],
    blackout: Annotated[Period | None, typer.Option(
        help="Installation FIRST LAST local dates, left out of both periods.")] = None,
    model: Annotated[str, typer.Option(
        help="Baseline model: caltrack-daily (CalTRACK 2.0), daily-degree-hours, "
             "caltrack-hourly (= towt), prophet or auto.")] = "caltrack-daily",
    confidence: Annotated[float, typer.Option(
        help="Confidence of the savings interval, e.g. 0.9.")] = 0.9,
    force: Annotated[bool, typer.Option(
        "--force", help="Estimate even when CalTRACK's data sufficiency disqualifies the "
                        "meter; the result records that it was forced.")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Also write the result document (JSON) here, for `wattlens mv verify` and "
                 "`wattlens mv report`.")] = None,
    config: ConfigOption = None,
) -> None:
    """Estimate one meter's savings from the store's readings (events annotated non-routine
    left out) and store the result document for the dashboard."""
    cfg = get_config(config)
    infos = cfg.meter_infos()
    if meter not in infos:
        raise fail(f"meter {meter!r} is not configured; choose one of {sorted(infos)}")
    try:
        spec = MVSpec(meter=meter, baseline=baseline, reporting=reporting, blackout=blackout,
                      model=model, confidence=confidence, force=force,
                      settings=cfg.analytics.savings)
    except ValidationError as exc:
        raise fail(f"invalid M&V project: {exc}") from None
    doc = _on_store(cfg, lambda store: mv_job(store, infos[meter], spec))
    base, rep = doc["result"]["baseline"], doc["result"]["reporting"]
    low, high = rep["savings_interval_kwh"]
    console.print(escape(
        f"{meter} [{doc['model']}]: savings {rep['savings_kwh']:,.1f} kWh "
        f"({rep['savings_pct']:.2f} %), {confidence:.0%} interval [{low:,.1f}, {high:,.1f}] "
        f"kWh; baseline CV(RMSE) {base['cv_rmse_pct']:.1f} %, NMBE {base['nmbe_pct']:.2f} %, "
        f"G14 {'pass' if base['g14_pass'] else 'FAIL'}"), highlight=False)
    warn([DataWarning.from_dict(w) for w in doc["warnings"]])
    console.print(f"stored as document {MV_KIND}/{spec.key}", highlight=False)
    if out is not None:
        out.write_text(json.dumps(doc, indent=1), encoding="utf-8")

