"""Cumulative registers read live (Modbus polls, MQTT messages) → energy per interval.

A live source sees one register sample at a time. The value read at the first sample at or
after an interval boundary counts for that boundary; the difference between consecutive
boundaries is the interval's energy (via :func:`wattlens.ingest.normalise.register_to_interval`,
which handles rollover, resets and gaps). The last boundary and its register value are the state a
source keeps in its checkpoint, so a restart continues without a gap or a duplicate.

A partial reading is not a reading: the interval in progress is never emitted (its end
boundary has not been seen), nor is the interval a source started in the middle of (its
first sample came after the boundary, so the register value for the boundary is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from wattlens.core.meters import MeterInfo
from wattlens.ingest.normalise import register_to_interval

DEFAULT_INTERVAL = pd.Timedelta("15min")
"""Energy interval of a live register whose meter is not configured."""


def meter_interval(meters: dict[str, MeterInfo], meter: str) -> pd.Timedelta:
    """The configured reading interval of ``meter``, else :data:`DEFAULT_INTERVAL`."""
    info = meters.get(meter)
    return info.interval_td if info is not None else DEFAULT_INTERVAL


@dataclass(frozen=True)
class RegisterState:
    """The last interval boundary seen and the register value [kWh] counted for it;
    ``partial``: that value was read after the boundary, at the source's first sample, so the
    interval starting there is incomplete."""

    boundary: pd.Timestamp
    value: float
    partial: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"boundary": self.boundary.isoformat(), "register": self.value,
                "partial": self.partial}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RegisterState | None:
        if not data or data.get("boundary") is None:
            return None
        return cls(pd.Timestamp(data["boundary"]), float(data["register"]),
                   bool(data.get("partial", False)))


@dataclass(frozen=True)
class Intervals:
    """Energy rows (``time`` interval start, ``value`` [kWh], ``quality``), the new state and
    problem texts for the quarantine."""

    rows: list[tuple[pd.Timestamp, float, str]]
    state: RegisterState | None
    problems: list[str]


def register_intervals(
    state: RegisterState | None,
    samples: list[tuple[pd.Timestamp, float]],
    interval: pd.Timedelta,
    rollover_kwh: float | None = None,
    zero_is_missing: bool = False,
) -> Intervals:
    """Advance ``state`` by register ``samples`` (UTC time, cumulative [kWh]), in time order.

    Samples inside an interval already counted (or older, e.g. a redelivered message) are
    ignored. ``zero_is_missing`` drops intervals whose energy is exactly 0. Without a state,
    the first sample starts the count; when it came after its boundary, that first interval
    is partial and left out.
    """
    points: list[tuple[pd.Timestamp, float]] = []
    last = state.boundary if state else None
    partial = state.boundary if state and state.partial else None
    for when, value in sorted(samples, key=lambda s: s[0]):
        boundary = when.floor(interval)
        if last is None or boundary > last:
            if last is None and when > boundary:
                partial = boundary
            points.append((boundary, value))
            last = boundary
    if not points:
        return Intervals([], state, [])
    base = [(state.boundary, state.value)] if state else []
    frame = pd.DataFrame(base + points, columns=["time", "value"])
    converted = register_to_interval(frame, rollover=rollover_kwh, interval=interval)
    rows = [
        (row.time, float(row.value), str(row.quality))
        for row in converted.frame.itertuples()
        if not (zero_is_missing and row.value == 0) and row.time != partial
    ]
    problems = [
        f"at {t.isoformat()}: {reason}"
        for t, reason in zip(converted.problems["time"], converted.problems["reason"],
                             strict=True)
    ]
    skipped = set(converted.problems["time"])
    good = [p for p in points if p[0] not in skipped]
    new_state = RegisterState(good[-1][0], good[-1][1], good[-1][0] == partial) if good else state
    return Intervals(rows, new_state, problems)
