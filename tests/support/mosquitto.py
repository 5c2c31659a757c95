"""A real Mosquitto broker on a free loopback port, for the MQTT tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wattlens.core.net import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class Broker:
    """A running mosquitto child process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Terminate the broker (kill it after 10 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_broker(data: Path) -> Broker:
    """Debian's mosquitto on a free loopback port with its config and persistence in ``data``;
    unlimited queues and in-flight windows, so a stopped subscriber's session keeps
    everything."""
    port = free_port()
    data.mkdir(parents=True, exist_ok=True)
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
    broker = Broker("127.0.0.1", port, process, log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return broker
        except OSError:
            time.sleep(0.05)
    broker.stop()
    raise RuntimeError(f"mosquitto did not listen on port {port} within 10 s")
