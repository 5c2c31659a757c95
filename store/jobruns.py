"""Job-run history: one ``job-run`` document per run (key ``<job>/<start ISO>``) in the store,
written by the scheduled jobs of ``wattlens run``, read by ``wattlens jobs`` and the dashboard."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wattlens.store.base import Store

KIND = "job-run"


def record_run(store: Store, job: str, start: pd.Timestamp, end: pd.Timestamp, *,
               counts: dict[str, int], error: str | None = None, attempt: int = 1
               ) -> dict[str, Any]:
    """Write one run of ``job`` (status ``ok`` without ``error``, else ``failed``); return it."""
    body: dict[str, Any] = {
        "job": job, "start": start.isoformat(), "end": end.isoformat(),
        "status": "ok" if error is None else "failed", "counts": counts, "error": error,
        "attempt": attempt,
    }
    store.put_document(KIND, f"{job}/{body['start']}", body)
    return body


def job_history(store: Store, limit: int | None = None, job: str | None = None
                ) -> list[dict[str, Any]]:
    """The recorded runs (of ``job``, or all), newest first, at most ``limit``."""
    runs = [r for r in store.list_documents(KIND).values() if job is None or r["job"] == job]
    runs.sort(key=lambda r: pd.Timestamp(r["start"]), reverse=True)
    return runs[:limit] if limit is not None else runs


def last_start(store: Store, job: str) -> pd.Timestamp | None:
    """Start of the newest recorded run of ``job``, or None."""
    runs = job_history(store, 1, job)
    return pd.Timestamp(runs[0]["start"]) if runs else None
