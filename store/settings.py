"""Where readings live: the ``[store]`` section of the config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from wattlens.core.base import Frozen

DEFAULT_DATA_DIR = Path("data")
"""Where local state (the DuckDB file, buffers, models) lives unless the config says else."""


class StoreConfig(Frozen):
    """Where readings live. Secrets come from the environment variables named here."""

    kind: Literal["duckdb", "influx"] = Field("duckdb", description="duckdb (embedded) or influx")
    path: Path = Field(
        DEFAULT_DATA_DIR / "wattlens.duckdb", description="DuckDB file (kind = duckdb)"
    )
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL (kind = influx)")
    database: str = Field("wattlens", description="InfluxDB 1.x/3.x database; 2.x bucket name")
    retention_policy: str | None = Field(None, description="InfluxDB 1.x retention policy")
    org: str | None = Field(None, description="InfluxDB 2.x organisation")
    username: str | None = Field(None, description="InfluxDB 1.x user (auth-enabled servers)")
    password_env: str = Field(
        "WATTLENS_INFLUX_PASSWORD", description="environment variable holding the 1.x password"
    )
    token_env: str = Field(
        "WATTLENS_INFLUX_TOKEN", description="environment variable holding the 2.x/3.x token"
    )
    gzip: bool = Field(True, description="gzip write bodies")
    batch_size: int = Field(5000, gt=0, description="lines per write request")
    timeout_s: float = Field(30.0, gt=0, description="HTTP timeout [s]")

    def secret(self, which: Literal["password", "token"]) -> str | None:
        """Read a secret from the environment (never from the file, never logged)."""
        return os.environ.get(self.password_env if which == "password" else self.token_env)
