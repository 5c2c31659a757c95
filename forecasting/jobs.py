"""``forecast run``: issue forecasts for every meter in the store and keep them as issued.

For each energy meter the job reads the history before the issue time and the site's
weather in the spec's mode (:data:`~wattlens.forecasting.features.WEATHER_MODES`):
``issue-time`` (default) uses the weather meter's observations before the issue time and,
over the horizon, the stored weather forecast (meter ``<weather meter>-forecast``, written by
the ``weather`` source in ``forecast`` mode) or else the previous-day stand-in; ``observed``
uses the weather meter's readings over the horizon too (for re-issuing past days). It fits
the model when its saved fit is older than the refit cadence (fitted models are kept as
JSON under ``data_dir/models`` and reused), predicts the next ``horizon`` hours and writes
them with :meth:`Store.write_forecasts` after :func:`wattlens.forecasting.guard.issue`: an
implausible forecast is replaced by a baseline, its ``model_version`` says so (``<baseline>
replacing <model version>``) and the status carries the warning. A status document per
meter and model (kind ``forecast_status``) records what was issued, with which weather, or
why not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wattlens.core.calendar import SiteCalendar
from wattlens.core.intervals import infer_interval, to_interval
from wattlens.core.meters import MeterInfo
from wattlens.core.warnings import DataWarning
from wattlens.forecasting.features import (
    ForecastInputError,
    check_weather_mode,
    issue_time_weather,
    load_series,
)
from wattlens.forecasting.guard import FALLBACK, GuardSettings, issue
from wattlens.forecasting.models import fit_model, get_model, model_from_json, model_to_json
from wattlens.forecasting.runner import MeterFailure, run_per_meter
from wattlens.store.base import Store
from wattlens.store.csvio import readings_to_weather
from wattlens.store.schema import validate_forecasts

log = logging.getLogger(__name__)

STATUS_KIND = "forecast_status"
"""Document kind of the per-meter status the job writes (key ``<meter>/<model>``)."""
FORECAST_METER = "{weather_meter}-forecast"
"""The meter holding a site's stored weather forecast (the ``weather`` source's default)."""


@dataclass(frozen=True)
class RunSpec:
    """What ``forecast run`` issues: model, issue time (UTC), horizon [h], refit cadence
    [days], fitting history [days], weather mode and the guard's settings."""

    model: str
    issued_at: pd.Timestamp
    horizon_hours: int = 24
    refit_days: int = 7
    history_days: int = 365
    weather: str = "issue-time"
    guard: GuardSettings = GuardSettings()

    def __post_init__(self) -> None:
        check_weather_mode(self.weather)


@dataclass
class Issued:
    """What one meter's task produced."""

    forecasts: pd.DataFrame
    model_json: str | None
    """The newly fitted model (None when a saved one was reused)."""
    fitted_at: str
    weather: str
    """The weather used over the horizon (mode and source)."""
    warnings: list[DataWarning]


def model_path(data_dir: Path, meter: str, model: str) -> Path:
    """Where the fitted model of ``meter`` is saved: a plain id (lower-case letters, digits,
    ``.``, ``_``, ``-``) names its file; any other id gets a readable form plus a hash of
    the exact id, so ``plug 1``, ``plug/1`` and ``Plug 1`` never share a file."""
    if re.fullmatch(r"[a-z0-9][a-z0-9._-]*", meter):
        return data_dir / "models" / f"{meter}.{model}.json"
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", meter)[:60]
    digest = hashlib.blake2b(meter.encode(), digest_size=6).hexdigest()
    return data_dir / "models" / f"{readable}-{digest}.{model}.json"


def load_saved(path: Path, spec: RunSpec) -> tuple[str, str] | None:
    """The saved model JSON and its fit time if it may be reused at ``spec.issued_at``:
    same model version, fitted no later than the issue time and within the refit cadence."""
    if not path.exists():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    fitted_at = pd.Timestamp(saved["fitted_at"])
    model = json.loads(saved["model"])
    if model.get("version") != get_model(spec.model).version:
        return None
    if not (spec.issued_at - pd.Timedelta(days=spec.refit_days) < fitted_at <= spec.issued_at):
        return None
    return saved["model"], saved["fitted_at"]


