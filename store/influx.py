"""InfluxStore: readings, forecasts, events and documents in InfluxDB 1.x, 2.x or 3.x.

- Writes: vectorised line protocol (:mod:`wattlens.store.lineprotocol`) in batches of ``batch_size``
  lines, gzip, two requests in flight, retries on 429/5xx honouring ``Retry-After``.
  1.x posts to ``/write``; 2.x goes through influxdb-client's write API (``/api/v2/write``,
  token); 3.x posts to ``/api/v2/write`` with a token.
- Reads: InfluxQL on ``/query`` using only what 1.x, 2.x (DBRP mapping) and 3.x all accept;
  aggregation runs in the database (``GROUP BY time() … fill(none) tz()``).
- The version comes from ``/ping``'s ``X-Influxdb-Version`` header.

Measurements: ``readings`` (tags meter, quantity; fields value, quality), ``forecasts`` (tags
meter, model, model_version, issued_at), ``events`` (tags meter, kind, event_id; time = start),
``annotations`` (tag event_id; time = when), ``documents`` (tags kind, key; time 0).
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pandas as pd
import requests

from wattlens.store.base import (
    EVERY,
    StoreError,
    StoreUnavailable,
    TimeRange,
    check_aggregation,
    document_body,
    events_with_annotations,
)
from wattlens.store.lineprotocol import (
    batches,
    decode_tag,
    quote_identifier,
    quote_string,
    serialise,
    tag_literal,
)
from wattlens.store.schema import (
    ANNOTATION_COLUMNS,
    ANNOTATION_STATUSES,
    EVENT_COLUMNS,
    FORECAST_COLUMNS,
    empty_readings,
    validate_events,
    validate_forecasts,
    validate_readings,
)
from wattlens.store.settings import StoreConfig

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_HOW = {"sum": "SUM", "mean": "MEAN", "max": "MAX", "min": "MIN", "count": "COUNT"}


def retry_after(value: str | None, attempt: int, cap: float = 30.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the server's ``Retry-After``
    (seconds or HTTP date) when given, else exponential backoff from 0.5 s, capped."""
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    return min(cap, 0.5 * 2**attempt)


