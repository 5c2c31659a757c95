"""Property tests (hypothesis, issue #13): random bad MQTT payloads and CSV rows mixed into
good ones. The worker never stops, every good reading is stored exactly once, and every bad
one is in the quarantine with a reason."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattlens.config import parse_config
from wattlens.ingest.base import build_source
from wattlens.ingest.worker import Worker
from wattlens.store.duck import DuckDBStore

from .support import publish

T0 = int(pd.Timestamp("2021-03-01T00:00Z").timestamp())
RUN = itertools.count()

values = st.floats(min_value=0, max_value=1000, allow_nan=False).map(lambda v: round(v, 3))

BAD_PAYLOADS = st.sampled_from([
    b"not json", b"\xff\xfe\x00", b"null", b"[1, 2]", b'{"t": TIME}',
    b'{"t": TIME, "e": NaN}', b'{"t": TIME, "e": Infinity}', b'{"t": TIME, "e": -Infinity}',
    b'{"t": TIME, "e": 1e999}', b'{"t": TIME, "e": 1' + b"0" * 400 + b"}",
    b'{"t": TIME, "e": "12"}', b'{"t": TIME, "e": true}', b'{"t": TIME, "e": {"x": 1}}',
    b'{"t": 1e30, "e": 1}', b'{"t": NaN, "e": 1}', b'{"t": "soon", "e": 1}',
    b'{"t": TIME, "e": 1, "pad": "' + b"x" * 3000 + b'"}',
])
"""Payloads each of which must be rejected on its own (TIME: a valid time)."""

BAD_ROWS = st.sampled_from([
    b"TIME,abc", b"TIME,", b"TIME,nan", b"TIME,inf", b"TIME,1\xb55", b"\xff\xfeTIME,1",
    b"notatime,1", b",5", b"9999-12-31T00:00:00Z,1", b"1500-01-01T00:00:00Z,1",
    b"TIME,1,extra", b"TIME", b"2021-03-28T01:30:00,1",
])
"""CSV rows each of which must be quarantined (TIME: a valid time; the last is a
nonexistent London wall time)."""

items = st.lists(st.one_of(values.map(lambda v: ("good", v)), BAD_PAYLOADS.map(lambda b: ("bad", b))),
                 min_size=1, max_size=40)
rows = st.lists(st.one_of(values.map(lambda v: ("good", v)), BAD_ROWS.map(lambda b: ("bad", b))),
                min_size=1, max_size=60)


def run_worker(data_dir: Path, tables: list[dict], done: Callable[[Worker], bool],
               timeout: float = 20.0) -> tuple[Worker, DuckDBStore]:
    """Run a worker over ``tables`` (sources) until ``done`` or ``timeout``; it must still
    be alive at the end."""
    config = parse_config({"sources": tables})
    store = DuckDBStore(data_dir / "w.duckdb")
    pairs = [(s, build_source(s, config.ingest_context())) for s in config.sources]
    worker = Worker(store, pairs, data_dir)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert thread.is_alive(), "the worker stopped"
        assert all(s.errors == 0 for s in worker.status.values()), worker.status
    finally:
        worker.stop.set()
        thread.join(30)
    return worker, store


def quarantine(worker: Worker) -> list[dict]:
    if not worker.quarantine.exists():
        return []
    return [json.loads(line) for line in worker.quarantine.read_text().splitlines()]


@pytest.mark.mqtt
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=items)
def test_mqtt_bad_payloads_cost_only_themselves(mosquitto, tmp_path: Path,
                                                messages: list[tuple[str, object]]) -> None:
    n = next(RUN)
    data_dir = tmp_path / f"run{n}"
    meter = f"dev{n}"
    table = {"name": "mqtt", "type": "mqtt", "interval": "200ms", "host": mosquitto.host,
             "port": mosquitto.port, "client_id": f"prop-{n}", "max_payload_bytes": 2048,
             "topics": [{"topic": "props/+/e", "meter": "{0}", "time": "t",
                         "time_format": "unix",
                         "values": [{"path": "e", "kind": "interval", "unit": "kWh"}]}]}
    good = {}
    out = []
    for i, (kind, item) in enumerate(messages):
        t = T0 + 3600 * i
        if kind == "good":
            good[pd.Timestamp(t, unit="s", tz="UTC")] = item
            out.append((f"props/{meter}/e", json.dumps({"t": t, "e": item})))
        else:
            out.append((f"props/{meter}/e", item.replace(b"TIME", str(t).encode())))
    bad = len(messages) - len(good)
    subscribed = threading.Event()

    def done(worker: Worker) -> bool:
        if not subscribed.is_set():  # the session exists: publish once
            subscribed.set()
            time.sleep(0.5)
            publish(mosquitto.host, mosquitto.port, out, client_id=f"pub-{n}")
        stored = worker.store.read_readings([meter], "energy")
        return len(stored) >= len(good) and len(quarantine(worker)) >= bad

    worker, store = run_worker(data_dir, [table], done)
    stored = store.read_readings([meter], "energy")
    store.close()
    assert dict(zip(stored["time"], stored["value"], strict=True)) == pytest.approx(good)
    rejects = quarantine(worker)
    assert len(rejects) == bad, [r["reason"] for r in rejects]
    assert all(r["reason"] and r["record"].startswith(f"props/{meter}/e") for r in rejects)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=rows, chunk_rows=st.integers(min_value=1, max_value=50))
def test_csv_bad_rows_cost_only_themselves(tmp_path: Path, lines: list[tuple[str, object]],
                                           chunk_rows: int) -> None:
    n = next(RUN)
    root = tmp_path / f"files{n}"
    root.mkdir()
    good = {}
    body = [b"time,kwh"]
    for i, (kind, item) in enumerate(lines):
        t = pd.Timestamp(T0 + 3600 * i, unit="s", tz="UTC")
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        if kind == "good":
            good[t] = item
            body.append(stamp + b"," + repr(item).encode())
        else:
            body.append(item.replace(b"TIME", stamp))
    (root / "a.csv").write_bytes(b"\n".join(body) + b"\n")
    bad = len(lines) - len(good)
    table = {"name": "files", "type": "files", "interval": "200ms", "root": str(root),
             "glob": "*.csv", "timezone": "Europe/London", "chunk_rows": chunk_rows,
             "columns": {"kwh": {"meter": "m"}}}

    def done(worker: Worker) -> bool:
        return (worker.checkpoints.get("files") or {}).get("files", {}).get(
            "a.csv", {}).get("done", False)

    worker, store = run_worker(tmp_path / f"data{n}", [table], done)
    time.sleep(0.3)  # a second pass must add nothing
    stored = store.read_readings(["m"], "energy")
    store.close()
    assert not stored.duplicated("time").any()
    assert dict(zip(stored["time"], stored["value"], strict=True)) == pytest.approx(good)
    rejects = quarantine(worker)
    assert len(rejects) == bad, [r["reason"] for r in rejects]
    assert all(r["reason"] and "a.csv: line " in r["record"] for r in rejects), rejects
