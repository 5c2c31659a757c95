"""What data the store holds, for messages of commands that found nothing to do."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from wattlens.store.base import Store

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def data_range(store: Store, meters: Sequence[str] | None, quantity: str) -> str:
    """``'b1-elec 2018-01-01..2019-12-31 (UTC days), ...'`` for ``meters`` (every meter when
    None), or a sentence saying there is none; at most 5 meters named."""
    daily = store.aggregate(meters or None, quantity, EPOCH,
                            pd.Timestamp.now(tz="UTC").ceil("D") + pd.Timedelta("1D"),
                            every="1d", how="count")
    if daily.empty:
        which = f"meters {list(meters)}" if meters else "any meter"
        return f"the store has no {quantity} readings of {which}"
    spans = daily.groupby("meter")["time"].agg(["min", "max"])
    parts = [f"{m} {s['min']:%Y-%m-%d}..{s['max']:%Y-%m-%d}" for m, s in spans.head(5).iterrows()]
    more = f" and {len(spans) - 5} more meters" if len(spans) > 5 else ""
    return f"the store has {quantity} readings of {', '.join(parts)}{more} (UTC days)"
