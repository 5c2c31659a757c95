"""M&V projects: named, owned, stored trials of treatment meters against a baseline model and,
when they have control meters, against matched control equipment (testbed A/B).

A :class:`Project` is a store document (:data:`PROJECT_KIND`, key :attr:`Project.id`); its run
(:func:`run_project`) estimates every treatment and control meter with the M&V job of
:mod:`wattlens.analytics.mv` and stores one result document (:data:`PROJECT_RESULT_KIND`, same
key) holding, side by side:

- the **single-meter** estimate: the treatment's savings against its own baseline model;
- the **placebo** on each control: the control's own baseline-model "savings" over the
  reporting period, which should be about zero (a warning says when its interval excludes
  zero: the control changed);
- the **difference in differences**: the treatment's savings net of the control's relative
  change over the same period, S = S_T − f_C·B_T with f_C = S_C / B_C, its half-width
  h = √(h_T² + (B_T·h_C / B_C)²) (the two models' errors taken as independent, which
  overstates the interval when they move together).

Scope: a caller sees (``visible``: meter ids, ``None`` for every meter) only the projects all of
whose meters it may see, and creates only such projects; another caller's project is answered
as if it did not exist (:class:`ProjectNotFound`).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from wattlens.analytics.mv import DatePeriod, MVSpec, differences, mv_document, verify_document
from wattlens.analytics.savings import SavingsError, SavingsSettings
from wattlens.core.base import Frozen
from wattlens.core.meters import MeterInfo
from wattlens.core.warnings import DataWarning
from wattlens.store.base import Store

PROJECT_KIND = "mv-project"
"""Document kind of M&V projects (key: :attr:`Project.id`)."""
PROJECT_RESULT_KIND = "mv-project-result"
"""Document kind of a project's latest result (key: :attr:`Project.id`)."""

Status = Literal["draft", "running", "done", "failed"]
Visible = frozenset[str] | None
"""The meter ids a caller may see; ``None``: every meter (an administrator, the CLI)."""


class ProjectError(SavingsError):
    """A project request that cannot be done; the message says why and what to do."""


class ProjectNotFound(ProjectError):
    """No such project, or not one the caller may see."""


class NonRoutineEvent(Frozen):
    """A non-routine event: a window left out of both periods, with its reason."""

    start: dt.date = Field(description="first local date")
    end: dt.date = Field(description="last local date")
    reason: str = Field(min_length=1, description="why the window is not routine")
    meters: tuple[str, ...] = Field(
        (), description="meters it applies to (empty: every meter of the project)")


class Adjustment(Frozen):
    """A non-routine adjustment [kWh] added to the treatment's savings, with its reason
    (IPMVP: savings = adjusted baseline − reporting energy ± non-routine adjustments)."""

    kwh: float = Field(description="added to the savings [kWh]; negative lowers them")
    reason: str = Field(min_length=1, description="why, and how the amount was found")


class ProjectTerms(Frozen):
    """What the maker of a project chooses: periods are local dates of the meters' sites,
    both ends inclusive (the API's body of a new project)."""

    name: str = Field(min_length=1, max_length=200, description="shown name")
    treatment: tuple[str, ...] = Field(min_length=1, description="treatment meter ids")
    control: tuple[str, ...] = Field((), description="matched control meter ids (optional)")
    baseline: DatePeriod = Field(description="first and last local date of the baseline")
    reporting: DatePeriod = Field(description="first and last local date of the reporting")
    blackout: DatePeriod | None = Field(None, description="installation period left out")
    model: str = Field("caltrack-daily", description="baseline model (or auto)")
    confidence: float = Field(0.9, gt=0, lt=1, description="confidence of the intervals")
    force: bool = Field(False, description="estimate disqualified meters (recorded)")
    non_routine: tuple[NonRoutineEvent, ...] = Field((), description="non-routine events")
    adjustments: tuple[Adjustment, ...] = Field((), description="non-routine adjustments")

    @model_validator(mode="after")
    def _meters(self) -> ProjectTerms:
        both = set(self.treatment) & set(self.control)
        if both:
            raise ValueError(f"meters {sorted(both)} are both treatment and control; pick one")
        if len(set(self.treatment)) < len(self.treatment) or \
                len(set(self.control)) < len(self.control):
            raise ValueError("a meter is listed twice; list each once")
        unknown = {m for e in self.non_routine for m in e.meters} - set(self.meters)
        if unknown:
            raise ValueError(f"non-routine events name meters {sorted(unknown)} that are not "
                             f"in the project; name treatment or control meters")
        self._spec(self.treatment[0], SavingsSettings())  # periods checked as the job does
        return self

    @property
    def meters(self) -> tuple[str, ...]:
        """Treatment then control meter ids."""
        return self.treatment + self.control

    def _spec(self, meter: str, settings: SavingsSettings) -> MVSpec:
        return MVSpec(meter=meter, baseline=self.baseline, reporting=self.reporting,
                      blackout=self.blackout, model=self.model, confidence=self.confidence,
                      force=self.force, settings=settings,
                      exclude=tuple((e.start, e.end) for e in self.non_routine
                                    if not e.meters or meter in e.meters))