def issue_one(
    meter: str,
    load: pd.Series,
    weather: pd.DataFrame | None,
    site: SiteCalendar,
    saved: tuple[str, str] | None,
    spec: RunSpec,
    weather_forecast: pd.DataFrame | None = None,
) -> Issued:
    """Fit (or reuse) and predict one meter through the guard; raises
    :class:`ForecastInputError` on bad data."""
    if load.empty:
        raise ForecastInputError(f"{meter}: no readings before {spec.issued_at.isoformat()}")
    interval = infer_interval(load.index, default=pd.Timedelta("1h"))
    if saved is not None:
        model = model_from_json(saved[0])
        new_json, fitted_at = None, saved[1]
    else:
        load.name = meter
        model = fit_model(spec.model, load, weather, site)
        new_json, fitted_at = model_to_json(model), spec.issued_at.isoformat()
    first = spec.issued_at.ceil(interval) if interval <= pd.Timedelta("1D") else spec.issued_at
    times = pd.date_range(first, first + pd.Timedelta(hours=spec.horizon_hours), freq=interval,
                          inclusive="left")
    source = "observed"
    if spec.weather == "issue-time":
        weather, made_of = issue_time_weather(weather, spec.issued_at, times[-1] + interval,
                                              weather_forecast)
        source = f"issue-time ({made_of})"
    pred, warnings = issue(model, times, weather, load, load, site, spec.guard)
    pred.insert(0, "meter", meter)
    pred.insert(0, "issued_at", spec.issued_at)
    pred["model"] = spec.model
    fallback = pred.pop(FALLBACK)
    pred["model_version"] = [f"{f} replacing {model.version}" if f else model.version
                             for f in fallback]
    return Issued(pred, new_json, fitted_at, source, warnings)


def run_forecasts(
    infos: Mapping[str, MeterInfo],
    data_dir: Path,
    store: Store,
    spec: RunSpec,
    client: Any,
    meters: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Issue ``spec`` for every energy meter (or ``meters``) on the dask ``client``; write
    forecasts and statuses to ``store`` and fitted models under ``data_dir``. ``infos``
    gives each meter's calendar and weather meter (a meter not in it: UTC, no weather).
    Returns a status per meter (``issued`` with rows, or ``failed`` with the reason)."""
    issued_at = spec.issued_at
    start = issued_at - pd.Timedelta(days=spec.history_days)
    end = issued_at + pd.Timedelta(hours=spec.horizon_hours)
    weather_cache: dict[str | None, pd.DataFrame | None] = {None: None}
    observed_end = end if spec.weather == "observed" else issued_at
    tasks: dict[str, tuple[Any, ...]] = {}
    for meter in meters or store.meters("energy"):
        info = infos.get(meter, MeterInfo(id=meter))
        site, weather_meter = info.calendar, info.weather_meter
        forecast_meter = None
        if weather_meter is not None:
            forecast_meter = FORECAST_METER.format(weather_meter=weather_meter)
        if weather_meter is not None and forecast_meter and weather_meter not in weather_cache:
            raw = store.read_readings([weather_meter], None, start - pd.Timedelta(days=2),
                                      observed_end)
            weather_cache[weather_meter] = readings_to_weather(raw) if len(raw) else None
            raw = store.read_readings([forecast_meter], None, issued_at, end)
            weather_cache[forecast_meter] = readings_to_weather(raw) if len(raw) else None
        readings = store.read_readings([meter], "energy", start, issued_at)
        load = load_series(readings, meter) if len(readings) else pd.Series(
            [], index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
        if meter in infos:  # e.g. hourly history + one-minute live readings: hourly throughout
            load = to_interval(load, info.interval_td)
        saved = load_saved(model_path(data_dir, meter, spec.model), spec)
        tasks[meter] = (load, weather_cache[weather_meter], site, saved, spec,
                        weather_cache[forecast_meter])
    results = run_per_meter(issue_one, tasks, client=client, description=f"issue {spec.model}")
    statuses: dict[str, dict[str, Any]] = {}
    frames = []
    for meter, result in sorted(results.items()):
        if isinstance(result, MeterFailure):
            statuses[meter] = {"status": "failed", "reason": result.reason}
        else:
            frames.append(result.forecasts)
            if result.model_json is not None:
                path = model_path(data_dir, meter, spec.model)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"fitted_at": result.fitted_at,
                                            "model": result.model_json}), encoding="utf-8")
            statuses[meter] = {"status": "issued", "rows": len(result.forecasts),
                               "refitted": result.model_json is not None,
                               "fitted_at": result.fitted_at, "weather": result.weather,
                               "warnings": [w.to_dict() for w in result.warnings],
                               "settings": {"guard": spec.guard.model_dump(mode="json")}}
        statuses[meter].update({"model": spec.model, "issued_at": issued_at.isoformat()})
        store.put_document(STATUS_KIND, f"{meter}/{spec.model}", statuses[meter])
    if frames:
        store.write_forecasts(validate_forecasts(pd.concat(frames, ignore_index=True)))
    log.info("forecast run %s at %s: %d issued, %d failed", spec.model, issued_at.isoformat(),
             len(frames), len(statuses) - len(frames))
    return statuses
