"""Savings: recommendations ranked by value — the selected one's evidence in sentences and
a small chart of its meter's daily profile now and after the measure — M&V projects, and a
quick single-meter estimate (IPMVP Option B/C) — baseline, blackout and reporting periods and
a model; adjusted baseline against actual, cumulative savings with its uncertainty band,
Guideline 14 checks, warnings and a downloadable report.

Projects (:mod:`wattlens.analytics.projects`, the ones ``wattlens mv`` and the API work on):
choose, create and run one of the user's projects — only projects on meters in the user's
scope are listed and may be created — and see its single-meter estimate beside the difference
in differences against its control meters and each control's placebo check. The quick
estimate is the M&V job of :mod:`wattlens.analytics.mv` (the one ``wattlens mv run --meter``
runs). Reports render the stored result document. URL: ``/savings?meter=<id>``."""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, dcc, html

from wattlens.analytics.mv import MVSpec, frame_of
from wattlens.analytics.projects import (
    Adjustment,
    NonRoutineEvent,
    Project,
    ProjectError,
    comparison_rows,
    create_project,
    estimate_cells,
    list_projects,
    new_id,
    project_result,
    project_with_result,
    run_project,
)
from wattlens.analytics.savings import SavingsError
from wattlens.core.meters import MeterInfo
from wattlens.dashboard import components, figures, urlstate
from wattlens.dashboard.access import User
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import N_, _
from wattlens.dashboard.queries import DashboardData
from wattlens.dashboard.report import render_report, report_pdf, summary_rows, warning_text

dash.register_page(__name__, path="/savings", name=N_("Savings"), order=4,
                   title=lambda: f"wattlens · {_('Savings')}")

MODELS = {"caltrack-daily": N_("CalTRACK daily (HDD/CDD change-point)"),
          "towt": N_("CalTRACK hourly TOWT"), "prophet": "Prophet"}

_FORMAT = {"function": "params.value == null ? '' : d3.format(',.0f')(params.value)"}
_PICK = N_("Select a recommendation to see its evidence.")


def _rec_columns() -> list[dict[str, Any]]:
    """The recommendations grid's columns, headed in the request's language."""
    return [
        {"field": "title", "headerName": _("recommendation"), "flex": 3, "wrapText": True,
         "autoHeight": True},
        {"field": "meter", "headerName": _("meter")},
        {"field": "annual_kwh", "headerName": _("kWh / year"), "valueFormatter": _FORMAT},
        {"field": "share", "headerName": _("share of the meter"), "width": 110,
         "valueFormatter":
            {"function": "params.value == null ? '' : d3.format('.1%')(params.value)"}},
        {"field": "annual_cost", "headerName": _("cost / year"), "sort": "desc",
         "valueFormatter": _FORMAT},
        {"field": "annual_co2_kg", "headerName": _("kgCO2 / year"), "valueFormatter": _FORMAT},
        {"field": "confidence", "headerName": _("confidence"), "width": 110},
        {"field": "rule", "headerName": _("rule")},
    ]


def _period_and_model_fields(prefix: str, baseline: str, blackout: str, reporting: str,
                             model: str) -> list[html.Label]:
    """The periods, baseline model and confidence of an estimate (ids ``<prefix>-baseline``,
    ``-blackout``, ``-reporting``, ``-model``, ``-confidence``), labelled as given."""
    return [
        html.Label([baseline + " ", components.period(f"{prefix}-baseline")]),
        html.Label([blackout + " ", components.period(f"{prefix}-blackout")]),
        html.Label([reporting + " ", components.period(f"{prefix}-reporting")]),
        html.Label([model + " ", dcc.Dropdown(
            id=f"{prefix}-model", value="caltrack-daily", clearable=False,
            options=[{"label": _(v), "value": k} for k, v in MODELS.items()],
            style={"width": "300px"})]),
        html.Label([_("confidence") + " ", dcc.Dropdown(
            id=f"{prefix}-confidence", value=0.9, clearable=False,
            options=[{"label": f"{c:.0%}", "value": c} for c in (0.68, 0.8, 0.9, 0.95)],
            style={"width": "100px"})]),
    ]


def _evidence(row: dict[str, Any]) -> dict[str, Any]:
    """A row's evidence as a dict (stored as JSON text by the data layer)."""
    evidence = row.get("evidence")
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return {}
    return evidence if isinstance(evidence, dict) else {}


