"""Live-loop benchmark: how long a simulated meter's reading takes to become visible through
the API of ``wattlens run``, and what the service costs in CPU, at several meter counts.

    .venv/bin/python -m benchmarks.bench_live [--meters 10,500] [--poll 10] [--duration 90]

For each meter count, in one run and on fresh state:

- a mosquitto broker on a free loopback port (MQTT only: one broker carries 500 meters at
  50 messages/s easily; Modbus would need one pymodbus server per meter);
- ``wattlens run --role ingest,web`` as a child process on a temporary DuckDB data dir, with one
  MQTT source (``interval`` = ``--poll``) mapping ``bench/<meter>/power`` payloads
  ``{"ts": <UNIX s>, "w": <W>}`` to power readings stamped with ``ts``;
- N simulated meters, each publishing one reading every ``--poll`` seconds stamped with its
  generation time, their phases spread evenly over the period (real meters are not in step);
- a poller reading ``GET /api/v1/readings/latest?quantity=power`` over the service's Unix
  socket (admin, no token) every ``--probe`` seconds. A reading's latency is the time from its
  generation to the first answer that shows it (or a newer reading of its meter). The first
  two periods are warm-up and not counted.

Prints p50 / p95 / max latency per meter count side by side, readings never seen, the mean
store write latency (from the service's ``/metrics``) and the service's CPU seconds (user +
system, from ``/proc/<pid>/stat``, from the first publish to the last reading's poll, warm-up
included, start-up not; this includes serving the poller's API reads) per 100 meters per hour.
Goal (issue #12): p95 <= poll interval + 2 s at 500 meters.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from prometheus_client.parser import text_string_to_metric_families

from tests.support.mosquitto import MOSQUITTO, start_broker
from wattlens.core.net import free_port
from wattlens.store.remote import from_parquet, service_socket

REPO = Path(__file__).resolve().parents[1]
TICK_S = os.sysconf("SC_CLK_TCK")
WARMUP_PERIODS = 2


@dataclass
class Result:
    """What one meter count measured."""

    meters: int
    latencies: list[float] = field(default_factory=list)
    missing: int = 0
    cpu_s: float = 0.0
    window_s: float = 0.0
    write_mean_s: float = float("nan")
    writes: int = 0
    probe_s: list[float] = field(default_factory=list)

    def pct(self, q: float) -> float:
        """The ``q`` quantile of the latencies [s]."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q) - 1]

    def cpu_per_100_h(self) -> float:
        """Service CPU seconds per 100 meters per hour."""
        return self.cpu_s / self.window_s * 3600 / (self.meters / 100)


def write_config(root: Path, broker_port: int, poll_s: float) -> Path:
    """The service's config: DuckDB in ``root``, the dashboard on a free port, one MQTT source."""
    path = root / "wattlens.toml"
    path.write_text(
        f'data_dir = "{root}"\n\n'
        f'[store]\nkind = "duckdb"\npath = "{root / "wattlens.duckdb"}"\n\n'
        f'[dashboard]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        "[[sources]]\n"
        'name = "bench-mqtt"\ntype = "mqtt"\n'
        f'interval = "{poll_s:g}s"\nhost = "127.0.0.1"\nport = {broker_port}\n'
        'client_id = "wattlens-bench"\n'
        'topics = [{topic = "bench/+/power", meter = "{0}", time = "ts", time_format = "unix",'
        ' values = [{path = "w", kind = "power", unit = "W"}]}]\n'
    )
    return path


