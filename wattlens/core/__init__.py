"""The bottom layer: what every part of wattlens asks about a site and its meters.

- :mod:`~wattlens.core.base` — the frozen settings base, timezone and duration types, and the
  one plug-in :class:`~wattlens.core.base.Registry`;
- :mod:`~wattlens.core.warnings` — :class:`~wattlens.core.warnings.DataWarning`, data-quality
  problems returned as data;
- :mod:`~wattlens.core.calendar` — public holidays, closures, bridge days, working hours and
  day types on the site-local calendar (:class:`~wattlens.core.calendar.SiteCalendar`);
- :mod:`~wattlens.core.intervals` — the one reading-interval inference;
- :mod:`~wattlens.core.meters` — :class:`~wattlens.core.meters.MeterInfo`, one meter's context.
- :mod:`~wattlens.core.net` — :func:`~wattlens.core.net.free_port`, a free loopback port.

Nothing here imports another wattlens package; everything else may import this.
"""
