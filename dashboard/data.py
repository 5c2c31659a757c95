"""The dashboard's only door to data: cached reads through a Store, with access control.

:class:`DashboardData` holds the store and the config; :func:`request_data` finds the one
attached to the running Flask app and the user of the current request. Every read takes that
:class:`User` and refuses (:class:`AccessDenied`) a meter outside the user's scope, so a crafted
callback request cannot fetch what the page would not show. Shaping happens in
:mod:`wattlens.dashboard.transforms` (pure), plotting in :mod:`wattlens.dashboard.figures`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from werkzeug.security import check_password_hash

from wattlens.analytics.jobs import RECOMMENDATION_KIND
from wattlens.analytics.savings import estimate_savings, non_routine_windows, savings_uncertainty
from wattlens.config import Config, ConfigError
from wattlens.dashboard import transforms
from wattlens.store.base import Store, utc_timestamp
from wattlens.store.csvio import readings_to_weather

log = logging.getLogger(__name__)

EXTENSION = "wattlens_dashboard"
"""Key of the :class:`DashboardData` in ``flask_app.extensions``."""
SESSION_USER = "wattlens_user"
"""Key of the logged-in user's name in the Flask session."""
INGEST_STATUS_KIND = "ingest-status"
"""Document kind of the ingest worker's per-source status (``wattlens.ingest.worker``)."""


class AccessDenied(PermissionError):
    """The user may not see this meter (or is not logged in)."""


@dataclass(frozen=True)
class User:
    """Who is asking: a name and the meters they may see (``None`` = every meter)."""

    name: str
    meters: frozenset[str] | None

    def may_see(self, meter: str) -> bool:
        return self.meters is None or meter in self.meters


@dataclass(frozen=True)
class MeterInfo:
    """A meter as the dashboard shows it: where it is and how to read it."""

    id: str
    name: str
    commodity: str
    site: str
    site_name: str
    building: str
    building_name: str
    timezone: str
    country: str | None
    interval_h: float
    parent: str | None
    weather_meter: str | None


class _TTLCache:
    """A small thread-safe LRU cache whose entries expire after ``ttl`` seconds."""

    def __init__(self, ttl: float, maxsize: int = 256) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._items.move_to_end(key)
                return hit[1]
        value = compute()
        if self.ttl > 0:
            with self._lock:
                self._items[key] = (now, value)
                self._items.move_to_end(key)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
        return value


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    if "time" in frame:
        frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    if "meter" in frame:
        frame["meter"] = pd.Series(dtype=object)
    return frame


