"""Helpers for the live-ingest tests: the worker as a child process and its config."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt

from wattlens.ingest.base import Batch, Source

REPO = Path(__file__).resolve().parents[2]


WATTLENS = [sys.executable, "-m", "wattlens"]


class WorkerProcess:
    """``wattlens ingest run`` as a child process on a config file, stopped by its handle."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [*WATTLENS, "ingest", "run", "-c", str(self.config)], stdout=out, stderr=out,
                cwd=REPO,
            )
        return self

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        """Wait until the log contains ``text`` (or fail with the log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout} s:\n{self.log.read_text()}")

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def write_config(path: Path, data_dir: Path, store: str, sources_toml: str) -> Path:
    """A wattlens config with ``store`` (a [store] table body) and the simulator's sources."""
    path.write_text(f'data_dir = "{data_dir}"\n\n[store]\n{store}\n\n{sources_toml}')
    return path


def publish(host: str, port: int, messages: Iterable[tuple[str, bytes | str]],
            client_id: str = "test-publisher") -> None:
    """Publish ``(topic, payload)`` messages at QoS 1 to a broker, each acknowledged."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect(host, port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    client.loop_stop()
    client.disconnect()


def drain(source: Source, checkpoint, want: int, timeout: float = 10) -> Iterator[Batch]:
    """Fetch until ``want`` messages' worth of batches were seen (power readings or rejects)."""
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < want and time.monotonic() < deadline:
        for batch in source.fetch(checkpoint):
            checkpoint = batch.checkpoint
            seen += len(batch.rejected) + batch.readings["quantity"].eq("power").sum()
            yield batch
        time.sleep(0.05)
