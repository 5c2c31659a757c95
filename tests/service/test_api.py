"""The HTTP API over real HTTP: OpenAPI document, token scoping on every route, admin-only
writes, formats, /healthz and /metrics."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from wattlens.analytics.mv import MV_KIND
from wattlens.cli import app as cli
from wattlens.core.meters import MeterInfo
from wattlens.ingest.worker import STATUS_KIND
from wattlens.service.api.app import create_api
from wattlens.service.api.auth import Tokens
from wattlens.service.api.settings import ApiSection, ApiToken
from wattlens.service.metrics import ServiceCollector, ServiceMetrics
from wattlens.service.supervisor import Supervisor
from wattlens.store.duck import DuckDBStore
from wattlens.store.jobruns import record_run
from wattlens.store.remote import PARQUET, from_parquet, to_parquet

A_TOKEN, B_TOKEN, ADMIN_TOKEN = "tok-a-3f9c1", "tok-b-77e2d", "tok-admin-19ab"
B_VALUE = 777.25  # B's readings: never in an answer to tenant A
B_SECRET = "b-secret-note"  # in B's event details and M&V result
T0 = pd.Timestamp("2024-01-01T00:00Z")
CATALOGUE = {
    "a-elec": MeterInfo(id="a-elec", site="campus", building="bldg-a"),
    "b-elec": MeterInfo(id="b-elec", site="campus", building="bldg-b"),
}


def _token(name: str, secret: str, **scope: object) -> ApiToken:
    return ApiToken(name=name, token_hash=generate_password_hash(secret),
                    **scope)  # type: ignore[arg-type]


def _seed(store: DuckDBStore) -> str:
    """Readings, forecasts, events, M&V results, job runs and an ingest status for both
    buildings; returns B's event id."""
    times = pd.date_range(T0, periods=24, freq="h")
    store.write_readings(pd.concat([
        pd.DataFrame({"time": times, "meter": "a-elec", "value": 1.5}),
        pd.DataFrame({"time": times, "meter": "b-elec", "value": B_VALUE})]))
    store.write_forecasts(pd.concat([pd.DataFrame({
        "issued_at": T0, "meter": meter, "model": "towt", "time": times + pd.Timedelta("1D"),
        "yhat": value, "yhat_lower": value - 1, "yhat_upper": value + 1})
        for meter, value in (("a-elec", 1.5), ("b-elec", B_VALUE))]))
    store.write_events(pd.DataFrame({
        "meter": ["a-elec", "b-elec"], "start": [T0, T0], "end": [T0 + pd.Timedelta("3h")] * 2,
        "kind": "spike", "severity": 0.5,
        "details": ['{"why": "a"}', json.dumps({"why": B_SECRET})]}))
    for meter in ("a-elec", "b-elec"):
        store.put_document(MV_KIND, f"{meter}-retrofit", {
            "key": f"{meter}-retrofit", "meter": meter,
            "note": B_SECRET if meter == "b-elec" else "a"})
    record_run(store, "detect", T0, T0 + pd.Timedelta("2s"), counts={"events_found": 2})
    store.put_document(STATUS_KIND, "exports", {"type": "files", "last_success": T0.isoformat(),
                                               "lag_s": 60.0, "readings_last_hour": 48,
                                               "rejected": 2, "errors": 0})
    events = store.read_events()
    return str(events.loc[events["meter"] == "b-elec", "event_id"].iloc[0])


