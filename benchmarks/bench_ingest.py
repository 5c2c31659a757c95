"""Ingest benchmark: backfill of the whole Cambridge archive (12 buildings, 2015-2022,
electricity + gas + weather) through the ``files`` source (preset ``cambridge``) into
InfluxStore on a throwaway local influxd, against the raw line-protocol ceiling in the same run.

    .venv/bin/python -m benchmarks.bench_ingest [--chunk-rows 100000] [--writers 2] [--repeat 3]

Prints, for the same data:

- end to end: files source (CSV parsing, time parsing, units, zero-as-missing, validation) →
  ``InfluxStore.write_readings`` (validation, serialisation, gzip, POST), batch by batch, with
  the next chunk parsed while the current one is written (``wattlens.ingest.base.prefetch``), and
  also strictly sequentially;
- the raw ceiling: the same batches pre-serialised to line protocol, POSTed with plain
  ``requests`` (gzip level 1 like the store), with 1 and with ``--writers`` requests in flight
  (the faster is the ceiling);
- their ratio (goal >= 0.8), taken within each of ``--repeat`` rounds of back-to-back
  measurements (other work on the machine moves absolute numbers a lot) and reported as the
  median; and the peak RSS of this process during the end-to-end run
  (goal: flat, < 400 MB, because the source streams file by file and chunk by chunk), and
  the peak RSS of a fresh process streaming one big synthetic CSV (``--big-rows``) through the
  source, to show memory does not grow with the file.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tests.support.influxd import LocalInfluxd
from wattlens.ingest.base import Batch, prefetch
from wattlens.ingest.sources.files import FilesSource
from wattlens.store.influx import InfluxStore
from wattlens.store.lineprotocol import batches as cut_batches
from wattlens.store.lineprotocol import serialise
from wattlens.store.schema import validate_readings

CAMBRIDGE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cambridge"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far [MB] (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def with_progress(batches: Iterable[Batch], files: int, label: str) -> Iterator[Batch]:
    """Show files done (from the checkpoints) while passing batches through."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=files)
        for batch in batches:
            yield batch
            done = sum(f["done"] for f in batch.checkpoint.get("files", {}).values())
            progress.update(task, completed=done)


def end_to_end(source: FilesSource, store: InfluxStore, files: int, overlap: bool) -> int:
    """Backfill everything; returns points written."""
    stream: Iterable[Batch] = source.fetch(None)
    if overlap:
        stream = prefetch(iter(stream))
    points = 0
    for batch in with_progress(stream, files, "end to end"):
        if len(batch.readings):
            points += store.write_readings(batch.readings)
    return points


def serialised_bodies(source: FilesSource, batch_size: int) -> list[bytes]:
    """The same batches as line-protocol bodies, exactly as the store would cut them."""
    bodies: list[bytes] = []
    for batch in source.fetch(None):
        if not len(batch.readings):
            continue
        frame = validate_readings(batch.readings)
        lines = serialise("readings", frame[["meter", "quantity"]],
                          {"value": frame["value"], "quality": frame["quality"]}, frame["time"])
        bodies.extend(cut_batches(lines, batch_size))
    return bodies


def raw_ceiling(url: str, database: str, bodies: list[bytes], writers: int) -> float:
    """POST pre-serialised bodies with ``writers`` requests in flight (gzip level 1 inside
    the timing, like the store); seconds."""
    requests.post(f"{url}/query", data={"q": f'CREATE DATABASE "{database}"'},
                  timeout=30).raise_for_status()
    session = requests.Session()
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}

    def send(body: bytes) -> None:
        response = session.post(f"{url}/write", params={"db": database, "precision": "ns"},
                                data=gzip.compress(body, compresslevel=1), headers=headers,
                                timeout=60)
        response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - started


BIG_FILE_PROBE = """
import sys
from pathlib import Path
from wattlens.ingest.sources.files import FilesSource
source = FilesSource("big", FilesSource.Options(root=Path(sys.argv[1]), glob="big.csv",
                     columns={"kwh": {"meter": "big"}}, chunk_rows=int(sys.argv[2])))
points = sum(len(batch.readings) for batch in source.fetch(None))
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork+exec)
status = Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]
print(points, int(status) / 1024)
"""


