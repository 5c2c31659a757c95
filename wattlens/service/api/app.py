"""The HTTP API of ``wattlens run`` (``/api/v1``), ``/healthz`` and ``/metrics``, as one
flask-openapi3 app whose routes make its OpenAPI description (``/api/v1/openapi.json``).

Every read is limited to the caller's meters (:mod:`.auth`); writes and documents need an admin
token (or the Unix socket). Tables come as JSON records, CSV or Parquet (``format``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flask
import pandas as pd
from flask_openapi3 import Info, OpenAPI, Tag
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wattlens.analytics.mv import MV_KIND
from wattlens.analytics.savings import SavingsSettings
from wattlens.core.base import Frozen
from wattlens.core.meters import MeterInfo
from wattlens.ingest.worker import STATUS_KIND
from wattlens.service.api import models as m
from wattlens.service.api.auth import LOCAL, Caller, Refused, Tokens, refuse
from wattlens.service.api.projects import register_projects
from wattlens.service.metrics import ServiceMetrics, health
from wattlens.service.supervisor import Supervisor
from wattlens.store.base import Store, StoreError, StoreUnavailable, utc_timestamp
from wattlens.store.csvio import write_csv
from wattlens.store.jobruns import job_history
from wattlens.store.remote import ANY_QUANTITY, API, PARQUET, from_parquet, to_parquet

log = logging.getLogger("wattlens.api")

LOCAL_ENVIRON = "wattlens.local"
"""WSGI environ key the Unix-socket server sets: the caller is the data directory's owner."""
BEARER = "bearer"
SECURED: list[dict[str, list[str]]] = [{BEARER: []}]
PUBLIC = ("/healthz", "/metrics", f"{API}/openapi.json")

_DATA, _ADMIN, _SERVICE = Tag(name="data"), Tag(name="admin"), Tag(name="service")
_REFUSALS: dict[Any, Any] = {
    str(code): {"description": text, "content": {
        "application/json": {"schema": m.Error.model_json_schema()}}}
    for code, text in ((400, "bad request: the message says what to change"),
                       (401, "no or unknown bearer token"),
                       (403, "the token may not do this"),
                       (404, "no such meter, event or result (or not in the token's scope)"),
                       (503, "the store is unavailable; retry later"))}


def caller() -> Caller:
    """The caller of the current request (set by the app's before-request check)."""
    who: Caller = flask.g.caller
    return who


def _refuse(status: int, message: str) -> Refused:
    return refuse(caller(), flask.request.method, flask.request.path, status, message)


def _admin() -> None:
    if not caller().admin:
        raise _refuse(403, "this needs an admin token ([[api.tokens]] admin = true)")


def _everything() -> None:
    """Only a caller who sees every meter may read installation-wide state (jobs, sources):
    their counts and errors name meters."""
    if caller().meters is not None:
        raise _refuse(403, "this describes every meter; it needs a token with all_meters or "
                           "admin")


def _meters(asked: Sequence[str] | None) -> list[str] | None:
    """The meters to read: ``asked`` if the caller sees each (404 naming the first not, as if
    it did not exist), or every meter the caller sees."""
    who = caller()
    if asked is None:
        return None if who.meters is None else sorted(who.meters)
    for meter in asked:
        if not who.may_see(meter):
            raise _refuse(404, f"no meter {meter!r}; list the meters with GET {API}/meters")
    return list(asked)


ISO_US = "%Y-%m-%dT%H:%M:%S.%f%z"
"""Times in CSV answers: ISO 8601 to the microsecond (sub-second reading times stay exact)."""


def _table(frame: pd.DataFrame, fmt: str) -> flask.Response:
    """``frame`` in ``fmt`` (json records, csv or parquet)."""
    if fmt == "parquet":
        body: bytes | str = to_parquet(frame)
    elif fmt == "csv":
        times = frame.select_dtypes("datetimetz").columns
        body = write_csv(frame.assign(**{c: frame[c].dt.strftime(ISO_US) for c in times})) or ""
    else:  # ISO 8601 to the microsecond: sub-second reading times stay exact
        body = frame.to_json(orient="records", date_format="iso", date_unit="us")
    return flask.Response(body, mimetype=m.MEDIA[fmt])


def _incoming() -> pd.DataFrame:
    """The frame in the request body: Parquet, or JSON records."""
    request = flask.request
    if request.mimetype == PARQUET:
        return from_parquet(request.get_data())
    if request.mimetype == "application/json":
        return pd.DataFrame(request.get_json())
    raise ValueError(f"body of type {request.mimetype!r}; send {PARQUET} or application/json "
                     f"records")


def _error(status: int, message: str, kind: str) -> flask.Response:
    response = flask.jsonify({"error": message, "type": kind})
    response.status_code = status
    return response