def wait_healthy(client: httpx.Client, service: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``/healthz`` on the service's socket answers 200 (or fail with its log)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"wattlens run exited with {service.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"wattlens run not healthy within 120 s:\n{log.read_text()[-3000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (all its threads) [s], from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_S  # utime, stime (fields 14, 15)


def store_writes(client: httpx.Client) -> tuple[float, int]:
    """(mean write latency [s], writes) of readings, from the service's ``/metrics``."""
    total, count = 0.0, 0
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name != "wattlens_store_write_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("operation") != "write_readings":
                continue
            if sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = int(sample.value)
    return (total / count if count else float("nan")), count


class Poller(threading.Thread):
    """Reads the newest reading per meter every ``probe_s`` and resolves pending readings."""

    def __init__(self, client: httpx.Client, result: Result, probe_s: float) -> None:
        super().__init__(daemon=True)
        self.client, self.result, self.probe_s = client, result, probe_s
        self.pending: dict[str, list[tuple[float, bool]]] = {}  # meter -> (generated, counted)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def expect(self, meter: str, generated: float, counted: bool) -> None:
        with self.lock:
            self.pending.setdefault(meter, []).append((generated, counted))

    def run(self) -> None:
        while not self.stopping.wait(self.probe_s):
            sent = time.monotonic()
            answer = self.client.get("/api/v1/readings/latest",  # JSON times are whole seconds
                                     params={"quantity": "power", "format": "parquet"})
            seen = time.time()  # the reading was visible by the time the answer arrived
            self.result.probe_s.append(time.monotonic() - sent)
            answer.raise_for_status()
            frame = from_parquet(answer.content)
            newest = dict(zip(frame["meter"], frame["time"].astype("int64") / 1e9, strict=True))
            with self.lock:
                for meter, stamp in newest.items():
                    waiting = self.pending.get(meter, [])
                    keep = []
                    for generated, counted in waiting:
                        if generated <= stamp + 1e-3:  # stored with µs precision
                            if counted:
                                self.result.latencies.append(seen - generated)
                        else:
                            keep.append((generated, counted))
                    self.pending[meter] = keep

    def unresolved(self) -> int:
        with self.lock:
            return sum(counted for waiting in self.pending.values() for _, counted in waiting)


def publish(poller: Poller, port: int, meters: int, poll_s: float, duration_s: float) -> None:
    """Publish one reading per meter every ``poll_s`` for warm-up + ``duration_s``, each
    counted only after the warm-up."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wattlens-bench-meters")
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent: mqtt.MQTTMessageInfo | None = None
    names = [f"bench-{i:04d}" for i in range(meters)]
    start = time.time()
    measured_from = start + WARMUP_PERIODS * poll_s
    end = measured_from + duration_s
    slot = 0
    while True:
        due = start + slot * poll_s / meters
        if due >= end:
            break
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        meter = names[slot % meters]
        generated = time.time()
        poller.expect(meter, generated, generated >= measured_from)
        sent = client.publish(f"bench/{meter}/power", json.dumps({"ts": generated, "w": 1e3}),
                              qos=1)
        slot += 1
    if sent is not None:
        sent.wait_for_publish(timeout=30)  # in order: the earlier ones are out too
    client.loop_stop()
    client.disconnect()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``process`` (the service flushes within 10 s), SIGKILL it after 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(meters: int, args: argparse.Namespace) -> Result:
    """One meter count on a fresh broker, service and data dir."""
    result = Result(meters)
    with tempfile.TemporaryDirectory(prefix="wattlens-bench-live-") as tmp:
        root = Path(tmp)
        broker = start_broker(root / "mosquitto")
        port = broker.port
        log = root / "service.log"
        service: subprocess.Popen[bytes] | None = None
        try:
            config = write_config(root, port, args.poll)
            with open(log, "wb") as out:
                service = subprocess.Popen(
                    [sys.executable, "-m", "wattlens", "run", "-c", str(config),
                     "--role", "ingest,web"], stdout=out, stderr=out, cwd=REPO)
            transport = httpx.HTTPTransport(uds=str(service_socket(root / "wattlens.duckdb")))
            with httpx.Client(transport=transport, base_url="http://wattlens",
                              timeout=30) as client:
                wait_healthy(client, service, log)
                poller = Poller(client, result, args.probe)
                poller.start()
                cpu_start, wall_start = cpu_seconds(service.pid), time.monotonic()
                publish(poller, port, meters, args.poll, args.duration)
                time.sleep(args.poll + args.grace)  # the last readings' poll and write
                poller.stopping.set()
                poller.join()
                result.cpu_s = cpu_seconds(service.pid) - cpu_start
                result.window_s = time.monotonic() - wall_start
                result.missing = poller.unresolved()
                result.write_mean_s, result.writes = store_writes(client)
        finally:
            if service is not None:
                stop(service)
            broker.stop()
    return result


def report(results: list[Result], poll_s: float) -> None:
    """The figures side by side, one column per meter count."""
    head = f"{'':34}" + "".join(f"{r.meters:>12} m" for r in results)
    print(head)
    rows = [
        ("readings measured", lambda r: f"{len(r.latencies):>14}"),
        ("never seen", lambda r: f"{r.missing:>14}"),
        ("latency p50 [s]", lambda r: f"{r.pct(50):>14.2f}"),
        ("latency p95 [s]", lambda r: f"{r.pct(95):>14.2f}"),
        ("latency max [s]", lambda r: f"{max(r.latencies):>14.2f}"),
        ("store write mean [s] (writes)", lambda r: f"{r.write_mean_s:>7.3f} ({r.writes:>4})"),
        ("API probe median [s]", lambda r: f"{statistics.median(r.probe_s):>14.3f}"),
        ("service CPU [s] / window [s]", lambda r: f"{r.cpu_s:>6.1f} / {r.window_s:>5.0f}"),
        ("CPU s per 100 meters per hour", lambda r: f"{r.cpu_per_100_h():>14.0f}"),
    ]
    for label, cell in rows:
        print(f"{label:34}" + "".join(cell(r) for r in results))
    largest = max(results, key=lambda r: r.meters)
    goal = poll_s + 2
    verdict = "met" if largest.pct(95) <= goal else f"MISSED by {largest.pct(95) - goal:.2f} s"
    print(f"goal p95 <= {goal:.0f} s at {largest.meters} meters: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_live",
        description="Latency from a simulated MQTT meter's reading to its visibility through "
                    "the API of `wattlens run --role ingest,web` (DuckDB), and the service's "
                    "CPU, per meter count.")
    parser.add_argument("--meters", default="10,500",
                        help="comma-separated simulated meter counts, each measured on fresh "
                             "state (default 10,500)")
    parser.add_argument("--poll", type=float, default=10.0,
                        help="each meter publishes, and the source polls, every POLL s "
                             "(default 10)")
    parser.add_argument("--duration", type=float, default=90.0,
                        help="measured seconds per meter count, after 2 warm-up periods "
                             "(default 90)")
    parser.add_argument("--probe", type=float, default=0.25,
                        help="seconds between API reads of the newest readings (default 0.25)")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds beyond one poll interval to wait for the last readings")
    args = parser.parse_args()
    if not Path(MOSQUITTO).exists():
        sys.exit("mosquitto not installed; `apt-get install mosquitto` (see Makefile)")
    counts = [int(n) for n in args.meters.split(",")]
    results = []
    for meters in counts:
        print(f"{meters} meters: {args.duration:.0f} s measured ...", flush=True)
        results.append(measure(meters, args))
    report(results, args.poll)


if __name__ == "__main__":
    main()