def big_file_rss(rows: int, chunk_rows: int) -> tuple[int, float, float]:
    """Stream one synthetic ``rows``-row CSV through the files source in a fresh process;
    returns (points, file size [MB], peak RSS of that process [MB])."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        times = pd.date_range("2000-01-01", periods=rows, freq="min", tz="UTC")
        with path.open("w") as handle:
            handle.write("time,kwh\n")
            for start in range(0, rows, 1_000_000):
                part = times[start:start + 1_000_000]
                text = part.strftime("%Y-%m-%dT%H:%M:%SZ") + "," + (
                    (np.arange(len(part)) % 97 + 1) / 10).astype(str)
                handle.write("\n".join(text) + "\n")
        size = path.stat().st_size / 1e6
        out = subprocess.run([sys.executable, "-c", BIG_FILE_PROBE, tmp, str(chunk_rows)],
                             capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1])
        points, rss = out.stdout.split()
        return int(points), size, float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="rows per batch")
    parser.add_argument("--writers", type=int, default=2, help="store requests in flight")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median ratio counts)")
    parser.add_argument("--big-rows", type=int, default=5_000_000,
                        help="rows of the synthetic single file streamed for the RSS check")
    args = parser.parse_args()
    if not CAMBRIDGE.is_dir():
        raise SystemExit(f"{CAMBRIDGE} not found; the benchmark needs ../shared/data/cambridge")
    source = FilesSource("cambridge", FilesSource.Options(
        root=CAMBRIDGE, preset="cambridge", chunk_rows=args.chunk_rows))
    files = len(source.paths())
    rss_before = peak_rss_mb()
    writers_options = sorted({1, args.writers})
    rounds: list[dict[str, float]] = []  # seconds per measurement, one dict per round
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, LocalInfluxd(Path(tmp) / "influxd") as server:

        def run_e2e(label: str, round_: int) -> float:
            store = InfluxStore(server.url, f"bench_{label}_{round_}", writers=args.writers)
            store.init()
            started = time.perf_counter()
            counts[label] = end_to_end(source, store, files, overlap=label == "prefetch")
            store.close()
            return time.perf_counter() - started

        bodies: list[bytes] = []
        for round_ in range(args.repeat):
            # one round = the four measurements back to back, so that they share the load
            # other work puts on the machine; ratios are taken within a round
            times = {"prefetch": run_e2e("prefetch", round_)}
            if not bodies:
                rss_e2e = peak_rss_mb()  # before the raw bodies are held in memory
                started = time.perf_counter()
                bodies = serialised_bodies(source, InfluxStore(server.url).batch_size)
                prepare = time.perf_counter() - started
            for writers in writers_options:
                times[f"raw{writers}"] = raw_ceiling(
                    server.url, f"bench_raw{writers}_{round_}", bodies, writers)
            times["sequential"] = run_e2e("sequential", round_)
            rounds.append(times)
        counted = InfluxStore(server.url, "bench_prefetch_0").query(
            'SELECT COUNT("value") FROM "readings"')
    lines = sum(body.count(b"\n") for body in bodies)
    points = counts["prefetch"]
    assert points == counts["sequential"] == lines, (counts, lines)
    print(f"Cambridge archive backfill: {files} files, {points:,} points "
          f"(electricity + gas + weather; zeros = missing are dropped)")
    print("  points/s per round:   " + "  ".join(f"{k:>11}" for k in rounds[0])
          + "   ratio e2e/ceiling  sequential/ceiling")
    ratios, seq_ratios = [], []
    for n, times in enumerate(rounds, 1):
        ceiling = max(lines / times[f"raw{w}"] for w in writers_options)
        ratios.append(lines / times["prefetch"] / ceiling)
        seq_ratios.append(lines / times["sequential"] / ceiling)
        print(f"  round {n}              " + "  ".join(f"{lines / t:>11,.0f}"
                                                     for t in times.values())
              + f"   {ratios[-1]:>17.2f}  {seq_ratios[-1]:>18.2f}")
    print("  (prefetch: next chunk parsed while this one is written; raw<n>: the same batches "
          "pre-serialised, POSTed with plain requests, n in flight; the ceiling is the faster)")
    print(f"  (serialising the raw bodies beforehand took {prepare:.1f} s, not counted)")
    print(f"  ratio end to end / ceiling    {statistics.median(ratios):>12.2f}   median of "
          f"{len(ratios)} rounds (goal >= 0.8)")
    print(f"  ratio sequential / ceiling    {statistics.median(seq_ratios):>12.2f}")
    print(f"  peak RSS                      {rss_e2e:>12.0f} MB  (before the run "
          f"{rss_before:.0f} MB; goal < 400 MB)")
    if args.big_rows:
        big_points, big_mb, big_rss = big_file_rss(args.big_rows, args.chunk_rows)
        assert big_points == args.big_rows
        print(f"  one {big_mb:,.0f} MB CSV ({big_points:,} rows), source only: peak RSS "
              f"{big_rss:.0f} MB (flat: streamed in chunks of {args.chunk_rows:,} rows)")
    stored = int(counted[0]["values"][0][-1]) if counted else 0
    print(f"  points read back from influx  {stored:>12,}")
    assert stored == points, (stored, points)


if __name__ == "__main__":
    main()
