"""``greenbutton`` source: utility interval data in Green Button / ESPI XML files.

An ESPI file is an Atom feed whose entries hold ``espi:`` objects (namespace
``http://naesb.org/espi``) tied together by their Atom links: a UsagePoint (ServiceCategory
``kind``) lists its MeterReadings (the UsagePoint's ``related`` link is the MeterReadings'
``up`` collection); a MeterReading links (``rel="related"``) to exactly one ReadingType (``uom``,
``powerOfTenMultiplier``, ``accumulationBehaviour``, ``flowDirection``, ``commodity``,
``intervalLength``) and to its IntervalBlock collection (the blocks' ``up`` link). IntervalBlocks
hold IntervalReadings (``timePeriod/start`` [s since the epoch, UTC], ``duration`` [s],
``value``, ``ReadingQuality``). LocalTimeParameters only say how the utility displays local
time; the times themselves are UTC.

One series per (UsagePoint, MeterReading, ReadingType), found through those links whatever their
order; ids are compared as whole paths, so two UsagePoints may both number their MeterReading 1.

Config::

    [[sources]]
    name = "utility"
    type = "greenbutton"
    root = "data/greenbutton"
    glob = "*.xml"
    meter = "gb-{usage_point}-{meter_reading}"  # also {flow} and {commodity}
    kwh_per_unit = 29.3071         # only for gas volumes (m3); therms default to 29.3071 kWh
    unit = "Wh"                    # only for files without a ReadingType (Connect API answers)
    multiplier = 0                 #   with their powerOfTenMultiplier

A file that is not ESPI (wrong namespace, not XML) is rejected whole with a reason; a series the
source cannot read exactly (unknown unit, accumulation or flow code, no ReadingType) is rejected
whole with the code named; a bad IntervalReading is rejected alone and the rest is kept.
Checkpoint: per file, its size and mtime; a changed file is read again (readings overwrite by
time).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from lxml import etree
from pydantic import Field, field_validator

from wattlens.core.base import Frozen
from wattlens.core.intervals import infer_interval
from wattlens.ingest.base import SOURCES, Batch, IngestContext, Rejected, SourceSection
from wattlens.ingest.normalise import (
    Conversion,
    collapse_duplicates,
    flag_suspicious,
    register_to_interval,
    to_canonical,
    unit_conversion,
)
from wattlens.store.schema import QUALITY, empty_readings, validate_readings

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
NS = {"a": ATOM, "espi": ESPI}

UOM: dict[int, str] = {72: "Wh", 38: "W", 42: "m3", 169: "therm"}
"""ESPI ``uom`` codes read (UnitSymbolKind): Wh, W, m3, therm."""

CUMULATIVE: dict[int, str] = {
    1: "bulkQuantity", 2: "continuousCumulative", 3: "cumulative", 9: "summation"}
"""``accumulationBehaviour`` codes of a register: differenced over the whole series."""
PER_INTERVAL: dict[int, str] = {0: "none", 4: "deltaData", 6: "indicating", 12: "instantaneous"}
"""``accumulationBehaviour`` codes whose values are stored as they are (0: not given)."""

FLOW: dict[int, str] = {0: "delivered", 1: "delivered", 19: "received", 4: "net", 20: "total"}
"""``flowDirection`` → ``{flow}``: 1 forward (to the customer; 0 = not given), 19 reverse
(sent to the grid, e.g. solar), 4 net (forward − reverse), 20 total (forward + reverse)."""

COMMODITY: dict[int, str] = {
    1: "electricity", 2: "electricity", 7: "gas", 8: "gas", 9: "water", 10: "heat",
    11: "water", 12: "heat", 13: "heat", 14: "water"}
"""ReadingType ``commodity`` (CommodityKind) → wattlens commodity: electricity (secondary or
primary metered), natural gas, propane, potable/waste/non-potable water, steam, heating and
cooling fluid. 0 (not given) falls back to the UsagePoint's ServiceCategory."""
SERVICE: dict[int, str] = {0: "electricity", 1: "gas", 2: "water", 4: "heat"}
"""UsagePoint ServiceCategory ``kind`` (ServiceKind) → wattlens commodity."""
UNIT_COMMODITY: dict[str, str] = {"Wh": "electricity", "W": "electricity", "therm": "gas",
                                  "m3": "gas"}
"""The commodity assumed when the file names none (ESPI's default service is electricity)."""

