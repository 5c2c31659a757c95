"""``wattlens dashboard``: serve the Dash app (127.0.0.1:8050 unless told otherwise)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from wattlens.cli.common import fail, get_config


def dashboard(
    host: Annotated[str | None, typer.Option(
        help="Address to bind (default: dashboard.host in the config, 127.0.0.1); a "
             "non-loopback address needs logins (see docs/security.md).")] = None,
    port: Annotated[int | None, typer.Option(
        help="TCP port (default: dashboard.port in the config, 8050).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="TOML config file (default: wattlens.toml if present).")] = None,
    insecure_no_login: Annotated[bool, typer.Option(
        "--insecure-no-login", help="Serve on a non-loopback address without logins (anyone "
                                    "who reaches it sees every meter).")] = False,
    hash_password: Annotated[bool, typer.Option(
        "--hash-password", help="Ask for a password, print its hash for dashboard.users "
                                "and exit.")] = False,
) -> None:
    """Serve the dashboard: live overview, explorer, forecasts, anomalies, savings."""
    if hash_password:
        from werkzeug.security import generate_password_hash

        secret = getpass.getpass("password: ")
        if secret != getpass.getpass("again: "):
            raise typer.BadParameter("the two passwords differ")
        typer.echo(generate_password_hash(secret))
        return
    from wattlens.dashboard.app import create_app
    from wattlens.dashboard.config import bind_host as checked_host
    from wattlens.store.base import StoreError

    cfg = get_config(config)
    try:
        bind_host = checked_host(cfg.dashboard, host, insecure_no_login)
        app = create_app(cfg)
    except (StoreError, RuntimeError, ValueError) as exc:
        raise fail(str(exc)) from None
    bind_port = port or cfg.dashboard.port
    typer.echo(f"wattlens dashboard on http://{bind_host}:{bind_port} (Ctrl+C stops it)")
    app.run(host=bind_host, port=bind_port, debug=False)
