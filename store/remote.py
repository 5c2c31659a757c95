"""RemoteStore: the :class:`~wattlens.store.base.Store` of a running ``wattlens run``, reached
through its HTTP API (``/api/v1``).

On the embedded DuckDB store only one process may open the file, so while the service runs the
CLI goes through it: the web role listens on a Unix socket beside the DuckDB file
(:func:`service_socket`, mode 0600 — only the owner can connect, so no secret is needed), and
``wattlens --server URL`` (with a bearer token) reaches a service on another machine. Frames
travel as Parquet (:func:`to_parquet`, :func:`from_parquet`), which keeps UTC times and floats
exactly; the arguments are checked here first, so errors read as the local store's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from wattlens.store.base import (
    StoreError,
    StoreUnavailable,
    TimeRange,
    check_aggregation,
    document_body,
)
from wattlens.store.schema import (
    ANNOTATION_STATUSES,
    ContractError,
    empty_readings,
    validate_events,
    validate_forecasts,
    validate_readings,
)

PARQUET = "application/vnd.apache.parquet"
"""Media type of frames on the wire."""
API = "/api/v1"
ANY_QUANTITY = "any"
"""``quantity`` query value asking for every quantity (``quantity=None`` in the Store)."""
TIMEOUT_S = 300.0
"""Longest wait for one answer [s] (a year of readings of many meters takes a while)."""


def service_socket(duckdb_path: str | Path) -> Path:
    """The Unix socket a ``wattlens run`` holding the DuckDB file at ``duckdb_path`` serves
    its API on: beside the file, ``<file>.sock``."""
    path = Path(duckdb_path).absolute()
    return path.with_name(path.name + ".sock")


def to_parquet(frame: pd.DataFrame) -> bytes:
    """``frame`` (without its index) as a Parquet file."""
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def from_parquet(body: bytes) -> pd.DataFrame:
    """A frame from Parquet bytes, times as datetime64[ns, UTC]."""
    frame = pd.read_parquet(io.BytesIO(body))
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].astype("datetime64[ns, UTC]")
    return frame


def _meter_params(meters: Sequence[str] | None) -> dict[str, Any]:
    """Query parameters selecting ``meters`` (all when None; none for an empty list: no meter
    id is empty)."""
    if meters is None:
        return {}
    return {"meter": [str(m) for m in meters] or [""]}


def _span_params(start: Any, end: Any) -> dict[str, str]:
    span = TimeRange.of(start, end)
    return {k: v.isoformat() for k, v in (("start", span.start), ("end", span.end))
            if v is not None}


class RemoteStore:
    """A Store whose calls are requests to a wattlens service's API."""

    def __init__(self, client: httpx.Client, where: str) -> None:
        self._client = client
        self.where = where

    @classmethod
    def over_socket(cls, path: Path) -> RemoteStore:
        """The service listening on the Unix socket ``path`` (no token: the socket's file
        permissions admit only its owner)."""
        transport = httpx.HTTPTransport(uds=str(path))
        client = httpx.Client(transport=transport, base_url="http://wattlens",
                              timeout=TIMEOUT_S)
        return cls(client, f"the wattlens service on {path}")

    @classmethod
    def over_http(cls, url: str, token: str | None) -> RemoteStore:
        """The service at ``url`` (e.g. ``http://energy.example:8050``), with a bearer token."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=TIMEOUT_S)
        return cls(client, f"the wattlens service at {url}")

    def __repr__(self) -> str:
        return f"RemoteStore({self.where!r})"

    def answers(self) -> bool:
        """Whether the service answers (its /healthz, whatever the roles' state)."""
        try:
            self._client.get("/healthz", timeout=5.0)
        except httpx.HTTPError:
            return False
        return True

    # ---------------------------------------------------------------- transport
    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json: Any = None, content: bytes | None = None, media: str = PARQUET,
                 missing_ok: bool = False) -> httpx.Response | None:
        headers = {"Content-Type": media} if content is not None else None
        try:
            response = self._client.request(method, API + path, params=params, json=json,
                                            content=content, headers=headers)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"{self.where} does not answer ({exc}); is `wattlens run` "
                                   f"still running?") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:300]}
        message = body.get("error") if isinstance(body, dict) else None
        message = message or f"{response.status_code} {response.reason_phrase}: {body}"
        if response.status_code == 400:
            raise (ContractError if body.get("type") == "ContractError" else ValueError)(message)
        if response.status_code == 503:
            raise StoreUnavailable(message)
        raise StoreError(f"{self.where} refused {method} {path}: {message}")

    def _frame(self, path: str, params: dict[str, Any]) -> pd.DataFrame:
        response = self._request("GET", path, params={**params, "format": "parquet"})
        assert response is not None
        return from_parquet(response.content)

    def _write(self, path: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        response = self._request("POST", path, content=to_parquet(frame))
        assert response is not None
        return int(response.json()["written"])

    # ------------------------------------------------------------------- store
    def init(self) -> str:
        return f"store served by {self.where}"

    def close(self) -> None:
        self._client.close()

    def write_readings(self, readings: pd.DataFrame) -> int:
        return self._write("/readings", validate_readings(readings))

    def read_readings(self, meters: Sequence[str] | None = None,
                      quantity: str | None = "energy", start: Any = None, end: Any = None
                      ) -> pd.DataFrame:
        params = {**_meter_params(meters), **_span_params(start, end),
                  "quantity": quantity or ANY_QUANTITY}
        frame = self._frame("/readings", params)
        return validate_readings(frame) if not frame.empty else empty_readings()

    def aggregate(self, meters: Sequence[str] | None, quantity: str, start: Any, end: Any,
                  every: str = "1h", how: str = "sum", tz: str = "UTC") -> pd.DataFrame:
        span = check_aggregation(every, how, tz, start, end)
        params = {**_meter_params(meters), **_span_params(span.start, span.end),
                  "quantity": quantity, "every": every, "how": how, "tz": tz}
        return self._frame("/readings/aggregate", params)

    def meters(self, quantity: str | None = None) -> list[str]:
        response = self._request("GET", "/meters",
                                 params={"quantity": quantity} if quantity else None)
        assert response is not None
        return [m["id"] for m in response.json() if m["stored"]]

    def latest(self, meters: Sequence[str] | None = None, quantity: str = "energy"
               ) -> pd.DataFrame:
        return self._frame("/readings/latest", {**_meter_params(meters), "quantity": quantity})

    def write_forecasts(self, forecasts: pd.DataFrame) -> int:
        return self._write("/forecasts", validate_forecasts(forecasts))

    def read_forecasts(self, meters: Sequence[str] | None = None, start: Any = None,
                       end: Any = None, model: str | None = None) -> pd.DataFrame:
        params = {**_meter_params(meters), **_span_params(start, end)}
        if model is not None:
            params["model"] = model
        return validate_forecasts(self._frame("/forecasts", params))

    def write_events(self, events: pd.DataFrame) -> int:
        return self._write("/events", validate_events(events))

    def read_events(self, meters: Sequence[str] | None = None, start: Any = None,
                    end: Any = None, kinds: Sequence[str] | None = None) -> pd.DataFrame:
        params = {**_meter_params(meters), **_span_params(start, end)}
        if kinds is not None:
            params["kind"] = [str(k) for k in kinds] or [""]
        return self._frame("/events", params)

    def annotate_event(self, event_id: str, status: str, by: str, note: str = "",
                       at: Any = None) -> None:
        if status not in ANNOTATION_STATUSES:
            raise ValueError(f"status={status!r}; use one of {list(ANNOTATION_STATUSES)}")
        when = TimeRange.of(at).start
        self._request("POST", "/events/annotations", json={
            "event_id": event_id, "status": status, "by": by, "note": note,
            "at": when.isoformat() if when is not None else None})

    def put_document(self, kind: str, key: str, body: dict[str, Any]) -> None:
        self._request("PUT", "/documents/one", params={"kind": kind, "key": key},
                      content=document_body(body).encode(), media="application/json")

    def get_document(self, kind: str, key: str) -> dict[str, Any] | None:
        response = self._request("GET", "/documents/one", params={"kind": kind, "key": key},
                                 missing_ok=True)
        return None if response is None else response.json()

    def list_documents(self, kind: str) -> dict[str, dict[str, Any]]:
        response = self._request("GET", "/documents", params={"kind": kind})
        assert response is not None
        return dict(response.json())
