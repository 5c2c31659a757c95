"""Store benchmark: InfluxStore write rate against the raw line-protocol ceiling, and read latency
of both stores, measured side by side in one run on the same data and the same server.

    .venv/bin/python -m benchmarks.bench_store [--meters 100] [--days 365] [--repeat 3]

Prints points/s for InfluxStore.write_readings (validation + vectorised serialisation + gzip +
posting), for the same pre-serialised line protocol POSTed with plain HTTP by one writer (the
raw ceiling) and by two, and their ratio (goal >= 0.9); then median latency of hourly means of
one meter over the period and daily sums of all meters, on InfluxDB and on DuckDB.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from tests.support.influxd import LocalInfluxd
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore
from wattlens.store.lineprotocol import batches, serialise
from wattlens.store.schema import validate_readings


def make_readings(meters: int, days: int) -> pd.DataFrame:
    """``meters`` synthetic 15-minute energy meters [kWh per interval] over ``days``."""
    rng = np.random.default_rng(42)
    t = pd.date_range("2019-01-01", periods=days * 96, freq="15min", tz="UTC")
    daily = 1 + 0.5 * np.sin(2 * np.pi * (t.hour + t.minute / 60) / 24)
    return pd.concat(
        [pd.DataFrame({"time": t, "meter": f"meter-{i:03d}",
                       "value": np.round(rng.gamma(4.0, 2.0, len(t)) * daily, 3)})
         for i in range(meters)],
        ignore_index=True,
    )


def raw_post(url: str, db: str, bodies: list[bytes], writers: int) -> float:
    """POST pre-serialised bodies (gzip level 1, like the store); return seconds."""
    session = requests.Session()
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}

    def send(body: bytes) -> None:
        r = session.post(f"{url}/write", params={"db": db, "precision": "ns"},
                         data=gzip.compress(body, compresslevel=1), headers=headers)
        r.raise_for_status()

    started = time.perf_counter()
    if writers == 1:
        for body in bodies:
            send(body)
    else:
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(send, bodies))
    return time.perf_counter() - started


def fresh(url: str, name: str) -> InfluxStore:
    """A new, empty database (never a dropped one: deleting shards competes with writes)."""
    store = InfluxStore(url, name)
    store.init()
    return store


def median_seconds(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    readings = make_readings(args.meters, args.days)
    n = len(readings)
    print(f"data: {args.meters} meters x {args.days} days x 15 min = {n:,} points")
    canonical = validate_readings(readings)
    lines = serialise("readings", canonical[["meter", "quantity"]],
                      {"value": canonical["value"], "quality": canonical["quality"]},
                      canonical["time"])
    bodies = list(batches(lines, 5000))

    with tempfile.TemporaryDirectory() as tmp, LocalInfluxd(Path(tmp) / "influxd") as server:
        fresh(server.url, "warmup")
        raw_post(server.url, "warmup", bodies[: len(bodies) // 4], 1)  # warm up the server
        rates: dict[str, list[float]] = {"store": [], "raw1": [], "raw2": []}
        for round_ in range(args.repeat):  # interleaved, so drift hits all alike
            fresh(server.url, f"raw1_{round_}")
            rates["raw1"].append(n / raw_post(server.url, f"raw1_{round_}", bodies, 1))
            fresh(server.url, f"raw2_{round_}")
            rates["raw2"].append(n / raw_post(server.url, f"raw2_{round_}", bodies, 2))
            store = fresh(server.url, f"store_{round_}")
            started = time.perf_counter()
            store.write_readings(readings)
            rates["store"].append(n / (time.perf_counter() - started))
            print(f"  round {round_ + 1}: store {rates['store'][-1]:,.0f}/s, raw 1 writer "
                  f"{rates['raw1'][-1]:,.0f}/s, raw 2 writers {rates['raw2'][-1]:,.0f}/s")
        store_rate = statistics.median(rates["store"])
        raw1 = statistics.median(rates["raw1"])
        raw2 = statistics.median(rates["raw2"])
        print("\nwrite (median of rounds)")
        print(f"  InfluxStore.write_readings        {store_rate:>12,.0f} points/s")
        print(f"  raw line protocol, 1 writer       {raw1:>12,.0f} points/s   (the ceiling)")
        print(f"  raw line protocol, 2 writers      {raw2:>12,.0f} points/s")
        print(f"  ratio store / raw ceiling          {store_rate / raw1:>12.2f}   (goal >= 0.9)")
        print(f"  ratio store / raw 2 writers        {store_rate / raw2:>12.2f}")

        duck = DuckDBStore(Path(tmp) / "bench.duckdb")
        started = time.perf_counter()
        duck.write_readings(readings)
        print(f"  DuckDBStore.write_readings        {n / (time.perf_counter() - started):>12,.0f}"
              " points/s")

        start = pd.Timestamp("2019-01-01", tz="UTC")
        end = start + pd.Timedelta(days=args.days)
        questions = {
            "hourly means, 1 meter": lambda s: s.aggregate(["meter-000"], "energy", start, end,
                                                           "1h", "mean"),
            f"daily sums, {args.meters} meters": lambda s: s.aggregate(
                None, "energy", start, end, "1d", "sum", "Europe/London"),
        }
        print("\nread latency (median of 5)        InfluxDB      DuckDB   Influx/Duck")
        for label, ask in questions.items():
            a = ask(store)
            b = ask(duck)
            assert len(a) == len(b), (label, len(a), len(b))
            t_influx = median_seconds(lambda ask=ask: ask(store), 5)
            t_duck = median_seconds(lambda ask=ask: ask(duck), 5)
            print(f"  {label:<28} {t_influx * 1000:>8.0f} ms {t_duck * 1000:>8.0f} ms"
                  f" {t_influx / t_duck:>10.1f}x")
        duck.close()
        store.close()


if __name__ == "__main__":
    main()
