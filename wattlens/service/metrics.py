"""What ``/healthz`` and ``/metrics`` report about a running ``wattlens run``.

Metrics live in the service's own :class:`prometheus_client.CollectorRegistry` (nothing in the
library's global registry, so several services can run in one process). Sources and jobs are
read at scrape time from the store — the same ingest-status and job-run documents ``wattlens
ingest status`` and ``wattlens jobs`` show, so a web role reports the ingest and jobs roles also
when they run in other processes; store write latency, the ingest buffer and role restarts are
this process's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wattlens.ingest.worker import STATUS_KIND
from wattlens.service.supervisor import Supervisor
from wattlens.store.base import Store, StoreError
from wattlens.store.jobruns import job_history

WRITES = ("write_readings", "write_forecasts", "write_events", "annotate_event", "put_document")
"""The store calls timed as writes (label ``operation``)."""
WRITE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Store write latency histogram buckets [s]."""


def health(supervisor: Supervisor | None) -> tuple[dict[str, Any], int]:
    """``/healthz``: each role's state and restarts; 200 when every role runs, else 503."""
    roles = {} if supervisor is None else {
        name: {"state": state, "restarts": supervisor.restarts[name]}
        for name, state in supervisor.state.items()}
    ready = all(r["state"] == "running" for r in roles.values())
    return {"status": "ok" if ready else "unavailable", "roles": roles}, 200 if ready else 503


