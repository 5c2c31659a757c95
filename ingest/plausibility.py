"""Plausibility limits: implausible readings are stored flagged ``suspect``, never silently.

Two rules, checked on every batch the worker stores and on ``wattlens import readings``:

- fixed limits per quantity (defaults :data:`wattlens.ingest.normalise.PLAUSIBLE`, e.g.
  energy 0..1e7 kWh per interval) and per meter (configured, e.g. a supply capacity);
- the meter's own history: an energy, power or volume value whose magnitude is above
  ``history_factor`` times the meter's typical high (the 99th percentile of its stored and
  newly read values, once there are ``history_min`` of them) is suspect.

Every flag is reported as a note (meter, quantity, how many, the limit, the largest value).

Config (all keys optional)::

    [plausibility]
    history_factor = 20
    [plausibility.quantities]
    energy = [0, 50000]          # [kWh per interval]
    [plausibility.meters.b1-elec]
    energy = [0, 400]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import Field

from wattlens.core.base import Frozen
from wattlens.ingest.normalise import PLAUSIBLE

SCALED = ("energy", "power", "volume")
"""Quantities whose history gives a scale (magnitudes); others have fixed limits only."""
SAMPLE = 10_000
"""Newest values kept per meter and quantity for the history rule."""


class Plausibility(Frozen):
    """Limits that mark readings ``suspect`` (values in the canonical unit of the quantity)."""

    quantities: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(PLAUSIBLE),
        description="(low, high) per quantity; unlisted quantities keep the defaults",
    )
    meters: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=dict, description="(low, high) per meter id and quantity"
    )
    history_factor: float = Field(
        20.0, gt=1, description="a value above this many times the meter's typical high "
        "(99th percentile of its history) is suspect"
    )
    history_min: int = Field(
        48, ge=1, description="readings of a meter needed before its history sets a limit"
    )

    def limits(self, meter: str, quantity: str) -> tuple[float, float]:
        """The fixed (low, high) of ``meter``'s ``quantity``: the meter's own, else the
        quantity's."""
        default = self.quantities.get(quantity, PLAUSIBLE.get(quantity, (-np.inf, np.inf)))
        return self.meters.get(meter, {}).get(quantity, default)


History = Callable[[str, str], pd.Series]
"""Stored values of (meter, quantity); may raise to say "not available now"."""


class PlausibilityCheck:
    """Applies :class:`Plausibility` batch by batch, remembering each meter's recent values
    (read once from ``history`` on first sight, then extended with what passes)."""

    def __init__(self, settings: Plausibility, history: History | None = None) -> None:
        self.settings = settings
        self._history = history
        self._seen: dict[tuple[str, str], np.ndarray] = {}

    def _known(self, meter: str, quantity: str) -> np.ndarray:
        key = (meter, quantity)
        if key not in self._seen:
            values = np.empty(0)
            # the store down: learn from new values only (asked once, so that an outage does
            # not slow every batch)
            with contextlib.suppress(Exception):
                if self._history is not None:
                    values = self._history(meter, quantity).to_numpy(dtype="float64")[-SAMPLE:]
            self._seen[key] = np.abs(values)
        return self._seen[key]

    def flag(self, readings: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """``readings`` with implausible values flagged ``suspect`` (values never changed or
        dropped), and one note per (meter, quantity) that had any."""
        if readings.empty:
            return readings, []
        s = self.settings
        bad = np.zeros(len(readings), dtype=bool)
        notes = []
        values = readings["value"].to_numpy(dtype="float64")
        for (meter, quantity), index in readings.groupby(
                ["meter", "quantity"], sort=False).indices.items():
            v = values[index]
            low, high = s.limits(meter, quantity)
            fixed = (v < low) | (v > high)
            scaled = np.zeros(len(v), dtype=bool)
            typical = None
            if quantity in SCALED:
                known = self._known(meter, quantity)
                pool = np.concatenate([known, np.abs(v[~fixed])])
                if len(pool) >= s.history_min:
                    typical = float(np.quantile(pool, 0.99))
                    if typical > 0:
                        scaled = np.abs(v) > s.history_factor * typical
                passed = np.abs(v[~fixed & ~scaled])  # what passes joins the history
                self._seen[(meter, quantity)] = np.concatenate([known, passed])[-SAMPLE:]
            flagged = fixed | scaled
            if flagged.any():
                bad[index[flagged]] = True
                parts = []
                if fixed.any():
                    parts.append(f"{int(fixed.sum())} outside the limits [{low:g}, {high:g}]")
                if (scaled & ~fixed).any():
                    parts.append(f"{int((scaled & ~fixed).sum())} above {s.history_factor:g} x "
                                 f"its typical high {typical:.4g}")
                notes.append(
                    f"meter {meter!r} {quantity}: {' and '.join(parts)} (largest "
                    f"{float(np.max(np.abs(v[flagged]))):.4g}) stored flagged 'suspect'; check "
                    f"the meter or its unit, or set [plausibility] limits"
                )
        if not bad.any():
            return readings, notes
        out = readings.copy()
        out.loc[out.index[bad], "quality"] = "suspect"
        return out, notes