class Project(ProjectTerms):
    """One M&V project as stored: the terms, who made it, the model settings and its
    status."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="key in the store")
    owner: str = Field(min_length=1, description="who made it: 'user:<dashboard login>', "
                                                 "'token:<API token name>' or 'cli'")
    settings: SavingsSettings = Field(default_factory=SavingsSettings,
                                      description="the baseline models' settings")
    status: Status = Field("draft", description="draft, running, done or failed")
    error: str | None = Field(None, description="why the last run failed")
    created_at: str = Field("", description="when it was created (UTC ISO 8601)")

    def spec(self, meter: str) -> MVSpec:
        """The M&V job spec of one of the project's meters (its non-routine windows left
        out)."""
        return self._spec(meter, self.settings)


def new_id(name: str) -> str:
    """A fresh project id: the name's slug and 8 random hex digits."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "project"
    return f"{slug}-{secrets.token_hex(4)}"


def sees(project: Project, visible: Visible) -> bool:
    """Whether a caller seeing ``visible`` meters may see ``project`` (all its meters)."""
    return visible is None or set(project.meters) <= visible


def _check_meters(project: Project, catalogue: Mapping[str, MeterInfo],
                  visible: Visible) -> None:
    for meter in project.meters:
        if meter not in catalogue or (visible is not None and meter not in visible):
            raise ProjectError(f"no meter {meter!r}; choose among the configured meters you "
                               f"may see")


def create_project(store: Store, catalogue: Mapping[str, MeterInfo], project: Project,
                   visible: Visible, now: pd.Timestamp | None = None) -> Project:
    """Store ``project`` as a draft (ProjectError when a meter is not configured or not
    visible, or the id is taken) and return it as stored."""
    _check_meters(project, catalogue, visible)
    if store.get_document(PROJECT_KIND, project.id) is not None:
        raise ProjectError(f"project id {project.id!r} is taken; choose another")
    stored = project.model_copy(update={
        "status": "draft", "error": None,
        "created_at": (now or pd.Timestamp.now(tz="UTC")).isoformat()})
    store.put_document(PROJECT_KIND, stored.id, stored.model_dump(mode="json"))
    return stored


def list_projects(store: Store, visible: Visible) -> list[Project]:
    """The projects the caller may see, newest first."""
    projects = [Project.model_validate(body)
                for body in store.list_documents(PROJECT_KIND).values()]
    return sorted((p for p in projects if sees(p, visible)),
                  key=lambda p: (p.created_at, p.id), reverse=True)


def get_project(store: Store, project_id: str, visible: Visible) -> Project:
    """One project the caller may see; ProjectNotFound otherwise."""
    body = store.get_document(PROJECT_KIND, project_id)
    project = Project.model_validate(body) if body is not None else None
    if project is None or not sees(project, visible):
        raise ProjectNotFound(f"no project {project_id!r}; list them with `wattlens mv list`")
    return project


def project_with_result(store: Store, project_id: str, visible: Visible
                        ) -> tuple[Project, dict[str, Any] | None]:
    """A project the caller may see and its latest result (None before its first run)."""
    return (get_project(store, project_id, visible),
            store.get_document(PROJECT_RESULT_KIND, project_id))


def project_result(store: Store, project_id: str, visible: Visible) -> dict[str, Any] | None:
    """The latest result of a project the caller may see (None before its first run)."""
    return project_with_result(store, project_id, visible)[1]


def _save(store: Store, project: Project, **update: Any) -> Project:
    changed = project.model_copy(update=update)
    store.put_document(PROJECT_KIND, changed.id, changed.model_dump(mode="json"))
    return changed


