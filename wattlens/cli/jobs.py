"""``wattlens jobs``: the recent runs of the scheduled jobs of ``wattlens run``."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wattlens.cli.common import ConfigOption, fail, get_config, get_store
from wattlens.store.base import StoreError
from wattlens.store.jobruns import job_history


def jobs_command(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Runs shown, newest first.")] = 20,
    job: Annotated[str | None, typer.Option(help="Only this job, e.g. detect.")] = None,
) -> None:
    """Print the recent job runs (newest first): start, duration, status, counts, error."""
    cfg = get_config(config)
    store = get_store(cfg)
    try:
        runs = job_history(store, limit, job)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if not runs:
        raise fail(f"no job runs{f' of {job!r}' if job else ''} in the store yet; start them "
                   f"with `wattlens run --role jobs`", code=1)
    table = Table("job", "start (UTC)", "seconds", "status", "attempt", "counts / error")
    for run in runs:
        seconds = (pd.Timestamp(run["end"]) - pd.Timestamp(run["start"])).total_seconds()
        ok = run["status"] == "ok"
        detail = (", ".join(f"{k} {v}" for k, v in run["counts"].items()) if ok
                  else str(run["error"]))
        table.add_row(run["job"], run["start"][:19], f"{seconds:.1f}",
                      "ok" if ok else "[red]failed[/]", str(run["attempt"]), escape(detail))
    Console(width=160).print(table)
