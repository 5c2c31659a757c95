"""Site configuration: one frozen pydantic model built at the entry point and passed down.

A TOML file describes the store and sites → buildings → meters. Secrets never live in the file:
the file names the environment variable that holds them (``token_env``, ``password_env``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from wattlens.analytics.alerts import AlertsSection
from wattlens.analytics.carbon import CarbonSection
from wattlens.analytics.settings import AnalyticsSettings
from wattlens.analytics.tariffs import TariffsSection
from wattlens.core.base import Duration, Frozen, TimeZone
from wattlens.core.calendar import Closure, SiteCalendar, WorkingHours, check_country
from wattlens.core.meters import Commodity, MeterInfo, MeterKind
from wattlens.core.redact import (
    HIDDEN,
    hide,
    hide_url_credentials,
    is_secret_key,
    url_has_credentials,
)
from wattlens.dashboard.config import DashboardConfig, LocaleTag
from wattlens.forecasting.settings import ForecastingSettings
from wattlens.ingest.base import IngestContext, SitePosition, SourceSection
from wattlens.ingest.plausibility import Plausibility
from wattlens.service.api.settings import ApiSection
from wattlens.service.settings import JobsSection
from wattlens.store.settings import DEFAULT_DATA_DIR, StoreConfig

_MIN_HIDDEN = 4
"""Secret values shorter than this [characters] are hidden by key only, not searched for in
messages (a one-letter password would blank every such letter)."""


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the key, the value and the fix."""


class MeterConfig(Frozen):
    """One meter. ``unit`` is what the device reports; ingest converts it to the canonical
    unit of the meter's quantity (energy [kWh], power [kW])."""

    id: str = Field(min_length=1, description="unique meter id, e.g. 'b12-elec'")
    name: str = Field("", description="human name shown in the dashboard")
    commodity: Commodity = Field(description="electricity, gas, heat or water")
    unit: str = Field("kWh", description="unit the device reports: Wh, kWh, MWh, W, kW, m3, therm")
    kind: MeterKind = Field(
        "interval",
        description="interval: energy per interval; register: cumulative counter; "
        "power: instantaneous demand",
    )
    interval: Duration = Field("1h", description="reading interval as a pandas offset: '15min'")
    parent: str | None = Field(None, description="id of the parent meter (for submeters)")
    tags: dict[str, str] = Field(default_factory=dict, description="free tags")


class BuildingConfig(Frozen):
    id: str = Field(min_length=1, description="unique building id")
    name: str = Field("", description="human name")
    floor_area_m2: float | None = Field(None, gt=0, description="floor area [m2], for EUI")
    meters: list[MeterConfig] = Field(default_factory=list, description="meters of the building")


class SiteConfig(Frozen):
    id: str = Field(min_length=1, description="unique site id")
    name: str = Field("", description="human name")
    timezone: TimeZone = Field("UTC", description="IANA timezone, e.g. 'Europe/London'")
    latitude: float | None = Field(None, ge=-90, le=90, description="latitude [deg]")
    longitude: float | None = Field(None, ge=-180, le=180, description="longitude [deg]")
    country: str | None = Field(
        None, description="ISO country code for public holidays, e.g. GB, or with a "
        "subdivision, e.g. GB-ENG (adds England's Easter Monday and August bank holiday)"
    )
    weather_meter: str | None = Field(
        None, description="meter id of the site's outdoor weather readings"
    )
    closures: list[Closure] = Field(
        default_factory=list,
        description="closures (non-working days) for forecasts, anomalies, recommendations, KPIs",
    )
    working_hours: WorkingHours = Field(
        default_factory=WorkingHours,
        description="occupied local hours of working days (after-hours use is judged outside "
        "them), e.g. {start = 7, end = 19}",
    )
    buildings: list[BuildingConfig] = Field(default_factory=list, description="buildings")
    locale: LocaleTag | None = Field(
        None, description="the dashboard's default language and number, money and date formats "
        "for this site, e.g. 'ko-KR' (unset: the browser's language, else English); a user's "
        "own locale and the navbar's language switch come first"
    )

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return check_country(value)

    def calendar(self) -> SiteCalendar:
        """The site's local calendar: timezone, holidays, closures, working hours."""
        return SiteCalendar(
            timezone=self.timezone, country=self.country, closures=tuple(self.closures),
            working_hours=self.working_hours,
        )