READING_QUALITY: dict[int, str] = {
    0: "ok", 14: "ok", 17: "ok", 18: "ok", 19: "ok",
    7: "estimated", 8: "estimated", 9: "estimated", 11: "estimated", 12: "estimated",
    13: "estimated", 15: "estimated", 10: "suspect", 16: "suspect"}
"""IntervalReading ``ReadingQuality/quality`` (QualityOfReading) → quality flag: valid, raw,
validated, verified, revenue-quality are ``ok``; manually edited, estimated (reference day or
interpolation), derived, projected, mixed, weather-normalised are ``estimated``; questionable and
other are ``suspect``. Unknown codes are ``suspect``; the worst of several qualities counts."""

TEMPLATE_FIELDS = ("usage_point", "meter_reading", "flow", "commodity")
"""Placeholders a ``meter`` template may use."""

Reject = Callable[[str, str], Rejected]
"""Builds a :class:`Rejected` of one document from its raw record and the reason."""


class ReadingType(NamedTuple):
    """What an ESPI ReadingType says about its readings' values (None: not in the file)."""

    uom: int | None
    """Unit code (UnitSymbolKind), see :data:`UOM`."""
    multiplier: int
    """``powerOfTenMultiplier``: value x 10^multiplier is in the unit."""
    accumulation: int
    """``accumulationBehaviour``, see :data:`CUMULATIVE` and :data:`PER_INTERVAL`."""
    flow: int
    """``flowDirection``, see :data:`FLOW`."""
    commodity: int
    """``commodity`` (CommodityKind), see :data:`COMMODITY`; 0 when not given."""
    interval_length: int
    """``intervalLength`` [s]; 0 when not given."""


@dataclass
class Series:
    """One (UsagePoint, MeterReading, ReadingType) of a file and its IntervalBlocks."""

    key: str
    """Path of the MeterReading (or of the blocks' collection when the file has none)."""
    usage_point: str
    meter_reading: str
    reading_type: ReadingType | None
    service_kind: int | None
    """The UsagePoint's ServiceCategory kind, None when the file has no UsagePoint for it."""
    problem: str = ""
    """Why the series cannot be read from its links alone ("" when it can)."""
    blocks: list[Any] = field(default_factory=list)


class Spec(NamedTuple):
    """How one series' values become readings, resolved from its ReadingType."""

    conversion: Conversion
    multiplier: int
    cumulative: bool
    step: pd.Timedelta | None
    """The ReadingType's ``intervalLength`` (None when not given)."""
    meter: str


