"""The API's M&V projects (``/api/v1/projects``): list, get, create and run, each limited to
the caller's meters. A token sees and creates only projects all of whose meters it may read;
another tenant's project is answered 404, as if it did not exist. Runs are synchronous (a
project of a few meters takes seconds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flask
from flask_openapi3 import Tag

from wattlens.analytics.projects import (
    Project,
    ProjectError,
    ProjectNotFound,
    ProjectTerms,
    create_project,
    list_projects,
    new_id,
    project_with_result,
    run_project,
)
from wattlens.analytics.savings import SavingsSettings
from wattlens.core.meters import MeterInfo
from wattlens.service.api.auth import Caller, Refused, refuse
from wattlens.service.api.models import KeyQuery
from wattlens.store.base import Store

PROJECTS = Tag(name="projects")


def register_projects(route: Callable[..., Callable[[Any], Any]], store: Store,
                      catalogue: Mapping[str, MeterInfo], settings: SavingsSettings) -> None:
    """Add the project routes through the app's ``route(method, path, tag, **kwargs)``;
    new projects take the configured baseline-model ``settings``."""

    def who() -> Caller:
        caller: Caller = flask.g.caller
        return caller

    def not_found(exc: ProjectError) -> Refused:
        return refuse(who(), flask.request.method, flask.request.path, 404, str(exc))

    @route("get", "/projects", PROJECTS,
           responses={200: {"description": "the visible projects, newest first"}})
    def projects() -> Any:
        """The M&V projects on the token's meters."""
        return flask.jsonify([p.model_dump(mode="json")
                              for p in list_projects(store, who().meters)])

    @route("get", "/projects/one", PROJECTS,
           responses={200: {"description": "the project and its latest result (or null)"}})
    def project(query: KeyQuery) -> Any:
        """One project and its latest result."""
        try:
            found, result = project_with_result(store, query.key, who().meters)
        except ProjectError as exc:
            raise not_found(exc) from None
        return flask.jsonify({"project": found.model_dump(mode="json"), "result": result})

    @route("post", "/projects", PROJECTS,
           responses={201: {"description": "the project as stored (a draft)"}})
    def create(body: ProjectTerms) -> Any:
        """Create a project on meters the token may read; the token is its owner."""
        try:
            made = Project.model_validate({**body.model_dump(), "id": new_id(body.name),
                                           "owner": f"token:{who().name}",
                                           "settings": settings})
            stored = create_project(store, catalogue, made, who().meters)
        except ProjectError as exc:
            raise not_found(exc) from None
        response = flask.jsonify(stored.model_dump(mode="json"))
        response.status_code = 201
        return response

    @route("post", "/projects/run", PROJECTS,
           responses={200: {"description": "the result document, also stored"}})
    def run(query: KeyQuery) -> Any:
        """Run a project now (status running, then done or failed) and return its result."""
        try:
            return flask.jsonify(run_project(store, catalogue, query.key, who().meters))
        except ProjectNotFound as exc:
            raise not_found(exc) from None
