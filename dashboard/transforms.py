"""Pure frame → frame reshaping for the dashboard (no store, no Dash, no plotly).

Everything here takes frames in the readings contract (UTC ``time``) plus the site timezone and
returns frames ready to plot; :mod:`wattlens.dashboard.queries` calls these after reading the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from plotly_resampler.aggregation import MinMaxLTTB

from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo
from wattlens.dashboard.i18n import N_, _
from wattlens.forecasting.backtest import metrics
from wattlens.store.base import EVERY

DAY_TYPES = (N_("working day"), N_("Saturday"), N_("Sunday / holiday"))
"""The day types the charts group by (English; shown translated)."""
_DAY_TYPE_NAMES = {"weekday": DAY_TYPES[0], "saturday": DAY_TYPES[1], "sunday": DAY_TYPES[2],
                   "holiday": DAY_TYPES[2]}


def choose_every(start: pd.Timestamp, end: pd.Timestamp, target_points: int) -> str:
    """The finest store bucket giving at most ``target_points`` buckets over [start, end)."""
    span = end - start
    for every, width in EVERY.items():
        if span / width <= target_points:
            return every
    return "1d"


def downsample(frame: pd.DataFrame, n_out: int) -> pd.DataFrame:
    """Per meter, keep at most ``n_out`` rows chosen by plotly-resampler's MinMaxLTTB."""
    parts = []
    for _meter, group in frame.groupby("meter", sort=True):
        if len(group) <= n_out:
            parts.append(group)
            continue
        x = group["time"].astype("datetime64[ns, UTC]").astype("int64").to_numpy()
        y = group["value"].to_numpy(dtype="float64")
        index = MinMaxLTTB().arg_downsample(x, y, n_out=n_out)
        parts.append(group.iloc[np.sort(index)])
    if not parts:
        return frame
    return pd.concat(parts, ignore_index=True)


def to_power(frame: pd.DataFrame, interval_h: float) -> pd.DataFrame:
    """Mean energy per reading [kWh per interval] → mean power [kW]."""
    return frame.assign(value=frame["value"] / interval_h)


def local(frame: pd.DataFrame, tz: str, column: str = "time") -> pd.DataFrame:
    """A copy with ``column`` in the site timezone (for display only)."""
    out = frame.copy()
    out[column] = out[column].dt.tz_convert(tz)
    return out


def day_type(times: pd.Series, calendar: SiteCalendar) -> pd.Series:
    """``working day``, ``Saturday`` or ``Sunday / holiday`` of local times, in the request's
    language."""
    names = {kind: _(name) for kind, name in _DAY_TYPE_NAMES.items()}
    kinds = calendar.day_types(pd.DatetimeIndex(times))
    return pd.Series([names[k] for k in kinds], index=times.index, dtype=object)


