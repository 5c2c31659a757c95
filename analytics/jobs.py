"""Jobs: read from a Store, run the pure analytics, write results back.

- :func:`detect_job` → events (``store.write_events``), one site at a time in its timezone;
- :func:`recommend_job` → documents of kind ``recommendation`` keyed ``<rule>:<meter>``;
- :func:`alert_job` → notifications for recent events (see :mod:`wattlens.analytics.alerts`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from wattlens.analytics.alerts import AlertReport, send_alerts
from wattlens.analytics.anomalies import DetectionResult, detect
from wattlens.analytics.carbon import intensity_from_readings
from wattlens.analytics.recommendations import MeterInfo, Recommendation, ranking_key, recommend
from wattlens.config import Config, SiteConfig
from wattlens.store.base import Store, utc_timestamp
from wattlens.store.csvio import readings_to_weather

log = logging.getLogger(__name__)

RECOMMENDATION_KIND = "recommendation"


def meter_infos(config: Config) -> dict[str, MeterInfo]:
    """Commodity, timezone, country, building, use (tag ``use``) and tariff of every
    configured meter."""
    infos = {}
    for site in config.sites:
        for building in site.buildings:
            for meter in building.meters:
                infos[meter.id] = MeterInfo(
                    commodity=meter.commodity, tz=site.timezone, country=site.country,
                    building=building.id, use=meter.tags.get("use"),
                    tariff=config.tariffs.for_meter(meter.id, meter.commodity),
                )
    return infos


def _site_groups(store: Store, config: Config) -> list[tuple[SiteConfig | None, list[str]]]:
    """Energy meters grouped by site; meters in the store but not in the config form a
    group without a site (UTC, no holidays)."""
    present = set(store.meters(quantity="energy"))
    groups: list[tuple[SiteConfig | None, list[str]]] = []
    seen: set[str] = set()
    for site in config.sites:
        ids = [m.id for b in site.buildings for m in b.meters if m.id in present]
        seen.update(ids)
        if ids:
            groups.append((site, ids))
    rest = sorted(present - seen - {s.weather_meter for s in config.sites})
    if rest:
        groups.append((None, rest))
    return groups


def _weather(store: Store, site: SiteConfig | None, start: Any, end: Any) -> pd.DataFrame | None:
    if site is None or site.weather_meter is None:
        return None
    raw = store.read_readings([site.weather_meter], None, start, end)
    return readings_to_weather(raw) if not raw.empty else None


def detect_job(
    store: Store,
    config: Config,
    start: Any,
    end: Any,
    history_days: int = 365,
    detectors: Sequence[str] | None = None,
) -> DetectionResult:
    """Detect anomalies in [start, end) for every energy meter, learning from
    ``history_days`` before ``start``; writes the events and returns them with warnings."""
    start_ts, end_ts = utc_timestamp(start, "start"), utc_timestamp(end, "end")
    learn_from = start_ts - pd.Timedelta(days=history_days)
    infos = meter_infos(config)
    frames, warnings = [], []
    for site, meters in _site_groups(store, config):
        readings = store.read_readings(meters, "energy", learn_from, end_ts)
        if readings.empty:
            continue
        forecasts = store.read_forecasts(meters, start_ts, end_ts)
        result = detect(
            readings, start_ts, end_ts,
            weather=_weather(store, site, learn_from, end_ts),
            forecasts=forecasts if not forecasts.empty else None,
            tz=site.timezone if site else "UTC", country=site.country if site else None,
            tariff={m: infos[m].tariff for m in meters if m in infos and infos[m].tariff},
            detectors=detectors,
        )
        frames.append(result.events)
        warnings += result.warnings
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    written = store.write_events(events) if not events.empty else 0
    log.info("detect job: %d events written for [%s, %s)", written, start_ts, end_ts)
    return DetectionResult(events, warnings)


def recommend_job(store: Store, config: Config, end: Any = None,
                  days: int = 365) -> tuple[list[Recommendation], list[str]]:
    """Recommendations from the last ``days`` before ``end`` (default: now), stored as
    documents ``recommendation/<rule>:<meter>`` (with ``rank`` and ``generated_at``)."""
    end_ts = utc_timestamp(end, "end") if end is not None else pd.Timestamp.now(tz="UTC")
    start_ts = end_ts - pd.Timedelta(days=days)
    infos = meter_infos(config)
    intensity = None
    if config.carbon.intensity_meter:
        raw = store.read_readings([config.carbon.intensity_meter], "carbon_intensity",
                                  start_ts, end_ts)
        if not raw.empty:
            intensity = intensity_from_readings(raw, config.carbon.intensity_meter)
    recs: list[Recommendation] = []
    warnings: list[str] = []
    for site, meters in _site_groups(store, config):
        readings = store.read_readings(meters, "energy", start_ts, end_ts)
        if readings.empty:
            continue
        default = MeterInfo(tz=site.timezone, country=site.country) if site else MeterInfo()
        found, warned = recommend(
            readings, weather=_weather(store, site, start_ts, end_ts), meters=infos,
            default=default, carbon_factors=config.carbon.factors, intensity=intensity)
        recs += found
        warnings += warned
    recs.sort(key=ranking_key, reverse=True)
    now = pd.Timestamp.now(tz="UTC").isoformat()
    for rank, rec in enumerate(recs, start=1):
        store.put_document(RECOMMENDATION_KIND, f"{rec.rule}:{rec.meter}",
                           {**rec.as_dict(), "rank": rank, "generated_at": now})
    log.info("recommend job: %d recommendations stored", len(recs))
    return recs, warnings


def alert_job(store: Store, config: Config, since: Any, now: Any = None) -> AlertReport:
    """Send alerts for events overlapping [since, now) per ``config.alerts``."""
    events = store.read_events(start=since, end=now)
    return send_alerts(store, events, config.alerts, now=now)