class DashboardData:
    """Cached, access-controlled reads for the dashboard (one per app)."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.settings = config.dashboard
        self._cache = _TTLCache(self.settings.cache_ttl_s)
        self._catalogue = self._build_catalogue()
        self._users = {u.name: u for u in self.settings.users}
        known_b = {b.id for s in config.sites for b in s.buildings}
        for user in self.settings.users:
            unknown = (set(user.buildings) - known_b) | (set(user.meters) - set(self._catalogue))
            if unknown and config.sites:
                raise ConfigError(
                    f"dashboard.users[{user.name!r}] names unknown buildings/meters "
                    f"{sorted(unknown)}; use ids from [[sites.buildings]]"
                )

    # ------------------------------------------------------------- catalogue
    def _build_catalogue(self) -> dict[str, MeterInfo]:
        infos: dict[str, MeterInfo] = {}
        for site in self.config.sites:
            for building in site.buildings:
                for meter in building.meters:
                    infos[meter.id] = MeterInfo(
                        id=meter.id, name=meter.name or meter.id, commodity=meter.commodity,
                        site=site.id, site_name=site.name or site.id, building=building.id,
                        building_name=building.name or building.id, timezone=site.timezone,
                        country=site.country,
                        interval_h=pd.Timedelta(meter.interval) / pd.Timedelta("1h"),
                        parent=meter.parent, weather_meter=site.weather_meter,
                    )
        if not infos:  # no sites configured: every energy meter in the store, UTC
            for meter in self.store.meters("energy"):
                infos[meter] = MeterInfo(
                    id=meter, name=meter, commodity="electricity", site="store",
                    site_name="all meters", building="store", building_name="all meters",
                    timezone="UTC", country=None, interval_h=1.0, parent=None,
                    weather_meter=None,
                )
        return infos

    # ------------------------------------------------------------------ users
    @property
    def login_required(self) -> bool:
        return self.settings.login

    def anonymous(self) -> User:
        """The user when login is off: sees every meter."""
        return User("anonymous", None)

    def user(self, name: str | None) -> User:
        """The configured user ``name`` with their scope; AccessDenied if unknown."""
        if not self.login_required:
            return self.anonymous()
        cfg = self._users.get(name or "")
        if cfg is None:
            raise AccessDenied("not logged in; open /login")
        if cfg.all_meters:
            return User(cfg.name, None)
        meters = {m for m, info in self._catalogue.items() if info.building in cfg.buildings}
        return User(cfg.name, frozenset(meters | set(cfg.meters)))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` matches the stored hash, else None."""
        cfg = self._users.get(name)
        if cfg is None or not check_password_hash(cfg.password_hash, password):
            return None
        return self.user(name)

    def catalogue(self, user: User) -> list[MeterInfo]:
        """The meters ``user`` may see, in config order."""
        return [info for m, info in self._catalogue.items() if user.may_see(m)]

    def info(self, user: User, meter: str) -> MeterInfo:
        """One visible meter's description; AccessDenied if outside the user's scope."""
        self.allowed(user, [meter])
        if meter not in self._catalogue:
            raise AccessDenied(f"meter {meter!r} is not configured; pick one from the list")
        return self._catalogue[meter]

    def allowed(self, user: User, meters: Sequence[str] | None) -> list[str]:
        """``meters`` if every one is visible to ``user``; AccessDenied naming the first not."""
        if not meters:
            raise AccessDenied("no meter chosen; pick one in the meter picker")
        for meter in meters:
            if not isinstance(meter, str) or not user.may_see(meter):
                raise AccessDenied(
                    f"user {user.name!r} may not see meter {meter!r}; ask an administrator "
                    f"to add it to [[dashboard.users]]"
                )
        return list(meters)

    # ---------------------------------------------------------------- readings
    def latest(self, user: User, meters: Sequence[str] | None = None) -> pd.DataFrame:
        """Newest reading per visible meter: ``meter``, ``time`` (UTC), ``value``."""
        chosen = self.allowed(user, meters) if meters else [i.id for i in self.catalogue(user)]
        if not chosen:
            return _empty(["meter", "time", "value"])
        return self._cache.get(("latest", tuple(chosen)), lambda: self.store.latest(chosen))

    def span(self, user: User, meter: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """A default view: the year up to the meter's newest reading, or None if it has none."""
        latest = self.latest(user, [meter])
        if latest.empty:
            return None
        end = utc_timestamp(latest["time"].max()) + pd.Timedelta("1h")
        return end - pd.Timedelta("365D"), end

    def default_dates(
        self, user: User, meter: str | None, days: int
    ) -> tuple[str | None, str | None]:
        """Date-picker defaults: the ``days`` up to the meter's newest reading, as the first and
        last local dates (``None, None`` when there is no meter or no reading)."""
        span = self.span(user, meter) if meter else None
        if span is None:
            return None, None
        tz = self.info(user, meter).timezone
        end = span[1].tz_convert(tz)
        return ((end - pd.Timedelta(days=days)).strftime("%Y-%m-%d"),
                (end - pd.Timedelta("1s")).strftime("%Y-%m-%d"))

    def aggregate(self, user: User, meters: Sequence[str], start: Any, end: Any, every: str,
                  how: str = "sum", quantity: str = "energy") -> pd.DataFrame:
        """Store-side aggregation in the first meter's site timezone (cached)."""
        chosen = self.allowed(user, meters)
        tz = self._tz(chosen[0])
        key = ("agg", tuple(chosen), quantity, str(start), str(end), every, how, tz)
        return self._cache.get(key, lambda: self.store.aggregate(
            chosen, quantity, utc_timestamp(start), utc_timestamp(end), every=every, how=how,
            tz=tz))

    def _tz(self, meter: str) -> str:
        info = self._catalogue.get(meter)
        return info.timezone if info else "UTC"

    def series(self, user: User, meters: Sequence[str], start: Any, end: Any,
               max_points: int | None = None) -> tuple[pd.DataFrame, str]:
        """Mean power [kW] of ``meters`` over [start, end) with at most ``max_points`` per
        meter: aggregated in the store to the finest fitting bucket, then MinMaxLTTB."""
        chosen = self.allowed(user, meters)
        n = max_points or self.settings.max_points
        start, end = utc_timestamp(start), utc_timestamp(end)
        every = transforms.choose_every(start, end, 8 * n)
        frames = []
        for meter in chosen:
            info = self.info(user, meter)
            width_h = max(info.interval_h, pd.Timedelta(every) / pd.Timedelta("1h"))
            raw = self.aggregate(user, [meter], start, end, every, "sum")
            # sum per bucket / bucket hours = mean power, exact when no reading is missing
            frames.append(transforms.to_power(raw, width_h))
        frame = pd.concat(frames, ignore_index=True) if frames else _empty(
            ["time", "meter", "value"])
        return transforms.downsample(frame, n), every

    def hourly(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame:
        """Hourly energy [kWh per hour] of one meter."""
        return self.aggregate(user, [meter], start, end, "1h", "sum")

    def daily(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame:
        """Daily energy [kWh per local day] of one meter."""
        return self.aggregate(user, [meter], start, end, "1d", "sum")

    def readings(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame:
        """Raw energy readings [kWh per interval] of one meter (cached)."""
        chosen = self.allowed(user, [meter])
        key = ("raw", meter, str(start), str(end))
        return self._cache.get(key, lambda: self.store.read_readings(
            chosen, "energy", utc_timestamp(start), utc_timestamp(end)))

    def carpet(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame:
        info = self.info(user, meter)
        return transforms.carpet(self.hourly(user, meter, start, end), info.timezone)

    def profiles(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame:
        info = self.info(user, meter)
        return transforms.profiles(self.hourly(user, meter, start, end), info.timezone,
                                   info.country)

    def signature(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame | None:
        """Daily energy against daily mean outdoor temperature; None without a weather meter."""
        info = self.info(user, meter)
        if not info.weather_meter:
            return None
        energy = self.daily(user, meter, start, end)
        # weather is site-wide context, visible to anyone who may see a meter of the site
        key = ("temp", info.weather_meter, str(start), str(end), info.timezone)
        temp = self._cache.get(key, lambda: self.store.aggregate(
            [info.weather_meter], "temperature", utc_timestamp(start), utc_timestamp(end),
            every="1d", how="mean", tz=info.timezone))
        return transforms.signature(energy, temp, info.timezone, info.country)

    def comparison(self, user: User, meter: str, start: Any, end: Any,
                   against: str) -> pd.DataFrame:
        """Daily energy of [start, end) against the previous period or the year before."""
        start, end = utc_timestamp(start), utc_timestamp(end)
        offset = (end - start) if against == "previous" else pd.Timedelta("364D")
        current = self.daily(user, meter, start, end)
        previous = self.daily(user, meter, start - offset, end - offset)
        return transforms.comparison(current, previous, offset)

    def submeters(self, user: User, meter: str) -> list[str]:
        """Visible submeters of ``meter`` (config ``parent``)."""
        self.allowed(user, [meter])
        return [i.id for i in self.catalogue(user) if i.parent == meter]

    def hierarchy(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame | None:
        """Daily energy of each submeter plus the parent's remainder; None without submeters."""
        children = self.submeters(user, meter)
        if not children:
            return None
        parent = self.daily(user, meter, start, end)
        kids = self.aggregate(user, children, start, end, "1d", "sum")
        return transforms.hierarchy(parent, kids)

    # ------------------------------------------------------------------- live
    def live(self, user: User, meter: str) -> dict[str, Any]:
        """The live page's data for one meter: today so far, the issued forecast for today, a
        typical day, KPIs of today and this month, and the newest reading."""
        info = self.info(user, meter)
        latest = self.store.latest([meter])  # never cached: the live page must see arrivals
        if latest.empty:
            return {"info": info, "latest": None}
        newest = utc_timestamp(latest["time"].iloc[0])
        day_start = newest.tz_convert(info.timezone).normalize()
        day_end = day_start + pd.Timedelta("1D")
        month_start = day_start.replace(day=1)
        today = self.store.read_readings([meter], "energy", day_start, day_end)
        # one query gives the month's energy and its peak: 15-min sums are the readings
        # themselves for 15-min and hourly meters, and 15-min energy for faster ones
        month = self.store.aggregate([meter], "energy", month_start, day_end, "15min", "sum",
                                     tz=info.timezone)
        history = self.hourly(user, meter, day_start - pd.Timedelta("35D"), day_start)
        forecast = self.store.read_forecasts([meter], day_start, day_end)
        if not forecast.empty:
            forecast = transforms.as_issued(forecast)
        price = self.settings.price_per_kwh.get(info.commodity, 0.0)
        co2 = self.config.carbon.factors.get(
            info.commodity, self.settings.co2_kg_per_kwh.get(info.commodity, 0.0))
        month_kpi = transforms.kpis(month, max(info.interval_h, 0.25), price, co2)
        kpi_today = transforms.kpis(today, info.interval_h, price, co2)
        tariff = self.config.tariffs.for_meter(meter, info.commodity)
        currency = self.settings.currency
        if tariff is not None:  # energy charges of the configured tariff
            from wattlens.analytics.tariffs import TariffError, energy_price

            try:
                for kpi, frame in ((kpi_today, today), (month_kpi, month)):
                    rates = energy_price(tariff, pd.DatetimeIndex(frame["time"]), info.timezone)
                    kpi["cost"] = float((frame["value"].to_numpy() * rates.to_numpy()).sum())
                currency = f"{tariff.currency} ({tariff.id}, energy charges)"
            except TariffError as exc:
                log.warning("KPI cost of %s at flat price: %s", meter, exc)
        return {
            "info": info,
            "latest": latest.iloc[0].to_dict(),
            "day_start": day_start,
            "today": today,
            "forecast": forecast,
            # hourly means [kWh/h] × interval [h] = kWh per interval, the unit of "today"
            "typical": transforms.typical_day(history, day_start, info.timezone,
                                              info.country).assign(
                value=lambda f: f["value"] * min(info.interval_h, 1.0)),
            "kpi_today": kpi_today,
            "kpi_month": month_kpi,
            "currency": currency,
        }

    def freshness(self, user: User, recent: str = "2h", window: str = "7D") -> pd.DataFrame:
        """Per visible meter: its newest reading and age — exact when it is within ``recent``
        of now, to the hour within ``window``, else "none in ``window``" — plus the ingest
        sources' statuses. Bounded queries only: an unbounded LAST over every series costs
        ~1 s on InfluxDB at 100 meters × 1 year × 15 min."""
        meters = [i.id for i in self.catalogue(user)]
        now = pd.Timestamp.now(tz="UTC")
        newest: dict[str, pd.Timestamp] = {}
        if meters:
            raw = self.store.read_readings(meters, "energy", now - pd.Timedelta(recent), None)
            newest.update(raw.groupby("meter")["time"].max().to_dict())
            quiet = [m for m in meters if m not in newest]
            if quiet:
                counts = self.store.aggregate(quiet, "energy", now - pd.Timedelta(window),
                                              now + pd.Timedelta("1h"), "1h", "count")
                ends = counts.groupby("meter")["time"].max() + pd.Timedelta("1h")
                newest.update(ends.to_dict())
        rows = [{"source": f"meter {m}", "newest": newest.get(m, pd.NaT),
                 "age_h": (now - newest[m]) / pd.Timedelta("1h") if m in newest else np.nan,
                 "state": "readings" if m in newest else
                 f"no reading in the last {pd.Timedelta(window) / pd.Timedelta('1D'):g} days"}
                for m in meters]
        if user.meters is None:  # source statuses span meters: administrators only
            for key, body in self.store.list_documents(INGEST_STATUS_KIND).items():
                when = body.get("newest_reading") or body.get("last_success")
                stamp = pd.Timestamp(when) if when else pd.NaT
                state = (f"{body.get('type', 'source')}: {body.get('readings_last_hour', 0)} "
                         f"readings in the last hour, {body.get('errors', 0)} errors")
                if body.get("last_error"):
                    state += f" (last: {body['last_error']})"
                rows.append({"source": f"source {key}", "newest": stamp,
                             "age_h": (now - stamp) / pd.Timedelta("1h") if when else np.nan,
                             "state": state})
        return pd.DataFrame(rows, columns=["source", "newest", "age_h", "state"])

    # ---------------------------------------------------------------- events
    def events(self, user: User, meters: Sequence[str] | None = None,
               start: Any = None, end: Any = None) -> pd.DataFrame:
        """Events of visible meters (all of them when ``meters`` is None), newest first."""
        if meters:
            chosen: list[str] | None = self.allowed(user, meters)
        elif user.meters is None:
            chosen = None  # every meter: no per-meter filter (cheaper on InfluxDB)
        else:
            chosen = [i.id for i in self.catalogue(user)] or ["\x01none"]
        frame = self.store.read_events(chosen, start, end)
        return frame.sort_values("start", ascending=False, ignore_index=True)

    def event(self, user: User, event_id: str, meter: str | None = None) -> pd.Series:
        """One event with its latest annotation; AccessDenied if its meter is not visible.
        ``meter`` (the table row's) narrows the read; it is checked like any other."""
        frame = self.events(user, [meter] if meter else None)
        hit = frame[frame["event_id"] == event_id]
        if hit.empty or not user.may_see(hit["meter"].iloc[0]):
            raise AccessDenied(f"event {event_id!r} does not exist or is not visible to you")
        return hit.iloc[0]

    def event_window(self, user: User, event_id: str,
                     meter: str | None = None) -> dict[str, Any]:
        """Readings around an event with the expected band (issued forecast if any, else the
        same hour-of-week over the four weeks before)."""
        event = self.event(user, event_id, meter)
        meter = event["meter"]
        info = self.info(user, meter)
        pad = max(pd.Timedelta("1D"), (event["end"] - event["start"]))
        start, end = event["start"] - pad, event["end"] + pad
        actual = self.readings(user, meter, start, end)
        forecast = self.store.read_forecasts([meter], start, end)
        if not forecast.empty:
            forecast = forecast[forecast["issued_at"] <= forecast["time"]]
            forecast = (forecast.sort_values("issued_at").drop_duplicates("time", keep="last")
                        .sort_values("time", ignore_index=True))
            band = forecast.rename(columns={"yhat": "expected", "yhat_lower": "lower",
                                            "yhat_upper": "upper"})
            source = f"issued forecast ({forecast['model'].iloc[0]})"
        else:
            history = self.readings(user, meter, start - pd.Timedelta("28D"), start)
            band = transforms.typical_band(history, actual["time"])
            source = "same hour of week, 4 weeks before (10-90 %)"
        return {"event": event, "info": info, "actual": actual,
                "band": band[["time", "expected", "lower", "upper"]], "band_source": source}

    def annotate(self, user: User, event_id: str, status: str, note: str = "",
                 meter: str | None = None) -> None:
        """Acknowledge or annotate a visible event as ``user``; persisted in the store."""
        self.event(user, event_id, meter)
        self.store.annotate_event(event_id, status, by=user.name, note=note)

    # -------------------------------------------------------------- forecasts
    def forecast_vs_actual(self, user: User, meter: str, start: Any, end: Any,
                           lead_min_h: float, lead_max_h: float) -> dict[str, Any]:
        """Forecasts as issued with ``lead_min_h`` < lead ≤ ``lead_max_h`` [h], the actuals at
        the same times, the previous-week persistence baseline and both scorecards."""
        info = self.info(user, meter)
        start, end = utc_timestamp(start), utc_timestamp(end)
        forecasts = self._cache.get(("fc", meter, str(start), str(end)),
                                    lambda: self.store.read_forecasts([meter], start, end))
        chosen = transforms.as_issued(forecasts, pd.Timedelta(hours=lead_min_h),
                                      pd.Timedelta(hours=lead_max_h))
        week = pd.Timedelta("7D")
        actual = self.readings(user, meter, start - week, end)
        merged = chosen.merge(actual[["time", "value"]], on="time", how="left")
        persistence = actual.assign(time=actual["time"] + week)[["time", "value"]].rename(
            columns={"value": "persistence"})
        merged = merged.merge(persistence, on="time", how="left")
        cards = []
        for model, group in merged.groupby("model", sort=True):
            a = group["value"].to_numpy(dtype="float64")
            cards.append({"model": str(model), **transforms.scores(
                a, group["yhat"].to_numpy(), group["yhat_lower"].to_numpy(),
                group["yhat_upper"].to_numpy())})
            cards.append({"model": f"previous-week persistence (beside {model})",
                          **transforms.scores(a, group["persistence"].to_numpy(dtype="float64"))})
        shown = actual[actual["time"] >= start]
        return {"info": info, "forecast": merged, "actual": shown, "scores": cards}

    # --------------------------------------------------------- recommendations
    def recommendations(self, user: User) -> pd.DataFrame:
        """Stored recommendations on visible meters, ranked by annual value."""
        docs = self._cache.get(("docs", RECOMMENDATION_KIND),
                               lambda: self.store.list_documents(RECOMMENDATION_KIND))
        rows = []
        for key, body in docs.items():
            meter = body.get("meter")
            if not isinstance(meter, str) or not user.may_see(meter):
                continue
            rows.append({"key": key, **body})
        columns = ["rule", "meter", "title", "annual_kwh", "annual_cost", "annual_co2_kg",
                   "confidence", "evidence"]
        frame = pd.DataFrame(rows)
        for column in columns:
            if column not in frame:
                frame[column] = None
        if frame.empty:
            return frame[columns]
        frame["evidence"] = frame["evidence"].map(
            lambda e: e if isinstance(e, str) else json.dumps(e, sort_keys=True, default=str))
        order = ["annual_cost", "annual_kwh"]
        return frame.sort_values(order, ascending=False, na_position="last",
                                 ignore_index=True)[columns]

    # ----------------------------------------------------------------- savings
    def savings_inputs(self, user: User, meter: str, start: Any,
                       end: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Hourly energy [kWh] of a visible meter and its site's hourly temperature [degC]
        over [start, end), as M&V inputs in the readings contract."""
        info = self.info(user, meter)
        energy = self.readings(user, meter, start, end)
        weather = pd.DataFrame(columns=["time", "meter", "value"])
        if info.weather_meter:
            weather = self.store.read_readings([info.weather_meter], "temperature",
                                               utc_timestamp(start), utc_timestamp(end))
        return energy, weather

    def savings(self, user: User, meter: str, baseline: tuple[str, str],
                reporting: tuple[str, str], blackout: tuple[str, str] | None, model: str,
                confidence: float) -> dict[str, Any]:
        """An M&V project on a visible meter: periods are local dates (inclusive); the result
        of :mod:`wattlens.analytics.savings` plus the series, parameters and the input data's
        hash."""
        info = self.info(user, meter)
        periods = {"baseline": list(baseline), "reporting": list(reporting),
                   "blackout": list(blackout) if blackout else None}
        for name, span in periods.items():
            if span is not None and not all(span):
                raise ValueError(f"choose both dates of the {name} period")
        key = ("mv", meter, json.dumps(periods), model, confidence)
        return self._cache.get(key, lambda: mv_project(self, user, info, periods, model,
                                                       confidence))


def _local_end(day: str) -> str:
    """An inclusive local date → the exclusive end (the next local midnight), as text."""
    return (pd.Timestamp(day[:10]) + pd.Timedelta("1D")).strftime("%Y-%m-%d")


def mv_project(data: DashboardData, user: User, info: MeterInfo, periods: dict[str, Any],
               model: str, confidence: float) -> dict[str, Any]:
    """Run :func:`wattlens.analytics.savings.estimate_savings` on store data for one visible meter.

    Periods are inclusive local dates; events annotated non-routine are excluded. Returns
    the CLI-shaped result, its series, the cumulative savings with a G14 band at each step,
    the fitted parameters and the SHA-256 of the inputs.
    """
    first = min(p[0] for p in periods.values() if p)
    last = _local_end(max(p[1] for p in periods.values() if p))
    start = pd.Timestamp(first[:10]).tz_localize(info.timezone)
    end = pd.Timestamp(last).tz_localize(info.timezone)
    energy, temperature = data.savings_inputs(user, info.id, start, end)
    if temperature.empty:
        raise ValueError(f"site {info.site!r} has no outdoor temperature readings "
                         f"(weather_meter {info.weather_meter!r}); M&V needs them")
    weather = readings_to_weather(temperature)
    events = data.events(user, [info.id])
    annotations = events.rename(columns={"annotated_at": "at"})[["event_id", "at", "status"]]
    exclude = non_routine_windows(events, info.id, annotations.dropna(subset=["at"]))
    blackout = periods["blackout"]
    result = estimate_savings(
        energy, weather, info.id,
        baseline=(periods["baseline"][0], _local_end(periods["baseline"][1])),
        reporting=(periods["reporting"][0], _local_end(periods["reporting"][1])),
        blackout=(blackout[0], _local_end(blackout[1])) if blackout else None,
        model=model, confidence=confidence, tz=info.timezone, country=info.country,
        exclude=exclude,
    )
    series = result.series
    adjusted_cum = series["adjusted_baseline"].cumsum().to_numpy()
    band = np.array([savings_uncertainty(result.baseline, k + 1, adjusted_cum[k], confidence)
                     for k in range(len(series))])
    cumulative = pd.DataFrame({"time": series["time"], "cumulative":
                               series["cumulative_savings"].to_numpy()})
    cumulative["lower"] = cumulative["cumulative"] - band
    cumulative["upper"] = cumulative["cumulative"] + band
    inputs = {
        "meter": info.id, "weather_meter": info.weather_meter, "timezone": info.timezone,
        "country": info.country, "periods_local_inclusive": periods,
        "excluded_non_routine": [[str(a), str(b)] for a, b in exclude],
        "energy_readings": len(energy), "temperature_readings": len(temperature),
        "model": result.model, "confidence": confidence,
        "reproduce": (
            f"wattlens export readings e.csv -m {info.id} --quantity energy --start "
            f"{start.isoformat()} --end {end.isoformat()}; the same for -m "
            f"{info.weather_meter} --quantity temperature, reshaped to time,temperature "
            f"(w.csv); wattlens savings --readings e.csv --weather w.csv --meter {info.id} "
            f"--baseline {periods['baseline'][0]} {_local_end(periods['baseline'][1])} "
            f"--reporting {periods['reporting'][0]} {_local_end(periods['reporting'][1])} "
            f"--model {result.model} --confidence {confidence}"),
        "data_hashed": "energy and temperature readings frames (time, meter, quantity, value, "
                       "quality) as CSV, times UTC ISO 8601, values %.6f",
    }
    shown = series.rename(columns={"adjusted_baseline": "baseline"})[["time", "baseline", "actual"]]
    per = {"daily": "day", "billing": "billing period"}.get(result.granularity, "day")
    if result.granularity == "hourly":
        shown, cumulative = transforms.savings_per_day(shown, cumulative, info.timezone)
        per = "day"
    return {
        "info": info, "meter": info.id, "model": result.model, "confidence": confidence,
        "per": per,
        "periods": periods, "result": result.to_json(), "warnings": list(result.warnings),
        "parameters": {"granularity": result.granularity, "n_params": result.baseline.n_params,
                       "autocorrelation": result.baseline.autocorrelation,
                       **result.model_detail},
        "inputs": inputs,
        "series": shown,
        "cumulative": cumulative,
        "data_sha256": data_hash(energy, temperature),
    }


def data_hash(*frames: pd.DataFrame) -> str:
    """SHA-256 of the frames' canonical CSV text (ISO UTC times), to reproduce a result."""
    digest = hashlib.sha256()
    for frame in frames:
        canon = frame.copy()
        for column in canon.columns:
            if isinstance(canon[column].dtype, pd.DatetimeTZDtype):
                canon[column] = canon[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        digest.update(canon.to_csv(index=False, float_format="%.6f").encode())
    return digest.hexdigest()


def request_data() -> tuple[DashboardData, User]:
    """The app's :class:`DashboardData` and the user of the current request."""
    import flask

    data: DashboardData = flask.current_app.extensions[EXTENSION]
    if not data.login_required:
        return data, data.anonymous()
    return data, data.user(flask.session.get(SESSION_USER))
