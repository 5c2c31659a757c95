"""DuckDBStore: the embedded default, one file in the data directory.

Times are stored as naive ``TIMESTAMP`` holding UTC (converted at this boundary): bucketing plain
timestamps is ~7x faster than ``TIMESTAMPTZ`` with ICU. Buckets in a local timezone shift each
reading by its UTC offset (a ``CASE`` over the offset changes in the queried span), bucket, and
map the local bucket starts back to UTC.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from wattlens.store.base import (
    EVERY,
    TimeRange,
    check_aggregation,
    document_body,
    events_with_annotations,
)
from wattlens.store.schema import (
    ANNOTATION_STATUSES,
    empty_readings,
    validate_events,
    validate_forecasts,
    validate_readings,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    time TIMESTAMP NOT NULL, meter VARCHAR NOT NULL, quantity VARCHAR NOT NULL,
    value DOUBLE NOT NULL, quality VARCHAR NOT NULL, PRIMARY KEY (meter, quantity, time));
CREATE TABLE IF NOT EXISTS forecasts (
    issued_at TIMESTAMP NOT NULL, meter VARCHAR NOT NULL, model VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL, time TIMESTAMP NOT NULL, yhat DOUBLE NOT NULL,
    yhat_lower DOUBLE NOT NULL, yhat_upper DOUBLE NOT NULL,
    PRIMARY KEY (meter, model, issued_at, time));
CREATE TABLE IF NOT EXISTS events (
    event_id VARCHAR PRIMARY KEY, meter VARCHAR NOT NULL, start TIMESTAMP NOT NULL,
    "end" TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, severity DOUBLE NOT NULL,
    excess_kwh DOUBLE NOT NULL, details VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS annotations (
    event_id VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, "by" VARCHAR NOT NULL,
    status VARCHAR NOT NULL, note VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    kind VARCHAR NOT NULL, key VARCHAR NOT NULL, body VARCHAR NOT NULL,
    PRIMARY KEY (kind, key));
"""

_HOW_SQL = {"sum": "SUM", "mean": "AVG", "max": "MAX", "min": "MIN", "count": "COUNT"}


def _utc(series: pd.Series) -> pd.Series:
    """Naive UTC from the database → tz-aware UTC."""
    return pd.to_datetime(series).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")


def _naive(series: pd.Series) -> pd.Series:
    """tz-aware → naive UTC for the database."""
    return series.dt.tz_convert("UTC").dt.tz_localize(None)


def _param(ts: pd.Timestamp) -> Any:
    return ts.tz_convert("UTC").tz_localize(None).to_pydatetime()


def _local_shift(tz: str, start: pd.Timestamp, end: pd.Timestamp) -> str:
    """SQL for ``time`` shifted to local wall-clock time in ``tz`` over [start, end)."""
    utc = pd.date_range(start.floor("h"), end.ceil("h"), freq="h")
    offsets = (utc.tz_convert(tz).tz_localize(None) - utc.tz_localize(None)).total_seconds()
    offsets = offsets.to_numpy().astype(int)
    changes = np.flatnonzero(np.diff(offsets)) + 1
    if not len(changes):
        return f"time + INTERVAL ({offsets[0]}) SECOND"
    cases = " ".join(
        f"WHEN time < TIMESTAMP '{utc[i].tz_localize(None)}' "
        f"THEN INTERVAL ({offsets[i - 1]}) SECOND"
        for i in changes
    )
    return f"time + CASE {cases} ELSE INTERVAL ({offsets[-1]}) SECOND END"


