"""``python -m wattlens`` runs the command line."""

from wattlens.cli import app

app(prog_name="wattlens")
