"""Pure frames → plotly figures. Every axis names its quantity and unit; times are shown in the
site timezone (converted here, at the edge, to wall-clock text).

Figures are plain plotly JSON dicts rather than ``plotly.graph_objects``: validating a
graph_objects trace of tz-aware times costs ~100 ms, the dict ~1 ms, and the browser gets the
same figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wattlens.dashboard import i18n, labels
from wattlens.dashboard.i18n import _

Figure = dict[str, Any]
COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#0a7ea4", "#cf222e"]
BAND = "rgba(31, 111, 235, 0.15)"
GRID = "#e5e7eb"
_FONT = {"family": 'system-ui, "Noto Sans CJK KR", "Noto Sans KR", sans-serif', "size": 12,
         "color": "#24292f"}


def _times(series: pd.Series, tz: str) -> list[str]:
    """UTC times → wall-clock text in ``tz`` (plotly shows date strings as given)."""
    return series.dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def _values(series: Any, digits: int = 3) -> np.ndarray:
    """Rounded floats; NaN is sent as JSON null (a gap in the line)."""
    return np.round(np.asarray(series, dtype="float64"), digits)


def _time(tz: str) -> str:
    return _("time (%(tz)s)", tz=tz)


def _date(tz: str) -> str:
    return _("date (%(tz)s)", tz=tz)


def _hour(tz: str) -> str:
    return _("hour of day (%(tz)s)", tz=tz)


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "gridcolor": GRID, "zerolinecolor": GRID,
            "automargin": True, **extra}


def _figure(traces: list[dict[str, Any]], x_title: str, y_title: str, title: str = "",
            uirevision: Any = None, **layout: Any) -> Figure:
    return {"data": traces, "layout": {
        "title": {"text": title} if title else None, "height": 360, "font": _FONT,
        "margin": {"l": 60, "r": 20, "t": 40 if title else 20, "b": 50},
        "legend": {"orientation": "h", "y": -0.25}, "uirevision": uirevision,
        "plot_bgcolor": "white", "paper_bgcolor": "white", "hovermode": "closest",
        "xaxis": _axis(x_title, **layout.pop("xaxis", {})),
        "yaxis": _axis(y_title, **layout.pop("yaxis", {})), **layout}}


def _band(x: list[str], lower: Any, upper: Any, name: str) -> list[dict[str, Any]]:
    """An interval drawn as a filled area between ``lower`` and ``upper``."""
    return [{"type": "scatter", "x": x, "y": _values(upper), "mode": "lines",
             "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "x": x, "y": _values(lower), "mode": "lines", "fill": "tonexty",
             "fillcolor": BAND, "line": {"width": 0}, "name": name}]


def message(text: str) -> Figure:
    """An empty figure saying what is happening (loading, no data, not permitted)."""
    return {"data": [], "layout": {
        "height": 360, "font": _FONT, "plot_bgcolor": "white", "paper_bgcolor": "white",
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "margin": {"l": 20, "r": 20, "t": 20, "b": 20},
        "annotations": [{"text": text, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                         "showarrow": False, "font": {"size": 15, "color": "#57606a"}}]}}


def timeseries(frame: pd.DataFrame, tz: str, every: str, uirevision: Any = None) -> Figure:
    """Mean power [kW] per meter; ``every`` is the store bucket the points come from."""
    traces = [{"type": "scattergl", "mode": "lines", "name": str(meter),
               "x": _times(group["time"], tz), "y": _values(group["value"]),
               "line": {"color": COLOURS[i % len(COLOURS)], "width": 1.2}}
              for i, (meter, group) in enumerate(frame.groupby("meter", sort=True))]
    return _figure(traces, _time(tz),
                   _("mean power [kW] (%(every)s buckets, resampled)", every=every),
                   uirevision=uirevision)


def live_today(data: dict[str, Any]) -> Figure:
    """Today so far [kWh per interval] against the issued forecast band and a typical day."""
    info = data["info"]
    tz = info.timezone
    traces: list[dict[str, Any]] = []
    for i, (model, forecast) in enumerate(data["forecast"].groupby("model", sort=True)):
        x = _times(forecast["time"], tz)
        traces += _band(x, forecast["yhat_lower"], forecast["yhat_upper"],
                        _("%(model)s interval", model=model))
        traces.append({"type": "scatter", "x": x, "y": _values(forecast["yhat"]),
                       "name": _("%(model)s forecast (as issued)", model=model),
                       "mode": "lines",
                       "line": {"color": COLOURS[(i * 2) % len(COLOURS)], "dash": "dash"}})
    typical = data["typical"]
    if not typical.empty:
        traces.append({"type": "scatter", "x": _times(typical["time"], tz),
                       "y": _values(typical["value"]), "mode": "lines",
                       "name": _("typical day (last 4 of this day type)"),
                       "line": {"color": "#8c959f", "dash": "dot"}})
    today = data["today"]
    traces.append({"type": "scatter", "x": _times(today["time"], tz),
                   "y": _values(today["value"]), "name": _("actual"), "mode": "lines+markers",
                   "line": {"color": COLOURS[1], "width": 2}})
    day = i18n.day(data["day_start"].date())
    return _figure(traces, _time(tz), _("energy [kWh per interval]"),
                   title=_("%(meter)s: %(day)s so far", meter=info.label, day=day))


def carpet(table: pd.DataFrame, tz: str) -> Figure:
    """Hour × day heat map of energy [kWh per hour]."""
    z = np.round(table.to_numpy(dtype="float64").T, 2)
    trace = {"type": "heatmap", "x": [str(d) for d in table.index],
             "y": [int(h) for h in table.columns],
             "z": [[None if not np.isfinite(v) else float(v) for v in row] for row in z],
             "colorscale": "Viridis", "colorbar": {"title": {"text": _("kWh per h")}},
             "hovertemplate": "%{x} %{y}:00<br>%{z} kWh<extra></extra>"}
    return _figure([trace], _date(tz), _hour(tz))


def profiles(frame: pd.DataFrame, tz: str) -> Figure:
    """Average day per day type [kWh per hour]."""
    traces = [{"type": "scatter", "mode": "lines", "name": str(kind),
               "x": group["hour"].astype(int).tolist(), "y": _values(group["value"]),
               "line": {"color": COLOURS[i % len(COLOURS)]}}
              for i, (kind, group) in enumerate(frame.groupby("day_type", sort=True))]
    return _figure(traces, _hour(tz), _("mean energy [kWh per hour]"), xaxis={"dtick": 3})


def signature(frame: pd.DataFrame) -> Figure:
    """Daily energy [kWh/day] against daily mean outdoor temperature [degC]."""
    traces = [{"type": "scattergl", "mode": "markers", "name": str(kind),
               "x": _values(group["temperature"], 2), "y": _values(group["energy"], 2),
               "marker": {"size": 5, "color": COLOURS[i % len(COLOURS)]},
               "text": group["time"].dt.strftime("%Y-%m-%d").tolist(),
               "hovertemplate": "%{text}<br>%{x} °C, %{y} kWh<extra></extra>"}
              for i, (kind, group) in enumerate(frame.groupby("day_type", sort=True))]
    return _figure(traces, _("daily mean outdoor temperature [°C]"), _("daily energy [kWh/day]"))


def comparison(frame: pd.DataFrame, tz: str, against: str) -> Figure:
    """Daily energy [kWh/day] of the chosen period and the one it is compared with."""
    x = _times(frame["time"], tz)
    label = _("previous period") if against == "previous" else _("a year earlier (52 weeks)")
    traces = [{"type": "scatter", "mode": "lines", "x": x, "y": _values(frame["current"], 2),
               "name": _("this period"), "line": {"color": COLOURS[1]}},
              {"type": "scatter", "mode": "lines", "x": x, "y": _values(frame["previous"], 2),
               "name": label, "line": {"color": "#8c959f"}}]
    return _figure(traces, _date(tz), _("daily energy [kWh/day]"))


def hierarchy(frame: pd.DataFrame, tz: str, parent: str) -> Figure:
    """Stacked daily energy of submeters and the unmetered remainder [kWh/day]."""
    traces = [{"type": "bar", "x": _times(group["time"], tz), "y": _values(group["value"], 2),
               "name": _("%(meter)s remainder", meter=parent) if meter == "remainder"
               else str(meter),
               "marker": {"color": "#8c959f" if meter == "remainder"
                          else COLOURS[i % len(COLOURS)]}}
              for i, (meter, group) in enumerate(frame.groupby("meter", sort=True))]
    return _figure(traces, _date(tz), _("daily energy [kWh/day]"), barmode="relative")


def forecast(merged: pd.DataFrame, actual: pd.DataFrame, tz: str) -> Figure:
    """Actuals against forecasts as issued, with their intervals [kWh per interval]."""
    traces: list[dict[str, Any]] = []
    for i, (model, group) in enumerate(merged.groupby("model", sort=True)):
        x = _times(group["time"], tz)
        traces += _band(x, group["yhat_lower"], group["yhat_upper"],
                        _("%(model)s interval", model=model))
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": _values(group["yhat"]),
                       "name": _("%(model)s forecast", model=model),
                       "line": {"color": COLOURS[(i + 2) % len(COLOURS)]}})
    traces.append({"type": "scatter", "mode": "lines", "x": _times(actual["time"], tz),
                   "y": _values(actual["value"]), "name": _("actual"),
                   "line": {"color": "#24292f", "width": 1.2}})
    return _figure(traces, _time(tz), _("energy [kWh per interval]"))


def residuals(merged: pd.DataFrame, tz: str) -> Figure:
    """Actual − forecast [kWh per interval] over time, per model."""
    traces = [{"type": "bar", "x": _times(group["time"], tz),
               "y": _values(group["value"] - group["yhat"]), "name": str(model),
               "marker": {"color": COLOURS[(i + 2) % len(COLOURS)]}}
              for i, (model, group) in enumerate(merged.groupby("model", sort=True))]
    return _figure(traces, _time(tz), _("residual actual − forecast [kWh per interval]"))


def event_chart(window: dict[str, Any]) -> Figure:
    """Readings around an event [kWh per interval] with the expected band and the event span."""
    tz = window["info"].timezone
    event = window["event"]
    band = window["band"]
    traces: list[dict[str, Any]] = []
    if not band.empty:
        x = _times(band["time"], tz)
        traces += _band(x, band["lower"], band["upper"],
                        _("expected: %(source)s", source=window["band_source"]))
        traces.append({"type": "scatter", "mode": "lines", "x": x,
                       "y": _values(band["expected"]), "name": _("expected"),
                       "line": {"color": COLOURS[0], "dash": "dash"}})
    actual = window["actual"]
    traces.append({"type": "scatter", "mode": "lines", "x": _times(actual["time"], tz),
                   "y": _values(actual["value"]), "name": _("actual"),
                   "line": {"color": COLOURS[1]}})
    span = _times(pd.Series([event["start"], event["end"]]), tz)
    shape = {"type": "rect", "xref": "x", "yref": "paper", "x0": span[0], "x1": span[1],
             "y0": 0, "y1": 1, "fillcolor": "rgba(209, 36, 47, 0.12)", "line": {"width": 0}}
    title = _("%(meter)s: %(kind)s (severity %(severity)s)", meter=event["meter"],
              kind=labels.shown(labels.EVENT_KINDS, event["kind"]),
              severity=i18n.number(event["severity"], 2))
    return _figure(traces, _time(tz), _("energy [kWh per interval]"), title=title,
                   shapes=[shape])


def savings(frame: pd.DataFrame, tz: str, per: str = "day") -> Figure:
    """Adjusted baseline against actual [kWh per ``per``] in the reporting period."""
    x = _times(frame["time"], tz)
    traces = [{"type": "scatter", "mode": "lines", "x": x, "y": _values(frame["baseline"]),
               "name": _("adjusted baseline"), "line": {"color": COLOURS[0]}},
              {"type": "scatter", "mode": "lines", "x": x, "y": _values(frame["actual"]),
               "name": _("actual"), "line": {"color": COLOURS[1]}}]
    unit = _("energy [kWh per day]") if per == "day" else _("energy [kWh per billing period]")
    return _figure(traces, _time(tz), unit)


def recommendation_profile(profile: dict[str, list[float]], title: str) -> Figure:
    """A recommendation's small chart: mean load [kW] by local hour on working days and on
    other days, now (solid) and after the measure (dashed)."""
    traces = []
    for key, now, after, colour in (
            ("working", _("working days, now"), _("working days, after"), COLOURS[0]),
            ("off", _("weekends and holidays, now"), _("weekends and holidays, after"),
             COLOURS[2])):
        traces += [{"type": "scatter", "mode": "lines", "x": profile["hour"],
                    "y": profile[f"{key}_kw"], "name": now, "line": {"color": colour}},
                   {"type": "scatter", "mode": "lines", "x": profile["hour"],
                    "y": profile[f"{key}_after_kw"], "name": after,
                    "line": {"color": colour, "dash": "dash"}}]
    return _figure(traces, _("local hour"), _("mean load [kW]"), title=title, height=300,
                   xaxis={"dtick": 3}, legend={"orientation": "h", "y": -0.45},
                   margin={"l": 60, "r": 20, "t": 40, "b": 100})


def cumulative_savings(frame: pd.DataFrame, tz: str) -> Figure:
    """Cumulative avoided energy [kWh] with its uncertainty band."""
    x = _times(frame["time"], tz)
    traces: list[dict[str, Any]] = []
    if "upper" in frame and frame["upper"].notna().any():
        traces += _band(x, frame["lower"], frame["upper"], _("uncertainty band"))
    traces.append({"type": "scatter", "mode": "lines", "x": x,
                   "y": _values(frame["cumulative"], 2), "name": _("cumulative savings"),
                   "line": {"color": COLOURS[2], "width": 2}})
    return _figure(traces, _time(tz), _("cumulative avoided energy [kWh]"))


def compare_lines(frame: pd.DataFrame, tz: str, names: dict[str, str], x_title: str,
                  y_title: str) -> Figure:
    """Daily energy per compared meter or building (``entity``), titles given translated."""
    traces = [{"type": "scatter", "mode": "lines", "name": names.get(str(entity), str(entity)),
               "x": _times(group["time"], tz), "y": _values(group["value"], 4),
               "line": {"color": COLOURS[i % len(COLOURS)]}}
              for i, (entity, group) in enumerate(frame.groupby("entity", sort=False))]
    return _figure(traces, x_title, y_title)


def compare_bars(totals: pd.Series, unit: str, names: dict[str, str], y_title: str) -> Figure:
    """Totals over the range per compared meter or building, side by side [``unit``]."""
    trace = {"type": "bar", "x": [names.get(str(k), str(k)) for k in totals.index],
             "y": _values(totals, 2), "marker": {"color": [COLOURS[i % len(COLOURS)]
                                                        for i in range(len(totals))]},
             "hovertemplate": "%{x}: %{y} " + unit + "<extra></extra>"}
    return _figure([trace], "", y_title)
