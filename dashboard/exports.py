"""The Explorer's CSV: one meter's energy over a range at a chosen resolution (raw readings,
15 min, hour, day), streamed from the store month by month so a year of raw readings never sits
in memory, through the one CSV writer (:func:`wattlens.store.csvio.write_csv`, formulas
neutralised) and within the user's meter scope.

``GET /export/readings.csv?meter=<id>&start=<local date or time>&end=<…>&resolution=1h``:
dates (``YYYY-MM-DD``) are whole local days, ``end`` included; times (``YYYY-MM-DDTHH:MM``)
are the exact local bounds of a zoomed chart, ``end`` excluded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

import flask
import pandas as pd

from wattlens.analytics.anomalies import flag_gap_edges
from wattlens.dashboard.access import AccessDenied, User
from wattlens.dashboard.data import request_data
from wattlens.dashboard.i18n import lazy_gettext
from wattlens.dashboard.queries import DashboardData
from wattlens.store.csvio import write_csv

ROUTE = "/export/readings.csv"
RESOLUTIONS = {"raw": lazy_gettext("raw readings"), "15min": lazy_gettext("15 minutes"),
               "1h": lazy_gettext("hour"), "1d": lazy_gettext("day")}
"""Resolution (URL value, a store bucket or ``raw``) → its label."""
LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
"""A local date or wall-clock time as pickers and zoomed charts give them."""


def link(meter: str | None, start: str, end: str, resolution: str) -> str:
    """The export URL of ``meter`` over [start, end] at ``resolution`` ("" when incomplete)."""
    if not (meter and start and end):
        return ""
    return f"{ROUTE}?" + urlencode({"meter": meter, "start": start, "end": end,
                                    "resolution": resolution})


def local_range(start: str, end: str, timezone: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC [start, end) of local ``start``/``end`` text: a date means the whole day (``end``'s
    included), a time is the exact bound. Raises ValueError naming a bad or reversed range."""
    def at(text: str, whole_day: bool) -> pd.Timestamp:
        if not LOCAL_TIME.fullmatch(text):
            raise ValueError(f"{text!r} is not a date or time; write YYYY-MM-DD or "
                             f"YYYY-MM-DDTHH:MM")
        stamp = pd.Timestamp(text)
        if whole_day and len(text) == 10:
            stamp += pd.Timedelta("1D")
        return stamp.tz_localize(timezone, ambiguous=True,
                                 nonexistent="shift_forward").tz_convert("UTC")

    first, last = at(start, False), at(end, True)
    if last <= first:
        raise ValueError(f"the range {start} – {end} is empty; the end must follow the start")
    return first, last


def windows(start: pd.Timestamp, end: pd.Timestamp, timezone: str
            ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """[start, end) cut at local month starts (so day buckets never straddle two reads)."""
    local = pd.date_range(start.tz_convert(timezone).normalize(), end.tz_convert(timezone),
                          freq="MS")
    cuts = [start, *[c.tz_convert("UTC") for c in local if start < c < end], end]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def rows(data: DashboardData, user: User, meter: str, start: pd.Timestamp, end: pd.Timestamp,
         resolution: str) -> Iterator[pd.DataFrame]:
    """The export's frames, one per month: ``time`` (local ISO 8601 with offset), ``meter``,
    ``energy_kwh`` and, for raw readings, ``quality`` (gap-edge partial readings marked
    ``suspect``)."""
    tz = data.info(user, meter).timezone
    columns = ["time", "meter", "energy_kwh", *(["quality"] if resolution == "raw" else [])]
    written = False
    for first, last in windows(start, end, tz):
        if resolution == "raw":
            frame = data.store.read_readings([meter], "energy", first, last)
            if not frame.empty:
                frame = flag_gap_edges(frame)
        else:
            frame = data.store.aggregate([meter], "energy", first, last, every=resolution,
                                         how="sum", tz=tz)
        if frame.empty:
            continue
        out = pd.DataFrame({
            "time": frame["time"].dt.tz_convert(tz).map(lambda t: t.isoformat()),
            "meter": frame["meter"], "energy_kwh": frame["value"].round(4)})
        if resolution == "raw":
            out["quality"] = frame["quality"].to_numpy()
        written = True
        yield out[columns]
    if not written:  # the header alone: the range holds no readings
        yield pd.DataFrame(columns=columns)


def csv_chunks(frames: Iterable[pd.DataFrame]) -> Iterator[str]:
    """CSV text of consecutive frames with one header, each through :func:`write_csv`."""
    first = True
    for frame in frames:
        text = write_csv(frame) or ""
        yield text if first else text.split("\n", 1)[1]
        first = False


def suspect_times(data: DashboardData, user: User, meter: str, start: pd.Timestamp,
                  end: pd.Timestamp) -> pd.Series:
    """UTC times of ``meter``'s readings in [start, end) that are ``suspect`` (stored so, or
    partial readings at gap edges)."""
    readings = data.readings(user, meter, start, end)
    if readings.empty:
        return pd.Series([], dtype="datetime64[ns, UTC]")
    flagged = flag_gap_edges(readings)
    return flagged.loc[flagged["quality"] == "suspect", "time"].reset_index(drop=True)


def _readings_csv() -> flask.Response:
    args = flask.request.args
    try:
        data, user = request_data()
        meter = args.get("meter", "")
        tz = data.info(user, meter).timezone
    except AccessDenied as exc:
        return flask.Response(str(exc), 403, mimetype="text/plain")
    resolution = args.get("resolution", "1h")
    try:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution {resolution!r} is unknown; use one of "
                             f"{', '.join(RESOLUTIONS)}")
        start, end = local_range(args.get("start", ""), args.get("end", ""), tz)
    except ValueError as exc:
        return flask.Response(str(exc), 400, mimetype="text/plain")
    last = end - pd.Timedelta("1ns")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", meter)
    name = f"{safe}_{start.tz_convert(tz):%Y%m%d}_{last.tz_convert(tz):%Y%m%d}_{resolution}.csv"
    body = csv_chunks(rows(data, user, meter, start, end, resolution))
    return flask.Response(flask.stream_with_context(body), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


def register(server: flask.Flask) -> None:
    """Serve :data:`ROUTE` on ``server`` (behind the dashboard's login like every page)."""
    server.add_url_rule(ROUTE, "export_readings_csv", _readings_csv)
