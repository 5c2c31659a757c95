"""What every ``wattlens`` command shares: the error exit, the config and store at the entry
point, the ``--config`` option.

The store of a command is the configured one, except while ``wattlens run`` serves it: on the
embedded DuckDB store only one process may open the file, so a command finds the service on
the Unix socket beside the file and goes through its API (:class:`RemoteStore`);
``wattlens --server URL`` (or ``$WATTLENS_SERVER``, token in ``$WATTLENS_TOKEN``) goes
through a service elsewhere."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from wattlens.config import Config, ConfigError, load_config
from wattlens.core.calendar import SiteCalendar
from wattlens.core.warnings import DataWarning
from wattlens.store import open_store
from wattlens.store.base import Store
from wattlens.store.remote import RemoteStore, service_socket

console = Console(stderr=True)
SERVER_ENV = "WATTLENS_SERVER"
TOKEN_ENV = "WATTLENS_TOKEN"
EXAMPLE_CONFIG = Path(__file__).parent.with_name("wattlens.example.toml")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: wattlens.toml if present)."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error and return the exit to raise."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def get_config(path: Path | None, default: Path | None = None) -> Config:
    """The config at ``path``, ./wattlens.toml, else the one at ``default`` or the built-in
    default (embedded store)."""
    try:
        if path is not None:
            return load_config(path)
        if Path("wattlens.toml").exists():
            return load_config("wattlens.toml")
        if default is not None:
            return load_config(default)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return Config()


def get_store(config: Config, local: bool = False) -> Store:
    """The store of ``config``: through the service at ``--server`` if given; through the
    running service on DuckDB when it holds the file; else opened here (``local``: always
    here). A DuckDB file held by a process that does not serve it is a one-line error exit
    naming that process."""
    url = None if local else os.environ.get(SERVER_ENV)
    if url:
        return RemoteStore.over_http(url, os.environ.get(TOKEN_ENV))
    if config.store.kind != "duckdb":
        return open_store(config.store)
    sock = service_socket(config.store.path)
    serving = _serving(sock)
    if serving is not None and not local:
        return serving
    if serving is not None:
        serving.close()
    try:
        return open_store(config.store)
    except RuntimeError as exc:
        raise fail(held_by(config.store.path, exc, sock, serving is not None)) from None


def _serving(sock: Path) -> RemoteStore | None:
    """The service answering on ``sock``, if one does."""
    if not sock.exists():
        return None
    remote = RemoteStore.over_socket(sock)
    if remote.answers():
        return remote
    remote.close()
    return None


def held_by(path: Path, exc: RuntimeError, sock: Path, serving: bool) -> str:
    """One line: which process holds the DuckDB file at ``path`` (``serving`` its API on
    ``sock``) and what to do."""
    pid = re.search(r"PID (\d+)", str(exc.__cause__ or exc))
    if pid is None:
        return str(exc)
    try:
        cmdline = Path(f"/proc/{pid[1]}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        cmdline = ""
    what = f"process {pid[1]}" + (f" ({cmdline.strip()[:120]})" if cmdline else "")
    if serving:
        return (f"the DuckDB store {path} is already served by {what} on {sock}; stop it "
                f"first (commands go through it while it runs)")
    return (f"the DuckDB store {path} is held by {what}, which serves no API on {sock}; stop "
            f"it, or run `wattlens run` with the web role (it serves the store to every "
            f"command), or give --server URL")


def warn(warnings: Sequence[str | DataWarning]) -> None:
    """Print each warning (a text or a :class:`DataWarning`'s message) on its own line."""
    for warning in warnings:
        text = warning.message if isinstance(warning, DataWarning) else str(warning)
        console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)


def site_calendar(tz: str, country: str | None) -> SiteCalendar:
    """The calendar of ``--tz`` and ``--country``; a clear error exit naming the bad value."""
    try:
        return SiteCalendar(timezone=tz, country=country)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise fail(f"--tz / --country: {reason}") from None
