"""The M&V job: one meter's verified savings from the store, written back as a result document.

:class:`MVSpec` says what to estimate (meter, inclusive local-date periods, model, confidence);
:func:`mv_job` reads the meter's energy and its site's outdoor temperature from the store,
leaves out the meter's events annotated non-routine, runs
:func:`wattlens.analytics.savings.estimate_savings` and stores the JSON result under
(:data:`MV_KIND`, ``spec.key``). The ``wattlens mv run`` command and the dashboard's Savings
page run this same job; the page only renders the stored document (:func:`mv_result`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from wattlens.analytics.savings import (
    SavingsError,
    SavingsSettings,
    data_hash,
    estimate_savings,
    non_routine_windows,
    savings_uncertainty,
)
from wattlens.core.base import Frozen
from wattlens.core.meters import MeterInfo
from wattlens.store.base import Store
from wattlens.store.csvio import readings_to_weather

MV_KIND = "mv-result"
"""Document kind of M&V results (key: :attr:`MVSpec.key`)."""

DatePeriod = tuple[dt.date, dt.date]


class MVSpec(Frozen):
    """One M&V project: periods are local dates of the meter's site, both ends inclusive."""

    meter: str = Field(min_length=1, description="meter id")
    baseline: DatePeriod = Field(description="first and last local date of the baseline")
    reporting: DatePeriod = Field(description="first and last local date of the reporting")
    blackout: DatePeriod | None = Field(
        None, description="installation period left out of both, first and last local date"
    )
    model: str = Field("caltrack-daily", description="baseline model (or auto)")
    confidence: float = Field(0.9, gt=0, lt=1, description="confidence of the savings interval")
    force: bool = Field(
        False, description="estimate even when CalTRACK's data sufficiency disqualifies the "
        "meter (the result records it)",
    )
    settings: SavingsSettings = Field(
        default_factory=SavingsSettings,
        description="the baseline models' settings ([analytics.savings] in the config)",
    )
    exclude: tuple[DatePeriod, ...] = Field(
        (), description="non-routine windows left out of both periods (first and last local "
                        "date), beside the meter's events annotated non-routine")

    @model_validator(mode="after")
    def _ordered(self) -> MVSpec:
        spans = [("baseline", self.baseline), ("reporting", self.reporting),
                 ("blackout", self.blackout)] + [("exclude", s) for s in self.exclude]
        for name, span in spans:
            if span is not None and span[1] < span[0]:
                raise ValueError(f"{name} period ends ({span[1]}) before it starts "
                                 f"({span[0]}); swap the dates")
        return self

    @property
    def key(self) -> str:
        """The result document's key: SHA-256 of the spec's JSON, settings included (first 24
        hex digits), so a result made with other settings is never reused."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:24]

    def periods(self) -> dict[str, list[str] | None]:
        """The periods as ISO date pairs (``blackout`` None when unset)."""
        def iso(span: DatePeriod | None) -> list[str] | None:
            return [d.isoformat() for d in span] if span else None

        return {"baseline": iso(self.baseline), "reporting": iso(self.reporting),
                "blackout": iso(self.blackout)}


def _end(day: dt.date) -> str:
    """An inclusive local date → the exclusive end (the next local midnight), as text."""
    return (day + dt.timedelta(days=1)).isoformat()


def _period(span: DatePeriod) -> tuple[str, str]:
    return span[0].isoformat(), _end(span[1])


def savings_per_day(series: pd.DataFrame, cumulative: pd.DataFrame,
                    tz: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sub-daily M&V series summed to local days [kWh/day]; cumulative savings and its band
    taken at each day's last observation [kWh]."""
    day = series["time"].dt.tz_convert(tz).dt.normalize()
    daily = series.groupby(day)[["baseline", "actual"]].sum()
    daily.index = daily.index.tz_convert("UTC")
    cum = cumulative.groupby(day.to_numpy()).last().drop(columns="time")
    cum.index = pd.DatetimeIndex(cum.index).tz_convert("UTC")
    return (daily.rename_axis("time").reset_index(),
            cum.rename_axis("time").reset_index())