@dataclass
class Api:
    url: str
    store: DuckDBStore
    b_event: str

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API on a real TCP server over a seeded DuckDB store."""
    store = DuckDBStore(tmp_path / "w.duckdb")
    b_event = _seed(store)
    tokens = Tokens([_token("tenant-a", A_TOKEN, buildings=["bldg-a"]),
                     _token("tenant-b", B_TOKEN, meters=["b-elec"]),
                     _token("ops", ADMIN_TOKEN, admin=True)], CATALOGUE)
    app = create_api(store, CATALOGUE, tokens, ServiceMetrics())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Api(f"http://127.0.0.1:{server.port}", store, b_event)
    server.shutdown()
    store.close()


def _text(response: httpx.Response) -> str:
    """The body as text (a Parquet body as the CSV of its frame)."""
    if response.headers.get("content-type", "").startswith(PARQUET):
        return from_parquet(response.content).to_csv(index=False)
    return response.text


def _params(path: str, operation: dict, meter: str | None, fmt: str | None) -> dict:
    """Query parameters aimed at building B for one operation of the OpenAPI document."""
    values = {"meter": meter, "start": "2024-01-01T00:00:00Z", "end": "2024-01-03T00:00:00Z",
              "format": fmt, "key": "b-elec-retrofit",
              "kind": MV_KIND if "/documents" in path else "spike"}
    out = {}
    for param in operation.get("parameters", []):
        name = param["name"]
        if name not in {*values, "quantity", "every", "how", "tz", "model", "limit", "job"}:
            pytest.fail(f"add a building-B value for parameter {name!r} to this test")
        if values.get(name) is not None:
            out[name] = values[name]
    return out


def _body(path: str, api: Api) -> dict:
    if path.endswith("/events/annotations"):
        return {"json": {"event_id": api.b_event, "status": "acknowledged", "note": "by A"}}
    if path.endswith("/documents/one"):
        return {"json": {"meter": "b-elec"}}
    if path.endswith("/projects"):  # a project on building B's meter
        return {"json": {"name": "steal", "treatment": ["b-elec"], "baseline": [
            "2023-01-01", "2023-06-30"], "reporting": ["2023-07-01", "2023-12-31"]}}
    frame = api.store.read_readings(["b-elec"]).head(2).assign(value=1.0)
    return {"content": to_parquet(frame), "headers": {"Content-Type": PARQUET}}


def test_openapi_document_is_valid_and_lists_every_route(api: Api) -> None:
    doc = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    validate(doc)
    assert {"/api/v1/readings", "/api/v1/readings/aggregate", "/api/v1/readings/latest",
            "/api/v1/forecasts", "/api/v1/events", "/api/v1/events/annotations", "/api/v1/jobs",
            "/api/v1/ingest/status", "/api/v1/mv", "/api/v1/meters", "/healthz",
            "/metrics"} <= set(doc["paths"])
    assert set(doc["paths"]["/api/v1/readings"]) == {"get", "post"}


def test_a_building_a_token_reads_nothing_of_building_b_through_any_route(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    doc = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    before = api.store.read_readings(["b-elec"])
    checked = 0
    with api.client(A_TOKEN) as client, caplog.at_level(logging.WARNING, "wattlens.api"):
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                names = {p["name"] for p in operation.get("parameters", [])}
                formats = ["json", "csv", "parquet"] if "format" in names else [None]
                meters = ["b-elec", None] if "meter" in names else [None]
                for fmt in formats:
                    for meter in meters:
                        extra = _body(path, api) if method in ("post", "put") else {}
                        response = client.request(method.upper(), path,
                                                  params=_params(path, operation, meter, fmt),
                                                  **extra)
                        text = _text(response)
                        where = f"{method.upper()} {path} meter={meter} format={fmt}"
                        assert response.status_code in (200, 204, 403, 404), (where, text)
                        assert str(B_VALUE) not in text and B_SECRET not in text, where
                        if response.is_success:
                            assert "b-elec" not in text and api.b_event not in text, where
                        checked += 1
    assert checked > 30
    # nothing of B changed: no annotation, no overwritten readings
    b_events = api.store.read_events(["b-elec"])
    assert b_events["status"].tolist() == ["open"]
    pd.testing.assert_frame_equal(api.store.read_readings(["b-elec"]), before)
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and all("tenant-a" in line and "\n" not in line for line in refusals)
    assert not any(A_TOKEN in line for line in refusals)


def test_the_same_routes_answer_in_scope(api: Api) -> None:
    """The positive control of the scoping test: tenant A gets its own data in every format."""
    with api.client(A_TOKEN) as client:
        assert [m["id"] for m in client.get("/api/v1/meters").json()] == ["a-elec"]
        rows = client.get("/api/v1/readings", params={"meter": "a-elec"}).json()
        assert len(rows) == 24 and {r["value"] for r in rows} == {1.5}
        csv = client.get("/api/v1/readings/aggregate", params={
            "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z", "every": "1d",
            "format": "csv"}).text
        assert pd.read_csv(io.StringIO(csv))["value"].tolist() == [36.0]
        latest = from_parquet(client.get("/api/v1/readings/latest",
                                         params={"format": "parquet"}).content)
        assert latest["meter"].tolist() == ["a-elec"]
        assert latest["time"].tolist() == [T0 + pd.Timedelta("23h")]
        assert len(client.get("/api/v1/forecasts").json()) == 24
        event = client.get("/api/v1/events").json()[0]
        assert client.post("/api/v1/events/annotations", json={
            "event_id": event["event_id"], "status": "acknowledged",
            "note": "seen"}).status_code == 204
        assert list(client.get("/api/v1/mv").json()) == ["a-elec-retrofit"]
    annotated = api.store.read_events(["a-elec"])
    assert annotated[["status", "annotated_by", "note"]].iloc[0].tolist() == [
        "acknowledged", "tenant-a", "seen"]


def test_tokens_authenticate_and_only_admins_write(api: Api) -> None:
    assert httpx.get(f"{api.url}/api/v1/meters").status_code == 401
    with api.client("not-a-token") as client:
        assert client.get("/api/v1/meters").status_code == 401
    with api.client(B_TOKEN) as client:
        assert [m["id"] for m in client.get("/api/v1/meters").json()] == ["b-elec"]
        assert client.get("/api/v1/jobs").status_code == 403  # names every meter's runs
        assert client.get("/api/v1/documents", params={"kind": "checkpoint"}).status_code == 403
    with api.client(ADMIN_TOKEN) as client:
        assert client.get("/api/v1/jobs").json()[0]["job"] == "detect"
        assert client.get("/api/v1/ingest/status").json()["exports"]["rejected"] == 2
        frame = pd.DataFrame({"time": [T0 + pd.Timedelta("2D")], "meter": "c-elec",
                              "value": 3.0})
        written = client.post("/api/v1/readings", content=to_parquet(frame),
                              headers={"Content-Type": PARQUET})
        assert written.json() == {"written": 1}
        bad = client.post("/api/v1/readings", json=[{"time": "2024-01-01", "meter": "c",
                                                     "value": 1}])
        assert bad.status_code == 400 and bad.json()["type"] == "ContractError"
        assert "no timezone" in client.get("/api/v1/readings",
                                           params={"start": "2024-01-01"}).json()["error"]
    assert api.store.read_readings(["c-elec"])["value"].tolist() == [3.0]


def test_plain_tokens_and_unknown_scopes_are_refused_in_the_config() -> None:
    with pytest.raises(ValueError, match="not a password hash.*never put the token itself"):
        ApiSection.model_validate({"tokens": [{"name": "x", "token_hash": "tok-plain"}]})
    with pytest.raises(ValueError, match="unknown sites/buildings/meters"):
        Tokens([_token("x", "s", buildings=["bldg-z"])], CATALOGUE)


def test_healthz_reports_each_role_and_503_while_one_restarts(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "w.duckdb")
    stop = threading.Event()
    crashes = threading.Event()

    def crashing(event: threading.Event) -> None:
        if crashes.is_set():
            event.wait()
        else:
            raise RuntimeError("device gone")

    supervisor = Supervisor({"ingest": crashing, "web": lambda event: event.wait()}, stop,
                            backoff=0.5, max_backoff=0.5)
    app = create_api(store, {}, Tokens([], {}), ServiceMetrics(), supervisor)
    client = app.test_client()
    supervisor.start()
    try:
        deadline = time.monotonic() + 30
        while (answer := client.get("/healthz")).status_code != 503:
            assert time.monotonic() < deadline, answer.json
            time.sleep(0.02)
        ingest = answer.json["roles"]["ingest"]
        assert ingest["state"] == "restarting" and ingest["restarts"] >= 1, ingest
        assert answer.json["roles"]["web"]["state"] == "running"
        crashes.set()
        deadline = time.monotonic() + 30
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/healthz").json["status"] == "ok"
    finally:
        stop.set()
        supervisor.join(2)
        store.close()


def test_metrics_parse_as_prometheus_text(tmp_path: Path) -> None:
    raw = DuckDBStore(tmp_path / "w.duckdb")
    metrics = ServiceMetrics()
    store = metrics.timed(raw)
    _seed(store)  # type: ignore[arg-type]
    record_run(raw, "detect", T0 + pd.Timedelta("15min"), T0 + pd.Timedelta("16min"),
               counts={}, error="boom")
    buffer = tmp_path / "ingest-buffer"
    buffer.mkdir()
    (buffer / "000000000001.json").write_bytes(b"x" * 500)
    supervisor = Supervisor({"web": lambda event: event.wait()}, threading.Event())
    metrics.watch(ServiceCollector(store, buffer, 1000, supervisor))
    app = create_api(store, {}, Tokens([], {}), metrics, supervisor)
    text = app.test_client().get("/metrics").get_data(as_text=True)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("wattlens_source_lag_seconds", (("source", "exports"),))] == 60.0
    assert samples[("wattlens_source_last_success_timestamp_seconds",
                    (("source", "exports"),))] == T0.timestamp()
    assert samples[("wattlens_source_readings_last_hour", (("source", "exports"),))] == 48
    assert samples[("wattlens_source_rejected_total", (("source", "exports"),))] == 2
    job = (("job", "detect"),)
    assert samples[("wattlens_job_last_run_timestamp_seconds", job)] == (
        T0 + pd.Timedelta("15min")).timestamp()
    assert samples[("wattlens_job_last_duration_seconds", job)] == 60.0
    assert samples[("wattlens_job_last_success", job)] == 0.0
    assert samples[("wattlens_job_failures_total", job)] == 1
    assert samples[("wattlens_store_write_seconds_count",
                    (("operation", "write_readings"),))] == 1
    assert samples[("wattlens_ingest_buffer_fill_ratio", ())] == 0.5
    assert samples[("wattlens_role_restarts_total", (("role", "web"),))] == 0
    assert samples[("wattlens_role_up", (("role", "web"),))] == 0.0  # not started
    raw.close()


def test_wattlens_api_token_prints_a_token_and_an_entry_that_admits_it() -> None:
    result = CliRunner().invoke(cli, ["api", "token", "grafana", "--building", "bldg-a"])
    assert result.exit_code == 0, result.output
    token = result.output.splitlines()[1].removeprefix("# ")
    section = ApiSection.model_validate(tomllib.loads(result.output)["api"])
    assert token not in section.tokens[0].token_hash
    tokens = Tokens(section.tokens, CATALOGUE)
    assert tokens.caller(f"Bearer {token}").meters == {"a-elec"}
