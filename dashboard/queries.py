"""The dashboard's reads: cached, access-controlled queries through a Store.

Every read takes the :class:`~wattlens.dashboard.access.User` of the request and refuses
(:class:`~wattlens.dashboard.access.AccessDenied`) a meter outside the user's scope. Shaping
happens in :mod:`wattlens.dashboard.transforms` (pure), plotting in
:mod:`wattlens.dashboard.figures`; KPIs come from :mod:`wattlens.analytics.kpis` and M&V
results from the job in :mod:`wattlens.analytics.mv`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from wattlens.analytics import kpis
from wattlens.analytics.carbon import CarbonSection
from wattlens.analytics.jobs import RECOMMENDATION_KIND, RECOMMENDATION_RUN_KIND
from wattlens.analytics.mv import MVSpec, mv_result
from wattlens.analytics.savings import SavingsSettings
from wattlens.analytics.tariffs import TariffError, TariffsSection
from wattlens.core.meters import MeterInfo
from wattlens.dashboard import transforms
from wattlens.dashboard.access import Access, AccessDenied, User
from wattlens.dashboard.cache import TTLCache
from wattlens.dashboard.config import DashboardConfig
from wattlens.dashboard.i18n import _, ngettext
from wattlens.store.base import Aggregation, Store, utc_timestamp

log = logging.getLogger(__name__)

INGEST_STATUS_KIND = "ingest-status"
"""Document kind of the ingest worker's per-source status (``wattlens.ingest.worker``)."""


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    if "time" in frame:
        frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    if "meter" in frame:
        frame["meter"] = pd.Series(dtype=object)
    return frame