def _columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """A frame as JSON columns, times as UTC ISO 8601."""
    out: dict[str, list[Any]] = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
        else:
            out[column] = values.to_numpy(dtype="float64").tolist()
    return out


def frame_of(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """JSON columns of a result document back to a frame (``time`` as UTC)."""
    frame = pd.DataFrame(columns)
    if "time" in frame:
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def mv_job(store: Store, meter: MeterInfo, spec: MVSpec,
           now: pd.Timestamp | None = None) -> dict[str, Any]:
    """Estimate ``spec`` on store data of ``meter`` (whose id it names), store the result
    document under (:data:`MV_KIND`, ``spec.key``) and return it; raises like
    :func:`mv_document`."""
    doc = mv_document(store, meter, spec, now)
    store.put_document(MV_KIND, spec.key, doc)
    return doc


def mv_document(store: Store, meter: MeterInfo, spec: MVSpec,
                now: pd.Timestamp | None = None) -> dict[str, Any]:
    """The result document of ``spec`` on store data of ``meter``, not stored.

    Raises :class:`wattlens.analytics.savings.SavingsError` when the site has no outdoor
    temperature readings or the data cannot support the estimate.
    """
    if meter.id != spec.meter:
        raise SavingsError(f"spec names meter {spec.meter!r} but meter {meter.id!r} was given; "
                           f"pass the MeterInfo of the spec's meter")
    tz = meter.timezone
    spans = [s for s in (spec.baseline, spec.reporting, spec.blackout) if s]
    start = pd.Timestamp(min(s[0] for s in spans)).tz_localize(tz)
    end = pd.Timestamp(_end(max(s[1] for s in spans))).tz_localize(tz)
    energy = store.read_readings([meter.id], "energy", start, end)
    temperature = (store.read_readings([meter.weather_meter], "temperature", start, end)
                   if meter.weather_meter else pd.DataFrame())
    if temperature.empty:
        raise SavingsError(f"site {meter.site!r} has no outdoor temperature readings "
                           f"(weather_meter {meter.weather_meter!r}); M&V needs them: set "
                           f"weather_meter in [[sites]] and import its temperature")
    events = store.read_events([meter.id])
    annotations = events.rename(columns={"annotated_at": "at"})[["event_id", "at", "status"]]
    exclude = non_routine_windows(events, meter.id, annotations.dropna(subset=["at"]))
    exclude += [(pd.Timestamp(a).tz_localize(tz), pd.Timestamp(_end(b)).tz_localize(tz))
                for a, b in spec.exclude]
    result = estimate_savings(
        energy, readings_to_weather(temperature), meter.id,
        baseline=_period(spec.baseline),
        reporting=_period(spec.reporting),
        blackout=_period(spec.blackout) if spec.blackout else None,
        model=spec.model, confidence=spec.confidence, tz=tz, country=meter.country,
        exclude=exclude, settings=spec.settings, commodity=meter.commodity, force=spec.force,
    )
    series = result.series
    adjusted_cum = series["adjusted_baseline"].cumsum().to_numpy()
    band = np.array([savings_uncertainty(result.baseline, k + 1, adjusted_cum[k],
                                         spec.confidence) for k in range(len(series))])
    cumulative = pd.DataFrame({"time": series["time"],
                               "cumulative": series["cumulative_savings"].to_numpy()})
    cumulative["lower"] = cumulative["cumulative"] - band
    cumulative["upper"] = cumulative["cumulative"] + band
    shown = series.rename(columns={"adjusted_baseline": "baseline"})[["time", "baseline",
                                                                      "actual"]]
    per = {"daily": "day", "billing": "billing period"}.get(result.granularity, "day")
    if result.granularity == "hourly":
        shown, cumulative = savings_per_day(shown, cumulative, tz)
    periods = spec.periods()
    base, rep = _period(spec.baseline), _period(spec.reporting)
    inputs = {
        "meter": meter.id, "weather_meter": meter.weather_meter, "timezone": tz,
        "country": meter.country, "periods_local_inclusive": periods,
        "excluded_non_routine": [[str(a), str(b)] for a, b in exclude],
        "energy_readings": len(energy), "temperature_readings": len(temperature),
        "model": result.model, "confidence": spec.confidence,
        "reproduce": f"wattlens mv run --meter {meter.id} --baseline {spec.baseline[0]} "
                     f"{spec.baseline[1]} --reporting {spec.reporting[0]} {spec.reporting[1]} "
                     f"--model {result.model} "
                     f"--confidence {spec.confidence}; or from CSV: wattlens export readings "
                     f"e.csv -m {meter.id} --quantity energy --start {start.isoformat()} --end "
                     f"{end.isoformat()}, the same for -m {meter.weather_meter} --quantity "
                     f"temperature reshaped to time,temperature (w.csv), then wattlens savings "
                     f"--readings e.csv --weather w.csv --meter {meter.id} --baseline "
                     f"{base[0]} {base[1]} --reporting {rep[0]} {rep[1]} --tz {tz}",
        "data_hashed": "energy and temperature readings frames (time, meter, quantity, value, "
                       "quality) as CSV, times UTC ISO 8601, values %.6f",
    }
    doc = {
        "key": spec.key, "spec": spec.model_dump(mode="json"), "meter": meter.id,
        "model": result.model, "confidence": spec.confidence, "per": per, "periods": periods,
        "result": result.to_json(), "warnings": result.to_json()["warnings"],
        "parameters": {"granularity": result.granularity,
                       "n_params": result.baseline.n_params,
                       "autocorrelation": result.baseline.autocorrelation,
                       **result.model_detail},
        "inputs": inputs, "series": _columns(shown), "cumulative": _columns(cumulative),
        "data_sha256": data_hash(energy, temperature),
        "computed_at": (now or pd.Timestamp.now(tz="UTC")).isoformat(),
    }
    return json.loads(json.dumps(_finite(doc), default=str))  # as stored and read back


NOT_VERIFIED = ("computed_at", "software")
"""Keys of a result document that :func:`verify_document` does not compare: when it was
made and with which library versions (a different version that gives the same numbers
passes)."""


def verify_document(store: Store, meter: MeterInfo, doc: dict[str, Any]) -> list[str]:
    """Recompute a result document from the store's data and the document's own spec
    (settings included) and list every value that differs (``path: recorded != recomputed``);
    an empty list means every number matches. Floats match to 1e-9 relative."""
    try:
        spec = MVSpec.model_validate(doc["spec"])
    except (KeyError, ValueError) as exc:
        raise SavingsError(f"not an M&V result document: its spec cannot be read ({exc}); "
                           f"give a document written by `wattlens mv run --out`") from None
    return differences(doc, mv_document(store, meter, spec))


def differences(recorded: Any, fresh: Any, path: str = "") -> list[str]:
    """Every value of ``recorded`` that differs from ``fresh`` (``path: recorded !=
    recomputed``), keys in :data:`NOT_VERIFIED` skipped at any depth; floats match to 1e-9
    relative."""
    if isinstance(recorded, dict) and isinstance(fresh, dict):
        out = []
        for key in sorted(set(recorded) | set(fresh)):
            if key in NOT_VERIFIED:
                continue
            out += differences(recorded.get(key), fresh.get(key), f"{path}.{key}".lstrip("."))
        return out
    if isinstance(recorded, list) and isinstance(fresh, list) and len(recorded) == len(fresh):
        return [d for i, (a, b) in enumerate(zip(recorded, fresh, strict=True))
                for d in differences(a, b, f"{path}[{i}]")]
    numbers = (int, float)
    if (isinstance(recorded, numbers) and isinstance(fresh, numbers)
            and not isinstance(recorded, bool) and not isinstance(fresh, bool)):
        same = bool(np.isclose(recorded, fresh, rtol=1e-9, atol=1e-9))
    else:
        same = recorded == fresh
    return [] if same else [f"{path}: recorded {recorded!r} != recomputed {fresh!r}"]


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None, for JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def mv_result(store: Store, meter: MeterInfo, spec: MVSpec, rerun: bool = False
              ) -> dict[str, Any]:
    """The stored result of ``spec``, running :func:`mv_job` when there is none (or
    ``rerun``)."""
    stored = None if rerun else store.get_document(MV_KIND, spec.key)
    return stored if stored is not None else mv_job(store, meter, spec)
