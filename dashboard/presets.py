"""Date-range presets (today, last week, this year, …): pure calendar arithmetic in the site's
local dates, weeks starting on Monday. Pages show them beside their date pickers and keep the
chosen one in the URL (``?range=last-week``), so a bookmark always means "last week" of the
day it is opened."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from wattlens.dashboard.i18n import lazy_gettext

PRESETS = {
    "today": lazy_gettext("today"),
    "yesterday": lazy_gettext("yesterday"),
    "this-week": lazy_gettext("this week"),
    "last-week": lazy_gettext("last week"),
    "this-month": lazy_gettext("this month"),
    "last-month": lazy_gettext("last month"),
    "this-year": lazy_gettext("this year"),
    "last-12-months": lazy_gettext("last 12 months"),
}
"""Preset name (as written in the URL) → its label."""


def preset_dates(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last local dates (both included) of preset ``name`` seen on ``today``.
    Weeks start on Monday; "this …" ranges end today; "last 12 months" is the 12 months up
    to today (from the same day a year earlier + 1). Raises ValueError on an unknown name."""
    monday = today - dt.timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - dt.timedelta(days=1)
    ranges = {
        "today": (today, today),
        "yesterday": (today - dt.timedelta(days=1),) * 2,
        "this-week": (monday, today),
        "last-week": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        "this-month": (first_of_month, today),
        "last-month": (last_month_end.replace(day=1), last_month_end),
        "this-year": (today.replace(month=1, day=1), today),
        "last-12-months": ((pd.Timestamp(today) - pd.DateOffset(years=1)).date()
                           + dt.timedelta(days=1), today),
    }
    if name not in ranges:
        raise ValueError(f"unknown date range {name!r}; use one of {', '.join(PRESETS)}")
    return ranges[name]


def local_today(timezone: str, now: pd.Timestamp | None = None) -> dt.date:
    """Today's date in ``timezone`` (at ``now``, default the current time)."""
    moment = now if now is not None else pd.Timestamp.now(tz="UTC")
    return moment.tz_convert(timezone).date()


def preset_strings(name: str, timezone: str, now: pd.Timestamp | None = None
                   ) -> tuple[str, str]:
    """:func:`preset_dates` of today in ``timezone`` as date-picker text (``YYYY-MM-DD``)."""
    first, last = preset_dates(name, local_today(timezone, now))
    return first.isoformat(), last.isoformat()


def options() -> list[dict[str, str]]:
    """Dropdown options of every preset, labelled in the request's language."""
    return [{"label": str(label), "value": name} for name, label in PRESETS.items()]