class Config(Frozen):
    """The whole configuration of one wattlens installation."""

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="where local state lives")
    store: StoreConfig = Field(default_factory=StoreConfig, description="the store")
    sites: list[SiteConfig] = Field(default_factory=list, description="sites")
    dashboard: DashboardConfig = Field(
        default_factory=DashboardConfig, description="the dashboard: bind address, logins"
    )
    sources: list[SourceSection] = Field(
        default_factory=list, description="ingest sources ([[sources]] tables)"
    )
    plausibility: Plausibility = Field(
        default_factory=Plausibility,
        description="limits that flag ingested readings 'suspect' (per quantity, per meter)",
    )
    tariffs: TariffsSection = Field(
        default_factory=TariffsSection, description="tariff catalogue and meter assignment"
    )
    carbon: CarbonSection = Field(
        default_factory=CarbonSection, description="emission factors / intensity meter"
    )
    analytics: AnalyticsSettings = Field(
        default_factory=AnalyticsSettings,
        description="tunables of detectors, recommendation rules and baseline models",
    )
    forecasting: ForecastingSettings = Field(
        default_factory=ForecastingSettings,
        description="tunables of the forecasting layer (the plausibility guard)",
    )
    alerts: AlertsSection = Field(
        default_factory=AlertsSection, description="alert rules, webhook and SMTP settings"
    )
    jobs: JobsSection = Field(
        default_factory=JobsSection,
        description="schedule of forecasts, anomaly detection + alerts and recommendations "
        "in `wattlens run`",
    )
    api: ApiSection = Field(
        default_factory=ApiSection,
        description="HTTP API of `wattlens run`: bearer tokens and their meter scope",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        seen: dict[str, str] = {}
        for site in self.sites:
            for building in site.buildings:
                for meter in building.meters:
                    if meter.id in seen:
                        raise ValueError(
                            f"meter id {meter.id!r} is used twice (buildings {seen[meter.id]!r} "
                            f"and {building.id!r}); give each meter a unique id"
                        )
                    seen[meter.id] = building.id
        for site in self.sites:
            for building in site.buildings:
                for meter in building.meters:
                    if meter.parent is not None and meter.parent not in seen:
                        raise ValueError(
                            f"meter {meter.id!r} has parent {meter.parent!r}, which is not a "
                            f"configured meter; add it or remove 'parent'"
                        )
        return self

    def meters(self) -> dict[str, MeterConfig]:
        """Every configured meter by id."""
        return {
            m.id: m for s in self.sites for b in s.buildings for m in b.meters
        }

    def meter_infos(self) -> dict[str, MeterInfo]:
        """The context of every configured meter by id, built once here and passed down."""
        out = {}
        for site in self.sites:
            calendar = site.calendar()
            for b in site.buildings:
                for m in b.meters:
                    out[m.id] = MeterInfo(
                        id=m.id, name=m.name, building=b.id, site=site.id,
                        commodity=m.commodity, kind=m.kind, interval=m.interval,
                        parent=m.parent, floor_area_m2=b.floor_area_m2, tags=m.tags,
                        calendar=calendar, weather_meter=site.weather_meter,
                    )
        return out

    def ingest_context(self) -> IngestContext:
        """What the sources may know of the configuration: its meters and site positions."""
        sites = {
            s.id: SitePosition(id=s.id, latitude=s.latitude, longitude=s.longitude,
                               weather_meter=s.weather_meter)
            for s in self.sites
        }
        return IngestContext(meters=self.meter_infos(), sites=sites)

    def site_of(self, meter_id: str) -> SiteConfig | None:
        """The site a meter belongs to."""
        for site in self.sites:
            if any(m.id == meter_id for b in site.buildings for m in b.meters):
                return site
        return None


def _location(loc: tuple[Any, ...], data: Any) -> tuple[str, Any]:
    """Turn a pydantic error location into a TOML-ish key path and the offending value."""
    parts: list[str] = []
    value = data
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(str(item))
        try:
            value = value[item]
        except (KeyError, IndexError, TypeError):
            value = None
    return ".".join(parts), value


def _leaves(data: Any, path: str = "", key: str = "") -> Iterator[tuple[str, str, Any]]:
    """(key path, key, value) of every scalar in parsed TOML, e.g. ``sources[0].url``."""
    if isinstance(data, dict):
        for name, value in data.items():
            yield from _leaves(value, f"{path}.{name}" if path else str(name), str(name))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _leaves(item, f"{path}[{i}]", key)
    else:
        yield path, key, data


def _secrets_in(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The secret values in parsed TOML (under secret keys, and URLs with credentials) to hide
    in messages, and an error line for each URL that carries credentials."""
    secrets: list[str] = []
    url_errors: list[str] = []
    for path, key, value in _leaves(data):
        if not isinstance(value, str):
            continue
        if is_secret_key(key):
            secrets.append(value)
        if url_has_credentials(value):
            secrets.append(value)
            secrets.append(value.split("://", 1)[1].rpartition("@")[0])
            url_errors.append(
                f"  {path} = {hide_url_credentials(value)!r}: a URL must not carry a user name "
                f"and password (they end up in logs and error messages); remove them from the "
                f"URL, set username = '...' and put the password in the environment variable "
                f"named by password_env"
            )
    return [s for s in secrets if len(s) >= _MIN_HIDDEN], url_errors


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    """Build a :class:`Config` from parsed TOML; errors name the key, the value and the fix,
    and show secrets as ``<hidden>``. A URL with credentials in it is refused."""
    secrets, lines = _secrets_in(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            key, value = _location(err["loc"], data)
            name = str(err["loc"][-1]) if err["loc"] else ""
            shown = "" if err["type"] == "missing" else f" = {value!r}"
            if is_secret_key(name) and shown:
                shown = f" = {HIDDEN}"
            fix = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                fix = "unknown key; remove it or check its spelling in wattlens.example.toml"
                if is_secret_key(name):
                    fix = (
                        "secrets never go in the file; remove it and set the environment "
                        "variable named by token_env / password_env"
                    )
            lines.append(hide(f"  {key}{shown}: {fix}", secrets))
    else:
        if not lines:
            return config
    raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(lines)) from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; create one with `wattlens init {path}`"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    return parse_config(data, str(path))