def evidence_sentences(row: dict[str, Any]) -> list[str]:
    """The evidence of a recommendation in words: its own sentences, or (for documents
    written before they had them) one line per number."""
    evidence = _evidence(row)
    if evidence.get("sentences"):
        return [str(s) for s in evidence["sentences"]]
    lines = [f"{str(row.get('title', ''))}."]
    for key, value in evidence.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    return lines


def recommendation_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Grid rows: each recommendation with its share of its meter's consumption."""
    rows = frame.to_dict("records")
    for row in rows:
        used = _evidence(row).get("meter_consumption_kwh")
        kwh = row.get("annual_kwh")
        row["share"] = kwh / used if isinstance(used, int | float) and used > 0 and \
            isinstance(kwh, int | float) else None
        row["id"] = f"{row.get('rule')}:{row.get('meter')}"
    return rows


def _project_section() -> html.Div:
    """Choose, create and run a project; its result below."""
    form = html.Div([
        html.Label([_("name") + " ", dcc.Input(id="mvp-name", type="text", debounce=False,
                                                style={"width": "260px"})]),
        html.Label([_("treatment meters") + " ", dcc.Dropdown(
            id="mvp-treatment", multi=True, options=[], style={"width": "360px"})]),
        html.Label([_("control meters (optional)") + " ", dcc.Dropdown(
            id="mvp-control", multi=True, options=[], style={"width": "360px"})]),
        *_period_and_model_fields("mvp", _("baseline period"),
                                  _("blackout period (installation, optional)"),
                                  _("reporting period"), _("baseline model")),
        html.Label([_("non-routine events, one per line: first and last local date, reason"),
                    dcc.Textarea(id="mvp-events", placeholder="2019-03-01 2019-03-10 ...",
                                 style={"width": "420px", "height": "3em"})]),
        html.Label([_("non-routine adjustments, one per line: kWh added to the savings, "
                      "reason"),
                    dcc.Textarea(id="mvp-adjustments", placeholder="-120 ...",
                                 style={"width": "420px", "height": "3em"})]),
        html.Button(_("create project"), id="mvp-create", className="button"),
    ], className="form")
    return components.section(
        _("M&V projects"),
        html.Div([
            html.Label([_("project") + " ", dcc.Dropdown(
                id="mvp-project", options=[], placeholder=_("choose a project"),
                style={"width": "460px"})]),
            html.Button(_("run project"), id="mvp-run", className="button primary"),
            html.Button(_("download report (PDF)"), id="mvp-pdf-button", className="button"),
            html.Button(_("download report (HTML)"), id="mvp-html-button", className="button"),
            dcc.Download(id="mvp-report"), dcc.Download(id="mvp-report-pdf"),
        ], className="form"),
        html.Details([html.Summary(_("new project")), form], id="mvp-new"),
        html.P(id="mvp-message", className="note", role="status"),
        dcc.Loading(html.Div(id="mvp-result"), type="dot"),
        html.Div([components.graph("mvp-chart", _("Run a project to see the baseline against "
                                                  "actual of its treatment meter.")),
                  components.graph("mvp-cumulative", _("Run a project to see its cumulative "
                                                       "savings."))], className="two-col"),
        note=_("A project compares its treatment meters with their baseline model and, when "
               "it has control meters, with matched control equipment over the same period "
               "(difference in differences). You see and create only projects on your "
               "meters."))


