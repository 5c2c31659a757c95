"""What every ``wattlens`` command shares: the error exit, the config and store at the entry
point, the ``--config`` option."""

from __future__ import annotations

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

console = Console(stderr=True)
EXAMPLE_CONFIG = Path(__file__).parent.with_name("wattlens.example.toml")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: wattlens.toml if present)."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error and return the exit to raise."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
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


def get_store(config: Config) -> Store:
    return open_store(config.store)


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
