"""Stores: the readings contract (:mod:`wattlens.store.schema`) and where readings live.

``open_store(config)`` builds the store a configuration names; every store implements
:class:`wattlens.store.base.Store`.
"""

from __future__ import annotations

from collections.abc import Callable

from wattlens.core.base import Registry
from wattlens.store.base import Store, StoreError, StoreUnavailable
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore
from wattlens.store.settings import StoreConfig

STORES: Registry[Callable[[StoreConfig], Store]] = Registry("store kind")
"""Store kinds by the name used in ``[store] kind``."""
STORES.register("duckdb")(lambda cfg: DuckDBStore(cfg.path))
STORES.register("influx")(InfluxStore.from_config)


def open_store(config: StoreConfig) -> Store:
    """The store described by ``config`` (nothing is provisioned: see ``Store.init``)."""
    return STORES[config.kind](config)


__all__ = ["STORES", "DuckDBStore", "InfluxStore", "Store", "StoreError", "StoreUnavailable",
           "open_store"]
