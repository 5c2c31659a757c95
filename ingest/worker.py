"""The ingest worker: every configured source on its schedule, in one process.

- One thread per source calls ``source.fetch(checkpoint)`` every ``interval``; batches are
  handled one at a time (a lock), so a source is only asked for more after its previous batch
  is durable (in the store or the on-disk buffer).
- Checkpoints live in the store (``put_document("checkpoint", source, ...)``), written after
  the batch's readings; a restart resumes from them (store writes are idempotent per
  (meter, quantity, time), so a batch replayed after a crash overwrites, never duplicates).
- When the store raises :class:`wattlens.store.base.StoreUnavailable`, batches (readings +
checkpoint)
  go to a bounded on-disk buffer in arrival order; while it holds anything, new batches queue
  behind it, and it is flushed in order when the store answers again. It warns at 80 % full;
  when full, sources wait (MQTT messages stay unacknowledged at the broker).
- Implausible values (:mod:`wattlens.ingest.plausibility`) are stored flagged ``suspect``,
  with a warning naming the meter, the limit and the largest value.
- Bad records go to ``<data_dir>/quarantine.jsonl`` (one JSON object per line with its
  reason); good records of the same batch are kept. One log line per batch with counts.
- Status per source in ``put_document("ingest-status", source, ...)``: last success, lag,
  readings in the last hour, errors. SIGTERM (the CLI sets ``stop``) flushes and exits.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from wattlens.ingest.base import Batch, Rejected, Source, SourceSection, SourceUnavailable, prefetch
from wattlens.ingest.plausibility import Plausibility, PlausibilityCheck
from wattlens.store.base import Store, StoreUnavailable
from wattlens.store.schema import READINGS_COLUMNS

log = logging.getLogger("wattlens.ingest")

STATUS_KIND = "ingest-status"
"""Document kind of the per-source status the worker publishes (``ingest status``, dashboard)."""
BUFFER_DIR = "ingest-buffer"
"""Folder of the on-disk buffer in the data directory."""
WARN_FRACTION = 0.8
ERROR_LOG_EVERY_S = 60.0
FLUSH_ROWS = 50_000
"""Most readings one write takes when the buffer is flushed."""
"""The same source error is logged at most this often [s] (it is counted every time)."""


class BufferFull(RuntimeError):
    """The on-disk buffer has no room for another batch."""


class DiskBuffer:
    """Batches the store could not take, one JSON file each, kept in arrival order.

    ``max_bytes`` bounds the directory; :meth:`append` warns once above 80 % and raises
    :class:`BufferFull` when a batch would not fit.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._warned = False
        files = self.files()
        self._seq = int(files[-1].stem) if files else 0
        self.size = sum(f.stat().st_size for f in files)

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def __len__(self) -> int:
        return len(self.files())

    def append(self, source: str, readings: pd.DataFrame, checkpoint: dict[str, Any]) -> None:
        body = json.dumps({
            "source": source,
            "checkpoint": checkpoint,
            "readings": {
                "time": readings["time"].map(pd.Timestamp.isoformat).tolist(),
                **{c: readings[c].tolist() for c in READINGS_COLUMNS if c != "time"},
            },
        }).encode()
        if self.size + len(body) > self.max_bytes:
            raise BufferFull(
                f"ingest buffer {self.directory} is full ({self.size / 1e6:.1f} of "
                f"{self.max_bytes / 1e6:.1f} MB); sources wait until the store answers — "
                f"restore the store or raise --buffer-mb"
            )
        self._seq += 1
        path = self.directory / f"{self._seq:012d}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        self.size += len(body)
        if not self._warned and self.size > WARN_FRACTION * self.max_bytes:
            self._warned = True
            log.warning(
                "ingest buffer %s is %.0f%% full (%.1f of %.1f MB); the store is still "
                "unreachable — when it fills, sources stop reading",
                self.directory, 100 * self.size / self.max_bytes, self.size / 1e6,
                self.max_bytes / 1e6,
            )

    @staticmethod
    def read(path: Path) -> tuple[str, pd.DataFrame, dict[str, Any]]:
        data = json.loads(path.read_text(encoding="utf-8"))
        frame = pd.DataFrame(data["readings"], columns=READINGS_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
        return data["source"], frame, data["checkpoint"]

    def entries(self) -> Iterator[tuple[Path, str, pd.DataFrame, dict[str, Any]]]:
        """(path, source, readings, checkpoint) of each buffered batch in order; a file that
        cannot be read (cut short by a crash, edited by hand) is moved to ``broken/`` and named
        in the log, and the others are still returned."""
        for path in self.files():
            try:
                source, frame, checkpoint = self.read(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._set_aside(path, exc)
                continue
            yield path, source, frame, checkpoint

    def _set_aside(self, path: Path, exc: Exception) -> None:
        broken = self.directory / "broken"
        broken.mkdir(exist_ok=True)
        size = path.stat().st_size
        os.replace(path, broken / path.name)
        self.size -= size
        log.error(
            "ingest buffer file %s is not readable (%s: %s); moved to %s — its batch is not "
            "in the store: inspect it, or re-read its source (backfill) to recover it",
            path, type(exc).__name__, str(exc)[:200], broken / path.name,
        )

    def remove(self, path: Path) -> None:
        self.size -= path.stat().st_size
        path.unlink()
        if self.size <= WARN_FRACTION * self.max_bytes:
            self._warned = False

    def last_checkpoints(self) -> dict[str, dict[str, Any]]:
        """The newest buffered checkpoint of each source (newer than the store's)."""
        out: dict[str, dict[str, Any]] = {}
        for _, source, _, checkpoint in self.entries():
            out[source] = checkpoint
        return out


@dataclass
class SourceStatus:
    """What ``wattlens ingest status`` shows for one source."""

    type: str
    last_success: pd.Timestamp | None = None
    newest_reading: pd.Timestamp | None = None
    errors: int = 0
    last_error: str | None = None
    rejected: int = 0
    logged_at: float = 0.0
    recent: deque[tuple[float, int]] = field(default_factory=deque)

    def document(self, buffered: int) -> dict[str, Any]:
        now = pd.Timestamp.now(tz="UTC")
        cutoff = time.time() - 3600
        while self.recent and self.recent[0][0] < cutoff:
            self.recent.popleft()
        return {
            "type": self.type,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "newest_reading": self.newest_reading.isoformat() if self.newest_reading else None,
            "lag_s": (now - self.newest_reading).total_seconds() if self.newest_reading else None,
            "readings_last_hour": sum(n for _, n in self.recent),
            "rejected": self.rejected,
            "errors": self.errors,
            "last_error": self.last_error,
            "buffered_batches": buffered,
            "updated": now.isoformat(),
        }


class Worker:
    """Runs sources against a store with checkpoints, buffer, quarantine and statuses."""

    def __init__(
        self,
        store: Store,
        sources: list[tuple[SourceSection, Source]],
        data_dir: Path,
        buffer_bytes: int = 256 * 2**20,
        status_every_s: float = 5.0,
        plausibility: Plausibility | None = None,
    ) -> None:
        self.store = store
        self.plausible = PlausibilityCheck(
            plausibility or Plausibility(),
            lambda meter, quantity: store.read_readings([meter], quantity)["value"],
        )
        self.sources = sources
        self.buffer = DiskBuffer(Path(data_dir) / BUFFER_DIR, buffer_bytes)
        self.quarantine = Path(data_dir) / "quarantine.jsonl"
        self.status_every_s = status_every_s
        self.checkpoints: dict[str, dict[str, Any] | None] = {}
        self.status = {s.name: SourceStatus(s.type) for s, _ in sources}
        self._lock = threading.Lock()
        self.stop = threading.Event()

    # ------------------------------------------------------------ batches
    def _quarantine(self, rejected: list[Rejected]) -> None:
        if not rejected:
            return
        now = pd.Timestamp.now(tz="UTC").isoformat()
        with open(self.quarantine, "a", encoding="utf-8") as out:
            for r in rejected:
                out.write(json.dumps({"at": now, "source": r.source, "reason": r.reason,
                                      "record": r.record}) + "\n")

    def handle(self, name: str, batch: Batch, checkpoint: bool = True) -> str:
        """Quarantine the rejects, then store the readings and checkpoint (or buffer them).
        Returns ``written``, ``buffered`` or ``empty``."""
        readings = batch.readings
        changed = batch.checkpoint != self.checkpoints.get(name)
        if readings.empty and not batch.rejected and not changed:
            return "empty"
        with self._lock:
            self._quarantine(batch.rejected)
            readings, notes = self.plausible.flag(readings)
            for note in notes:
                log.warning("%s: %s", name, note)
            outcome = "written"
            if len(self.buffer) == 0:
                try:
                    if not readings.empty:
                        self.store.write_readings(readings)
                    if checkpoint and changed:
                        self.store.put_document("checkpoint", name, batch.checkpoint)
                except StoreUnavailable as exc:
                    log.warning("%s: store unavailable (%s); buffering on disk", name, exc)
                    outcome = "buffered"
            else:
                outcome = "buffered"
            if outcome == "buffered":
                self._buffer_wait(name, readings, batch.checkpoint if checkpoint else None)
            if checkpoint:
                self.checkpoints[name] = batch.checkpoint
            status = self.status[name]
            status.rejected += len(batch.rejected)
            status.recent.append((time.time(), len(readings)))
            if outcome == "written":
                status.last_success = pd.Timestamp.now(tz="UTC")
            if not readings.empty:
                newest = readings["time"].max()
                status.newest_reading = max(newest, status.newest_reading or newest)
        log.info(
            "%s: batch of %d readings (%s), %d rejected%s", name, len(readings), outcome,
            len(batch.rejected),
            f" e.g. {batch.rejected[0].reason[:200]}" if batch.rejected else "",
        )
        return outcome

    def _buffer_wait(self, name: str, readings: pd.DataFrame,
                     checkpoint: dict[str, Any] | None) -> None:
        """Append to the buffer; when it is full, flush and retry until room or stop."""
        while True:
            try:
                self.buffer.append(name, readings, checkpoint or {})
                return
            except BufferFull as exc:
                if self.stop.is_set():
                    log.error("%s: %s; batch dropped at shutdown", name, exc)
                    return
                log.warning("%s", exc)
                self._lock.release()
                try:
                    self.stop.wait(1.0)
                    self.flush()
                finally:
                    self._lock.acquire()

    def flush(self) -> int:
        """Write buffered batches to the store in order, up to :data:`FLUSH_ROWS` readings a
        write (a long outage leaves thousands of small batches; one write each would hold the
        sources for minutes); stop at the first failure — what was not written stays buffered,
        and writing a reading again is harmless (same key). Returns how many were flushed."""
        done = 0
        with self._lock:
            group: list[tuple[Path, str, pd.DataFrame, dict[str, Any]]] = []
            rows = 0
            for entry in self.buffer.entries():
                group.append(entry)
                rows += len(entry[2])
                if rows >= FLUSH_ROWS:
                    if not self._write_group(group):
                        group = []
                        break
                    done, group, rows = done + len(group), [], 0
            if group and self._write_group(group):
                done += len(group)
        if done:
            log.info("flushed %d buffered batches to the store; %d left", done, len(self.buffer))
        return done

    def _write_group(self, group: list[tuple[Path, str, pd.DataFrame, dict[str, Any]]]
                     ) -> bool:
        """Write buffered batches as one (a later batch's reading wins), then each source's
        newest checkpoint among them; remove them from the buffer. False: the store is down."""
        frames = [frame for _, _, frame, _ in group if not frame.empty]
        checkpoints = {name: checkpoint for _, name, _, checkpoint in group if checkpoint}
        try:
            if frames:
                readings = pd.concat(frames, ignore_index=True).drop_duplicates(
                    ["time", "meter", "quantity"], keep="last")
                self.store.write_readings(readings)
            for name, checkpoint in checkpoints.items():
                self.store.put_document("checkpoint", name, checkpoint)
        except StoreUnavailable:
            return False
        now = pd.Timestamp.now(tz="UTC")
        for path, name, _, _ in group:
            self.buffer.remove(path)
            if name in self.status:
                self.status[name].last_success = now
        return True

    def publish_status(self) -> None:
        """Write each source's status document (skipped while the store is down)."""
        buffered = len(self.buffer)
        with self._lock:
            docs = {name: s.document(buffered) for name, s in self.status.items()}
        try:
            for name, doc in docs.items():
                self.store.put_document(STATUS_KIND, name, doc)
        except StoreUnavailable:
            pass

    # ------------------------------------------------------------ schedule
    def _load_checkpoints(self) -> None:
        buffered = self.buffer.last_checkpoints()
        for section, _ in self.sources:
            while not self.stop.is_set():
                try:
                    stored = self.store.get_document("checkpoint", section.name)
                    break
                except StoreUnavailable as exc:
                    if section.name in buffered:
                        stored = None
                        break
                    log.warning("%s: store unavailable at start (%s); retrying", section.name,
                                exc)
                    self.stop.wait(1.0)
            else:
                return
            self.checkpoints[section.name] = buffered.get(section.name) or stored

    def _run_source(self, section: SourceSection, source: Source) -> None:
        name = section.name
        every = section.every.total_seconds()
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                for batch in source.fetch(self.checkpoints.get(name)):
                    self.handle(name, batch)
                    if self.stop.is_set():
                        break
            except SourceUnavailable as exc:
                self._error(name, str(exc))
            except Exception as exc:  # a source bug must not stop the others
                self._error(name, f"{type(exc).__name__}: {exc}")
            self.stop.wait(max(0.0, every - (time.monotonic() - started)))

    def _error(self, name: str, message: str) -> None:
        """Count an error; log it when it is new, else at most once a minute."""
        with self._lock:
            status = self.status[name]
            status.errors += 1
            repeated = status.last_error == message[:500]
            quiet = repeated and time.monotonic() - status.logged_at < ERROR_LOG_EVERY_S
            status.last_error = message[:500]
            if not quiet:
                status.logged_at = time.monotonic()
        if not quiet:
            log.warning("%s: %s%s", name, message, " (repeating)" if repeated else "")

    def run(self) -> None:
        """Run until :attr:`stop` is set; then flush what the store takes and return."""
        self._load_checkpoints()
        threads = [
            threading.Thread(target=self._run_source, args=(section, source),
                             name=f"source-{section.name}", daemon=True)
            for section, source in self.sources
        ]
        for thread in threads:
            thread.start()
        log.info("ingest running %d sources: %s", len(threads),
                 ", ".join(s.name for s, _ in self.sources))
        last_status = 0.0
        while not self.stop.is_set():
            if len(self.buffer):
                self.flush()
            if time.monotonic() - last_status > self.status_every_s:
                self.publish_status()
                last_status = time.monotonic()
            self.stop.wait(0.5)
        for thread in threads:
            thread.join(timeout=30)
        for _, source in self.sources:
            source.close()
        self.flush()
        self.publish_status()
        log.info("ingest stopped; %d batches left in the buffer", len(self.buffer))


def backfill(
    worker: Worker,
    section: SourceSection,
    source: Source,
    start: pd.Timestamp,
    end: pd.Timestamp,
    progress: Callable[[pd.Timestamp], None],
) -> int:
    """Fetch [start, end) from ``source`` into the store (rejects quarantined; the live
    checkpoint is left alone). ``progress`` gets the newest reading time of each batch."""
    total = 0
    for batch in prefetch(source.fetch(None, start, end)):  # parse the next while writing
        worker.handle(section.name, batch, checkpoint=False)
        total += len(batch.readings)
        if not batch.readings.empty:
            progress(batch.readings["time"].max())
    worker.flush()
    return total