def run_project(store: Store, catalogue: Mapping[str, MeterInfo], project_id: str,
                visible: Visible, now: pd.Timestamp | None = None) -> dict[str, Any]:
    """Run a project the caller may see: status ``running``, then ``done`` with its result
    document stored (and returned), or ``failed`` with the error recorded and raised."""
    project = get_project(store, project_id, visible)
    _check_meters(project, catalogue, visible)
    project = _save(store, project, status="running", error=None)
    try:
        doc = project_document(store, catalogue, project, now)
    except Exception as exc:  # whatever stopped it, the project does not stay "running"
        _save(store, project, status="failed", error=str(exc))
        raise
    store.put_document(PROJECT_RESULT_KIND, project.id, doc)
    _save(store, project, status="done")
    return doc


def _totals(docs: list[dict[str, Any]]) -> dict[str, float]:
    """Summed reporting energy [kWh] of meters' result documents; half-widths in
    quadrature."""
    reps = [d["result"]["reporting"] for d in docs]
    savings = sum(r["savings_kwh"] for r in reps)
    halves = [(r["savings_interval_kwh"][1] - r["savings_interval_kwh"][0]) / 2 for r in reps]
    return {"actual_kwh": sum(r["actual_kwh"] for r in reps),
            "adjusted_baseline_kwh": sum(r["adjusted_baseline_kwh"] for r in reps),
            "savings_kwh": savings, "half_width_kwh": float(np.sqrt(sum(h * h for h in halves)))}


def _estimate(savings: float, half: float, reference: float, **extra: Any) -> dict[str, Any]:
    """An estimate's JSON: savings [kWh], its interval, and percent of ``reference``."""
    return {"savings_kwh": savings, "savings_interval_kwh": [savings - half, savings + half],
            "half_width_kwh": half,
            "savings_pct": savings / reference * 100 if reference else None, **extra}


def comparison(project: Project, treatment: list[dict[str, Any]], control: list[dict[str, Any]]
               ) -> tuple[dict[str, Any], dict[str, Any] | None, list[DataWarning]]:
    """From the meters' result documents: the single-meter estimate (``comparison``), the
    difference in differences and the placebo on each control (``control``, None without
    controls), and the warnings on them."""
    t = _totals(treatment)
    adjust = sum(a.kwh for a in project.adjustments)
    single = _estimate(t["savings_kwh"] + adjust, t["half_width_kwh"],
                       t["adjusted_baseline_kwh"], actual_kwh=t["actual_kwh"],
                       adjusted_baseline_kwh=t["adjusted_baseline_kwh"],
                       adjustments_kwh=adjust)
    compared = {"confidence": project.confidence, "single_meter": single}
    out: dict[str, Any] = {"confidence": project.confidence, "placebo": {}}
    warnings: list[DataWarning] = []
    for doc in control:
        c = _totals([doc])
        placebo = _estimate(c["savings_kwh"], c["half_width_kwh"], c["adjusted_baseline_kwh"],
                            adjusted_baseline_kwh=c["adjusted_baseline_kwh"])
        low, high = placebo["savings_interval_kwh"]
        placebo["contains_zero"] = bool(low <= 0 <= high)
        out["placebo"][doc["meter"]] = placebo
        if not placebo["contains_zero"]:
            warnings.append(DataWarning("control-changed", (
                f"control meter {doc['meter']!r} changed over the reporting period: its own "
                f"baseline model finds {placebo['savings_pct']:.1f} % 'savings' "
                f"({project.confidence:.0%} interval {low:,.0f} to {high:,.0f} kWh excludes "
                f"zero). The single-meter estimate carries such a change too if it is common "
                f"to treatment and control, and the difference in differences removes it; if "
                f"the control changed for reasons of its own, choose another control"),
                {"meter": doc["meter"], "savings_pct": placebo["savings_pct"]}))
    if not control:
        return compared, None, warnings
    c = _totals(control)
    base_t, base_c = t["adjusted_baseline_kwh"], c["adjusted_baseline_kwh"]
    if not base_c:
        raise ProjectError("the control meters' adjusted baseline is zero; choose control "
                           "meters that use energy")
    change = c["savings_kwh"] / base_c
    half = float(np.hypot(t["half_width_kwh"], base_t * c["half_width_kwh"] / base_c))
    out["did"] = _estimate(
        t["savings_kwh"] - change * base_t + adjust, half, base_t * (1 - change),
        control_change_pct=change * 100, counterfactual_kwh=base_t * (1 - change),
        adjustments_kwh=adjust,
        method="S = S_T - f_C * B_T, f_C = S_C / B_C (the control's relative baseline-model "
               "savings); half-width sqrt(h_T^2 + (B_T h_C / B_C)^2), errors independent")
    return compared, out, warnings