def create_api(store: Store, catalogue: Mapping[str, MeterInfo], tokens: Tokens,
               metrics: ServiceMetrics, supervisor: Supervisor | None = None,
               savings: SavingsSettings | None = None) -> OpenAPI:
    """The API app over ``store``; ``catalogue`` describes the configured meters, ``tokens``
    admit TCP callers, ``metrics`` and ``supervisor`` feed ``/metrics`` and ``/healthz``,
    ``savings`` are the baseline models' settings of new M&V projects."""
    app = OpenAPI(
        "wattlens.api", info=Info(title="wattlens", version="1"), doc_ui=False,
        security_schemes={BEARER: {"type": "http", "scheme": "bearer"}},
        responses=_REFUSALS)

    @app.before_request
    def _authenticate() -> None:
        if flask.request.path in PUBLIC:
            return
        if flask.request.environ.get(LOCAL_ENVIRON):
            flask.g.caller = LOCAL
            return
        flask.g.caller = tokens.caller(flask.request.headers.get("Authorization"))

    @app.errorhandler(Refused)
    def _refused(exc: Refused) -> flask.Response:
        return _error(exc.status, str(exc), "Refused")

    @app.errorhandler(ValueError)
    def _bad(exc: ValueError) -> flask.Response:
        return _error(400, str(exc), type(exc).__name__)

    @app.errorhandler(StoreUnavailable)
    def _unavailable(exc: StoreUnavailable) -> flask.Response:
        return _error(503, str(exc), "StoreUnavailable")

    @app.errorhandler(StoreError)
    def _store_error(exc: StoreError) -> flask.Response:
        return _error(500, str(exc), "StoreError")

    def route(method: str, path: str, tag: Tag, **kwargs: Any) -> Callable[[Any], Any]:
        register = getattr(app, method)
        decorator: Callable[[Any], Any] = register(API + path, tags=[tag], security=SECURED,
                                                   **kwargs)
        return decorator

    # ------------------------------------------------------------------ service
    @app.get("/healthz", tags=[_SERVICE], security=[],
             responses={200: {"description": "every role runs"},
                        503: {"description": "a role is down or restarting"}})
    def healthz() -> Any:
        """Liveness, and each role's readiness."""
        body, status = health(supervisor)
        return flask.jsonify(body), status

    @app.get("/metrics", tags=[_SERVICE], security=[],
             responses={200: {"description": "Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def prometheus() -> Any:
        """Sources, jobs, store write latency, ingest buffer and roles, for Prometheus."""
        return flask.Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get(f"{API}/openapi.json", doc_ui=False)
    def openapi() -> Any:
        return flask.jsonify(app.api_doc)

    # --------------------------------------------------------------------- data
    @route("get", "/meters", _DATA, responses={200: {"description": "the visible meters",
           "content": {"application/json": {"schema": {
               "type": "array", "items": m.Meter.model_json_schema()}}}}})
    def meters(query: m.MetersQuery) -> Any:
        """The meters the token sees: configured ones and those with readings."""
        stored = set(store.meters(query.quantity))
        ids = set(catalogue) | stored
        visible = caller().meters
        if visible is not None:
            ids &= visible
        rows = []
        for meter in sorted(ids):
            info = catalogue.get(meter, MeterInfo(id=meter))
            rows.append(m.Meter(id=meter, name=info.name, site=info.site,
                                building=info.building, commodity=info.commodity,
                                timezone=info.timezone, stored=meter in stored).model_dump())
        return flask.jsonify(rows)

    def tabled(path: str, row: type[Frozen], what: str) -> Callable[[Any], Any]:
        return route("get", path, _DATA, responses={200: m.table(row, what)})

    def spanned(read: Callable[..., pd.DataFrame], query: Any, *extra: Any) -> flask.Response:
        """``read(meters, start, end, *extra)`` in the query's format."""
        frame = read(_meters(query.meter), utc_timestamp(query.start), utc_timestamp(query.end),
                     *extra)
        return _table(frame, query.format)

    @tabled("/readings", m.ReadingRow, "raw readings")
    def readings(query: m.ReadingsQuery) -> Any:
        """Raw readings in [start, end)."""
        quantity = None if query.quantity == ANY_QUANTITY else query.quantity

        def read(meters: list[str] | None, start: Any, end: Any) -> pd.DataFrame:
            return store.read_readings(meters, quantity, start, end)
        return spanned(read, query)

    @tabled("/readings/aggregate", m.AggregateRow, "one row per meter and bucket")
    def aggregate(query: m.AggregateQuery) -> Any:
        """Readings aggregated per bucket (computed in the store, buckets aligned in tz)."""
        frame = store.aggregate(_meters(query.meter), query.quantity, query.start, query.end,
                                query.every, query.how, query.tz)
        return _table(frame, query.format)

    @tabled("/readings/latest", m.LatestRow, "the newest reading per meter")
    def latest(query: m.LatestQuery) -> Any:
        """The newest reading of each meter."""
        return _table(store.latest(_meters(query.meter), query.quantity), query.format)

    @tabled("/forecasts", m.ForecastRow, "forecasts as issued")
    def forecasts(query: m.ForecastsQuery) -> Any:
        """Forecasts as issued whose target time is in [start, end)."""
        return spanned(store.read_forecasts, query, query.model)

    @tabled("/events", m.EventRow, "events with their latest annotation")
    def events(query: m.EventsQuery) -> Any:
        """Events overlapping [start, end), with their latest annotation."""
        return spanned(store.read_events, query, query.kind)

    @route("post", "/events/annotations", _DATA,
           responses={204: {"description": "recorded"}})
    def annotate(body: m.Annotation) -> Any:
        """Acknowledge an event, mark it non-routine or reopen it (kept with who, when, why)."""
        who = caller()
        if not who.admin:
            found = store.read_events(_meters(None))
            if body.event_id not in set(found["event_id"]):
                raise _refuse(404, f"no event {body.event_id!r}; list events with GET "
                                   f"{API}/events")
        store.annotate_event(body.event_id, body.status, body.by or who.name, body.note,
                             utc_timestamp(body.at))
        return "", 204

    @route("get", "/mv", _DATA, responses={200: {"description": "M&V results by key"}})
    def mv_results(query: m.MVQuery) -> Any:
        """Verified-savings (M&V) results of the visible meters, by key."""
        chosen = _meters(query.meter)
        docs = store.list_documents(MV_KIND)
        return flask.jsonify({key: doc for key, doc in docs.items()
                              if chosen is None or doc.get("meter") in chosen})

    @route("get", "/mv/one", _DATA, responses={200: {"description": "one M&V result"}})
    def mv_result(query: m.KeyQuery) -> Any:
        """One M&V result."""
        doc = store.get_document(MV_KIND, query.key)
        if doc is None or not caller().may_see(str(doc.get("meter"))):
            raise _refuse(404, f"no M&V result {query.key!r}; list them with GET {API}/mv")
        return flask.jsonify(doc)

    @route("get", "/jobs", _DATA, responses={200: {"description": "job runs, newest first"}})
    def jobs(query: m.JobsQuery) -> Any:
        """The job-run history: start, end, status, counts, error (all-meters tokens)."""
        _everything()
        return flask.jsonify(job_history(store, query.limit, query.job))

    @route("get", "/ingest/status", _DATA,
           responses={200: {"description": "status per source"}})
    def ingest_status() -> Any:
        """Per source: last success, lag, readings in the last hour, rejects, errors
        (all-meters tokens)."""
        _everything()
        return flask.jsonify(store.list_documents(STATUS_KIND))

    register_projects(route, store, catalogue, savings or SavingsSettings())

    # -------------------------------------------------------------------- admin
    def writer(path: str, write: Callable[[pd.DataFrame], int], what: str) -> None:
        def view(raw: m.FrameBody) -> Any:
            _admin()
            return flask.jsonify({"written": write(_incoming())})

        view.__doc__ = f"Write {what} (admin)."
        view.__name__ = f"write_{path.strip('/')}"
        route("post", path, _ADMIN, responses={200: m.Written})(view)

    writer("/readings", store.write_readings, "readings; the same (meter, quantity, time) "
           "overwrites")
    writer("/forecasts", store.write_forecasts, "forecasts as issued")
    writer("/events", store.write_events, "events; the same event_id overwrites")

    @route("get", "/documents", _ADMIN, responses={200: {"description": "documents by key"}})
    def documents(query: m.KindQuery) -> Any:
        """Every document of a kind (admin)."""
        _admin()
        return flask.jsonify(store.list_documents(query.kind))

    @route("get", "/documents/one", _ADMIN, responses={200: {"description": "the document"}})
    def document(query: m.DocumentQuery) -> Any:
        """One document (admin)."""
        _admin()
        doc = store.get_document(query.kind, query.key)
        if doc is None:
            raise Refused(404, f"no document {query.kind}/{query.key}")
        return flask.jsonify(doc)

    @route("put", "/documents/one", _ADMIN, responses={204: {"description": "stored"}})
    def put_document(query: m.DocumentQuery, raw: m.DocumentBody) -> Any:
        """Store (overwrite) one document (admin)."""
        _admin()
        body = json.loads(flask.request.get_data() or b"null")
        if not isinstance(body, dict):
            raise ValueError("the document must be a JSON object")
        store.put_document(query.kind, query.key, body)
        return "", 204

    return app

