"""InfluxDB 2.x and 3.x request shapes, checked against a local HTTP server that answers as the
InfluxData documentation describes (only a 1.x server can run here; see tests marked influx)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from wattlens.store.base import StoreError, StoreUnavailable
from wattlens.store.influx import InfluxStore, retry_after

ORG_ID = "0a1b2c3d4e5f6a7b"
BUCKET_ID = "1111222233334444"


class FakeInflux(ThreadingHTTPServer):
    """Records every request; answers per (method, path) from ``routes``, or a scripted queue."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.requests: list[dict] = []
        self.scripted: list[tuple[int, dict, bytes]] = []  # answers for the next writes
        self.buckets: list[dict] = []
        self.dbrps: list[dict] = []
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    server: FakeInflux

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _reply(self, status: int, body: object = b"", headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Influxdb-Version", self.server.version)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        if data:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        req = {"method": self.command, "path": url.path,
               "query": {k: v[0] for k, v in parse_qs(url.query).items()},
               "headers": dict(self.headers), "body": body}
        self.server.requests.append(req)
        return req

    def do_GET(self) -> None:
        req = self._record()
        path, q = req["path"], req["query"]
        if path == "/ping":
            return self._reply(204)
        if req["headers"].get("Authorization") not in ("Token secret-token", "Bearer secret-token"):
            return self._reply(401, {"code": "unauthorized", "message": "unauthorized access"})
        if path == "/api/v2/orgs":
            orgs = [{"id": ORG_ID, "name": "acme"}] if q.get("org") == "acme" else []
            return self._reply(200, {"orgs": orgs})
        if path == "/api/v2/buckets":
            found = [b for b in self.server.buckets if b["name"] == q.get("name")]
            return self._reply(200, {"buckets": found})
        if path == "/api/v2/dbrps":
            found = [d for d in self.server.dbrps if d["database"] == q.get("db")]
            return self._reply(200, {"content": found})
        if path == "/query":
            if q.get("db") != "wattlens":
                return self._reply(404, {"error": f"database not found: {q.get('db')}"})
            return self._reply(200, {"results": [{"statement_id": 0, "series": [
                {"name": "readings", "tags": {"meter": "m 1"}, "columns": ["time", "value"],
                 "values": [[1546300800000000000, 2.5]]}]}]})
        return self._reply(404, {"code": "not found"})

    def do_POST(self) -> None:
        req = self._record()
        path = req["path"]
        if req["headers"].get("Authorization") not in ("Token secret-token", "Bearer secret-token"):
            return self._reply(401, {"code": "unauthorized", "message": "unauthorized access"})
        if path == "/api/v2/buckets":
            body = json.loads(req["body"])
            bucket = {"id": BUCKET_ID, "orgID": body["orgID"], "name": body["name"],
                      "retentionRules": [], "type": "user"}
            self.server.buckets.append(bucket)
            return self._reply(201, bucket)
        if path == "/api/v2/dbrps":
            body = json.loads(req["body"])
            dbrp = {"id": "5555666677778888", "orgID": body["orgID"],
                    "bucketID": body["bucketID"], "database": body["database"],
                    "retention_policy": body["retention_policy"], "default": True,
                    "virtual": False}
            self.server.dbrps.append(dbrp)
            return self._reply(201, dbrp)
        if path == "/api/v2/write":
            if self.server.scripted:
                status, headers, body = self.server.scripted.pop(0)
                return self._reply(status, body, headers)
            return self._reply(204)
        return self._reply(404, {"code": "not found"})


@pytest.fixture
def fake2():
    server = FakeInflux("v2.7.11")
    yield server
    server.shutdown()


@pytest.fixture
def fake3():
    server = FakeInflux("3.0.1")
    yield server
    server.shutdown()


