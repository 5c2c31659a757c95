"""Fixtures for the live-ingest tests: a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wattlens.core.net import free_port

from .support import WorkerProcess

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


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


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; any still running at the end are killed."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