def carpet(hourly: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Hourly energy [kWh] as a date × local hour table (rows dates, columns 0..23)."""
    frame = local(hourly, tz)
    frame["date"] = frame["time"].dt.date
    frame["hour"] = frame["time"].dt.hour
    return frame.pivot_table(index="date", columns="hour", values="value", aggfunc="sum")


def profiles(hourly: pd.DataFrame, calendar: SiteCalendar) -> pd.DataFrame:
    """Average day by day type: columns ``day_type``, ``hour`` (local), ``value`` [kWh/h]."""
    frame = local(hourly, calendar.timezone)
    frame["day_type"] = day_type(frame["time"], calendar)
    frame["hour"] = frame["time"].dt.hour
    out = frame.groupby(["day_type", "hour"], as_index=False)["value"].mean()
    return out.sort_values(["day_type", "hour"], ignore_index=True)


def signature(daily_energy: pd.DataFrame, daily_temp: pd.DataFrame,
              calendar: SiteCalendar) -> pd.DataFrame:
    """Daily energy [kWh/day] against daily mean outdoor temperature [degC], by day type."""
    energy = daily_energy[["time", "value"]].rename(columns={"value": "energy"})
    temp = daily_temp[["time", "value"]].rename(columns={"value": "temperature"})
    frame = energy.merge(temp, on="time", how="inner")
    frame = local(frame, calendar.timezone)
    frame["day_type"] = day_type(frame["time"], calendar)
    return frame


def comparison(current: pd.DataFrame, previous: pd.DataFrame, offset: pd.Timedelta) -> pd.DataFrame:
    """Daily energy of two periods aligned on the current period's dates.

    Columns ``time``, ``current``, ``previous`` [kWh/day]; ``previous`` is shifted by ``offset``.
    """
    cur = current[["time", "value"]].rename(columns={"value": "current"})
    prev = previous[["time", "value"]].rename(columns={"value": "previous"})
    prev = prev.assign(time=prev["time"] + offset)
    return cur.merge(prev, on="time", how="outer").sort_values("time", ignore_index=True)


def hierarchy(parent: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Daily energy of each submeter and the parent's unmetered remainder [kWh/day].

    Long frame ``time``, ``meter``, ``value``; the remainder rows have meter ``remainder``
    (negative when submeters add up to more than the parent — a metering error to look at).
    """
    total = parent[["time", "value"]].rename(columns={"value": "parent"})
    summed = children.groupby("time", as_index=False)["value"].sum().rename(
        columns={"value": "children"}
    )
    both = total.merge(summed, on="time", how="left").fillna({"children": 0.0})
    remainder = pd.DataFrame(
        {"time": both["time"], "meter": "remainder", "value": both["parent"] - both["children"]}
    )
    return pd.concat([children[["time", "meter", "value"]], remainder], ignore_index=True)


def typical_band(history: pd.DataFrame, times: pd.Series, low: float = 0.1,
                 high: float = 0.9) -> pd.DataFrame:
    """Expected value at ``times`` from the same UTC hour-of-week in ``history``.

    Columns ``time``, ``expected`` (median), ``lower``, ``upper`` (``low``/``high`` quantiles).
    """
    def how(ts: pd.Series) -> pd.Series:
        return ts.dt.weekday * 24 + ts.dt.hour

    if history.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"),
                             **{c: pd.Series(dtype="float64")
                                for c in ("expected", "lower", "upper")}})
    hist = history.assign(how=how(history["time"]))
    stats = hist.groupby("how")["value"].quantile([0.5, low, high]).unstack()
    stats.columns = ["expected", "lower", "upper"]
    target = pd.DataFrame({"time": times.reset_index(drop=True)})
    target["how"] = how(target["time"])
    out = target.merge(stats, left_on="how", right_index=True, how="left")
    return out.drop(columns="how").dropna(ignore_index=True)


def typical_day(hourly: pd.DataFrame, day_start: pd.Timestamp, calendar: SiteCalendar,
                weeks: int = 4) -> pd.DataFrame:
    """Mean hourly energy [kWh/h] of the last ``weeks`` days of the same day type as
    ``day_start`` (a local midnight), placed on that day's hours."""
    tz = calendar.timezone
    frame = local(hourly[hourly["time"] < day_start], tz)
    if frame.empty:
        return pd.DataFrame({"time": pd.Series(dtype=f"datetime64[ns, {tz}]"),
                             "value": pd.Series(dtype="float64")})
    kind = day_type(pd.Series([day_start]), calendar).iloc[0]
    frame = frame[day_type(frame["time"], calendar) == kind]
    dates = sorted(set(frame["time"].dt.date))[-weeks:]
    frame = frame[frame["time"].dt.date.isin(dates)]
    by_hour = frame.groupby(frame["time"].dt.hour)["value"].mean()
    hours = pd.date_range(day_start, periods=24, freq="1h")
    values = [by_hour.get(h.hour, np.nan) for h in hours]
    return pd.DataFrame({"time": hours, "value": values}).dropna(ignore_index=True)


def as_issued(forecasts: pd.DataFrame, lead_min: pd.Timedelta | None = None,
              lead_max: pd.Timedelta | None = None) -> pd.DataFrame:
    """For each target time, the newest forecast issued ``lead_min``..``lead_max`` before it
    (lead > ``lead_min``, or ≥ 0 without it: never issued after its time; lead ≤ ``lead_max``
    when given)."""
    lead = forecasts["time"] - forecasts["issued_at"]
    keep = lead >= pd.Timedelta(0) if lead_min is None else lead > lead_min
    if lead_max is not None:
        keep &= lead <= lead_max
    chosen = forecasts[keep]
    chosen = chosen.sort_values("issued_at").drop_duplicates(["meter", "model", "time"],
                                                            keep="last")
    return chosen.sort_values(["model", "time"], ignore_index=True)


