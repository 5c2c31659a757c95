"""Fixtures for the live-ingest tests: a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from store.localserver import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Broker:
    """A running mosquitto child process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on port {port} within 10 s")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """Debian's mosquitto on a free loopback port, with its own config and persistence dir;
    unlimited queues and in-flight windows so a stopped subscriber's session keeps everything."""
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto not installed; `apt-get install mosquitto` to run MQTT tests")
    port = free_port()
    data = tmp_path / "mosquitto"
    data.mkdir()
    conf = data / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {data}/\n"
        "max_queued_messages 0\n"
        "max_inflight_messages 0\n"
        "message_size_limit 0\n"
    )
    log = data / "mosquitto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=out, stderr=out)
    try:
        _wait_listening(port, process, log)
        yield Broker("127.0.0.1", port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; any still running at the end are killed."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