def layout(meter: str | None = None, **_query: str) -> html.Div:
    return html.Div([
        urlstate.url_state("savings", meter),
        components.section(
            _("Recommendations"), dcc.Checklist(
                id="savings-rec-scope", value=["meter"], inline=True, options=[
                    {"label": " " + _("only the picked meter"), "value": "meter"}]),
            dag.AgGrid(
                id="savings-recommendations", columnDefs=_rec_columns(), rowData=[],
                getRowId="params.data.id",
                defaultColDef={"sortable": True, "resizable": True, "filter": True, "flex": 1},
                dashGridOptions={
                    "rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                    "localeText": components.grid_locale(
                        _("No recommendations yet: run `wattlens recommend`."))},
                style={"height": "360px"}),
            html.Div([
                html.Ul([html.Li(_(_PICK))], id="savings-rec-evidence", className="evidence"),
                dcc.Graph(id="savings-rec-chart", figure=figures.message(_(_PICK)),
                          config={**components.GRAPH_CONFIG, "displayModeBar": False},
                          style={"height": "310px"}),
            ], className="two-col"),
            note=_("Ranked by annual value. Overlapping measures share a meter's savings: a "
                   "meter's rows add up to what they save together, never to more than it "
                   "uses.")),
        _project_section(),
        components.section(
            _("Quick estimate on the picked meter (IPMVP Option C for a building meter, B for "
              "a submeter)"), html.Div([
            *_period_and_model_fields("mv", _("baseline"),
                                      _("blackout (installation, optional)"), _("reporting"),
                                      _("model")),
            html.Button(_("estimate savings"), id="mv-run", className="button primary"),
            html.Button(_("download report (HTML)"), id="mv-report-button", className="button"),
            dcc.Download(id="mv-report"),
        ], className="form")),
        dcc.Loading(html.Div(id="mv-summary"), type="dot"),
        html.Div([
            components.section(_("Adjusted baseline against actual"),
                               components.graph("mv-chart", _("Run an estimate to see the "
                                                              "baseline against actual."))),
            components.section(_("Cumulative savings"),
                               components.graph("mv-cumulative", _("Run an estimate to see "
                                                                   "cumulative savings."))),
        ], className="two-col"),
    ])


urlstate.sync("savings", {})


@dash.callback(Output("savings-recommendations", "rowData"),
               Output("savings-recommendations", "selectedRows"), Input("meter-picker", "value"),
               Input("savings-rec-scope", "value"))
def update_recommendations(meter: str | None, scope: list[str] | None
                           ) -> tuple[list[dict[str, Any]], Any]:
    """The recommendations (of the picked meter only, if so chosen), the picked meter's
    first one selected."""
    data, user = request_data()
    data.allowed(user, [meter])  # a request naming a meter outside the scope is refused
    rows = recommendation_rows(data.recommendations(user))
    if meter and "meter" in (scope or []):
        rows = [r for r in rows if r["meter"] == meter]
    first = next((r for r in rows if r["meter"] == meter), None)
    return rows, [first] if first else []


@dash.callback(Output("savings-rec-evidence", "children"), Output("savings-rec-chart", "figure"),
               Input("savings-recommendations", "selectedRows"))
def show_evidence(selected: list[dict[str, Any]] | None) -> tuple[list[html.Li], Any]:
    """The selected recommendation's evidence in sentences and its profile chart."""
    if not selected:
        return [html.Li(_(_PICK))], figures.message(_(_PICK))
    row = selected[0]
    sentences = [html.Li(s) for s in evidence_sentences(row)]
    profile = _evidence(row).get("profile")
    if not profile:
        return sentences, figures.message(_("No profile stored with this recommendation: run "
                                            "`wattlens recommend` again."))
    return sentences, figures.recommendation_profile(
        profile, _("{meter}: typical day now and after this measure").format(
            meter=row.get("meter")))


@dash.callback(Output("mv-baseline", "start_date"), Output("mv-baseline", "end_date"),
               Output("mv-reporting", "start_date"), Output("mv-reporting", "end_date"),
               Output("mvp-baseline", "start_date"), Output("mvp-baseline", "end_date"),
               Output("mvp-reporting", "start_date"), Output("mvp-reporting", "end_date"),
               Input("meter-picker", "value"))
def default_periods(meter: str | None) -> tuple:
    """Baseline: the year before the last; reporting: the last year of data (of the quick
    estimate and of a new project)."""
    data, user = request_data()
    span = data.span(user, meter) if meter else None
    if span is None:
        return (None,) * 8
    tz = data.info(user, meter).timezone
    end = span[1].tz_convert(tz).normalize()
    mid = end - pd.Timedelta("365D")
    begin = mid - pd.Timedelta("365D")
    day = "%Y-%m-%d"
    dates = (begin.strftime(day), (mid - pd.Timedelta("1D")).strftime(day), mid.strftime(day),
             (end - pd.Timedelta("1D")).strftime(day))
    return dates + dates


_FORM = [State("meter-picker", "value"), State("mv-baseline", "start_date"),
         State("mv-baseline", "end_date"), State("mv-blackout", "start_date"),
         State("mv-blackout", "end_date"), State("mv-reporting", "start_date"),
         State("mv-reporting", "end_date"), State("mv-model", "value"),
         State("mv-confidence", "value")]