class DashboardData:
    """Cached, access-controlled reads for the dashboard (one per app)."""

    def __init__(self, store: Store, access: Access, settings: DashboardConfig,
                 tariffs: TariffsSection, carbon: CarbonSection,
                 savings: SavingsSettings | None = None) -> None:
        self.store = store
        self.access = access
        self.settings = settings
        self.tariffs = tariffs
        self.carbon = carbon
        self.savings_settings = savings or SavingsSettings()
        self._cache = TTLCache(settings.cache_ttl_s)

    def catalogue(self, user: User) -> list[MeterInfo]:
        """The meters ``user`` may see, in config order."""
        return self.access.catalogue(user)

    def info(self, user: User, meter: str | None) -> MeterInfo:
        """One visible meter's description; AccessDenied if outside the user's scope."""
        return self.access.info(user, meter)

    def allowed(self, user: User, meters: Sequence[str | None] | None) -> list[str]:
        """``meters`` if every one is visible to ``user``; AccessDenied naming the first not."""
        return self.access.allowed(user, meters)

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
                  how: Aggregation = "sum", quantity: str = "energy") -> pd.DataFrame:
        """Store-side aggregation in the first meter's site timezone (cached)."""
        chosen = self.allowed(user, meters)
        tz = self._tz(chosen[0])
        key = ("agg", tuple(chosen), quantity, str(start), str(end), every, how, tz)
        return self._cache.get(key, lambda: self.store.aggregate(
            chosen, quantity, utc_timestamp(start), utc_timestamp(end), every=every, how=how,
            tz=tz))

    def _tz(self, meter: str) -> str:
        info = self.access.meters.get(meter)
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
        return transforms.profiles(self.hourly(user, meter, start, end), info.calendar)

    def signature(self, user: User, meter: str, start: Any, end: Any) -> pd.DataFrame | None:
        """Daily energy against daily mean outdoor temperature; None without a weather meter."""
        info = self.info(user, meter)
        weather = info.weather_meter
        if not weather:
            return None
        energy = self.daily(user, meter, start, end)
        # weather is site-wide context, visible to anyone who may see a meter of the site
        key = ("temp", weather, str(start), str(end), info.timezone)
        temp = self._cache.get(key, lambda: self.store.aggregate(
            [weather], "temperature", utc_timestamp(start), utc_timestamp(end),
            every="1d", how="mean", tz=info.timezone))
        return transforms.signature(energy, temp, info.calendar)

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
    def live(self, user: User, meter: str | None) -> dict[str, Any]:
        """The live page's data for one meter: today so far, the issued forecast for today, a
        typical day, KPIs of today and this month, and the newest reading."""
        (meter,) = self.allowed(user, [meter])
        info = self.info(user, meter)
        latest = self.store.latest([meter])  # never cached: the live page must see arrivals
        if latest.empty:
            return {"info": info, "latest": None}
        newest = utc_timestamp(latest["time"].iloc[0])
        assert newest is not None  # the store's latest() rows always carry a time
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
        tariff = self.tariffs.for_meter(meter, info.commodity)
        return {
            "info": info,
            "latest": latest.iloc[0].to_dict(),
            "day_start": day_start,
            "today": today,
            "forecast": forecast,
            # hourly means [kWh/h] × interval [h] = kWh per interval, the unit of "today"
            "typical": transforms.typical_day(history, day_start, info.calendar).assign(
                value=lambda f: f["value"] * min(info.interval_h, 1.0)),
            "kpi_today": self._kpis(today, info),
            "kpi_month": self._kpis(month, info),
            "tariff": tariff,
        }

    def _kpis(self, frame: pd.DataFrame, info: MeterInfo) -> dict[str, float]:
        """Energy [kWh], peak [kW], cost [currency] and CO2 [kg] of one meter's energy
        readings, by :func:`wattlens.analytics.kpis.kpis` (NaN cost/CO2: no tariff/factor)."""
        if frame.empty:
            return {"energy_kwh": 0.0, "peak_kw": 0.0, "cost": 0.0, "co2_kg": 0.0}
        readings = frame.assign(meter=info.id, quantity="energy")
        try:
            row = kpis.kpis(readings, [info], self.tariffs, self.carbon).iloc[0]
        except TariffError as exc:
            log.warning("KPI cost of %s left out: %s", info.id, exc)
            row = kpis.kpis(readings, [info], None, self.carbon).iloc[0]
        return {"energy_kwh": float(row["consumption_kwh"]), "peak_kw": float(row["peak_kw"]),
                "cost": float(row["cost"]), "co2_kg": float(row["co2_kg"])}

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
        days = round(pd.Timedelta(window) / pd.Timedelta("1D"))
        silent = ngettext("no reading in the last day", "no reading in the last %(num)d days",
                          days)
        rows = [{"source": f"meter {m}", "newest": newest.get(m, pd.NaT),
                 "age_h": (now - newest[m]) / pd.Timedelta("1h") if m in newest else np.nan,
                 "state": _("readings") if m in newest else silent}
                for m in meters]
        if user.meters is None:  # source statuses span meters: administrators only
            for key, body in self.store.list_documents(INGEST_STATUS_KIND).items():
                when = body.get("newest_reading") or body.get("last_success")
                stamp = pd.Timestamp(when) if when else pd.NaT
                # arrivals by the wall clock; "newest" is the newest reading's own time
                state = _("%(source)s: received %(readings)s readings in the last hour, "
                          "%(errors)s errors", source=body.get("type", "source"),
                          readings=body.get("readings_last_hour", 0),
                          errors=body.get("errors", 0))
                if body.get("last_error"):
                    state += " " + _("(last: %(error)s)", error=body["last_error"])
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
            raise AccessDenied(_("event %(event)r does not exist or is not visible to you",
                                 event=event_id))
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
            source = _("issued forecast (%(model)s)", model=forecast["model"].iloc[0])
        else:
            history = self.readings(user, meter, start - pd.Timedelta("28D"), start)
            band = transforms.typical_band(history, actual["time"])
            source = _("same hour of week, 4 weeks before (10-90 %)")
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
            cards.append({"model": _("previous-week persistence (beside %(model)s)",
                                     model=model),
                          **transforms.scores(a, group["persistence"].to_numpy(dtype="float64"))})
        shown = actual[actual["time"] >= start]
        return {"info": info, "forecast": merged, "actual": shown, "scores": cards}

    # --------------------------------------------------------- recommendations
    def recommendations(self, user: User) -> pd.DataFrame:
        """Stored recommendations of the latest run on visible meters, ranked by annual value
        (those an earlier run left behind no longer add up with the latest ones)."""
        docs = self._cache.get(("docs", RECOMMENDATION_KIND),
                               lambda: self.store.list_documents(RECOMMENDATION_KIND))
        runs = self._cache.get(("docs", RECOMMENDATION_RUN_KIND),
                               lambda: self.store.list_documents(RECOMMENDATION_RUN_KIND))
        latest = runs.get("latest", {}).get("generated_at")
        rows = []
        for key, body in docs.items():
            meter = body.get("meter")
            if not isinstance(meter, str) or not user.may_see(meter):
                continue
            if latest and body.get("generated_at", latest) != latest:
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
    def savings(self, user: User, spec: MVSpec, rerun: bool = False) -> dict[str, Any]:
        """The M&V result document of ``spec`` on a visible meter: the stored one, else (or
        with ``rerun``) the :func:`wattlens.analytics.mv.mv_job` run now and stored."""
        spec = spec.model_copy(update={"settings": self.savings_settings})
        return mv_result(self.store, self.info(user, spec.meter), spec, rerun=rerun)
