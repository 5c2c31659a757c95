"""Stores: the readings contract (:mod:`wattlens.store.schema`) and where readings live.

``open_store(config)`` builds the store a configuration names; every store implements
:class:`wattlens.store.base.Store`.
"""

from __future__ import annotations

from collections.abc import Callable

from wattlens.store.base import Store, StoreError, StoreUnavailable
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore
from wattlens.store.settings import StoreConfig

STORES: dict[str, Callable[[StoreConfig], Store]] = {
    "duckdb": lambda cfg: DuckDBStore(cfg.path),
    "influx": InfluxStore.from_config,
}
"""Store kinds by the name used in ``[store] kind``."""


def open_store(config: StoreConfig) -> Store:
    """The store described by ``config`` (nothing is provisioned: see ``Store.init``)."""
    return STORES[config.kind](config)


__all__ = ["STORES", "DuckDBStore", "InfluxStore", "Store", "StoreError", "StoreUnavailable",
           "open_store"]