def readings(n: int = 12) -> pd.DataFrame:
    t = pd.date_range("2019-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame({"time": t, "meter": "m 1", "value": 1.5})


def writes(server: FakeInflux) -> list[dict]:
    return [r for r in server.requests if r["path"] == "/api/v2/write"]


def test_v2_init_creates_bucket_and_dbrp_mapping_once(fake2):
    store = InfluxStore(fake2.url, "wattlens", token="secret-token", org="acme")
    assert store.version == 2
    said = store.init()
    assert "created bucket 'wattlens'" in said and "DBRP" in said
    assert fake2.dbrps == [{"id": "5555666677778888", "orgID": ORG_ID, "bucketID": BUCKET_ID,
                            "database": "wattlens", "retention_policy": "autogen",
                            "default": True, "virtual": False}]
    assert "already provisioned" in store.init()
    assert len(fake2.buckets) == 1 and len(fake2.dbrps) == 1


def test_v2_writes_through_influxdb_client_with_token_and_gzip(fake2):
    store = InfluxStore(fake2.url, "wattlens", token="secret-token", org="acme", batch_size=5)
    assert store.write_readings(readings(12)) == 12
    sent = writes(fake2)
    assert len(sent) == 3  # 5 + 5 + 2 lines
    first = sent[0]
    assert first["headers"]["Authorization"] == "Token secret-token"
    assert first["headers"]["Content-Encoding"] == "gzip"
    assert first["query"] == {"org": "acme", "bucket": "wattlens", "precision": "ns"}
    lines = b"".join(r["body"] for r in sent).decode().splitlines()
    assert sorted(lines)[0] == (
        'readings,meter=m\\ 1,quantity=energy value=1.5,quality="ok" 1546300800000000000')


def test_v2_query_uses_token_on_v1_compatible_endpoint(fake2):
    store = InfluxStore(fake2.url, "wattlens", token="secret-token", org="acme")
    got = store.read_readings(["m 1"])
    assert got["value"].tolist() == [2.5] and got["meter"].tolist() == ["m 1"]
    query = [r for r in fake2.requests if r["path"] == "/query"][0]
    assert query["headers"]["Authorization"] == "Token secret-token"
    assert query["query"]["db"] == "wattlens"
    assert "\"meter\" = 'm 1'" in query["query"]["q"]


def test_v3_writes_to_api_v2_write_with_bearer_token(fake3):
    store = InfluxStore(fake3.url, "wattlens", token="secret-token")
    assert store.version == 3
    assert "nothing to provision" in store.init()
    store.write_readings(readings(3))
    sent = writes(fake3)
    assert len(sent) == 1 and sent[0]["query"] == {"bucket": "wattlens", "precision": "ns"}
    assert sent[0]["headers"]["Authorization"] == "Bearer secret-token"
    assert not [r for r in fake3.requests if r["path"] in ("/api/v2/buckets", "/api/v2/dbrps")]


def test_v3_partial_write_is_reported_with_the_servers_reason(fake3):
    fake3.scripted.append((201, {}, json.dumps({
        "error": "partial write of line protocol occurred",
        "data": [{"original_line": "readings,meter=m value=\"x\"", "line_number": 2,
                  "error_message": "invalid column type for column 'value'"}]}).encode()))
    store = InfluxStore(fake3.url, "wattlens", token="secret-token")
    with pytest.raises(StoreError, match="accepted only part.*invalid column type"):
        store.write_readings(readings(3))


@pytest.mark.parametrize("fixture", ["fake2", "fake3"])
def test_401_says_which_setting_to_fix(request, fixture):
    server = request.getfixturevalue(fixture)
    store = InfluxStore(server.url, "wattlens", token="wrong", org="acme")
    with pytest.raises(StoreError, match="refused the credentials \\(401\\).*token_env"):
        store.write_readings(readings(2))
    with pytest.raises(StoreError, match="refused the credentials"):
        store.read_readings()


def test_429_retry_after_is_honoured_then_succeeds(fake3):
    fake3.scripted += [(429, {"Retry-After": "1"}, b'{"error":"slow down"}'),
                       (503, {"Retry-After": "0"}, b"")]
    store = InfluxStore(fake3.url, "wattlens", token="secret-token")
    started = time.monotonic()
    assert store.write_readings(readings(2)) == 2
    assert time.monotonic() - started >= 1.0  # waited as told
    assert len(writes(fake3)) == 3


def test_v2_429_through_influxdb_client_is_retried(fake2):
    fake2.scripted += [(429, {"Retry-After": "0"}, b'{"code":"too many requests"}')]
    store = InfluxStore(fake2.url, "wattlens", token="secret-token", org="acme")
    assert store.write_readings(readings(2)) == 2
    assert len(writes(fake2)) == 2


def test_persistent_503_gives_up_as_unavailable(fake3):
    fake3.scripted += [(503, {"Retry-After": "0"}, b"")] * 3
    store = InfluxStore(fake3.url, "wattlens", token="secret-token", retries=2)
    with pytest.raises(StoreUnavailable, match="kept answering 503"):
        store.write_readings(readings(2))


def test_database_not_found_says_run_store_init(fake3):
    store = InfluxStore(fake3.url, "other", token="secret-token")
    with pytest.raises(StoreError, match="wattlens store init"):
        store.read_readings()


def test_unreachable_server_is_unavailable():
    store = InfluxStore("http://127.0.0.1:9", "wattlens", version=1)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.write_readings(readings(2))


def test_retry_after_parsing():
    assert retry_after("7", 0) == 7.0
    assert retry_after(None, 0) == 0.5 and retry_after(None, 10) == 30.0
    assert 0 <= retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0) <= 1  # a date in the past


def test_secrets_never_in_repr():
    store = InfluxStore("http://127.0.0.1:1", "db", password="hunter2", token="tok-123")
    assert "hunter2" not in repr(store) and "tok-123" not in repr(store)
