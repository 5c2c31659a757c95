"""``wattlens mv``: M&V projects (create, list, show, run) and the single-meter M&V job on store
data, the ones the dashboard's Savings page and the API run. The CLI is the data directory's
owner: it sees every project."""

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
from wattlens.analytics.projects import (
    Adjustment,
    NonRoutineEvent,
    Project,
    comparison_rows,
    create_project,
    estimate_cells,
    list_projects,
    new_id,
    project_with_result,
    run_project,
)
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


_BASELINE_HELP = "Baseline FIRST LAST local dates (both inclusive), e.g. 2018-01-01 2018-12-31."
_MODEL_HELP = ("Baseline model: caltrack-daily (CalTRACK 2.0), daily-degree-hours, "
               "caltrack-hourly (= towt), prophet or auto.")


@mv_app.command("run")
def mv_run(
    project: Annotated[str | None, typer.Argument(
        help="A project id (see `wattlens mv list`): run it and store its result. Without "
             "it, estimate one --meter.")] = None,
    meter: Annotated[str | None, typer.Option(help="Meter id (a configured meter).")] = None,
    baseline: Annotated[Period | None, typer.Option(help=_BASELINE_HELP)] = None,
    reporting: Annotated[Period | None, typer.Option(help="Reporting FIRST LAST local dates "
                                                          "(both inclusive).")] = None,
    blackout: Annotated[Period | None, typer.Option(
        help="Installation FIRST LAST local dates, left out of both periods.")] = None,
    model: Annotated[str, typer.Option(help=_MODEL_HELP)] = "caltrack-daily",
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
    """Run a project (treatment, controls, comparison), or estimate one meter's savings from
    the store's readings (events annotated non-routine left out); the result document is
    stored for the dashboard."""
    cfg = get_config(config)
    infos = cfg.meter_infos()
    if project is not None:
        if meter or baseline or reporting:
            raise fail("give a project id or --meter with its periods, not both")
        doc = _on_store(cfg, lambda store: run_project(store, infos, project, None))
        _print_comparison(doc)
        _write(out, doc)
        return
    if meter is None or baseline is None or reporting is None:
        raise fail("give a project id, or --meter, --baseline and --reporting")
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
    _write(out, doc)


def _write(out: Path | None, doc: dict) -> None:
    if out is not None:
        out.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def _window(text: str) -> NonRoutineEvent:
    first, last, reason = (text.split(",", 2) + ["", ""])[:3]
    return NonRoutineEvent(start=first.strip(), end=last.strip(), reason=reason.strip())


def _adjustment(text: str) -> Adjustment:
    kwh, _, reason = text.partition(",")
    return Adjustment(kwh=kwh.strip(), reason=reason.strip())


@mv_app.command("create")
def mv_create(
    name: Annotated[str, typer.Argument(help="The project's name, e.g. 'Acme heat pump'.")],
    treatment: Annotated[list[str], typer.Option(help="Treatment meter id (repeatable).")],
    baseline: Annotated[Period, typer.Option(help=_BASELINE_HELP)],
    reporting: Annotated[Period, typer.Option(help="Reporting FIRST LAST local dates "
                                                   "(both inclusive).")],
    control: Annotated[list[str] | None, typer.Option(
        help="Matched control meter id (repeatable): adds difference in differences and a "
             "placebo check.")] = None,
    blackout: Annotated[Period | None, typer.Option(
        help="Installation FIRST LAST local dates, left out of both periods.")] = None,
    model: Annotated[str, typer.Option(help=_MODEL_HELP)] = "caltrack-daily",
    confidence: Annotated[float, typer.Option(help="Confidence of the intervals.")] = 0.9,
    force: Annotated[bool, typer.Option(
        "--force", help="Estimate disqualified meters (the result records it).")] = False,
    non_routine: Annotated[list[str] | None, typer.Option(
        help="A non-routine event left out of both periods: 'FIRST,LAST,reason' (local "
             "dates; repeatable).")] = None,
    adjustment: Annotated[list[str] | None, typer.Option(
        help="A non-routine adjustment added to the savings: 'KWH,reason' (repeatable).")
    ] = None,
    owner: Annotated[str, typer.Option(help="Who it is for, e.g. user:acme.")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Create an M&V project (a draft; run it with `wattlens mv run ID`) and print its id."""
    cfg = get_config(config)
    infos = cfg.meter_infos()
    try:
        project = Project(
            id=new_id(name), name=name, owner=owner, treatment=tuple(treatment),
            control=tuple(control or ()), baseline=baseline, reporting=reporting,
            blackout=blackout, model=model, confidence=confidence, force=force,
            settings=cfg.analytics.savings,
            non_routine=tuple(_window(t) for t in non_routine or ()),
            adjustments=tuple(_adjustment(t) for t in adjustment or ()))
    except ValidationError as exc:
        raise fail(f"invalid M&V project: {exc}") from None
    stored = _on_store(cfg, lambda store: create_project(store, infos, project, None))
    console.print(f"created project {stored.id} (draft); run it with `wattlens mv run "
                  f"{stored.id}`", highlight=False)
    print(stored.id)


@mv_app.command("list")
def mv_list(config: ConfigOption = None) -> None:
    """The projects, newest first: id, name, owner, status, meters, periods."""
    cfg = get_config(config)
    projects = _on_store(cfg, lambda store: list_projects(store, None))
    if not projects:
        console.print("no projects yet: `wattlens mv create`", highlight=False)
    for p in projects:
        control = f" vs control {' '.join(p.control)}" if p.control else ""
        console.print(escape(
            f"{p.id}  [{p.status}]  {p.name!r} of {p.owner}: {' '.join(p.treatment)}{control}; "
            f"baseline {p.baseline[0]}..{p.baseline[1]}, reporting "
            f"{p.reporting[0]}..{p.reporting[1]}"), highlight=False, soft_wrap=True)


@mv_app.command("show")
def mv_show(
    project: Annotated[str, typer.Argument(help="A project id (see `wattlens mv list`).")],
    out: Annotated[Path | None, typer.Option(
        help="Write the latest result document (JSON) here, for `wattlens mv verify`.")] = None,
    config: ConfigOption = None,
) -> None:
    """A project's definition and its latest result: the single-meter estimate beside the
    difference in differences against the controls and each control's placebo check."""
    cfg = get_config(config)
    found, doc = _on_store(cfg, lambda store: project_with_result(store, project, None))
    console.print_json(found.model_dump_json(exclude={"settings"}))
    if doc is None:
        console.print(f"not run yet: `wattlens mv run {found.id}`", highlight=False)
        return
    _print_comparison(doc)
    _write(out, doc)


def _print_comparison(doc: dict) -> None:
    """A project result's estimates side by side, then its warnings."""
    confidence = doc["comparison"]["confidence"]
    console.print(f"project {doc['key']}, computed {doc['computed_at'][:19]} UTC:",
                  highlight=False)
    for _slug, label, estimate in comparison_rows(doc):
        kwh, pct, interval = estimate_cells(estimate)
        console.print(escape(f"  {label}: savings {kwh} kWh ({pct} %), {confidence:.0%} "
                             f"interval {interval} kWh"), highlight=False, soft_wrap=True)
    others = (*doc["treatment_results"].values(), *doc["control_results"].values())
    warn([DataWarning.from_dict(w) for d in (doc, *others) for w in d["warnings"]])
