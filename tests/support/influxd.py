"""Run a throwaway local ``influxd`` (InfluxDB 1.x) on a free loopback port.

Used by the integration tests and the benchmarks (a test helper, not installed with wattlens):
``with LocalInfluxd(tmp_dir) as server: InfluxStore(server.url, ...)``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from wattlens.core.net import free_port


class LocalInfluxd:
    """An ``influxd`` child process with its own data directory and loopback ports.

    ``auth=True`` starts it with authentication on; create the admin with
    :meth:`create_admin` before anything else.
    """

    def __init__(self, data_dir: str | Path, auth: bool = False, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.auth = auth
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        d = self.data_dir
        conf = d / "influxdb.conf"
        d.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d / 'meta'}"
[data]
  dir = "{d / 'data'}"
  wal-dir = "{d / 'wal'}"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {'true' if self.auth else 'false'}
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""
        )
        return conf

    def start(self, timeout: float = 30.0) -> LocalInfluxd:
        binary = shutil.which("influxd")
        if binary is None:
            raise RuntimeError(
                "influxd not found; install Debian's package with `apt-get install influxdb` "
                "(make test does this when run as root)"
            )
        conf = self._write_config()
        log = open(self.data_dir / "influxd.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [binary, "-config", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"influxd exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'influxd.log'}"
                )
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping within {timeout} s")

    def create_admin(self, user: str, password: str) -> None:
        """Create the first (admin) user of an auth-enabled server."""
        q = f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
        requests.post(f"{self.url}/query", data={"q": q}, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LocalInfluxd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
