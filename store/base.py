"""The Store protocol: the one door through which workers, jobs and the dashboard reach data.

Every implementation gives the same answers to the same calls; ``tests/test_store_contract.py``
runs one suite against each. Times in and out are UTC tz-aware; aggregation buckets are
aligned in the caller's timezone (``tz``), which matters for days.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from wattlens.core.base import check_timezone
from wattlens.store.schema import validate_events

Aggregation = Literal["sum", "mean", "max", "min", "count"]
AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "max", "min", "count")

EVERY: dict[str, pd.Timedelta] = {
    "1min": pd.Timedelta("1min"),
    "5min": pd.Timedelta("5min"),
    "15min": pd.Timedelta("15min"),
    "30min": pd.Timedelta("30min"),
    "1h": pd.Timedelta("1h"),
    "1d": pd.Timedelta("1D"),
}
"""Bucket widths every store aggregates by (the subset all InfluxDB versions align alike)."""


class StoreError(RuntimeError):
    """The store refused a request; the message says why and what to do."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; retrying later may succeed."""


@dataclass(frozen=True)
class TimeRange:
    """A half-open UTC interval [start, end); either side may be open."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    @classmethod
    def of(cls, start: Any = None, end: Any = None) -> TimeRange:
        return cls(utc_timestamp(start, "start"), utc_timestamp(end, "end"))


def utc_timestamp(value: Any, name: str = "time") -> pd.Timestamp | None:
    """Parse ``value`` to a UTC timestamp; naive values are rejected (misuse)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(
            f"{name}={value!r} has no timezone; pass a tz-aware time such as "
            f"pd.Timestamp('2019-01-01', tz='UTC') or '2019-01-01T00:00:00Z'"
        )
    return ts.tz_convert("UTC")


def check_aggregation(every: str, how: str, tz: str, start: Any, end: Any) -> TimeRange:
    """Reject an aggregation request the stores cannot answer alike; return its span."""
    if every not in EVERY:
        raise ValueError(f"every={every!r} is not supported; use one of {list(EVERY)}")
    if how not in AGGREGATIONS:
        raise ValueError(f"how={how!r} is not supported; use one of {list(AGGREGATIONS)}")
    check_timezone(tz)
    span = TimeRange.of(start, end)
    if span.start is None or span.end is None:
        raise ValueError("aggregate needs both start and end")
    return span


def document_body(body: dict[str, Any]) -> str:
    """Serialise a document deterministically (sorted keys, no NaN)."""
    return json.dumps(body, sort_keys=True, allow_nan=False, default=str)


@runtime_checkable
class Store(Protocol):
    """What every store offers. Frames follow :mod:`wattlens.store.schema`."""

    def init(self) -> str:
        """Provision what the store needs (database, bucket, tables); return what was done."""

    def close(self) -> None:
        """Release connections."""

    # readings
    def write_readings(self, readings: pd.DataFrame) -> int:
        """Validate and write readings; the same (meter, quantity, time) overwrites.
        Returns rows written. Nothing is written when validation fails."""

    def read_readings(
        self,
        meters: Sequence[str] | None = None,
        quantity: str | None = "energy",
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Raw readings in [start, end), sorted by meter, quantity, time."""

    def aggregate(
        self,
        meters: Sequence[str] | None,
        quantity: str,
        start: Any,
        end: Any,
        every: str = "1h",
        how: Aggregation = "sum",
        tz: str = "UTC",
    ) -> pd.DataFrame:
        """Columns ``time`` (bucket start, UTC), ``meter``, ``value``; computed in the store,
        buckets aligned in ``tz``; empty buckets are absent."""

    def meters(self, quantity: str | None = None) -> list[str]:
        """Meter ids that have readings (of ``quantity`` when given), sorted."""

    def latest(self, meters: Sequence[str] | None = None, quantity: str = "energy") -> pd.DataFrame:
        """The newest reading per meter: columns ``meter``, ``time``, ``value``."""

    # forecasts as issued
    def write_forecasts(self, forecasts: pd.DataFrame) -> int:
        """Write forecasts as issued (see :func:`wattlens.store.schema.validate_forecasts`)."""

    def read_forecasts(
        self,
        meters: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        model: str | None = None,
    ) -> pd.DataFrame:
        """Forecasts whose target ``time`` is in [start, end)."""

    # events and annotations
    def write_events(self, events: pd.DataFrame) -> int:
        """Write events; the same ``event_id`` overwrites."""

    def read_events(
        self,
        meters: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        kinds: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Events overlapping [start, end), with their latest annotation
        (``status``, ``annotated_by``, ``annotated_at``, ``note``; status ``open`` if none)."""

    def annotate_event(
        self, event_id: str, status: str, by: str, note: str = "", at: Any = None
    ) -> None:
        """Record who acknowledged or annotated an event, when and why."""

    # small JSON documents: checkpoints, statuses, saved projects, recommendations
    def put_document(self, kind: str, key: str, body: dict[str, Any]) -> None:
        """Store (overwrite) one JSON document."""

    def get_document(self, kind: str, key: str) -> dict[str, Any] | None:
        """The document, or None."""

    def list_documents(self, kind: str) -> dict[str, dict[str, Any]]:
        """All documents of ``kind`` by key."""


def events_with_annotations(events: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """Validate ``events`` and join each one's latest annotation (status ``open`` if none)."""
    frame = validate_events(events)
    latest = (
        annotations.assign(at=pd.to_datetime(annotations["at"], utc=True))
        .sort_values("at")
        .drop_duplicates("event_id", keep="last")
        .rename(columns={"by": "annotated_by", "at": "annotated_at"})
    )
    frame = frame.merge(
        latest[["event_id", "status", "annotated_by", "annotated_at", "note"]],
        on="event_id",
        how="left",
    )
    frame["status"] = frame["status"].fillna("open")
    frame["annotated_by"] = frame["annotated_by"].fillna("")
    frame["note"] = frame["note"].fillna("")
    frame["annotated_at"] = pd.to_datetime(frame["annotated_at"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    return frame
