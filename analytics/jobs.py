"""Jobs: read from a Store, run the pure analytics, write results back.

Jobs take the meters' context (``dict[str, MeterInfo]``, built once at the entry point by
``Config.meter_infos()``) and the config sections they need, never the whole config.

- :func:`detect_job` → events (``store.write_events``), one site at a time in its calendar,
  and a document of kind ``anomaly-run`` with the run's warnings and settings;
- :func:`recommend_job` → documents of kind ``recommendation`` keyed ``<rule>:<meter>``
  (each with its rule's settings), and a document ``recommendation-run/latest`` with the
  run's warnings and settings;
- :func:`alert_job` → notifications for recent events (see :mod:`wattlens.analytics.alerts`);
- :func:`kpi_job` → documents of kind ``kpi-daily`` keyed ``<level>:<id>:<commodity>/<date>``
  with one local day's KPIs per meter, building and site.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from wattlens.analytics.alerts import AlertReport, AlertsSection, send_alerts
from wattlens.analytics.anomalies import (
    CHANGE_KINDS,
    AnomalySettings,
    DetectionResult,
    day_start,
    detect,
    reconcile,
)
from wattlens.analytics.carbon import CarbonSection, intensity_from_readings
from wattlens.analytics.kpis import kpis
from wattlens.analytics.recommendations import (
    Recommendation,
    RecommendationSettings,
    ranking_key,
    recommend,
)
from wattlens.analytics.tariffs import TariffsSection
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.core.warnings import DataWarning, unique
from wattlens.store.base import Store, utc_timestamp
from wattlens.store.csvio import readings_to_weather
from wattlens.store.schema import EVENT_COLUMNS

log = logging.getLogger(__name__)

RECOMMENDATION_KIND = "recommendation"
RECOMMENDATION_RUN_KIND = "recommendation-run"
ANOMALY_RUN_KIND = "anomaly-run"
KPI_KIND = "kpi-daily"


def _site_groups(store: Store, meters: dict[str, MeterInfo]
                 ) -> list[tuple[MeterInfo | None, list[str]]]:
    """Energy meters in the store grouped by site, each with one of its meters' context
    (calendar, weather meter); meters in the store but not in ``meters`` form a group
    without one (UTC, no holidays)."""
    present = set(store.meters(quantity="energy"))
    by_site: dict[str | None, list[MeterInfo]] = {}
    for info in meters.values():
        if info.id in present:
            by_site.setdefault(info.site, []).append(info)
    groups: list[tuple[MeterInfo | None, list[str]]] = [
        (infos[0], [i.id for i in infos]) for infos in by_site.values()
    ]
    weather = {i.weather_meter for i in meters.values()}
    rest = sorted(present - set(meters) - weather)
    if rest:
        groups.append((None, rest))
    return groups


def _weather(store: Store, site: MeterInfo | None, start: Any, end: Any) -> pd.DataFrame | None:
    if site is None or site.weather_meter is None:
        return None
    raw = store.read_readings([site.weather_meter], None, start, end)
    return readings_to_weather(raw) if not raw.empty else None


def detect_job(
    store: Store,
    meters: dict[str, MeterInfo],
    start: Any,
    end: Any,
    *,
    tariffs: TariffsSection | None = None,
    carbon: CarbonSection | None = None,
    settings: AnomalySettings | None = None,
    history_days: int = 365,
    detectors: Sequence[str] | None = None,
) -> DetectionResult:
    """Detect anomalies in [local midnight of ``start``, ``end``) for every energy meter,
    learning from ``history_days`` before it (norms from before each week, see
    :func:`~wattlens.analytics.anomalies.detect`). A stored episode still open at the
    window's start (ending within the merge reach) moves the start back to its first day
    (at most a week), so it is judged whole; events continuing a stored episode keep its id
    and extend it (:func:`~wattlens.analytics.anomalies.reconcile`), so re-running any
    window, or overlapping ones, gives the same events. Writes the events and an
    ``anomaly-run`` document (keyed ``<start>/<end>``) with the warnings and settings."""
    settings = settings or AnomalySettings()
    carbon = carbon or CarbonSection()
    start_ts, end_ts = utc_timestamp(start, "start"), utc_timestamp(end, "end")
    if start_ts is None or end_ts is None:
        raise ValueError(f"detect_job needs both start and end; got start={start!r}, "
                         f"end={end!r}: pass tz-aware times")
    frames: list[pd.DataFrame] = []
    warnings: list[DataWarning] = []
    for site, ids in _site_groups(store, meters):
        calendar = site.calendar if site else SiteCalendar()
        first = day_start(start_ts, calendar.timezone)
        reach = max(settings.merge_gap(k) for k in ("after-hours", "gap", "weekend"))
        stored = store.read_events(ids, first - reach, end_ts)[EVENT_COLUMNS]
        # an episode still open at the window's start is judged again whole (up to a week)
        opened = stored[(stored["end"] >= first - reach) & (stored["start"] < first)
                        & ~stored["kind"].isin(CHANGE_KINDS)]
        if not opened.empty:
            first = day_start(max(opened["start"].min(), first - pd.Timedelta(days=7)),
                              calendar.timezone)
        learn_from = first - pd.Timedelta(days=history_days + 7)
        readings = store.read_readings(ids, "energy", learn_from, end_ts)
        if readings.empty:
            continue
        forecasts = store.read_forecasts(ids, first, end_ts)
        priced = {m: tariffs.for_meter(m, meters[m].commodity) for m in ids if m in meters} \
            if tariffs else {}
        co2 = {m: carbon.factors[meters[m].commodity] for m in ids
               if m in meters and meters[m].commodity in carbon.factors}
        result = detect(
            readings, first, end_ts,
            weather=_weather(store, site, learn_from, end_ts),
            forecasts=forecasts if not forecasts.empty else None,
            calendar=calendar,
            tariff={m: t for m, t in priced.items() if t is not None}, co2_factors=co2,
            detectors=detectors, settings=settings,
        )
        frames.append(reconcile(result.events, stored, first, end_ts))
        warnings += result.warnings
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    written = store.write_events(events) if not events.empty else 0
    warnings = unique(warnings)
    store.put_document(ANOMALY_RUN_KIND, f"{start_ts.isoformat()}/{end_ts.isoformat()}", {
        "start": start_ts.isoformat(), "end": end_ts.isoformat(), "events": written,
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "warnings": [w.to_dict() for w in warnings],
        "settings": settings.model_dump(mode="json"),
    })
    log.info("detect job: %d events written for [%s, %s)", written, start_ts, end_ts)
    return DetectionResult(events, warnings, settings)


def _intensity(store: Store, carbon: CarbonSection, start: pd.Timestamp, end: pd.Timestamp
               ) -> pd.Series | None:
    """The grid carbon intensity [gCO2/kWh] of ``carbon.intensity_meter``, if stored."""
    if not carbon.intensity_meter:
        return None
    raw = store.read_readings([carbon.intensity_meter], "carbon_intensity", start, end)
    return intensity_from_readings(raw, carbon.intensity_meter) if not raw.empty else None


def recommend_job(
    store: Store,
    meters: dict[str, MeterInfo],
    end: Any = None,
    *,
    tariffs: TariffsSection | None = None,
    carbon: CarbonSection | None = None,
    settings: RecommendationSettings | None = None,
) -> tuple[list[Recommendation], list[DataWarning]]:
    """Recommendations from the last ``settings.window_days`` before ``end`` (default: now),
    stored as documents ``recommendation/<rule>:<meter>`` (with ``rank``, ``generated_at``
    and the rule's ``settings``) and ``recommendation-run/latest`` (warnings, settings)."""
    settings = settings or RecommendationSettings()
    carbon = carbon or CarbonSection()
    parsed = utc_timestamp(end, "end")
    end_ts = parsed if parsed is not None else pd.Timestamp.now(tz="UTC")
    start_ts = end_ts - pd.Timedelta(days=settings.window_days)
    intensity = _intensity(store, carbon, start_ts, end_ts)
    recs: list[Recommendation] = []
    warnings: list[DataWarning] = []
    for site, ids in _site_groups(store, meters):
        readings = store.read_readings(ids, "energy", start_ts, end_ts)
        if readings.empty:
            continue
        found, warned = recommend(
            readings, weather=_weather(store, site, start_ts, end_ts), meters=meters,
            tariffs=tariffs, carbon_factors=dict(carbon.factors),
            intensity=intensity, settings=settings)
        recs += found
        warnings += warned
    recs.sort(key=ranking_key, reverse=True)
    warnings = unique(warnings)
    now = pd.Timestamp.now(tz="UTC").isoformat()
    rule_settings = settings.model_dump(mode="json")
    for rank, rec in enumerate(recs, start=1):
        store.put_document(RECOMMENDATION_KIND, f"{rec.rule}:{rec.meter}", {
            **rec.as_dict(), "rank": rank, "generated_at": now,
            "settings": rule_settings.get(rec.rule.replace("-", "_"), {}),
        })
    store.put_document(RECOMMENDATION_RUN_KIND, "latest", {
        "start": start_ts.isoformat(), "end": end_ts.isoformat(), "generated_at": now,
        "recommendations": len(recs), "warnings": [w.to_dict() for w in warnings],
        "settings": rule_settings,
    })
    log.info("recommend job: %d recommendations stored", len(recs))
    return recs, warnings


def alert_job(store: Store, alerts: AlertsSection, since: Any, now: Any = None) -> AlertReport:
    """Send alerts for events overlapping [since, now) per the ``[alerts]`` section."""
    events = store.read_events(start=since, end=now)
    return send_alerts(store, events, alerts, now=now)


def kpi_job(
    store: Store,
    meters: dict[str, MeterInfo],
    day: Any,
    timezone: str,
    *,
    tariffs: TariffsSection | None = None,
    carbon: CarbonSection | None = None,
) -> int:
    """KPIs (:func:`~wattlens.analytics.kpis.kpis`) of the local ``day`` (a date in
    ``timezone``) for the configured meters of that timezone, stored as ``kpi-daily``
    documents keyed ``<level>:<id>:<commodity>/<YYYY-MM-DD>``; returns how many."""
    carbon = carbon or CarbonSection()
    date = pd.Timestamp(day).date()
    start = pd.Timestamp(date).tz_localize(timezone).tz_convert("UTC")
    end = (pd.Timestamp(date) + pd.DateOffset(days=1)).tz_localize(timezone).tz_convert("UTC")
    infos = [i for i in meters.values() if i.timezone == timezone]
    readings = store.read_readings([i.id for i in infos], "energy", start, end)
    if readings.empty:
        return 0
    table = kpis(readings, infos, tariffs, carbon, _intensity(store, carbon, start, end))
    now = pd.Timestamp.now(tz="UTC").isoformat()
    for row in table.to_dict("records"):
        body = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
        store.put_document(KPI_KIND, f"{row['level']}:{row['id']}:{row['commodity']}/{date}",
                           {**body, "date": str(date), "timezone": timezone,
                            "generated_at": now})
    log.info("kpi job: %d rows for %s (%s)", len(table), date, timezone)
    return len(table)
