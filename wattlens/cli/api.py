"""``wattlens api token``: make a bearer token for the HTTP API of ``wattlens run``."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from werkzeug.security import generate_password_hash

api_app = typer.Typer(help="The HTTP API of `wattlens run`.", no_args_is_help=True)


@api_app.command("token")
def token_command(
    name: Annotated[str, typer.Argument(help="Who holds the token, e.g. grafana.")],
    building: Annotated[list[str] | None, typer.Option(
        help="A building whose meters the token reads (repeatable).")] = None,
    admin: Annotated[bool, typer.Option(
        help="May write and read every meter and document.")] = False,
) -> None:
    """Print a new random token (once: it is stored nowhere) and its [[api.tokens]] entry,
    holding only the token's hash, to paste into the config."""
    token = secrets.token_urlsafe(32)
    scope = "admin = true" if admin else (
        f"buildings = [{', '.join(repr(b) for b in building)}]" if building
        else "all_meters = true")
    typer.echo(f"# token for {name} (give it to the client; it is not shown again):\n"
               f"# {token}\n[[api.tokens]]\nname = {name!r}\n"
               f"token_hash = {generate_password_hash(token)!r}\n{scope}")