@SOURCES.register("greenbutton")
class GreenButtonSource:
    """Reads Green Button (ESPI) XML files matching a glob under ``root``."""

    class Options(Frozen):
        root: Path = Field(Path("."), description="folder the glob is relative to")
        glob: str = Field("*.xml", description="file pattern")
        meter: str = Field(
            "gb-{usage_point}-{meter_reading}",
            description="meter id; {usage_point}, {meter_reading}, {flow} (delivered, received, "
                        "net, total) and {commodity} allowed; two series never share one id")
        kwh_per_unit: float | None = Field(None, gt=0, description="gas m3/therm → kWh")
        unit: Literal["Wh", "W", "m3", "therm"] | None = Field(
            None, description="unit of series whose ReadingType (or its uom) is not in the "
                              "file (Green Button Connect API answers)")
        multiplier: int = Field(
            0, description="powerOfTenMultiplier of series whose ReadingType is not in the file")

        @field_validator("meter")
        @classmethod
        def _known_placeholders(cls, value: str) -> str:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            unknown = sorted(names - set(TEMPLATE_FIELDS))
            if unknown:
                raise ValueError(f"meter template {value!r} uses {unknown}; the placeholders are "
                                 f"{['{' + n + '}' for n in TEMPLATE_FIELDS]}")
            return value

    def __init__(self, name: str, options: Options) -> None:
        self.name = name
        self.options = options

    @classmethod
    def from_config(cls, section: SourceSection, context: IngestContext) -> GreenButtonSource:
        """Build from a validated ``[[sources]]`` section."""
        assert isinstance(section.options, cls.Options)
        return cls(section.name, section.options)

    def close(self) -> None:
        """Nothing to release."""

    def fetch(
        self,
        checkpoint: dict[str, Any] | None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Iterator[Batch]:
        """One batch per new or changed file."""
        root = self.options.root
        if not root.is_dir():
            raise ValueError(f"source {self.name!r}: root {str(root)!r} is not a folder; fix it")
        files = {k: dict(v) for k, v in (checkpoint or {}).get("files", {}).items()}
        for path in sorted(p for p in root.glob(self.options.glob) if p.is_file()):
            key = path.relative_to(root).as_posix()
            stat = path.stat()
            seen = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            if files.get(key) == seen:
                continue
            readings, rejected = self.parse(path.read_bytes(), key)
            if start is not None:
                readings = readings[readings["time"] >= start]
            if end is not None:
                readings = readings[readings["time"] < end]
            files[key] = seen
            yield Batch(readings.reset_index(drop=True), rejected,
                        {"files": {k: dict(v) for k, v in files.items()}})

    def parse(self, payload: bytes, label: str) -> tuple[pd.DataFrame, list[Rejected]]:
        """Readings and rejected records of one ESPI document: the XML tree (data) → its series
        found through the Atom links, each in canonical units (model) → validated readings
        (result)."""

        def reject(record: str, reason: str) -> Rejected:
            return Rejected.of(self.name, f"{label}: {record}", reason)

        tree = _document(payload, reject)
        if isinstance(tree, Rejected):
            return empty_readings(), [tree]
        rejected: list[Rejected] = []
        specs: dict[str, tuple[Series, Spec]] = {}
        for series in _series(tree):
            spec = self._spec(series)
            if isinstance(spec, str):
                rejected.append(reject(f"series {series.key}", spec))
            else:
                specs[series.key] = (series, spec)
        rejected += [reject(f"series {key}", why) for key, why in self._merged(specs)]
        parts: list[pd.DataFrame] = []
        for series, spec in specs.values():
            part, problems = _series_readings(series, spec, reject)
            parts.append(part)
            rejected += problems
        return self._readings(parts, label), rejected

    def _spec(self, series: Series) -> Spec | str:
        """How ``series`` is read, or why it is refused (the code named, the fix given)."""
        if series.problem:
            return series.problem
        rtype = series.reading_type
        options = self.options
        where = f"MeterReading {series.meter_reading} of UsagePoint {series.usage_point}"
        if rtype is None:
            if options.unit is None:
                return (f"{where} has IntervalBlocks but its ReadingType is not in the file (a "
                        f"Green Button Connect API answer carries them separately); set the "
                        f"source options unit ('Wh', 'W', 'm3' or 'therm') and multiplier (the "
                        f"ReadingType's powerOfTenMultiplier) if you know them")
            rtype = ReadingType(None, options.multiplier, 0, 0, 0, 0)
        if rtype.uom is None and options.unit is None:
            return (f"the ReadingType of {where} has no uom; the file does not say the unit: "
                    f"set the source option unit ('Wh', 'W', 'm3' or 'therm') if you know it")
        unit = UOM.get(rtype.uom) if rtype.uom is not None else options.unit
        if unit is None:
            return (f"the ReadingType of {where} has uom {rtype.uom}, which wattlens does not "
                    f"read; it reads {UOM} (Wh, W, m3, therm)")
        if rtype.accumulation not in CUMULATIVE and rtype.accumulation not in PER_INTERVAL:
            return (f"the ReadingType of {where} has accumulationBehaviour {rtype.accumulation}, "
                    f"which wattlens does not read; it reads cumulative {CUMULATIVE} and "
                    f"per-interval {PER_INTERVAL} values")
        if rtype.flow not in FLOW:
            return (f"the ReadingType of {where} has flowDirection {rtype.flow}, which wattlens "
                    f"does not read; it reads {FLOW}")
        commodity = _commodity(rtype, series.service_kind, unit)
        if commodity not in ("electricity", "gas", "heat", "water"):
            return f"{where}: {commodity}"
        try:
            conversion = unit_conversion(
                unit, options.kwh_per_unit if commodity == "gas" else None, commodity)
        except ValueError as exc:
            hint = (" (a water meter's file says so with ServiceCategory kind 2 or ReadingType "
                    "commodity 9)" if unit == "m3" else "")
            return f"{where} ({commodity}): {exc}{hint}"
        if commodity == "water" and conversion.quantity != "volume":
            return f"{where} is a water series in {unit}; wattlens reads water volumes in m3"
        cumulative = rtype.accumulation in CUMULATIVE
        if cumulative and conversion.quantity not in ("energy", "volume"):
            return (f"the ReadingType of {where} says its {unit} values are cumulative "
                    f"(accumulationBehaviour {rtype.accumulation}); only energy and volume "
                    f"registers can be differenced")
        meter = options.meter.format(usage_point=series.usage_point,
                                     meter_reading=series.meter_reading,
                                     flow=FLOW[rtype.flow], commodity=commodity)
        step = pd.Timedelta(seconds=rtype.interval_length) if rtype.interval_length else None
        return Spec(conversion, rtype.multiplier, cumulative, step, meter)

    def _merged(self, specs: dict[str, tuple[Series, Spec]]) -> list[tuple[str, str]]:
        """Series whose meter template gives them the same (meter, quantity): all are refused
        (and dropped from ``specs``), never merged into one."""
        by_meter: dict[tuple[str, str], list[str]] = {}
        for key, (_, spec) in specs.items():
            by_meter.setdefault((spec.meter, spec.conversion.quantity), []).append(key)
        refused = []
        for (meter, quantity), keys in by_meter.items():
            if len(keys) < 2:
                continue
            names = [f"MeterReading {specs[k][0].meter_reading} of UsagePoint "
                     f"{specs[k][0].usage_point}" for k in keys]
            for key in keys:
                refused.append((key, f"meter template {self.options.meter!r} gives {len(keys)} "
                                     f"series ({', '.join(names)}) the same meter {meter!r} "
                                     f"({quantity}); add {{meter_reading}} or {{flow}} to the "
                                     f"template so each keeps its own id"))
        for key, _ in refused:
            specs.pop(key)
        return refused

    def _readings(self, parts: list[pd.DataFrame], label: str) -> pd.DataFrame:
        """The series' readings as one validated frame (duplicates collapsed, spikes flagged)."""
        if not parts:
            return empty_readings()
        readings = flag_suspicious(collapse_duplicates(pd.concat(parts, ignore_index=True)))
        return validate_readings(readings, name=f"{self.name}:{label}")


def _document(payload: bytes, reject: Reject) -> Any:
    """The XML tree of an ESPI document, or the :class:`Rejected` saying why the whole document
    is refused (not XML, or no IntervalBlock in the ESPI namespace)."""
    try:
        tree = etree.fromstring(payload, parser=etree.XMLParser(resolve_entities=False,
                                                                no_network=True))
    except etree.XMLSyntaxError as exc:
        return reject(payload[:200].decode(errors="replace"),
                      f"not well-formed XML ({exc}); re-download it")
    if tree.find(".//espi:IntervalBlock", NS) is not None or _is_block(tree):
        return tree
    foreign = {etree.QName(e).namespace for e in tree.iter()
               if isinstance(e.tag, str) and etree.QName(e).localname == "IntervalBlock"}
    why = (f"IntervalBlock elements are in namespace {sorted(map(str, foreign))}, not "
           f"{ESPI!r}; fix the xmlns declaration (Green Button files use xmlns:espi="
           f"\"{ESPI}\")" if foreign else
           f"no espi:IntervalBlock in the document (namespace {ESPI!r}); is it a Green "
           f"Button usage file?")
    return reject(f"<{etree.QName(tree).localname}>", why)


def _is_block(element: Any) -> bool:
    return bool(element.tag == f"{{{ESPI}}}IntervalBlock")


class Entry(NamedTuple):
    """An Atom entry's links (as paths, see :func:`_path`) and the ``espi:`` object it holds."""

    self: str
    up: str
    related: tuple[str, ...]
    element: Any


def _entries(tree: Any, kind: str) -> list[Entry]:
    """The entries holding an ``espi:<kind>`` (a bare object without an entry has no links)."""
    out = []
    for element in ([tree] if _is_block(tree) and kind == "IntervalBlock" else
                    tree.iterfind(f".//espi:{kind}", NS)):
        parent = element.getparent()
        entry = parent.getparent() if parent is not None else None
        links = [] if entry is None else entry.findall("a:link", NS)
        hrefs: dict[str, list[str]] = {}
        for link in links:
            hrefs.setdefault(link.get("rel", ""), []).append(_path(link.get("href", "")))
        out.append(Entry(hrefs.get("self", [""])[0], hrefs.get("up", [""])[0],
                         tuple(hrefs.get("related", [])), element))
    return out


def _series(tree: Any) -> list[Series]:
    """The file's series, each with its IntervalBlocks, in the order of their first block.
    Links are followed as ESPI defines them: block ``up`` = a MeterReading's ``related``
    IntervalBlock collection (or its ``self`` + ``/IntervalBlock``); MeterReading ``related`` →
    ReadingType ``self``; MeterReading ``up`` = a UsagePoint's ``related`` MeterReading
    collection (or its ``self`` + ``/MeterReading``)."""
    types = {e.self: _reading_type(e.element) for e in _entries(tree, "ReadingType") if e.self}
    usage_points: dict[str, int | None] = {}
    up_ids: dict[str, str] = {}
    for entry in _entries(tree, "UsagePoint"):
        kind = _int(entry.element.findtext("espi:ServiceCategory/espi:kind", None, NS))
        for href in _collections(entry, "MeterReading"):
            usage_points.setdefault(href, kind)
            up_ids.setdefault(href, _segment(entry.self, "UsagePoint") or "")
    readings = _entries(tree, "MeterReading")
    linked = [[types[h] for h in e.related if h in types] for e in readings]
    by_block_link: dict[str, Series] = {}
    for entry, rtypes in zip(readings, linked, strict=True):
        if not rtypes and not any(linked) and len(types) == 1:
            rtypes = list(types.values())  # a lone ReadingType that no MeterReading links
        parent = entry.up or _parent(entry.self)
        series = Series(
            key=entry.self, reading_type=rtypes[0] if len(rtypes) == 1 else None,
            usage_point=_segment(entry.self, "UsagePoint") or up_ids.get(parent) or "1",
            meter_reading=_segment(entry.self, "MeterReading") or "1",
            service_kind=usage_points.get(parent),
            problem="" if len(rtypes) < 2 else (
                f"MeterReading {entry.self} links {len(rtypes)} ReadingTypes; ESPI allows one, "
                f"so its unit is unknown: export the file again or ask the utility"))
        for href in _collections(entry, "IntervalBlock"):
            if href not in types:
                by_block_link.setdefault(href, series)
    ordered: dict[str, Series] = {}
    for block in _entries(tree, "IntervalBlock"):
        collection = block.up or _parent(block.self)
        series = by_block_link.get(collection) or ordered.get(collection) or Series(
            key=collection, usage_point=_segment(collection, "UsagePoint") or "1",
            meter_reading=_segment(collection, "MeterReading") or "1",
            reading_type=next(iter(types.values())) if len(types) == 1 and not readings else None,
            service_kind=usage_points.get(_parent(_parent(collection))))
        ordered.setdefault(series.key, series).blocks.append(block.element)
    return list(ordered.values())


def _collections(entry: Entry, child: str) -> list[str]:
    """The collection paths of ``child`` objects under ``entry``: its ``related`` links and
    ``self/<child>``."""
    own = [f"{entry.self}/{child}"] if entry.self else []
    return [*entry.related, *own]


def _reading_type(element: Any) -> ReadingType:
    def code(tag: str) -> int | None:
        return _int(element.findtext(f"espi:{tag}", None, NS))

    return ReadingType(code("uom"), code("powerOfTenMultiplier") or 0,
                       code("accumulationBehaviour") or 0, code("flowDirection") or 0,
                       code("commodity") or 0, code("intervalLength") or 0)


def _commodity(rtype: ReadingType, service_kind: int | None, unit: str) -> str:
    """The series' commodity: the ReadingType's, else the UsagePoint's ServiceCategory, else
    the unit's usual one; or the reason it is not read."""
    if rtype.commodity:
        return COMMODITY.get(rtype.commodity, (
            f"ReadingType commodity {rtype.commodity} is not read; wattlens reads {COMMODITY} "
            f"(electricity, gas, heat, water)"))
    if service_kind is not None:
        return SERVICE.get(service_kind, (
            f"ServiceCategory kind {service_kind} is not read; wattlens reads {SERVICE}"))
    return UNIT_COMMODITY[unit]


def _series_readings(
    series: Series, spec: Spec, reject: Reject
) -> tuple[pd.DataFrame, list[Rejected]]:
    """All blocks of one series → readings (time, meter, quantity, value, quality) and the
    rejected IntervalReadings. A register is differenced over the whole series sorted by time."""
    samples, durations, rejected = _interval_readings(series.blocks, spec.multiplier, reject)
    samples = samples.assign(value=to_canonical(samples["value"], spec.conversion))
    if spec.cumulative:
        samples, problems = _register(samples, durations, spec, reject)
        rejected += problems
    return samples.assign(meter=spec.meter, quantity=spec.conversion.quantity), rejected


def _register(
    samples: pd.DataFrame, durations: list[int], spec: Spec, reject: Reject
) -> tuple[pd.DataFrame, list[Rejected]]:
    """Register samples → the increase per interval (resets and gaps flagged ``suspect`` by
    :func:`register_to_interval`); an increase is as good as the worse of its two ends. The
    interval for gaps: the longest reading duration, else intervalLength, else inferred."""
    longest = max(durations, default=0)
    step = (pd.Timedelta(seconds=longest) if longest > 0 else spec.step
            or infer_interval(samples["time"], default=pd.Timedelta("1h")))
    converted = register_to_interval(samples, interval=step)
    problems = [reject(f"{t.isoformat()},{v:g}", r)
                for t, v, r in converted.problems.itertuples(index=False)]
    frame = converted.frame
    if frame.empty:
        return frame, problems
    quality = samples.drop_duplicates("time", keep="last").set_index("time")["quality"]
    good = quality.index.difference(pd.DatetimeIndex(converted.problems["time"]))
    ends = [*frame["time"].iloc[1:], good.max()]
    worst = _worst([frame["quality"], quality.reindex(frame["time"]).to_numpy(),
                    quality.reindex(ends).to_numpy()])
    return frame.assign(quality=worst), problems


def _interval_readings(
    blocks: list[Any], multiplier: int, reject: Reject
) -> tuple[pd.DataFrame, list[int], list[Rejected]]:
    """The blocks' IntervalReadings: samples (``time`` UTC, ``value`` in the ReadingType's unit
    times 10^``multiplier``, ``quality`` from ReadingQuality), their durations [s] (0 when
    absent) and the unreadable ones."""
    times, values, durations, qualities = [], [], [], []
    rejected = []
    for reading in (r for block in blocks for r in block.iterfind("espi:IntervalReading", NS)):
        raw_start = reading.findtext("espi:timePeriod/espi:start", None, NS)
        raw_value = reading.findtext("espi:value", None, NS)
        raw_duration = reading.findtext("espi:timePeriod/espi:duration", None, NS)
        try:
            t, v = int(raw_start or ""), float(raw_value or "")
            d = int(raw_duration or 0)
        except ValueError:
            rejected.append(reject(
                etree.tostring(reading, encoding="unicode")[:300],
                f"IntervalReading needs integer timePeriod/start and a numeric value "
                f"(got start={raw_start!r}, value={raw_value!r}); fix or drop it"))
            continue
        times.append(t)
        values.append(v * 10.0 ** multiplier)
        durations.append(d)
        qualities.append(_reading_quality(reading))
    samples = pd.DataFrame({
        "time": pd.to_datetime(pd.Series(times, dtype="int64"), unit="s", utc=True
                               ).astype("datetime64[ns, UTC]"),
        "value": pd.Series(values, dtype="float64"),
        "quality": pd.Series(qualities, dtype=object),
    })
    return samples, durations, rejected


def _reading_quality(reading: Any) -> str:
    """The worst flag of an IntervalReading's ReadingQuality codes (``ok`` when it has none)."""
    codes = [_int(q.text) for q in reading.iterfind("espi:ReadingQuality/espi:quality", NS)]
    flags = [READING_QUALITY.get(c, "suspect") if c is not None else "suspect" for c in codes]
    return max(flags, key=QUALITY.index, default="ok")


def _worst(flags: Iterable[Any]) -> np.ndarray:
    """Element-wise worst quality flag of aligned sequences (order of :data:`QUALITY`)."""
    ranks = np.max([[QUALITY.index(f) for f in column] for column in flags], axis=0)
    return np.array(QUALITY, dtype=object)[ranks]


def _path(href: str) -> str:
    """An ESPI href compared by its path (host and query ignored, no trailing slash)."""
    return urlsplit(href.strip()).path.rstrip("/")


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


def _segment(href: str, name: str) -> str | None:
    """The id after ``/name/`` in an ESPI href (the last one)."""
    parts = href.split("/")
    found = [parts[i + 1] for i in range(len(parts) - 1) if parts[i] == name and parts[i + 1]]
    return found[-1] if found else None