class TimedStore:
    """A :class:`~wattlens.store.base.Store` that times its writes into ``seconds``
    (label ``operation``); reads pass straight through."""

    def __init__(self, store: Store, seconds: Histogram) -> None:
        self.store = store
        self._seconds = seconds

    def __repr__(self) -> str:
        return f"TimedStore({self.store!r})"

    def _timed(self, operation: str, call: Any, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return call(*args)
        finally:
            self._seconds.labels(operation).observe(time.perf_counter() - began)

    def init(self) -> str:
        return self.store.init()

    def close(self) -> None:
        self.store.close()

    def write_readings(self, readings: pd.DataFrame) -> int:
        return int(self._timed("write_readings", self.store.write_readings, readings))

    def read_readings(self, meters: Sequence[str] | None = None,
                      quantity: str | None = "energy", start: Any = None, end: Any = None
                      ) -> pd.DataFrame:
        return self.store.read_readings(meters, quantity, start, end)

    def aggregate(self, meters: Sequence[str] | None, quantity: str, start: Any, end: Any,
                  every: str = "1h", how: Any = "sum", tz: str = "UTC") -> pd.DataFrame:
        return self.store.aggregate(meters, quantity, start, end, every, how, tz)

    def meters(self, quantity: str | None = None) -> list[str]:
        return self.store.meters(quantity)

    def latest(self, meters: Sequence[str] | None = None, quantity: str = "energy"
               ) -> pd.DataFrame:
        return self.store.latest(meters, quantity)

    def write_forecasts(self, forecasts: pd.DataFrame) -> int:
        return int(self._timed("write_forecasts", self.store.write_forecasts, forecasts))

    def read_forecasts(self, meters: Sequence[str] | None = None, start: Any = None,
                       end: Any = None, model: str | None = None) -> pd.DataFrame:
        return self.store.read_forecasts(meters, start, end, model)

    def write_events(self, events: pd.DataFrame) -> int:
        return int(self._timed("write_events", self.store.write_events, events))

    def read_events(self, meters: Sequence[str] | None = None, start: Any = None,
                    end: Any = None, kinds: Sequence[str] | None = None) -> pd.DataFrame:
        return self.store.read_events(meters, start, end, kinds)

    def annotate_event(self, event_id: str, status: str, by: str, note: str = "",
                       at: Any = None) -> None:
        self._timed("annotate_event", self.store.annotate_event, event_id, status, by, note,
                    at)

    def put_document(self, kind: str, key: str, body: dict[str, Any]) -> None:
        self._timed("put_document", self.store.put_document, kind, key, body)

    def get_document(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.store.get_document(kind, key)

    def list_documents(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.store.list_documents(kind)


def _seconds(text: str | None) -> float | None:
    return pd.Timestamp(text).timestamp() if text else None


@dataclass(eq=False)  # registries key collectors by identity
class ServiceCollector(Collector):
    """Reads the sources', jobs' and roles' state when Prometheus scrapes."""

    store: Store
    buffer_dir: Path
    buffer_limit: int | None = None
    supervisor: Supervisor | None = None

    def collect(self) -> Iterator[Metric]:
        yield from self._sources()
        yield from self._jobs()
        yield from self._buffer()
        if self.supervisor is not None:
            restarts = CounterMetricFamily("wattlens_role_restarts", "Restarts of each role "
                                           "after a crash", labels=["role"])
            up = GaugeMetricFamily("wattlens_role_up", "1 while the role runs", labels=["role"])
            for name, state in self.supervisor.state.items():
                restarts.add_metric([name], self.supervisor.restarts[name])
                up.add_metric([name], float(state == "running"))
            yield restarts
            yield up

    def _sources(self) -> Iterator[Metric]:
        try:
            docs = self.store.list_documents(STATUS_KIND)
        except StoreError:
            docs = {}
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "last_success": GaugeMetricFamily(
                "wattlens_source_last_success_timestamp_seconds",
                "When the source's last batch was stored [Unix s]", labels=["source"]),
            "lag": GaugeMetricFamily("wattlens_source_lag_seconds", "Age of the source's "
                                     "newest reading [s]", labels=["source"]),
            "readings": GaugeMetricFamily("wattlens_source_readings_last_hour", "Readings "
                                          "stored from the source in the last hour",
                                          labels=["source"]),
            "rejects": CounterMetricFamily("wattlens_source_rejected", "Records quarantined "
                                           "since the ingest role started", labels=["source"]),
            "errors": CounterMetricFamily("wattlens_source_errors", "Source errors since the "
                                          "ingest role started", labels=["source"]),
        }
        for name, doc in sorted(docs.items()):
            values = {"last_success": _seconds(doc.get("last_success")), "lag": doc.get("lag_s"),
                      "readings": doc.get("readings_last_hour"),
                      "rejects": doc.get("rejected"), "errors": doc.get("errors")}
            for key, value in values.items():
                if value is not None:
                    families[key].add_metric([name], float(value))
        yield from families.values()

    def _jobs(self) -> Iterator[Metric]:
        try:
            runs = job_history(self.store)
        except StoreError:
            runs = []
        last = GaugeMetricFamily("wattlens_job_last_run_timestamp_seconds",
                                 "Start of the job's newest run [Unix s]", labels=["job"])
        duration = GaugeMetricFamily("wattlens_job_last_duration_seconds",
                                     "Duration of the job's newest run [s]", labels=["job"])
        ok = GaugeMetricFamily("wattlens_job_last_success", "1 when the job's newest run "
                               "succeeded", labels=["job"])
        failures = CounterMetricFamily("wattlens_job_failures", "Failed runs of the job in "
                                       "the history", labels=["job"])
        seen: set[str] = set()
        failed: dict[str, int] = {}
        for run in runs:  # newest first
            job = run["job"]
            failed[job] = failed.get(job, 0) + (run["status"] != "ok")
            if job in seen:
                continue
            seen.add(job)
            start = pd.Timestamp(run["start"])
            last.add_metric([job], start.timestamp())
            duration.add_metric([job], (pd.Timestamp(run["end"]) - start).total_seconds())
            ok.add_metric([job], float(run["status"] == "ok"))
        for job, count in sorted(failed.items()):
            failures.add_metric([job], count)
        yield from (last, duration, ok, failures)

    def _buffer(self) -> Iterator[Metric]:
        files = list(self.buffer_dir.glob("*.json")) if self.buffer_dir.is_dir() else []
        size = 0
        for path in files:
            with contextlib.suppress(FileNotFoundError):  # flushed meanwhile
                size += path.stat().st_size
        yield GaugeMetricFamily("wattlens_ingest_buffer_bytes", "Bytes of batches buffered "
                                "on disk while the store was unavailable", value=size)
        yield GaugeMetricFamily("wattlens_ingest_buffer_batches", "Batches buffered on disk",
                                value=len(files))
        if self.buffer_limit:
            yield GaugeMetricFamily("wattlens_ingest_buffer_fill_ratio", "Buffered bytes over "
                                    "the buffer's bound", value=size / self.buffer_limit)


@dataclass
class ServiceMetrics:
    """The registry of one service: its collector and the store write latency histogram."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.write_seconds = Histogram(
            "wattlens_store_write_seconds", "Store write latency [s]", ["operation"],
            buckets=WRITE_BUCKETS, registry=self.registry)
        for operation in WRITES:  # exported from the start, zero until the first write
            self.write_seconds.labels(operation)

    def timed(self, store: Store) -> TimedStore:
        """``store`` with its writes timed into this registry."""
        return TimedStore(store, self.write_seconds)

    def watch(self, collector: ServiceCollector) -> None:
        """Report ``collector``'s state at each scrape."""
        self.registry.register(collector)
