"""The demo job: load the shipped sample into a store and summarise what arrived."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from store.base import Store
from wattlens.sample import load_sample


def load_and_summarise(store: Store, console: Console) -> None:
    """Provision ``store``, write the sample, read it back and print a summary table."""
    started = time.perf_counter()
    console.print(store.init())
    readings = load_sample()
    written = store.write_readings(readings)
    seconds = time.perf_counter() - started
    table = Table(title=f"wattlens sample in {store!r}")
    for column in ("meter", "quantity", "readings", "first (UTC)", "last (UTC)", "total"):
        table.add_column(column, justify="right" if column in ("readings", "total") else "left")
    stored = store.read_readings(quantity=None)
    for (meter, quantity), group in stored.groupby(["meter", "quantity"], sort=True):
        total = f"{group['value'].sum():,.0f} kWh" if quantity == "energy" else "-"
        table.add_row(
            meter, quantity, f"{len(group):,}", f"{group['time'].min():%Y-%m-%d %H:%M}",
            f"{group['time'].max():%Y-%m-%d %H:%M}", total,
        )
    console.print(table)
    console.print(
        f"loaded {written:,} readings of {stored['meter'].nunique()} meters in {seconds:.1f} s"
    )