def scores(actual: np.ndarray, predicted: np.ndarray, lower: np.ndarray | None = None,
           upper: np.ndarray | None = None) -> dict[str, float | int | bool | None]:
    """CV(RMSE) [%], NMBE [%], interval coverage [%], n and ASHRAE Guideline 14 pass.

    NMBE is Σ(actual − predicted) / (n · mean(actual)), positive when the model under-predicts.
    """
    ok = np.isfinite(actual) & np.isfinite(predicted)
    a, p = actual[ok], predicted[ok]
    band = lower is not None and upper is not None
    if lower is not None and upper is not None:
        m = metrics(a, p, lower[ok], upper[ok])
    else:
        m = metrics(a, p, p, p)

    def finite(key: str) -> float | None:
        value = m.get(key, np.nan)
        return None if np.isnan(value) else float(value)

    cv, nmbe = finite("cv_rmse_pct"), finite("nmbe_pct")
    fitted = cv is not None and nmbe is not None
    return {"n": int(m["n"]), "cv_rmse_pct": cv, "nmbe_pct": nmbe,
            "coverage_pct": finite("coverage_pct") if band and fitted else None,
            "g14_pass": m["g14_pass"] if fitted else None}


def event_rows(events: pd.DataFrame, infos: Mapping[str, MeterInfo]) -> list[dict[str, Any]]:
    """Table rows of events (order kept): start and end in the meter's site time, the meter's
    name, excess [kWh] and the cost [currency] the anomaly job priced (``details.cost``, None
    when unpriced), the latest annotation."""
    rows = []
    for e in events.itertuples():
        info = infos.get(e.meter)
        tz = info.timezone if info else "UTC"
        cost = json.loads(e.details or "{}").get("cost")
        rows.append({
            "event_id": e.event_id, "meter": e.meter,
            "meter_name": info.label if info else e.meter, "kind": e.kind,
            "start": e.start.tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "end": e.end.tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "severity": round(float(e.severity), 3), "excess_kwh": round(float(e.excess_kwh), 1),
            "cost": None if cost is None else round(float(cost), 2),
            "status": e.status, "annotated_by": e.annotated_by, "note": e.note,
        })
    return rows


def break_at(frame: pd.DataFrame, times: pd.Series, every: str, tz: str) -> pd.DataFrame:
    """``frame`` (``time``, ``meter``, ``value``, one meter) with the ``every`` buckets holding
    any of ``times`` (UTC) set to NaN, or added as NaN when resampling dropped them: the line
    breaks there (partial readings at gap edges are drawn as gaps, not as real use)."""
    if frame.empty or len(times) == 0:
        return frame
    stamps = pd.DatetimeIndex(times).tz_convert("UTC")
    if pd.Timedelta(every) >= pd.Timedelta("1D"):  # day buckets start at local midnight
        buckets = stamps.tz_convert(tz).normalize().tz_convert("UTC")
    else:
        buckets = stamps.floor(every)
    meter = frame["meter"].iloc[0]
    marks = pd.DataFrame({"time": buckets.unique(), "meter": meter, "value": np.nan})
    kept = frame[~frame["time"].isin(marks["time"])]
    out = pd.concat([kept, marks.astype({"time": frame["time"].dtype})], ignore_index=True)
    return out.sort_values("time", ignore_index=True)


def clip_at_zero(forecasts: pd.DataFrame, columns: tuple[str, ...] = ("yhat", "yhat_lower",
                                                                       "yhat_upper")
                 ) -> pd.DataFrame:
    """Energy forecasts and their bands held at >= 0 [kWh] (a meter cannot use less than
    nothing)."""
    return forecasts.assign(**{c: forecasts[c].clip(lower=0) for c in columns if c in forecasts})