def _duration(every: str) -> str:
    seconds = int(EVERY[every].total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _ns(ts: pd.Timestamp) -> int:
    return int(ts.value) if ts.unit == "ns" else int(ts.as_unit("ns").value)


class InfluxStore:
    """A :class:`wattlens.store.base.Store` on an InfluxDB server of any major version."""

    chunk_rows = 100_000
    """Rows serialised at a time while earlier batches are being posted."""

    def __init__(
        self,
        url: str,
        database: str = "wattlens",
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        org: str | None = None,
        retention_policy: str | None = None,
        gzip_writes: bool = True,
        batch_size: int = 5000,
        timeout: float = 30.0,
        retries: int = 5,
        writers: int = 2,
        version: int | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.username = username
        self._password = password
        self._token = token
        self.org = org
        self.retention_policy = retention_policy
        self.gzip = gzip_writes
        self.batch_size = batch_size
        self.timeout = timeout
        self.retries = retries
        self.writers = writers
        self._session = requests.Session()
        self._version = version
        self._client: Any = None  # influxdb-client, 2.x only

    @classmethod
    def from_config(cls, cfg: StoreConfig) -> InfluxStore:
        return cls(
            cfg.url,
            cfg.database,
            username=cfg.username,
            password=cfg.secret("password"),
            token=cfg.secret("token"),
            org=cfg.org,
            retention_policy=cfg.retention_policy,
            gzip_writes=cfg.gzip,
            batch_size=cfg.batch_size,
            timeout=cfg.timeout_s,
        )

    def __repr__(self) -> str:  # never shows secrets
        return f"InfluxStore({self.url!r}, database={self.database!r})"

    # ------------------------------------------------------------ transport
    @property
    def version(self) -> int:
        """Major server version from ``/ping``'s ``X-Influxdb-Version`` header."""
        if self._version is None:
            response = self._request("GET", "/ping", retry=False)
            header = response.headers.get("X-Influxdb-Version", "")
            digits = header.lstrip("vV")[:1]
            if not digits.isdigit():
                raise StoreError(
                    f"{self.url}/ping gave no usable X-Influxdb-Version header ({header!r}); "
                    f"is this an InfluxDB server?"
                )
            self._version = int(digits)
        return self._version

    def _auth(self) -> dict[str, str]:
        if self._token and self._version in (2, 3):
            scheme = "Bearer" if self._version == 3 else "Token"
            return {"Authorization": f"{scheme} {self._token}"}
        return {}

    def _request(
        self,
        method: str,
        path: str,
        *,
        retry: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, retrying 429/5xx as the server asks; map failures to errors."""
        headers = {**self._auth(), **kwargs.pop("headers", {})}
        auth = (self.username, self._password or "") if self.username else None

        def send() -> tuple[int, dict[str, str], requests.Response]:
            try:
                r = self._session.request(
                    method, self.url + path, headers=headers, auth=auth,
                    timeout=self.timeout, **kwargs,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise StoreUnavailable(
                    f"InfluxDB at {self.url} is unreachable ({type(exc).__name__}); "
                    f"check that it runs and [store] url"
                ) from None
            return r.status_code, dict(r.headers), r

        return self._with_retries(send, path, retry)

    def _with_retries(
        self,
        send: Callable[[], tuple[int, dict[str, str], Any]],
        what: str,
        retry: bool = True,
    ) -> Any:
        for attempt in range(self.retries + 1 if retry else 1):
            status, headers, result = send()
            if status not in RETRY_STATUSES:
                self._raise_for(status, result, what)
                return result
            if attempt < self.retries and retry:
                wait = retry_after(headers.get("Retry-After"), attempt)
                log.warning("InfluxDB answered %s on %s; retrying in %.1f s", status, what, wait)
                time.sleep(wait)
        raise StoreUnavailable(
            f"InfluxDB at {self.url} kept answering {status} on {what} after "
            f"{self.retries} retries; it is overloaded or down, try again later"
        )

    def _raise_for(self, status: int, result: Any, what: str) -> None:
        if status < 300 and status != 201:
            return
        body = result.text if isinstance(result, requests.Response) else str(result)
        if status == 201:  # 3.x partial write: some lines were rejected
            if body.strip():
                raise StoreError(
                    f"InfluxDB at {self.url} accepted only part of a write to {what}: {body[:500]}"
                )
            return
        if status in (401, 403):
            raise StoreError(
                f"InfluxDB at {self.url} refused the credentials ({status}) on {what}; set the "
                f"token or password in the environment variable named by [store] token_env / "
                f"password_env, and [store] username"
            )
        if "database not found" in body or "bucket" in body and status == 404:
            raise StoreError(
                f"InfluxDB at {self.url} has no database {self.database!r} ({status}); "
                f"run `wattlens store init` first"
            )
        raise StoreError(f"InfluxDB at {self.url} answered {status} on {what}: {body[:500]}")

    def query(self, q: str) -> list[dict[str, Any]]:
        """Run InfluxQL statements; return the series of the first result."""
        params = {"db": self.database, "q": q, "epoch": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        _ = self.version  # choose the auth scheme
        method = "POST" if q.lstrip().upper().startswith(("CREATE", "DROP")) else "GET"
        data = params if method == "POST" else None
        response = self._request(
            method, "/query", params=None if data else params, data=data
        )
        payload = response.json()
        results = payload.get("results") or [{}]
        for result in results:
            if "error" in result:
                self._raise_for(404 if "not found" in result["error"] else 400,
                                _Text(result["error"]), "query")
        if "error" in payload:
            self._raise_for(400, _Text(payload["error"]), "query")
        return results[0].get("series", [])

    # ------------------------------------------------------------- provision
    def init(self) -> str:
        v = self.version
        if v == 1:
            self.query(f"CREATE DATABASE {quote_identifier(self.database)}")
            return f"InfluxDB 1.x at {self.url}: database {self.database!r} ready"
        if v == 2:
            return self._init_v2()
        return (
            f"InfluxDB 3.x at {self.url}: nothing to provision; database {self.database!r} "
            f"is created by the first write"
        )

    def _v2_client(self) -> Any:
        if self._client is None:
            from influxdb_client import InfluxDBClient

            if not self._token:
                raise StoreError(
                    f"InfluxDB 2.x at {self.url} needs a token; set the environment variable "
                    f"named by [store] token_env"
                )
            self._client = InfluxDBClient(  # org None: the library's own default (typed str)
                url=self.url, token=self._token, org=cast(str, self.org),
                timeout=int(self.timeout * 1000), enable_gzip=self.gzip, retries=False,
            )
        return self._client

    def _init_v2(self) -> str:
        from influxdb_client.domain.dbrp_create import DBRPCreate
        from influxdb_client.rest import ApiException
        from influxdb_client.service.dbr_ps_service import DBRPsService

        if not self.org:
            raise StoreError("InfluxDB 2.x needs an organisation; set [store] org")
        client = self._v2_client()
        try:
            orgs = client.organizations_api().find_organizations(org=self.org)
            if not orgs:
                raise StoreError(f"InfluxDB 2.x at {self.url} has no organisation {self.org!r}")
            org_id = orgs[0].id
            buckets = client.buckets_api()
            bucket = buckets.find_bucket_by_name(self.database)
            done = []
            if bucket is None:
                bucket = buckets.create_bucket(bucket_name=self.database, org=org_id)
                done.append(f"created bucket {self.database!r}")
            service = DBRPsService(client.api_client)
            mappings = service.get_dbr_ps(org_id=org_id, db=self.database).content or []
            if not mappings:
                service.post_dbrp(DBRPCreate(
                    org_id=org_id, bucket_id=bucket.id, database=self.database,
                    retention_policy=self.retention_policy or "autogen", default=True,
                ))
                done.append(f"mapped database {self.database!r} to the bucket (DBRP)")
        except ApiException as exc:
            self._raise_for(exc.status, _Text(exc.body or exc.reason), "provisioning")
            raise
        return f"InfluxDB 2.x at {self.url}: " + ("; ".join(done) or "already provisioned")

    def close(self) -> None:
        self._session.close()
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ write
    def write_lines(self, bodies: Iterable[bytes]) -> int:
        """Post pre-serialised line-protocol bodies, ``writers`` requests in flight."""
        send = self._sender()
        count = 0
        with ThreadPoolExecutor(max_workers=self.writers) as pool:
            pending = []
            for body in bodies:
                pending.append(pool.submit(send, body))
                count += body.count(b"\n")
                if len(pending) >= 2 * self.writers:
                    pending.pop(0).result()
            for future in pending:
                future.result()
        return count

    def _sender(self) -> Callable[[bytes], None]:
        v = self.version
        if v == 2:
            return self._send_v2
        path = "/write" if v == 1 else "/api/v2/write"
        params = (
            {"db": self.database, "precision": "ns", **({"rp": self.retention_policy}
                                                        if self.retention_policy else {})}
            if v == 1
            else {"bucket": self.database, "precision": "ns"}
        )

        def send(body: bytes) -> None:
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if self.gzip:
                body = gzip.compress(body, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
            self._request("POST", path, params=params, data=body, headers=headers)

        return send

    def _send_v2(self, body: bytes) -> None:
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.rest import ApiException

        write_api = self._v2_client().write_api(write_options=SYNCHRONOUS)

        def send() -> tuple[int, dict[str, str], Any]:
            try:
                write_api.write(bucket=self.database, org=self.org, record=body,
                                write_precision="ns")
            except ApiException as exc:
                return exc.status, dict(exc.headers or {}), _Text(exc.body or exc.reason)
            except OSError as exc:
                raise StoreUnavailable(f"InfluxDB at {self.url} is unreachable ({exc})") from None
            return 204, {}, None

        self._with_retries(send, "/api/v2/write")

    def _write(self, measurement: str, tags: pd.DataFrame, fields: dict[str, pd.Series],
               times: pd.Series) -> int:
        def bodies() -> Iterator[bytes]:
            # serialise chunk by chunk so that posting overlaps serialising
            for start in range(0, len(times), self.chunk_rows):
                rows = slice(start, start + self.chunk_rows)
                lines = serialise(
                    measurement,
                    tags.iloc[rows],
                    {name: values.iloc[rows] for name, values in fields.items()},
                    times.iloc[rows],
                )
                yield from batches(lines, self.batch_size)

        return self.write_lines(bodies())

    def write_readings(self, readings: pd.DataFrame) -> int:
        frame = validate_readings(readings)
        return self._write(
            "readings",
            frame[["meter", "quantity"]],
            {"value": frame["value"], "quality": frame["quality"]},
            frame["time"],
        )

    def write_forecasts(self, forecasts: pd.DataFrame) -> int:
        frame = validate_forecasts(forecasts)
        tags = frame[["meter", "model", "model_version"]].assign(
            issued_at=frame["issued_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        fields = {c: frame[c] for c in ("yhat", "yhat_lower", "yhat_upper")}
        return self._write("forecasts", tags, fields, frame["time"])

    def write_events(self, events: pd.DataFrame) -> int:
        frame = validate_events(events)
        fields = {
            "end_ns": frame["end"].astype("datetime64[ns, UTC]").astype("int64"),
            "severity": frame["severity"],
            "excess_kwh": frame["excess_kwh"],
            "details": frame["details"],
        }
        return self._write("events", frame[["meter", "kind", "event_id"]], fields, frame["start"])

    def annotate_event(
        self, event_id: str, status: str, by: str, note: str = "", at: Any = None
    ) -> None:
        if status not in ANNOTATION_STATUSES:
            raise ValueError(f"status={status!r}; use one of {list(ANNOTATION_STATUSES)}")
        when = TimeRange.of(at or pd.Timestamp.now(tz="UTC")).start
        fields = {"status": pd.Series([status]), "by": pd.Series([by]), "note": pd.Series([note])}
        self._write("annotations", pd.DataFrame({"event_id": [event_id]}), fields,
                    pd.Series([when]))

    def put_document(self, kind: str, key: str, body: dict[str, Any]) -> None:
        self._write(
            "documents",
            pd.DataFrame({"kind": [kind], "key": [key]}),
            {"body": pd.Series([document_body(body)])},
            pd.Series([pd.Timestamp(0, tz="UTC")]),
        )

    # ------------------------------------------------------------------- read
    @staticmethod
    def _where(
        meters: Sequence[str] | None = None,
        quantity: str | None = None,
        start: Any = None,
        end: Any = None,
        **tags: str | None,
    ) -> str:
        span = TimeRange.of(start, end)
        clauses = []
        if meters is not None:
            if not meters:
                return "WHERE false"
            clauses.append(
                "(" + " OR ".join(f'"meter" = {tag_literal(str(m))}' for m in meters) + ")"
            )
        for key, value in {"quantity": quantity, **tags}.items():
            if value is not None:
                clauses.append(f"{quote_identifier(key)} = {tag_literal(value)}")
        if span.start is not None:
            clauses.append(f"time >= {_ns(span.start)}")
        if span.end is not None:
            clauses.append(f"time < {_ns(span.end)}")
        return ("WHERE " + " AND ".join(clauses)) if clauses else ""

    def _frame(self, q: str) -> pd.DataFrame:
        """Series of a query as one frame: the tag columns (decoded) plus the value columns."""
        if "WHERE false" in q:
            return pd.DataFrame()
        frames = []
        for series in self.query(q):
            frame = pd.DataFrame(series["values"], columns=series["columns"])
            for key, value in (series.get("tags") or {}).items():
                frame[key] = decode_tag(value)
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        frame = pd.concat(frames, ignore_index=True)
        frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ns", utc=True)
        return frame

    def read_readings(
        self,
        meters: Sequence[str] | None = None,
        quantity: str | None = "energy",
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        frame = self._frame(
            f'SELECT "value", "quality" FROM "readings" {self._where(meters, quantity, start, end)}'
            ' GROUP BY "meter", "quantity"'
        )
        if frame.empty:
            return empty_readings()
        return validate_readings(frame)

    def aggregate(
        self,
        meters: Sequence[str] | None,
        quantity: str,
        start: Any,
        end: Any,
        every: str = "1h",
        how: str = "sum",
        tz: str = "UTC",
    ) -> pd.DataFrame:
        span = check_aggregation(every, how, tz, start, end)
        zone = "" if tz == "UTC" else f" tz({quote_string(tz)})"
        frame = self._frame(
            f'SELECT {_HOW[how]}("value") AS "value" FROM "readings" '
            f"{self._where(meters, quantity, span.start, span.end)} "
            f'GROUP BY time({_duration(every)}), "meter" fill(none){zone}'
        )
        if frame.empty:
            return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                                 "meter": pd.Series(dtype="str"),
                                 "value": pd.Series(dtype="float64")})
        frame = frame.dropna(subset=["value"])
        frame = frame.astype({"value": "float64", "meter": "str"})[["time", "meter", "value"]]
        return frame.sort_values(["meter", "time"], ignore_index=True)

    def meters(self, quantity: str | None = None) -> list[str]:
        where = self._where(quantity=quantity)
        series = self.query(f'SHOW TAG VALUES FROM "readings" WITH KEY = "meter" {where}')
        values = {decode_tag(row[1]) for s in series for row in s["values"]}
        return sorted(values)

    def latest(self, meters: Sequence[str] | None = None, quantity: str = "energy") -> pd.DataFrame:
        frame = self._frame(
            f'SELECT LAST("value") AS "value" FROM "readings" {self._where(meters, quantity)}'
            ' GROUP BY "meter"'
        )
        if frame.empty:
            return pd.DataFrame({"meter": pd.Series(dtype="str"),
                                 "time": pd.Series(dtype="datetime64[ns, UTC]"),
                                 "value": pd.Series(dtype="float64")})
        return frame[["meter", "time", "value"]].sort_values("meter", ignore_index=True)

    def read_forecasts(
        self,
        meters: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        model: str | None = None,
    ) -> pd.DataFrame:
        frame = self._frame(
            'SELECT "yhat", "yhat_lower", "yhat_upper" FROM "forecasts" '
            f"{self._where(meters, None, start, end, model=model)} "
            'GROUP BY "meter", "model", "model_version", "issued_at"'
        )
        if frame.empty:
            frame = pd.DataFrame(columns=FORECAST_COLUMNS)
        return validate_forecasts(frame[FORECAST_COLUMNS])

    def read_events(
        self,
        meters: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        kinds: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        span = TimeRange.of(start, end)
        frame = self._frame(
            'SELECT "end_ns", "severity", "excess_kwh", "details" FROM "events" '
            f"{self._where(meters, None, None, span.end)} "
            'GROUP BY "meter", "kind", "event_id"'
        )
        if frame.empty:
            frame = pd.DataFrame(columns=EVENT_COLUMNS)
        else:
            frame = frame.rename(columns={"time": "start"})
            frame["end"] = pd.to_datetime(frame.pop("end_ns").astype("int64"), unit="ns",
                                          utc=True)
            if span.start is not None:
                frame = frame[frame["end"] >= span.start]
            if kinds is not None:
                frame = frame[frame["kind"].isin(list(kinds))]
        ids = [str(e) for e in frame["event_id"]]
        parts = [  # only the events read (500 per query): notes of others stay in the server
            self._frame('SELECT "status", "by", "note" FROM "annotations" WHERE '
                        + " OR ".join(f'"event_id" = {tag_literal(e)}' for e in ids[i:i + 500])
                        + ' GROUP BY "event_id"')
            for i in range(0, len(ids), 500)
        ]
        annotations = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame()],
                                ignore_index=True)
        if annotations.empty:
            annotations = pd.DataFrame(columns=ANNOTATION_COLUMNS)
        else:
            annotations = annotations.rename(columns={"time": "at"})
        return events_with_annotations(frame[EVENT_COLUMNS], annotations)

    def get_document(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.list_documents(kind, key).get(key)

    def list_documents(self, kind: str, key: str | None = None) -> dict[str, dict[str, Any]]:
        frame = self._frame(
            f'SELECT "body" FROM "documents" {self._where(kind=kind, key=key)} GROUP BY "key"'
        )
        if frame.empty:
            return {}
        return {k: json.loads(b) for k, b in sorted(zip(frame["key"], frame["body"]))}


class _Text:
    """A body to report in an error, shaped like a response."""

    def __init__(self, text: str) -> None:
        self.text = text if isinstance(text, str) else json.dumps(text)

    def __str__(self) -> str:
        return self.text