def project_document(store: Store, catalogue: Mapping[str, MeterInfo], project: Project,
                     now: pd.Timestamp | None = None) -> dict[str, Any]:
    """The result document of ``project``, not stored. It is the M&V result document of the
    (first) treatment meter — what the report renders — with the project's: ``key`` (its
    id), ``project`` (its definition), ``non_routine`` (its events and adjustments with their
    reasons), ``comparison`` (the single-meter estimate over all treatment meters,
    adjustments included), ``control`` (difference in differences and placebos; None without
    controls), ``treatment_results`` and ``control_results`` (the other meters' result
    documents) and the control warnings added to ``warnings``. Raises like
    :func:`wattlens.analytics.mv.mv_document`."""
    docs = {m: mv_document(store, catalogue[m], project.spec(m), now) for m in project.meters}
    treatment = [docs[m] for m in project.treatment]
    control = [docs[m] for m in project.control]
    compared, controlled, warnings = comparison(project, treatment, control)
    first = treatment[0]
    return {**first, "key": project.id,
            "project": project.model_dump(mode="json", exclude={"status", "error"}),
            "non_routine": [e.model_dump(mode="json") for e in project.non_routine]
            + [{"adjustment_kwh": a.kwh, "reason": a.reason} for a in project.adjustments],
            "comparison": compared, "control": controlled,
            "treatment_results": {m: docs[m] for m in project.treatment[1:]},
            "control_results": {m: docs[m] for m in project.control},
            "warnings": first["warnings"] + [w.to_dict() for w in warnings]}


def verify_project(store: Store, catalogue: Mapping[str, MeterInfo],
                   doc: dict[str, Any]) -> list[str]:
    """Recompute a project result document from the store's data and the document's own
    project definition and list every value that differs (empty: every number matches)."""
    try:
        project = Project.model_validate(doc["project"])
    except (KeyError, ValueError) as exc:
        raise ProjectError(f"not an M&V project result: its project cannot be read ({exc}); "
                           f"give a document of `wattlens mv show --json`") from None
    missing = [m for m in project.meters if m not in catalogue]
    if missing:
        raise ProjectError(f"meters {missing} of the project are not configured here; verify "
                           f"with the configuration the result was made from")
    return differences(doc, project_document(store, catalogue, project))


def verify_result(store: Store, catalogue: Mapping[str, MeterInfo],
                  doc: dict[str, Any]) -> list[str]:
    """Verify a project result (it has ``project``) or a single meter's M&V result
    (:func:`wattlens.analytics.mv.verify_document`) against the store: the differing values,
    empty when every number matches."""
    if not isinstance(doc, dict):
        raise ProjectError("not an M&V result: the document is not a JSON object")
    if "project" in doc:
        return verify_project(store, catalogue, doc)
    meter = doc.get("meter")
    if not isinstance(meter, str) or meter not in catalogue:
        raise ProjectError(f"meter {meter!r} of the result is not configured here; verify with "
                           f"the configuration and store the result was made from")
    return verify_document(store, catalogue[meter], doc)


def comparison_rows(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(slug, English label, estimate) of a project result's estimates side by side: the
    single-meter one, the difference in differences (with controls), each control's placebo."""
    rows = [("single-meter", "treatment vs its baseline model (single meter)",
             doc["comparison"]["single_meter"])]
    control = doc["control"]
    if control is not None:
        rows.append(("did", "treatment vs control (difference in differences)", control["did"]))
        rows += [(f"placebo-{meter}", f"placebo: control {meter} vs its baseline model", est)
                 for meter, est in control["placebo"].items()]
    return rows


def estimate_cells(estimate: dict[str, Any]) -> tuple[str, str, str]:
    """An estimate's savings [kWh], savings [%] and interval [kWh] as text."""
    low, high = estimate["savings_interval_kwh"]
    pct = estimate["savings_pct"]
    return (f"{estimate['savings_kwh']:,.0f}", "–" if pct is None else f"{pct:.2f}",
            f"{low:,.0f} to {high:,.0f}")
