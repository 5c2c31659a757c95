"""Tariffs with dated versions: flat or time-of-use energy rates, demand charges, standing
charges, surcharges (per kWh, or a share of the bill such as VAT), and shipped presets.

A :class:`Tariff` holds :class:`TariffVersion` s, each valid from a local date until the next
one (or until the tariff's ``valid_until``). A version prices energy either at one
``energy_rate`` [currency/kWh] or by time-of-use ``bands``: each band names the seasons, day
types and local hours it covers and its rate. Demand is charged per kW of the month's peak
(mean power over one metering interval) or of a contracted capacity; standing charges are per
day and/or per month. :class:`Surcharge` s have their own dated rates: ``kwh`` ones
[currency/kWh] add to the subtotal, ``subtotal`` ones [fraction] are a share of it.

Presets (e.g. KEPCO's, ``analytics/tariff_presets/kepco/*.toml``) are registered by name in
:data:`TARIFF_PRESETS`; a catalogue entry ``preset = "<name>"`` starts from one and may add
newer versions and surcharge rates.

- :func:`energy_price` → the energy rate [currency/kWh] at each time; :func:`marginal_price`
  → that plus the ``kwh`` surcharges (what events and recommendations price with);
- :func:`bill_items` → per local calendar month, every component on its own line;
- :func:`bill` → the same per month in columns: kWh, peak kW, energy, demand, standing, each
  surcharge, subtotal, total (the one pricing function: KPIs, the dashboard and
  ``wattlens bill`` use it);
- :func:`period_cost` → cost of a span of readings, fixed charges in proportion to the share
  of each month covered.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from wattlens.core.base import Frozen, Registry, TimeZone
from wattlens.core.calendar import SiteCalendar, check_country
from wattlens.core.intervals import interval_hours

DayType = Literal["weekday", "saturday", "sunday", "holiday"]
DAY_TYPES: tuple[DayType, ...] = ("weekday", "saturday", "sunday", "holiday")
PRESET_DIR = Path(__file__).with_name("tariff_presets")
"""Shipped preset data files: ``<publisher>/*.toml``."""
BILL_COLUMNS = ["month", "kwh", "peak_kw", "demand_kw", "energy_cost", "demand_cost",
                "standing_cost"]
"""The leading columns of :func:`bill`; each surcharge, ``subtotal`` and ``total`` follow."""
ITEM_COLUMNS = ["month", "component", "name", "label", "quantity", "unit", "rate", "amount"]
"""Columns of :func:`bill_items`."""


class TariffError(ValueError):
    """A tariff cannot price the given times or readings; the message says what to add."""


class Season(Frozen):
    """A named set of calendar months, e.g. summer = [6, 7, 8]."""

    name: str = Field(min_length=1)
    months: list[int] = Field(min_length=1, description="months 1..12")

    @field_validator("months")
    @classmethod
    def _months(cls, value: list[int]) -> list[int]:
        bad = [m for m in value if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months {bad} are not 1..12")
        return value


def _parse_hours(text: str) -> tuple[int, int]:
    """'09:00-12:00' → (540, 720) minutes of the local day; '23:00-09:00' wraps midnight."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        minutes = []
        for part in (start, end):
            hh, mm = part.split(":")
            minutes.append(int(hh) * 60 + int(mm))
    except ValueError:
        raise ValueError(f"{text!r} is not an hour range; write e.g. '09:00-12:00'") from None
    if not all(0 <= m <= 24 * 60 for m in minutes) or minutes[0] == minutes[1]:
        raise ValueError(f"{text!r}: hours must be 00:00..24:00 and start != end")
    return minutes[0], minutes[1]


class Band(Frozen):
    """A time-of-use band: a rate [currency/kWh] applying on the listed seasons, day types and
    local hour ranges. Empty ``seasons`` means every season."""

    name: str = Field(min_length=1, description="e.g. 'peak', 'mid', 'light'")
    label: str = Field("", description="name on the bill, e.g. '최대부하'; default: name")
    rate: float = Field(ge=0, description="energy rate [currency/kWh]")
    seasons: list[str] = Field(default_factory=list, description="season names; empty = all")
    day_types: list[DayType] = Field(
        default_factory=lambda: list(DAY_TYPES), description="weekday, saturday, sunday, holiday"
    )
    hours: list[str] = Field(
        default_factory=lambda: ["00:00-24:00"], description="local ranges like '10:00-12:00'"
    )

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for text in value:
            _parse_hours(text)
        return value


class TariffVersion(Frozen):
    """One dated version of a tariff."""

    valid_from: dt.date = Field(description="first local date this version applies")
    energy_rate: float | None = Field(None, ge=0, description="flat rate [currency/kWh]")
    seasons: list[Season] = Field(default_factory=list, description="seasons used by bands")
    bands: list[Band] = Field(default_factory=list, description="time-of-use bands, first wins")
    demand_rate: float = Field(0.0, ge=0, description="demand charge [currency/kW per month]")
    demand_rate_by_season: dict[str, float] = Field(
        default_factory=dict, description="demand charge per season, overrides demand_rate"
    )
    demand_basis: Literal["monthly_peak", "contracted"] = Field(
        "monthly_peak", description="charge the month's metered peak or the contracted kW"
    )
    contracted_kw: float | None = Field(
        None, gt=0, description="contracted capacity [kW]; default: the tariff's contracted_kw"
    )
    standing_per_day: float = Field(0.0, ge=0, description="standing charge [currency/day]")
    standing_per_month: float = Field(0.0, ge=0, description="standing charge [currency/month]")

    @model_validator(mode="after")
    def _consistent(self) -> TariffVersion:
        if (self.energy_rate is None) == (not self.bands):
            raise ValueError(
                f"version from {self.valid_from}: give either energy_rate (flat) or bands "
                f"(time-of-use), exactly one of them"
            )
        names = {s.name for s in self.seasons}
        for band in self.bands:
            unknown = set(band.seasons) - names
            if unknown:
                raise ValueError(
                    f"band {band.name!r} names season(s) {sorted(unknown)} that are not defined "
                    f"in seasons {sorted(names)}"
                )
        months = [m for s in self.seasons for m in s.months]
        if len(months) != len(set(months)):
            raise ValueError("a month belongs to two seasons; give each month one season")
        return self

    def season_of(self, month: int) -> str | None:
        """The season name of a month, or None."""
        return next((s.name for s in self.seasons if month in s.months), None)


class DatedRate(Frozen):
    """A rate valid from a local date until the next one."""

    valid_from: dt.date = Field(description="first local date the rate applies")
    rate: float = Field(description="[currency/kWh] or [fraction], as the surcharge's basis")


class Surcharge(Frozen):
    """A charge beside the tariff's own, with its own dated rates: ``kwh`` [currency/kWh, may
    be negative, e.g. KEPCO's 기후환경요금 and 연료비조정액] adds to the subtotal; ``subtotal``
    [fraction, e.g. 0.1 for VAT] is a share of the subtotal (energy, demand, standing and the
    ``kwh`` surcharges)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="column name, e.g. 'vat'")
    label: str = Field("", description="name on the bill, e.g. '부가가치세'; default: name")
    basis: Literal["kwh", "subtotal"] = Field(
        description="kwh: rate per kWh; subtotal: rate is a share of the subtotal"
    )
    rates: list[DatedRate] = Field(min_length=1, description="dated rates")
    source: str = Field("", description="publisher, document and date of the rates")

    @model_validator(mode="after")
    def _dates(self) -> Surcharge:
        dates = [r.valid_from for r in self.rates]
        if len(set(dates)) != len(dates):
            raise ValueError(f"surcharge {self.name!r}: two rates share a valid_from date")
        if self.name in {*BILL_COLUMNS, "subtotal", "total"}:
            raise ValueError(f"surcharge name {self.name!r} is a bill column; pick another")
        return self

    def rate_on(self, local_dates: pd.DatetimeIndex, tariff: str) -> np.ndarray:
        """The rate in force on each local date (naive midnights); TariffError before the
        first."""
        rates = sorted(self.rates, key=lambda r: r.valid_from)
        idx = _dated_index([r.valid_from for r in rates], local_dates)
        if (idx < 0).any():
            raise TariffError(
                f"tariff {tariff!r}: surcharge {self.name!r} has no rate on "
                f"{local_dates[idx < 0][0].date()} (first from {rates[0].valid_from}); add an "
                f"earlier rate under [[tariffs.catalog.surcharges]]"
            )
        return np.array([r.rate for r in rates])[idx]


def _dated_index(starts: list[dt.date], local_dates: pd.DatetimeIndex) -> np.ndarray:
    """Index into sorted ``starts`` of the entry in force on each local date; -1 before."""
    first = np.array([np.datetime64(d, "D") for d in starts], dtype="datetime64[D]")
    days = local_dates.tz_localize(None).to_numpy().astype("datetime64[D]")
    return np.searchsorted(first, days, side="right") - 1


class Tariff(Frozen):
    """A named tariff with dated versions. ``source`` says where the numbers come from.

    ``preset = "<name>"`` (a :data:`TARIFF_PRESETS` name) starts from that preset: the entry's
    own ``versions`` are added to the preset's (one on the same date replaces it), its
    ``surcharges`` add rates to the preset's surcharge of that name (or a new surcharge), and
    every other key given replaces the preset's.
    """

    id: str = Field(min_length=1)
    preset: str | None = Field(None, description="the shipped preset this tariff starts from")
    name: str = ""
    commodity: Literal["electricity", "gas", "heat", "water"] = "electricity"
    currency: str = Field("GBP", description="ISO currency code")
    source: str = Field("", description="publisher, document and date of the numbers")
    timezone: TimeZone | None = Field(
        None, description="local time of the tariff's hours when no meter says (KEPCO: "
        "Asia/Seoul)"
    )
    holidays_country: str | None = Field(
        None, description="ISO country (or subdivision, e.g. GB-ENG) whose public holidays "
        "are day type 'holiday'"
    )
    contracted_kw: float | None = Field(
        None, gt=0, description="contracted capacity [kW] for versions billing demand on it"
    )
    valid_until: dt.date | None = Field(
        None, description="last local date the newest version is known to apply; later times "
        "need a newer version"
    )
    versions: list[TariffVersion] = Field(
        min_length=1, description="dated versions (with a preset: added to the preset's)"
    )
    surcharges: list[Surcharge] = Field(
        default_factory=list, description="charges beside the tariff's own (VAT, levies)"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        base = TARIFF_PRESETS[data["preset"]].model_dump(exclude={"id", "preset"})
        own = {k: v for k, v in data.items() if k not in ("versions", "surcharges")}
        versions = _merge_dated(base["versions"], data.get("versions", []), "valid_from")
        surcharges = list(base["surcharges"])
        for extra in data.get("surcharges", []):
            name = extra.get("name") if isinstance(extra, dict) else None
            at = next((i for i, s in enumerate(surcharges) if s["name"] == name), None)
            if at is None:
                surcharges.append(extra)
            else:
                rates = _merge_dated(surcharges[at]["rates"], extra.get("rates", []),
                                     "valid_from")
                surcharges[at] = {**surcharges[at], **extra, "rates": rates}
        newest = max(dt.date.fromisoformat(str(v["valid_from"])) for v in versions)
        if base["valid_until"] is not None and newest > base["valid_until"]:
            base["valid_until"] = None  # a newer version than the preset knows
        return {**base, **own, "versions": versions, "surcharges": surcharges}

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return check_country(value)

    @model_validator(mode="after")
    def _sorted(self) -> Tariff:
        dates = [v.valid_from for v in self.versions]
        if len(set(dates)) != len(dates):
            raise ValueError(f"tariff {self.id!r}: two versions share a valid_from date")
        if self.valid_until is not None and self.valid_until < max(dates):
            raise ValueError(
                f"tariff {self.id!r}: valid_until {self.valid_until} is before the newest "
                f"version ({max(dates)}); remove valid_until or correct it"
            )
        names = [s.name for s in self.surcharges]
        if len(set(names)) != len(names):
            raise ValueError(f"tariff {self.id!r}: two surcharges share a name ({names})")
        return self

    def version_index(self, local_dates: pd.DatetimeIndex) -> np.ndarray:
        """Index into :meth:`ordered` of the version valid on each local date; -1 if none."""
        return _dated_index([v.valid_from for v in self.ordered()], local_dates)

    def ordered(self) -> list[TariffVersion]:
        """Versions sorted by ``valid_from``."""
        return sorted(self.versions, key=lambda v: v.valid_from)

    def check_covers(self, local_dates: pd.DatetimeIndex) -> np.ndarray:
        """:meth:`version_index` of local dates (naive or local midnights); TariffError naming
        the first date before the first version or after ``valid_until``."""
        idx = self.version_index(local_dates)
        if (idx < 0).any():
            first = local_dates[idx < 0][0]
            raise TariffError(
                f"tariff {self.id!r}: no version valid on {first.date()} (first version starts "
                f"{self.ordered()[0].valid_from}); add a version with an earlier valid_from"
            )
        if self.valid_until is not None:
            late = local_dates.tz_localize(None) > pd.Timestamp(self.valid_until)
            if late.any():
                raise TariffError(
                    f"tariff {self.id!r}: known only until {self.valid_until} (its source has "
                    f"no later table), asked for {local_dates[late][0].date()}; add a version "
                    f"valid from {self.valid_until + dt.timedelta(days=1)} under "
                    f"[[tariffs.catalog.versions]]"
                )
        return idx


def _merge_dated(base: list[dict], extra: list[dict], key: str) -> list[dict]:
    """``base`` entries with ``extra`` added; an extra entry on the same ``key`` date replaces
    the base one."""
    def day(entry: dict) -> dt.date:
        return dt.date.fromisoformat(str(entry[key]))

    replaced = {day(e) for e in extra if isinstance(e, dict) and key in e}
    return [e for e in base if day(e) not in replaced] + list(extra)


TARIFF_PRESETS: Registry[Tariff] = Registry("tariff preset")
"""Shipped tariffs by name, loaded from :data:`PRESET_DIR` (``wattlens bill --tariff``,
``preset = "<name>"`` in ``[[tariffs.catalog]]``)."""


class TariffsSection(Frozen):
    """The ``[tariffs]`` config section: the catalogue and which tariff prices which meter."""

    catalog: list[Tariff] = Field(default_factory=list, description="[[tariffs.catalog]]")
    meters: dict[str, str] = Field(
        default_factory=dict, description="meter id → tariff id; unlisted meters use default"
    )
    default: dict[str, str] = Field(
        default_factory=dict, description="commodity → tariff id used when a meter is unlisted"
    )

    @model_validator(mode="after")
    def _known_ids(self) -> TariffsSection:
        ids = {t.id for t in self.catalog}
        for where, mapping in (("meters", self.meters), ("default", self.default)):
            unknown = sorted(set(mapping.values()) - ids)
            if unknown:
                raise ValueError(
                    f"tariffs.{where} names tariff(s) {unknown} that are not in "
                    f"tariffs.catalog {sorted(ids)}; add them or fix the id"
                )
        return self

    def for_meter(self, meter: str, commodity: str) -> Tariff | None:
        """The tariff pricing ``meter`` (of ``commodity``), or None."""
        wanted = self.meters.get(meter) or self.default.get(commodity)
        return next((t for t in self.catalog if t.id == wanted), None)


def _in_hours(minute: np.ndarray, ranges: list[str]) -> np.ndarray:
    hit = np.zeros(len(minute), dtype=bool)
    for text in ranges:
        start, end = _parse_hours(text)
        hit |= (minute >= start) & (minute < end) if start < end else (
            (minute >= start) | (minute < end)
        )
    return hit


def _price_bands(tariff: Tariff, times: pd.DatetimeIndex, tz: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Energy price [currency/kWh] and band name ('energy' for a flat rate) at each UTC time,
    in local time ``tz``."""
    times = pd.DatetimeIndex(times)
    if times.tz is None:
        raise TariffError("times: expected tz-aware (UTC) times; localise them first")
    local = times.tz_convert(tz)
    idx = tariff.check_covers(local.normalize())
    price = np.full(len(times), np.nan)
    name = np.full(len(times), "energy", dtype=object)
    minute = np.asarray(local.hour * 60 + local.minute)
    kinds = SiteCalendar(timezone=tz, country=tariff.holidays_country).day_types(times)
    months = np.asarray(local.month)
    for i, version in enumerate(tariff.ordered()):
        rows = idx == i
        if not rows.any():
            continue
        if version.energy_rate is not None:
            price[rows] = version.energy_rate
            continue
        season = np.array([version.season_of(int(m)) for m in range(13)], dtype=object)[months]
        for band in version.bands:
            hit = rows & np.isnan(price) & np.isin(kinds, band.day_types)
            hit &= _in_hours(minute, band.hours)
            if band.seasons:
                hit &= np.isin(season, band.seasons)
            price[hit] = band.rate
            name[hit] = band.name
        missing = rows & np.isnan(price)
        if missing.any():
            at = local[missing][0]
            raise TariffError(
                f"tariff {tariff.id!r} version {version.valid_from}: no band covers {at} "
                f"({kinds[missing][0]}, season {season[missing][0]}); add a band for it"
            )
    return price, name


def energy_price(tariff: Tariff, times: pd.DatetimeIndex, tz: str) -> pd.Series:
    """Energy price [currency/kWh] at each time (interval start, UTC) in local time ``tz``.
    Raises :class:`TariffError` for times no version covers or no band covers."""
    price, _ = _price_bands(tariff, times, tz)
    return pd.Series(price, index=pd.DatetimeIndex(times), name="price")


def marginal_price(tariff: Tariff, times: pd.DatetimeIndex, tz: str) -> pd.Series:
    """What one more kWh at each time (interval start, UTC, local time ``tz``) adds to the
    subtotal [currency/kWh]: the energy rate (:func:`energy_price`) plus every ``kwh``
    surcharge in force that local day (KEPCO's 기후환경요금 and 연료비조정액). Demand and
    standing charges are not marginal; ``subtotal`` shares (VAT, funds) are left out, as
    prices are quoted before them. The price of an event's excess and of a recommendation's
    saving. Raises :class:`TariffError` as :func:`energy_price`, or for a day before a
    surcharge's first rate."""
    price = energy_price(tariff, times, tz)
    days = pd.DatetimeIndex(times).tz_convert(tz).normalize()
    for surcharge in tariff.surcharges:
        if surcharge.basis == "kwh":
            price = price + surcharge.rate_on(days, tariff.id)
    return price


def _lines(keys: dict[str, Any], quantity: np.ndarray, rate: np.ndarray, **fixed: Any
           ) -> pd.DataFrame:
    """Bill lines: ``quantity`` summed per (month and other ``keys``, rate); amount =
    quantity × rate."""
    frame = pd.DataFrame({**keys, "quantity": quantity, "rate": rate})
    out = frame.groupby([*keys, "rate"], sort=True, dropna=False)["quantity"].sum().reset_index()
    return out.assign(amount=out["quantity"] * out["rate"], **fixed)


def bill_items(tariff: Tariff, readings: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Every component of one meter's monthly bills, one line each: columns ``month`` (local
    month start), ``component`` (energy, demand, standing, surcharge), ``name``, ``label``,
    ``quantity`` and its ``unit`` (kWh, kW, day, month, or the currency for a share of the
    subtotal), ``rate`` and ``amount`` [currency]. ``readings``: time, meter, value [kWh per
    interval]. Energy and ``kwh`` surcharges get a line per rate in force in the month; demand
    and standing charges and ``subtotal`` surcharges use the version and rate in force on the
    month's first day (or the tariff's first version). Amounts are not rounded.
    """
    if readings.empty:
        raise TariffError("readings: no rows to bill; give at least one energy reading")
    if readings["meter"].nunique() > 1:
        raise TariffError(
            f"readings: {readings['meter'].nunique()} meters given; bill one meter at a time"
        )
    times = pd.DatetimeIndex(readings["time"])
    values = readings["value"].to_numpy(dtype=float)
    price, band = _price_bands(tariff, times, tz)
    local = times.tz_convert(tz)
    month = local.tz_localize(None).to_period("M")
    labels = {b.name: b.label or b.name for v in tariff.versions for b in v.bands}
    energy = _lines({"month": month, "name": band}, values, price, component="energy",
                    unit="kWh")
    lines = [energy.assign(label=energy["name"].map(lambda n: labels.get(n, n)))]
    days = local.tz_localize(None).normalize()
    for s in tariff.surcharges:
        if s.basis == "kwh":
            lines.append(_lines({"month": month}, values, s.rate_on(days, tariff.id),
                                component="surcharge", name=s.name, label=s.label or s.name,
                                unit="kWh"))
    peak = pd.Series(values / interval_hours(times)).groupby(np.asarray(month)).max()
    versions = tariff.ordered()
    fixed = []
    for period, peak_kw in peak.items():
        start = pd.DatetimeIndex([period.to_timestamp()])
        version = versions[max(int(tariff.version_index(start)[0]), 0)]
        rate = version.demand_rate_by_season.get(version.season_of(period.month) or "",
                                                 version.demand_rate)
        if rate > 0:
            kw = _demand_kw(tariff, version, float(peak_kw))
            fixed.append((period, "demand", "demand", kw, "kW", rate))
        if version.standing_per_month:
            fixed.append((period, "standing", "per_month", 1.0, "month",
                          version.standing_per_month))
        if version.standing_per_day:
            fixed.append((period, "standing", "per_day", float(period.days_in_month), "day",
                          version.standing_per_day))
    if fixed:
        frame = pd.DataFrame(fixed, columns=["month", "component", "name", "quantity", "unit",
                                             "rate"])
        lines.append(frame.assign(label=frame["name"], amount=frame["quantity"] * frame["rate"]))
    items = pd.concat(lines, ignore_index=True)
    subtotal = items.groupby("month")["amount"].sum()
    starts = pd.DatetimeIndex(subtotal.index.to_timestamp())
    for s in tariff.surcharges:
        if s.basis == "subtotal":
            rates = s.rate_on(starts, tariff.id)
            items = pd.concat([items, pd.DataFrame({
                "month": subtotal.index, "component": "surcharge", "name": s.name,
                "label": s.label or s.name, "quantity": subtotal.to_numpy(),
                "unit": tariff.currency, "rate": rates, "amount": subtotal.to_numpy() * rates,
            })], ignore_index=True)
    order = {"energy": 0, "demand": 1, "standing": 2, "surcharge": 3}
    items = items.assign(_order=items["component"].map(order), _at=np.arange(len(items)))
    items = items.sort_values(["month", "_order", "_at"]).drop(columns=["_order", "_at"])
    items["month"] = items["month"].dt.to_timestamp().dt.tz_localize(tz)
    return items[ITEM_COLUMNS].reset_index(drop=True)


def _demand_kw(tariff: Tariff, version: TariffVersion, peak_kw: float) -> float:
    """The kW a month's demand charge is billed on."""
    if version.demand_basis == "monthly_peak":
        return peak_kw
    kw = version.contracted_kw or tariff.contracted_kw
    if kw is None:
        raise TariffError(
            f"tariff {tariff.id!r} bills demand on the contracted capacity; give it "
            f"(contracted_kw = <kW> in its [[tariffs.catalog]] entry, or --contract-kw)"
        )
    return kw


def bill(tariff: Tariff, readings: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Monthly bill of one meter's energy readings [kWh per interval] (time, meter, value) in
    local months of ``tz``: columns month (local month start), kwh, peak_kw (highest interval
    mean power), demand_kw (billed; 0 without a demand charge), energy_cost, demand_cost,
    standing_cost, the ``kwh`` surcharges (by name), subtotal, the ``subtotal`` surcharges and
    total [currency]: the sums of :func:`bill_items`."""
    items = bill_items(tariff, readings, tz)
    times = pd.DatetimeIndex(readings["time"])
    values = readings["value"].to_numpy(dtype=float)
    month = times.tz_convert(tz).tz_localize(None).to_period("M").to_timestamp().tz_localize(tz)
    out = pd.DataFrame({"kwh": values, "peak_kw": values / interval_hours(times)}).groupby(
        np.asarray(month)).agg(kwh=("kwh", "sum"), peak_kw=("peak_kw", "max"))
    out.index = pd.DatetimeIndex(out.index, name="month")
    amount = items.pivot_table(index="month", columns=["component", "name"], values="amount",
                               aggfunc="sum").reindex(out.index).fillna(0.0)
    demand = items[items["component"] == "demand"].set_index("month")["quantity"]
    out["demand_kw"] = demand.reindex(out.index).fillna(0.0)
    for component in ("energy", "demand", "standing"):
        has = component in amount.columns.get_level_values(0)
        out[f"{component}_cost"] = amount[component].sum(axis=1) if has else 0.0
    by_name = {s.name: amount["surcharge"][s.name] for s in tariff.surcharges}
    usage = [s.name for s in tariff.surcharges if s.basis == "kwh"]
    shares = [s.name for s in tariff.surcharges if s.basis == "subtotal"]
    for name in usage:
        out[name] = by_name[name]
    out["subtotal"] = out[["energy_cost", "demand_cost", "standing_cost", *usage]].sum(axis=1)
    for name in shares:
        out[name] = by_name[name]
    out["total"] = out["subtotal"] + out[shares].sum(axis=1)
    return out.reset_index()[[*BILL_COLUMNS, *usage, "subtotal", *shares, "total"]]


def period_cost(tariff: Tariff, readings: pd.DataFrame, tz: str) -> float:
    """Cost [currency] of the span one meter's readings cover: usage charges in full, each
    month's demand and standing charges in proportion to the share of the month covered (a
    day's KPI carries a day's share of the month's fixed charges, not all of them); surcharges
    that are a share of the subtotal follow the prorated subtotal."""
    monthly = bill(tariff, readings, tz)
    times = pd.DatetimeIndex(readings["time"])
    months = times.tz_convert(tz).tz_localize(None).to_period("M")
    covered = pd.Series(interval_hours(times) / 24, index=months).groupby(level=0).sum()
    share = (covered / covered.index.days_in_month).clip(upper=1.0).to_numpy()
    fixed = (monthly["demand_cost"] + monthly["standing_cost"]).to_numpy()
    subtotal = monthly["subtotal"].to_numpy()
    prorated = subtotal - fixed * (1.0 - share)
    factor = np.divide(monthly["total"].to_numpy(), subtotal, out=np.ones(len(subtotal)),
                       where=subtotal != 0)
    return float((prorated * factor).sum())


def _preset_tariffs(common: dict[str, Any], family: dict[str, Any]) -> dict[str, dict]:
    """Tariff dicts of one preset family file (options × dated energy tables), completed by
    its publisher's ``common.toml`` (seasons, band hours, surcharges)."""
    seasons = list(common["seasons"])
    out = {}
    for key, option in family["options"].items():
        versions = []
        for valid_from, table in option["energy"].items():
            bands = []
            for band, spec in common["bands"].items():  # file order: the first match wins
                if band not in table:
                    continue
                for season, rate in zip(seasons, table[band], strict=True):
                    bands.append({"name": band, "label": spec["label"], "rate": rate,
                                  "seasons": [season],
                                  "hours": spec.get("hours", {}).get(season, ["00:00-24:00"])})
            versions.append({
                "valid_from": valid_from, "bands": bands, "demand_rate": option["demand_rate"],
                "demand_basis": family["demand_basis"],
                "seasons": [{"name": n, "months": m} for n, m in common["seasons"].items()],
            })
        name = f"{family['prefix']}-{key}"
        out[name] = {
            "id": name, "name": f"{family['name']} {option['label']}",
            "source": f"{family['source']} Seasons and hours: {common['source']}",
            "valid_until": option.get("valid_until"), "versions": versions,
            "surcharges": common["surcharges"],
            **{k: common[k] for k in ("commodity", "currency", "timezone", "holidays_country")},
        }
    return out


def _load_presets() -> None:
    """Register every preset under :data:`PRESET_DIR`."""
    for publisher in sorted(p for p in PRESET_DIR.iterdir() if p.is_dir()):
        common = tomllib.loads((publisher / "common.toml").read_text(encoding="utf-8"))
        for path in sorted(publisher.glob("*.toml")):
            if path.name == "common.toml":
                continue
            family = tomllib.loads(path.read_text(encoding="utf-8"))
            for name, data in _preset_tariffs(common, family).items():
                TARIFF_PRESETS.register(name)(Tariff.model_validate(data))


_load_presets()