def _spec(meter: str, b0: str | None, b1: str | None, k0: str | None, k1: str | None,
          r0: str | None, r1: str | None, model: str, confidence: float) -> MVSpec:
    """The form as an M&V job spec (dates are local and inclusive)."""
    if not (b0 and b1):
        raise ValueError(_("choose both dates of the baseline period"))
    if not (r0 and r1):
        raise ValueError(_("choose both dates of the reporting period"))
    return MVSpec(meter=meter, baseline=(b0[:10], b1[:10]), reporting=(r0[:10], r1[:10]),
                  blackout=(k0[:10], k1[:10]) if k0 and k1 else None, model=model,
                  confidence=confidence)


@dash.callback(Output("mv-summary", "children"), Output("mv-chart", "figure"),
               Output("mv-cumulative", "figure"), Input("mv-run", "n_clicks"),
               Input("meter-picker", "value"), *_FORM[1:])
def run(_clicks: int, meter: str, b0: str, b1: str, k0: str | None, k1: str | None,
        r0: str, r1: str, model: str, confidence: float) -> tuple:
    data, user = request_data()
    if dash.ctx.triggered_id != "mv-run":  # a new meter: the old result no longer applies
        name = data.info(user, meter).label
        text = _("Choose the periods and the model for {name}, then estimate savings.").format(
            name=name)
        return html.P(text, className="note"), figures.message(text), figures.message(text)
    spec = _spec(meter, b0, b1, k0, k1, r0, r1, model, confidence)
    project = data.savings(user, spec, rerun=True)
    tz = data.info(user, meter).timezone
    rows = summary_rows(project)
    summary = html.Div([
        html.Table([html.Tr([html.Th(k), html.Td(v, id=f"mv-out-{slug}")])
                    for slug, k, v in rows], className="summary", id="mv-summary-table"),
        html.Ul([html.Li(warning_text(w)) for w in project["warnings"]], className="warnings")
        if project["warnings"] else html.P(_("No data-sufficiency warnings."), className="note"),
    ])
    return (summary, figures.savings(frame_of(project["series"]), tz, project["per"]),
            figures.cumulative_savings(frame_of(project["cumulative"]), tz))


@dash.callback(Output("mv-report", "data"), Input("mv-report-button", "n_clicks"), *_FORM,
               prevent_initial_call=True)
def report(_clicks: int, meter: str, b0: str, b1: str, k0: str | None, k1: str | None,
           r0: str, r1: str, model: str, confidence: float) -> dict:
    data, user = request_data()
    project = data.savings(user, _spec(meter, b0, b1, k0, k1, r0, r1, model, confidence))
    name = f"mv_{meter}_{model}_{r0}_{r1}.html"
    report = render_report(project, data.info(user, meter), data.access.names)
    return {"content": report, "filename": name, "type": "text/html"}


# ------------------------------------------------------------------------------- projects


def _status(status: str) -> str:
    return {"draft": _("draft"), "running": _("running"), "done": _("done"),
            "failed": _("failed")}.get(status, status)


def _lines(text: str | None) -> list[list[str]]:
    return [line.split(maxsplit=2) for line in (text or "").splitlines() if line.strip()]


def _events(text: str | None) -> tuple[NonRoutineEvent, ...]:
    """Non-routine events typed one per line: FIRST LAST reason."""
    events = []
    for parts in _lines(text):
        if len(parts) < 3:
            raise ValueError(_("non-routine event '{line}': write the first and last local "
                               "date and a reason, e.g. 2019-03-01 2019-03-10 chiller repair"
                               ).format(line=" ".join(parts)))
        events.append(NonRoutineEvent(start=parts[0], end=parts[1],
                                      reason=parts[2]))
    return tuple(events)


def _adjustments(text: str | None) -> tuple[Adjustment, ...]:
    """Non-routine adjustments typed one per line: KWH reason."""
    out = []
    for parts in _lines(text):
        if len(parts) < 2:
            raise ValueError(_("adjustment '{line}': write the kWh and a reason, e.g. -120 "
                               "new freezer").format(line=" ".join(parts)))
        out.append(Adjustment(kwh=parts[0], reason=" ".join(parts[1:])))
    return tuple(out)


