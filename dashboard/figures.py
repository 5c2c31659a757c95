"""Pure frames → plotly figures. Every axis names its quantity and unit; times are shown in the
site timezone (converted here, at the edge)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

TEMPLATE = "plotly_white"
COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#0a7ea4", "#cf222e"]
BAND = "rgba(31, 111, 235, 0.15)"


def _layout(fig: go.Figure, x_title: str, y_title: str, title: str = "",
            uirevision: Any = None) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE, title=title or None, margin={"l": 60, "r": 20, "t": 40, "b": 50},
        legend={"orientation": "h", "y": -0.2}, uirevision=uirevision, height=360,
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _time_title(tz: str) -> str:
    return f"time ({tz})"


def message(text: str) -> go.Figure:
    """An empty figure saying what is happening (loading, no data, not permitted)."""
    fig = go.Figure()
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 15, "color": "#57606a"})
    fig.update_layout(template=TEMPLATE, height=360, xaxis={"visible": False},
                      yaxis={"visible": False}, margin={"l": 20, "r": 20, "t": 20, "b": 20})
    return fig


def timeseries(frame: pd.DataFrame, tz: str, every: str, uirevision: Any = None) -> go.Figure:
    """Mean power [kW] per meter; ``every`` is the store bucket the points come from."""
    fig = go.Figure()
    for i, (meter, group) in enumerate(frame.groupby("meter", sort=True)):
        fig.add_trace(go.Scattergl(
            x=group["time"].dt.tz_convert(tz), y=group["value"].round(3), name=str(meter),
            mode="lines", line={"color": COLOURS[i % len(COLOURS)], "width": 1.2},
        ))
    return _layout(fig, _time_title(tz), f"mean power [kW] ({every} buckets, resampled)",
                   uirevision=uirevision)


def live_today(data: dict[str, Any]) -> go.Figure:
    """Today so far [kWh per interval] against the issued forecast band and a typical day."""
    info = data["info"]
    tz = info.timezone
    fig = go.Figure()
    forecast = data["forecast"]
    if not forecast.empty:
        x = forecast["time"].dt.tz_convert(tz)
        fig.add_trace(go.Scatter(x=x, y=forecast["yhat_upper"], line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=forecast["yhat_lower"], fill="tonexty", fillcolor=BAND,
                                 line={"width": 0}, name="forecast interval"))
        fig.add_trace(go.Scatter(x=x, y=forecast["yhat"], name="forecast (as issued)",
                                 line={"color": COLOURS[0], "dash": "dash"}))
    typical = data["typical"]
    if not typical.empty:
        fig.add_trace(go.Scatter(x=typical["time"].dt.tz_convert(tz), y=typical["value"],
                                 name="typical day (last 4 of this day type)",
                                 line={"color": "#8c959f", "dash": "dot"}))
    today = data["today"]
    fig.add_trace(go.Scatter(x=today["time"].dt.tz_convert(tz), y=today["value"],
                             name="actual", mode="lines+markers",
                             line={"color": COLOURS[1], "width": 2}))
    day = data["day_start"].strftime("%a %d %b %Y")
    return _layout(fig, _time_title(tz), "energy [kWh per interval]",
                   title=f"{info.name}: {day} so far")


def carpet(table: pd.DataFrame, tz: str) -> go.Figure:
    """Hour × day heat map of energy [kWh per hour]."""
    fig = go.Figure(go.Heatmap(
        x=[pd.Timestamp(d) for d in table.index], y=list(table.columns),
        z=table.to_numpy().T.round(2), colorscale="Viridis",
        colorbar={"title": {"text": "kWh per h"}},
        hovertemplate="%{x|%d %b %Y} %{y}:00<br>%{z} kWh<extra></extra>",
    ))
    return _layout(fig, f"date ({tz})", f"hour of day ({tz})")


def profiles(frame: pd.DataFrame, tz: str) -> go.Figure:
    """Average day per day type [kWh per hour]."""
    fig = go.Figure()
    for i, (kind, group) in enumerate(frame.groupby("day_type", sort=True)):
        fig.add_trace(go.Scatter(x=group["hour"], y=group["value"].round(3), name=str(kind),
                                 line={"color": COLOURS[i % len(COLOURS)]}))
    fig = _layout(fig, f"hour of day ({tz})", "mean energy [kWh per hour]")
    fig.update_xaxes(dtick=3)
    return fig


def signature(frame: pd.DataFrame) -> go.Figure:
    """Daily energy [kWh/day] against daily mean outdoor temperature [degC]."""
    fig = go.Figure()
    for i, (kind, group) in enumerate(frame.groupby("day_type", sort=True)):
        fig.add_trace(go.Scattergl(
            x=group["temperature"].round(2), y=group["energy"].round(2), mode="markers",
            name=str(kind), marker={"size": 5, "color": COLOURS[i % len(COLOURS)]},
            text=group["time"].dt.strftime("%Y-%m-%d"),
            hovertemplate="%{text}<br>%{x} degC, %{y} kWh<extra></extra>",
        ))
    return _layout(fig, "daily mean outdoor temperature [degC]", "daily energy [kWh/day]")


def comparison(frame: pd.DataFrame, tz: str, against: str) -> go.Figure:
    """Daily energy [kWh/day] of the chosen period and the one it is compared with."""
    x = frame["time"].dt.tz_convert(tz)
    label = "previous period" if against == "previous" else "a year earlier (52 weeks)"
    fig = go.Figure([
        go.Scatter(x=x, y=frame["current"].round(2), name="this period",
                   line={"color": COLOURS[1]}),
        go.Scatter(x=x, y=frame["previous"].round(2), name=label,
                   line={"color": "#8c959f"}),
    ])
    return _layout(fig, f"date ({tz})", "daily energy [kWh/day]")


def hierarchy(frame: pd.DataFrame, tz: str, parent: str) -> go.Figure:
    """Stacked daily energy of submeters and the unmetered remainder [kWh/day]."""
    fig = go.Figure()
    for i, (meter, group) in enumerate(frame.groupby("meter", sort=True)):
        fig.add_trace(go.Bar(x=group["time"].dt.tz_convert(tz), y=group["value"].round(2),
                             name=f"{parent} remainder" if meter == "remainder" else str(meter),
                             marker_color="#8c959f" if meter == "remainder"
                             else COLOURS[i % len(COLOURS)]))
    fig.update_layout(barmode="relative")
    return _layout(fig, f"date ({tz})", "daily energy [kWh/day]")


def forecast(merged: pd.DataFrame, actual: pd.DataFrame, tz: str) -> go.Figure:
    """Actuals against forecasts as issued, with their intervals [kWh per interval]."""
    fig = go.Figure()
    for i, (model, group) in enumerate(merged.groupby("model", sort=True)):
        x = group["time"].dt.tz_convert(tz)
        fig.add_trace(go.Scatter(x=x, y=group["yhat_upper"], line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=group["yhat_lower"], fill="tonexty", fillcolor=BAND,
                                 line={"width": 0}, name=f"{model} interval"))
        fig.add_trace(go.Scatter(x=x, y=group["yhat"].round(3), name=f"{model} forecast",
                                 line={"color": COLOURS[(i + 2) % len(COLOURS)]}))
    fig.add_trace(go.Scatter(x=actual["time"].dt.tz_convert(tz), y=actual["value"].round(3),
                             name="actual", line={"color": "#24292f", "width": 1.2}))
    return _layout(fig, _time_title(tz), "energy [kWh per interval]")


def residuals(merged: pd.DataFrame, tz: str) -> go.Figure:
    """Actual − forecast [kWh per interval] over time, per model."""
    fig = go.Figure()
    for i, (model, group) in enumerate(merged.groupby("model", sort=True)):
        fig.add_trace(go.Bar(x=group["time"].dt.tz_convert(tz),
                             y=(group["value"] - group["yhat"]).round(3), name=str(model),
                             marker_color=COLOURS[(i + 2) % len(COLOURS)]))
    return _layout(fig, _time_title(tz), "residual actual − forecast [kWh per interval]")


def event_chart(window: dict[str, Any]) -> go.Figure:
    """Readings around an event [kWh per interval] with the expected band and the event span."""
    tz = window["info"].timezone
    event = window["event"]
    band = window["band"]
    fig = go.Figure()
    if not band.empty:
        x = band["time"].dt.tz_convert(tz)
        fig.add_trace(go.Scatter(x=x, y=band["upper"], line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=band["lower"], fill="tonexty", fillcolor=BAND,
                                 line={"width": 0}, name=f"expected: {window['band_source']}"))
        fig.add_trace(go.Scatter(x=x, y=band["expected"], name="expected",
                                 line={"color": COLOURS[0], "dash": "dash"}))
    actual = window["actual"]
    fig.add_trace(go.Scatter(x=actual["time"].dt.tz_convert(tz), y=actual["value"],
                             name="actual", line={"color": COLOURS[1]}))
    fig.add_vrect(x0=event["start"].tz_convert(tz), x1=event["end"].tz_convert(tz),
                  fillcolor="rgba(209, 36, 47, 0.12)", line_width=0)
    title = f"{event['meter']}: {event['kind']} (severity {event['severity']:.2f})"
    return _layout(fig, _time_title(tz), "energy [kWh per interval]", title=title)


def savings(frame: pd.DataFrame, tz: str, per: str = "day") -> go.Figure:
    """Adjusted baseline against actual [kWh per ``per``] in the reporting period."""
    x = frame["time"].dt.tz_convert(tz)
    fig = go.Figure([
        go.Scatter(x=x, y=frame["baseline"].round(3), name="adjusted baseline",
                   line={"color": COLOURS[0]}),
        go.Scatter(x=x, y=frame["actual"].round(3), name="actual", line={"color": COLOURS[1]}),
    ])
    return _layout(fig, _time_title(tz), f"energy [kWh per {per}]")


def cumulative_savings(frame: pd.DataFrame, tz: str) -> go.Figure:
    """Cumulative avoided energy [kWh] with its uncertainty band."""
    x = frame["time"].dt.tz_convert(tz)
    fig = go.Figure()
    if "upper" in frame and frame["upper"].notna().any():
        fig.add_trace(go.Scatter(x=x, y=frame["upper"].round(2), line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=frame["lower"].round(2), fill="tonexty",
                                 fillcolor=BAND, line={"width": 0}, name="uncertainty band"))
    fig.add_trace(go.Scatter(x=x, y=frame["cumulative"].round(2), name="cumulative savings",
                             line={"color": COLOURS[2], "width": 2}))
    return _layout(fig, _time_title(tz), "cumulative avoided energy [kWh]")