class DuckDBStore:
    """A :class:`wattlens.store.base.Store` in one DuckDB file (``":memory:"`` for a throwaway one).

    One process opens the file for writing; threads share the store (each call takes its own
    cursor).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise RuntimeError(
                f"cannot open the DuckDB store {self.path!r}: {exc}. Another wattlens process "
                f"may hold it; stop that process or point [store] path elsewhere"
            ) from exc
        self._lock = threading.Lock()
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"DuckDBStore({self.path!r})"

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = self._con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    def init(self) -> str:
        return f"DuckDB store ready at {self.path}"

    def close(self) -> None:
        self._con.close()

    # ----------------------------------------------------------------- readings
    def write_readings(self, readings: pd.DataFrame) -> int:
        frame = validate_readings(readings)
        if frame.empty:
            return 0
        with self._lock:
            cur = self._cursor()
            cur.register("incoming", frame.assign(time=_naive(frame["time"])))
            cur.execute(
                "INSERT OR REPLACE INTO readings "
                "SELECT time, meter, quantity, value, quality FROM incoming"
            )
            cur.unregister("incoming")
        return len(frame)

    @staticmethod
    def _where(
        meters: Sequence[str] | None,
        quantity: str | None,
        start: Any,
        end: Any,
        time_column: str = "time",
    ) -> tuple[str, list[Any]]:
        span = TimeRange.of(start, end)
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if meters is not None:
            clauses.append("list_contains(?, meter)")
            params.append([str(m) for m in meters])
        if quantity is not None:
            clauses.append("quantity = ?")
            params.append(quantity)
        if span.start is not None:
            clauses.append(f"{time_column} >= ?")
            params.append(_param(span.start))
        if span.end is not None:
            clauses.append(f"{time_column} < ?")
            params.append(_param(span.end))
        return " AND ".join(clauses), params

    def read_readings(
        self,
        meters: Sequence[str] | None = None,
        quantity: str | None = "energy",
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        where, params = self._where(meters, quantity, start, end)
        frame = (
            self._cursor()
            .execute(
                "SELECT time, meter, quantity, value, quality FROM readings "
                f"WHERE {where} ORDER BY meter, quantity, time",
                params,
            )
            .df()
        )
        if frame.empty:
            return empty_readings()
        frame["time"] = _utc(frame["time"])
        return frame.astype({"meter": "str", "quantity": "str", "quality": "str"})

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
        where, params = self._where(meters, quantity, span.start, span.end)
        width = EVERY[every]
        seconds = int(width.total_seconds())
        if width >= pd.Timedelta("1D"):
            shifted = _local_shift(tz, span.start, span.end)  # wall-clock days
        else:  # sub-day buckets align on the zone's offset at the start (like InfluxQL)
            assert span.start is not None  # check_aggregation requires both ends
            offset = int(span.start.tz_convert(tz).utcoffset().total_seconds())
            shifted = f"time + INTERVAL ({offset}) SECOND"
        frame = (
            self._cursor()
            .execute(
                f"SELECT time_bucket(INTERVAL {seconds} SECOND, {shifted}) AS local, meter, "
                f"CAST({_HOW_SQL[how]}(value) AS DOUBLE) AS value FROM readings WHERE {where} "
                "GROUP BY ALL ORDER BY meter, local",
                params,
            )
            .df()
        )
        local = pd.DatetimeIndex(pd.to_datetime(frame["local"]))
        if width >= pd.Timedelta("1D"):
            utc = local.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
        else:
            utc = (local - pd.Timedelta(seconds=offset)).tz_localize("UTC")
        frame["time"] = pd.Series(utc.tz_convert("UTC"), index=frame.index).astype(
            "datetime64[ns, UTC]"
        )
        return frame.astype({"meter": "str", "value": "float64"})[["time", "meter", "value"]]

    def meters(self, quantity: str | None = None) -> list[str]:
        where, params = self._where(None, quantity, None, None)
        rows = self._cursor().execute(
            f"SELECT DISTINCT meter FROM readings WHERE {where} ORDER BY meter", params
        )
        return [r[0] for r in rows.fetchall()]

    def latest(self, meters: Sequence[str] | None = None, quantity: str = "energy") -> pd.DataFrame:
        where, params = self._where(meters, quantity, None, None)
        frame = (
            self._cursor()
            .execute(
                "SELECT meter, arg_max(time, time) AS time, arg_max(value, time) AS value "
                f"FROM readings WHERE {where} GROUP BY meter ORDER BY meter",
                params,
            )
            .df()
        )
        frame["time"] = _utc(frame["time"])
        return frame.astype({"meter": "str", "value": "float64"})

    # ---------------------------------------------------------------- forecasts
    def write_forecasts(self, forecasts: pd.DataFrame) -> int:
        frame = validate_forecasts(forecasts)
        if frame.empty:
            return 0
        with self._lock:
            cur = self._cursor()
            cur.register("incoming", frame.assign(time=_naive(frame["time"]),
                                                  issued_at=_naive(frame["issued_at"])))
            cur.execute(
                "INSERT OR REPLACE INTO forecasts SELECT issued_at, meter, model, model_version, "
                "time, yhat, yhat_lower, yhat_upper FROM incoming"
            )
            cur.unregister("incoming")
        return len(frame)

    def read_forecasts(
        self,
        meters: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        model: str | None = None,
    ) -> pd.DataFrame:
        where, params = self._where(meters, None, start, end)
        if model is not None:
            where += " AND model = ?"
            params.append(model)
        frame = (
            self._cursor()
            .execute(
                "SELECT issued_at, meter, model, model_version, time, yhat, yhat_lower, "
                f"yhat_upper FROM forecasts WHERE {where} "
                "ORDER BY meter, model, issued_at, time",
                params,
            )
            .df()
        )
        for column in ("issued_at", "time"):
            frame[column] = _utc(frame[column])
        return validate_forecasts(frame)

    # ------------------------------------------------------------------- events
    def write_events(self, events: pd.DataFrame) -> int:
        frame = validate_events(events)
        if frame.empty:
            return 0
        with self._lock:
            cur = self._cursor()
            cur.register("incoming", frame.assign(start=_naive(frame["start"]),
                                                  end=_naive(frame["end"])))
            cur.execute(
                'INSERT OR REPLACE INTO events SELECT event_id, meter, start, "end", kind, '
                "severity, excess_kwh, details FROM incoming"
            )
            cur.unregister("incoming")
        return len(frame)

    def read_events(
        self,
        meters: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        kinds: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        span = TimeRange.of(start, end)
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if meters is not None:
            clauses.append("list_contains(?, meter)")
            params.append([str(m) for m in meters])
        if kinds is not None:
            clauses.append("list_contains(?, kind)")
            params.append([str(k) for k in kinds])
        if span.end is not None:
            clauses.append("start < ?")
            params.append(_param(span.end))
        if span.start is not None:
            clauses.append('"end" >= ?')
            params.append(_param(span.start))
        cur = self._cursor()
        events = cur.execute(
            f"SELECT * FROM events WHERE {' AND '.join(clauses)}", params
        ).df()
        annotations = cur.execute(  # only the events read: notes of others stay on disk
            "SELECT * FROM annotations WHERE list_contains(?, event_id)",
            [[str(e) for e in events["event_id"]]],
        ).df()
        for frame, columns in ((events, ("start", "end")), (annotations, ("at",))):
            for column in columns:
                frame[column] = _utc(frame[column])
        return events_with_annotations(events, annotations)

    def annotate_event(
        self, event_id: str, status: str, by: str, note: str = "", at: Any = None
    ) -> None:
        if status not in ANNOTATION_STATUSES:
            raise ValueError(f"status={status!r}; use one of {list(ANNOTATION_STATUSES)}")
        when = TimeRange.of(at or pd.Timestamp.now(tz="UTC")).start
        with self._lock:
            self._cursor().execute(
                "INSERT INTO annotations VALUES (?, ?, ?, ?, ?)",
                [event_id, _param(when), by, status, note],
            )

    # ---------------------------------------------------------------- documents
    def put_document(self, kind: str, key: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._cursor().execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?)",
                [kind, key, document_body(body)],
            )

    def get_document(self, kind: str, key: str) -> dict[str, Any] | None:
        row = (
            self._cursor()
            .execute("SELECT body FROM documents WHERE kind = ? AND key = ?", [kind, key])
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def list_documents(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = self._cursor().execute(
            "SELECT key, body FROM documents WHERE kind = ? ORDER BY key", [kind]
        )
        return {key: json.loads(body) for key, body in rows.fetchall()}