def new_project(user: User, data: DashboardData, name: str | None, treatment: list[str] | None,
                control: list[str] | None, dates: list[str | None], model: str,
                confidence: float, events: str | None, adjustments: str | None) -> Project:
    """The form as a project owned by ``user`` (``dates``: baseline, blackout and reporting
    first and last dates)."""
    b0, b1, k0, k1, r0, r1 = (d[:10] if d else None for d in dates)
    if not name or not name.strip():
        raise ValueError(_("give the project a name"))
    if not treatment:
        raise ValueError(_("choose at least one treatment meter"))
    if not (b0 and b1 and r0 and r1):
        raise ValueError(_("choose both dates of the baseline and of the reporting period"))
    return Project(id=new_id(name), name=name.strip(), owner=f"user:{user.name}",
                   treatment=tuple(treatment), control=tuple(control or ()),
                   baseline=(b0, b1), reporting=(r0, r1),
                   blackout=(k0, k1) if k0 and k1 else None,
                   model=model, confidence=confidence, settings=data.savings_settings,
                   non_routine=_events(events), adjustments=_adjustments(adjustments))


def describe(project: Project) -> html.Div:
    """Who made a project, its meters, periods, model and status (with the error of a
    failed run)."""
    def span(period: Any) -> str:
        return _("{first} to {last}").format(first=period[0], last=period[1])

    facts = [(_("owner"), project.owner),
             (_("treatment meters"), ", ".join(project.treatment)),
             (_("control meters"), ", ".join(project.control) or "–"),
             (_("baseline period"), span(project.baseline)),
             (_("blackout period"), span(project.blackout) if project.blackout else "–"),
             (_("reporting period"), span(project.reporting)),
             (_("baseline model"), project.model),
             (_("status"), _status(project.status))]
    facts += [(_("non-routine event"), f"{span((e.start, e.end))}: {e.reason}")
              for e in project.non_routine]
    facts += [(_("non-routine adjustment"), f"{a.kwh:+,.0f} kWh: {a.reason}")
              for a in project.adjustments]
    if project.error:
        facts.append((_("error of the last run"), project.error))
    return html.Dl([part for label, value in facts
                    for part in (html.Dt(label), html.Dd(value))],
                   className="project-facts", id="mvp-facts")


def _label(slug: str) -> str:
    if slug == "single-meter":
        return _("treatment vs its baseline model (single meter)")
    if slug == "did":
        return _("treatment vs control (difference in differences)")
    return _("placebo: control {meter} vs its baseline model").format(
        meter=slug.removeprefix("placebo-"))


def result_view(doc: dict[str, Any]) -> html.Div:
    """A project result: its estimates side by side, the treatment meter's headline numbers
    and every warning."""
    conf = f"{doc['comparison']['confidence']:.0%}"
    head = html.Tr([html.Th(_("estimate")), html.Th(_("savings [kWh]")),
                    html.Th(_("savings [%]")),
                    html.Th(_("{confidence} interval [kWh]").format(confidence=conf))])
    rows = [html.Tr([html.Th(_label(slug)),
                     *(html.Td(v, id=f"mvp-out-{slug}-{part}")
                       for part, v in zip(("kwh", "pct", "interval"), estimate_cells(est),
                                          strict=True))])
            for slug, _english, est in comparison_rows(doc)]
    others = (*doc["treatment_results"].values(), *doc["control_results"].values())
    warnings = [warning_text(w) for d in (doc, *others) for w in d["warnings"]]
    title = _("{name}: computed {when} UTC").format(name=doc["project"]["name"],
                                                    when=doc["computed_at"][:16].replace("T", " "))
    return html.Div([
        html.H4(title),
        html.Table([head, *rows], className="summary", id="mvp-comparison"),
        html.P(_("Difference in differences: the treatment's savings less the control's "
                 "relative change over the same period, taken on the treatment's adjusted "
                 "baseline; both models' uncertainties are combined. The placebo is the "
                 "control's own baseline-model savings over the reporting period and should "
                 "be about zero."), className="note") if doc["control"] is not None else None,
        html.H4(_("Treatment meter {meter}").format(meter=doc["meter"])),
        html.Table([html.Tr([html.Th(k), html.Td(v, id=f"mvp-meter-{slug}")])
                    for slug, k, v in summary_rows(doc)], className="summary"),
        html.Ul([html.Li(w) for w in warnings], className="warnings") if warnings
        else html.P(_("No data-sufficiency warnings."), className="note"),
    ])


