"""``wattlens ingest run | backfill | status`` and ``wattlens simulate``."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from wattlens.cli.common import ConfigOption, console, fail, get_config, get_store
from wattlens.config import Config
from wattlens.ingest.base import (
    Source,
    SourceSection,
    build_source,
)
from wattlens.store.base import StoreError, StoreUnavailable, utc_timestamp

ingest_app = typer.Typer(
    help="Run the ingest sources (the sources tables of the config) into the store.",
    no_args_is_help=True,
)


def build_sources(
    cfg: Config, sections: list[SourceSection]
) -> list[tuple[SourceSection, Source]]:
    """The configured sources of ``sections``; a source that cannot be built fails the command."""
    context = cfg.ingest_context()
    built = []
    for section in sections:
        try:
            built.append((section, build_source(section, context)))
        except ValueError as exc:
            raise fail(f"source {section.name!r}: {exc}") from None
    return built


@ingest_app.command("run")
def run(
    config: ConfigOption = None,
    buffer_mb: Annotated[
        float, typer.Option(help="Bound of the on-disk buffer used while the store is down, in MB.")
    ] = 256.0,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Run only this source (repeatable).")
    ] = None,
) -> None:
    """Run every enabled source on its interval until SIGTERM/Ctrl-C (then flush and exit)."""
    from wattlens.ingest.worker import Worker

    cfg = get_config(config)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # the worker logs device errors
    sections = [s for s in cfg.sources if s.enabled and (not source or s.name in source)]
    if not sections:
        raise fail("no enabled sources in the config; add a sources table or set enabled = true "
                   "(see the examples in wattlens.example.toml)")
    pairs = build_sources(cfg, sections)
    store = get_store(cfg)
    try:
        store.init()
    except StoreUnavailable as exc:
        console.print(f"[yellow]store unavailable at start[/] ({escape(str(exc))}); batches "
                      f"will be buffered", highlight=False)
    except StoreError as exc:
        raise fail(str(exc)) from None
    worker = Worker(store, pairs, cfg.data_dir, int(buffer_mb * 2**20),
                    plausibility=cfg.plausibility)

    def stop(signum: int, frame: object) -> None:
        worker.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker.run()
    finally:
        store.close()


@ingest_app.command("backfill")
def backfill(
    source: Annotated[str, typer.Argument(help="Name of a configured source.")],
    start: Annotated[str, typer.Option(help="Start, ISO 8601 with offset: 2019-01-01T00:00Z.")],
    end: Annotated[str, typer.Option(help="End (exclusive), ISO 8601 with offset.")],
    config: ConfigOption = None,
) -> None:
    """Fetch a past time range of one source into the store, with a progress bar. Exits 1
    when no reading was read and records were rejected (e.g. every file refused)."""
    from wattlens.ingest.worker import Worker
    from wattlens.ingest.worker import backfill as run_backfill

    cfg = get_config(config)
    sections = [s for s in cfg.sources if s.name == source]
    if not sections:
        raise fail(f"no source named {source!r}; configured: {[s.name for s in cfg.sources]}")
    try:
        t0, t1 = utc_timestamp(start, "--start"), utc_timestamp(end, "--end")
    except ValueError as exc:
        raise fail(str(exc)) from None
    assert t0 is not None and t1 is not None
    if t1 <= t0:
        raise fail(f"--end {end} is not after --start {start}")
    [(section, src)] = build_sources(cfg, sections)
    store = get_store(cfg)
    worker = Worker(store, [(section, src)], cfg.data_dir, plausibility=cfg.plausibility)
    span = (t1 - t0).total_seconds()
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    try:
        store.init()
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"backfill {source}", total=span)

            def advance(newest: pd.Timestamp) -> None:
                progress.update(task, completed=min(span, (newest - t0).total_seconds()))

            n = run_backfill(worker, section, src, t0, t1, advance)
            progress.update(task, completed=span)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        src.close()
        store.close()
    rejected = worker.status[section.name].rejected
    if n == 0 and rejected:
        raise fail(f"backfilled 0 readings from {source!r}: all {rejected} records were "
                   f"rejected; the reasons are in {worker.quarantine}", code=1)
    console.print(escape(f"backfilled {n} readings from {source!r}; rejects in "
                         f"{worker.quarantine}"), highlight=False)


def _age(text: str | None) -> str:
    if not text:
        return "never"
    seconds = (pd.Timestamp.now(tz="UTC") - pd.Timestamp(text)).total_seconds()
    return f"{text[:19]}Z ({seconds:.0f} s ago)"


@ingest_app.command("status")
def status(config: ConfigOption = None) -> None:
    """Per source: last success, lag, readings in the last hour, rejects and errors."""
    from wattlens.ingest.worker import STATUS_KIND

    cfg = get_config(config)
    store = get_store(cfg)
    try:
        docs = store.list_documents(STATUS_KIND)
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if not docs:
        console.print("no ingest status yet; start `wattlens ingest run`")
        return
    table = Table("source", "type", "last success", "lag", "readings/1h", "rejected", "errors",
                  "buffered", "last error")
    for name, doc in sorted(docs.items()):
        lag = doc.get("lag_s")
        table.add_row(*map(escape, (
            name, str(doc.get("type", "")), _age(doc.get("last_success")),
            "-" if lag is None else f"{lag / 3600:.1f} h",
            str(doc.get("readings_last_hour", 0)), str(doc.get("rejected", 0)),
            str(doc.get("errors", 0)), str(doc.get("buffered_batches", 0)),
            (doc.get("last_error") or "")[:80],
        )))
    Console().print(table)


def simulate_command(
    hours: Annotated[int, typer.Option(help="Sample hours to replay.")] = 24,
    speed: Annotated[float, typer.Option(help="Speed-up: simulated seconds per second.")] = 3600.0,
    start: Annotated[
        str | None, typer.Option(help="First replayed hour, ISO 8601 (default: sample start).")
    ] = None,
    modbus_port: Annotated[
        int, typer.Option(help="Port of the first Modbus meter (the next ones follow).")
    ] = 5020,
    mqtt_host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    mqtt_port: Annotated[
        int | None, typer.Option(help="MQTT broker port; omit to serve only Modbus meters.")
    ] = None,
    warmup: Annotated[float, typer.Option(help="Seconds to hold the starting state.")] = 2.0,
    sources_out: Annotated[
        Path | None, typer.Option(help="Write the matching sources TOML here (default: stdout).")
    ] = None,
    exit_when_done: Annotated[
        bool, typer.Option(help="Exit after the last hour instead of serving on.")
    ] = False,
) -> None:
    """Replay the shipped sample as live Modbus TCP meters and an MQTT publisher."""
    from wattlens.ingest.simulator import Simulation
    from wattlens.sample import sample_readings

    try:
        first = utc_timestamp(start, "--start") if start else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    sim = Simulation(
        sample_readings(), start=first, hours=hours, speed=speed, warmup_s=warmup,
        mqtt=(mqtt_host, mqtt_port) if mqtt_port else None, modbus_port=modbus_port,
    )
    stopped = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        sim.start_serving()
    except (OSError, RuntimeError) as exc:
        raise fail(f"cannot start the simulator: {exc}") from None
    toml = sim.sources_toml()
    if sources_out:
        sources_out.write_text(toml, encoding="utf-8")
    else:
        print(toml, flush=True)
    for play in sim.plays:
        where = f"modbus 127.0.0.1:{play.port}" if play.protocol == "modbus" else sim.topic(play)
        console.print(f"{play.meter}: {play.style} at {where}")
    console.print(f"replaying {hours} h from {sim.start} in {sim.duration_s:.0f} s")
    try:
        while not stopped and not (exit_when_done and sim.finished()):
            time.sleep(0.1)
    finally:
        sim.stop()
