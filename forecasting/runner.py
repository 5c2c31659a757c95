"""Run one function per meter (or per meter-fit) on dask.distributed, with a progress bar.

A local cluster (one single-threaded worker process per core) is started by default; pass
``scheduler="tcp://HOST:PORT"`` to use an existing cluster. The local cluster is quiet: no
dashboard, its HTTP endpoint on a free loopback port (never "port 8787 in use"), dask's log
lines at ERROR only unless ``verbose``. A task that raises is returned as a
:class:`MeterFailure` with its reason; the others carry on. dask loads on first use.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

log = logging.getLogger(__name__)

QUIET_LOGGERS = ("distributed", "bokeh", "tornado")
"""Loggers held at ERROR while a quiet local cluster runs."""


@dataclass(frozen=True)
class MeterFailure:
    """A meter whose task failed, and why."""

    meter: str
    reason: str


def guarded(fn: Callable[..., Any], meter: str, *args: Any) -> Any:
    """Call ``fn(meter, *args)``; any exception becomes a :class:`MeterFailure`."""
    try:
        return fn(meter, *args)
    except Exception as exc:  # noqa: BLE001 - a failed meter must not stop the others
        return MeterFailure(meter, f"{type(exc).__name__}: {exc}")


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int | None = None, processes: bool = True,
    verbose: bool = False,
) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a new local cluster of ``workers``
    single-threaded workers (default: one per core) that is closed afterwards; quiet unless
    ``verbose``."""
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="20s")
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    network = {"host": "127.0.0.1"} if processes else {}  # threads talk in-process
    level = logging.INFO if verbose else logging.ERROR
    previous = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(level)
    try:
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                # the scheduler's HTTP endpoint (health checks) on a free loopback port
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=level,
                **network,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    finally:
        for name, old in previous.items():
            logging.getLogger(name).setLevel(old)


def run_per_meter(
    fn: Callable[..., Any],
    tasks: Mapping[str, tuple[Any, ...]],
    shared: tuple[Any, ...] = (),
    *,
    client: Any,
    description: str = "meters",
    console: Console | None = None,
) -> dict[str, Any]:
    """Run ``fn(key, *tasks[key], *shared)`` for every key (a meter, or a meter's fit
    window) on ``client``.

    ``shared`` values (e.g. the weather frame) are sent to the workers once. Returns each
    key's result, or a :class:`MeterFailure`; one progress bar, one step per task, goes to
    ``console``.
    """
    from distributed import as_completed

    shared_futures = [client.scatter(value, broadcast=True, hash=False) for value in shared]
    run = uuid.uuid4().hex[:8]  # task keys unique per run: never reuse an earlier result
    futures = {
        client.submit(guarded, fn, meter, *args, *shared_futures,
                      key=f"{description}-{meter}-{run}", pure=False): meter
        for meter, args in tasks.items()
    }
    results: dict[str, Any] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console or Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=len(futures))
        for future in as_completed(futures):
            meter = futures[future]
            try:
                results[meter] = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker died
                results[meter] = MeterFailure(meter, f"{type(exc).__name__}: {exc}")
            bar.advance(task)
    failed = sum(isinstance(r, MeterFailure) for r in results.values())
    log.debug("%s: %d done, %d failed", description, len(results) - failed, failed)
    return results