_PROJECT_FORM = [State("mvp-name", "value"), State("mvp-treatment", "value"),
                 State("mvp-control", "value"), State("mvp-baseline", "start_date"),
                 State("mvp-baseline", "end_date"), State("mvp-blackout", "start_date"),
                 State("mvp-blackout", "end_date"), State("mvp-reporting", "start_date"),
                 State("mvp-reporting", "end_date"), State("mvp-model", "value"),
                 State("mvp-confidence", "value"), State("mvp-events", "value"),
                 State("mvp-adjustments", "value")]


@dash.callback(Output("mvp-project", "options"), Output("mvp-project", "value"),
               Output("mvp-treatment", "options"), Output("mvp-control", "options"),
               Output("mvp-message", "children"), Output("mvp-result", "children"),
               Output("mvp-chart", "figure"), Output("mvp-cumulative", "figure"),
               Input("mvp-create", "n_clicks"), Input("mvp-run", "n_clicks"),
               Input("mvp-project", "value"), *_PROJECT_FORM)
def projects(_create: int | None, _run: int | None, chosen: str | None, name: str | None,
             treatment: list[str] | None, control: list[str] | None, b0: str | None,
             b1: str | None, k0: str | None, k1: str | None, r0: str | None, r1: str | None,
             model: str, confidence: float, events: str | None,
             adjustments: str | None) -> tuple:
    """Create or run a project of the user's, list them, and show the chosen one's result."""
    data, user = request_data()
    catalogue, visible = data.access.meters, user.meters
    message = ""
    if dash.ctx.triggered_id == "mvp-create":
        made = new_project(user, data, name, treatment, control, [b0, b1, k0, k1, r0, r1],
                           model, confidence, events, adjustments)
        chosen = create_project(data.store, catalogue, made, visible).id
        message = _("Project {name} created as a draft; run it to see its result.").format(
            name=made.name)
    elif dash.ctx.triggered_id == "mvp-run" and chosen:
        try:  # a failed run is recorded and shown; a project out of scope is refused
            run_project(data.store, catalogue, chosen, visible)
        except ProjectError:
            raise
        except SavingsError as exc:
            message = _("The run failed: {error}").format(error=str(exc))
    found = list_projects(data.store, visible)
    options = [{"label": f"{p.name} · {_status(p.status)} · {p.id}", "value": p.id}
               for p in found]
    meters = components.meter_options(data.catalogue(user))
    if not chosen:
        text = _("Choose a project, or create one below.")
        return (options, chosen, meters, meters, message, html.P(text, className="note"),
                figures.message(text), figures.message(text))
    project, doc = project_with_result(data.store, chosen, visible)
    if doc is None:
        text = _("This project has not been run yet: run it to see its result.")
        return (options, chosen, meters, meters, message,
                html.Div([describe(project), html.P(text, className="note")]),
                figures.message(text), figures.message(text))
    tz = data.info(user, doc["meter"]).timezone
    return (options, chosen, meters, meters, message,
            html.Div([describe(project), result_view(doc)]),
            figures.savings(frame_of(doc["series"]), tz, doc["per"]),
            figures.cumulative_savings(frame_of(doc["cumulative"]), tz))


def _reported(chosen: str | None) -> tuple[dict[str, Any], MeterInfo, dict[str, str]]:
    """The chosen project's latest result, its (first) treatment meter and the display
    names of sites and buildings, for a report."""
    data, user = request_data()
    doc = project_result(data.store, chosen, user.meters) if chosen else None
    if doc is None:
        raise ValueError(_("choose a project that has been run"))
    return doc, data.info(user, doc["meter"]), data.access.names


@dash.callback(Output("mvp-report", "data"), Input("mvp-html-button", "n_clicks"),
               State("mvp-project", "value"), prevent_initial_call=True)
def project_report(_clicks: int, chosen: str | None) -> dict:
    """The chosen project's latest result as the HTML report (the result JSON embedded)."""
    doc, info, names = _reported(chosen)
    return {"content": render_report(doc, info, names), "filename": f"mv_{doc['key']}.html",
            "type": "text/html"}


@dash.callback(Output("mvp-report-pdf", "data"), Input("mvp-pdf-button", "n_clicks"),
               State("mvp-project", "value"), prevent_initial_call=True)
def project_pdf(_clicks: int, chosen: str | None) -> dict:
    """The chosen project's latest result as the PDF report (the result JSON attached, for
    `wattlens mv verify`)."""
    doc, info, names = _reported(chosen)
    return dcc.send_bytes(report_pdf(doc, info, names), f"mv_{doc['key']}.pdf")
