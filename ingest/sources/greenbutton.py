"""``greenbutton`` source: utility interval data in Green Button / ESPI XML files.

An ESPI file is an Atom feed whose entries hold ``espi:`` objects (namespace
``http://naesb.org/espi``): UsagePoint → MeterReading → ReadingType (unit ``uom``,
``powerOfTenMultiplier``, ``accumulationBehaviour``) and IntervalBlocks of IntervalReadings
(``timePeriod/start`` [s since the epoch, UTC], ``duration`` [s], ``value``).
LocalTimeParameters only say how the utility displays local time; the times themselves are UTC.

Config::

    [[sources]]
    name = "utility"
    type = "greenbutton"
    root = "data/greenbutton"
    glob = "*.xml"
    meter = "gb-{usage_point}"     # {usage_point}: the UsagePoint id from the entry links
    kwh_per_unit = 29.3071         # only for gas volumes (m3); therms default to 29.3071 kWh

A file that is not ESPI (wrong namespace, not XML) is rejected whole with a reason; a bad
IntervalReading is rejected alone and the rest of the file is kept. Checkpoint: per file, its
size and mtime; a changed file is read again (readings overwrite by time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from lxml import etree
from pydantic import Field

from wattlens.core.base import Frozen
from wattlens.ingest.base import SOURCES, Batch, IngestContext, Rejected, SourceSection
from wattlens.ingest.normalise import (
    Conversion,
    collapse_duplicates,
    flag_suspicious,
    register_to_interval,
    to_canonical,
    unit_conversion,
)
from wattlens.store.schema import empty_readings, validate_readings

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
NS = {"a": ATOM, "espi": ESPI}

UOM: dict[int, str] = {72: "Wh", 38: "W", 42: "m3", 169: "therm"}
"""ESPI ``uom`` codes we convert (UnitSymbolKind): Wh, W, m3, therm."""

BULK_QUANTITY = 1
"""``accumulationBehaviour`` of a cumulative register (deltaData = 4 is interval energy)."""


class ReadingType(NamedTuple):
    """What an ESPI ReadingType says about its readings' values."""

    uom: int
    """Unit code (UnitSymbolKind), see :data:`UOM`."""
    multiplier: int
    """``powerOfTenMultiplier``: value x 10^multiplier is in the unit."""
    accumulation: int
    """``accumulationBehaviour``: :data:`BULK_QUANTITY` for a cumulative register."""


Reject = Callable[[str, str], Rejected]
"""Builds a :class:`Rejected` of one document from its raw record and the reason."""


@SOURCES.register("greenbutton")
class GreenButtonSource:
    """Reads Green Button (ESPI) XML files matching a glob under ``root``."""

    class Options(Frozen):
        root: Path = Field(Path("."), description="folder the glob is relative to")
        glob: str = Field("*.xml", description="file pattern")
        meter: str = Field("gb-{usage_point}", description="meter id; {usage_point} allowed")
        kwh_per_unit: float | None = Field(None, gt=0, description="gas m3/therm → kWh")

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
        """Readings and rejected records of one ESPI document: the XML tree (data) → each
        IntervalBlock's samples in canonical units (model) → validated readings (result)."""

        def reject(record: str, reason: str) -> Rejected:
            return Rejected.of(self.name, f"{label}: {record}", reason)

        tree = _document(payload, reject)
        if isinstance(tree, Rejected):
            return empty_readings(), [tree]
        reading_types = _reading_types(tree)
        parts: list[pd.DataFrame] = []
        rejected: list[Rejected] = []
        for block in tree.findall(".//espi:IntervalBlock", NS):
            part, block_rejected = self._block_readings(block, reading_types, reject)
            rejected += block_rejected
            if part is not None:
                parts.append(part)
        return self._readings(parts, label), rejected

    def _block_readings(
        self, block: Any, reading_types: dict[str | None, ReadingType], reject: Reject
    ) -> tuple[pd.DataFrame | None, list[Rejected]]:
        """One IntervalBlock's readings (None when the whole block is refused) and rejects."""
        links = _links(_entry(block))
        up = links.get("up", links.get("self", ""))
        rtype = reading_types.get(_segment(up, "MeterReading")) or (
            next(iter(reading_types.values())) if len(reading_types) == 1 else None)
        if rtype is None:
            return None, [reject(f"IntervalBlock {up}", "no ReadingType found for this "
                                 "IntervalBlock (link rel='related' on its MeterReading); the "
                                 "file is incomplete, export it again")]
        conversion = self._conversion(rtype, up, reject)
        if isinstance(conversion, Rejected):
            return None, [conversion]
        samples, durations, rejected = _interval_readings(block, rtype.multiplier, reject)
        samples = samples.assign(value=to_canonical(samples["value"], conversion))
        energy, problems = _energy(samples, durations, rtype, conversion, reject)
        meter = self.options.meter.format(usage_point=_segment(up, "UsagePoint") or "1")
        return energy.assign(meter=meter, quantity=conversion.quantity), rejected + problems

    def _conversion(self, rtype: ReadingType, up: str, reject: Reject) -> Conversion | Rejected:
        """How the block's values become canonical units, or why the block is refused."""
        if rtype.uom not in UOM:
            return reject(f"IntervalBlock {up} uom={rtype.uom}",
                          f"ReadingType uom {rtype.uom} is not supported; wattlens reads {UOM} "
                          f"(Wh, W, m3, therm)")
        try:
            return unit_conversion(UOM[rtype.uom], self.options.kwh_per_unit)
        except ValueError as exc:
            return reject(f"IntervalBlock {up}", str(exc))

    def _readings(self, parts: list[pd.DataFrame], label: str) -> pd.DataFrame:
        """The blocks' readings as one validated frame (duplicates collapsed, spikes flagged)."""
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
    if tree.find(".//espi:IntervalBlock", NS) is not None:
        return tree
    foreign = {etree.QName(e).namespace for e in tree.iter()
               if isinstance(e.tag, str) and etree.QName(e).localname == "IntervalBlock"}
    why = (f"IntervalBlock elements are in namespace {sorted(map(str, foreign))}, not "
           f"{ESPI!r}; fix the xmlns declaration (Green Button files use xmlns:espi="
           f"\"{ESPI}\")" if foreign else
           f"no espi:IntervalBlock in the document (namespace {ESPI!r}); is it a Green "
           f"Button usage file?")
    return reject(f"<{etree.QName(tree).localname}>", why)


def _reading_types(tree: Any) -> dict[str | None, ReadingType]:
    """ReadingTypes by the id of the MeterReading that links to them (by position when no
    MeterReading links to one)."""
    by_href: dict[str, ReadingType] = {}
    for rt in tree.findall(".//espi:ReadingType", NS):
        by_href[_links(_entry(rt)).get("self", f"#{len(by_href)}")] = ReadingType(*(
            int(rt.findtext(f"espi:{tag}", "0", NS) or 0)
            for tag in ("uom", "powerOfTenMultiplier", "accumulationBehaviour")))
    out: dict[str | None, ReadingType] = {}
    for mr in tree.findall(".//espi:MeterReading", NS):
        links = _links(_entry(mr))
        related = links.get("related", "")
        if related in by_href:
            out[_segment(links.get("self", ""), "MeterReading")] = by_href[related]
    if not out:
        out = {str(i): v for i, v in enumerate(by_href.values())}
    return out


def _interval_readings(
    block: Any, multiplier: int, reject: Reject
) -> tuple[pd.DataFrame, list[int], list[Rejected]]:
    """A block's IntervalReadings: samples (``time`` UTC, ``value`` in the ReadingType's unit
    times 10^``multiplier``), their durations [s] (0 when absent) and the unreadable ones."""
    times, values, durations = [], [], []
    rejected = []
    for reading in block.findall("espi:IntervalReading", NS):
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
    samples = pd.DataFrame({
        "time": pd.to_datetime(pd.Series(times, dtype="int64"), unit="s", utc=True
                               ).astype("datetime64[ns, UTC]"),
        "value": pd.Series(values, dtype="float64"),
    })
    return samples, durations, rejected


def _energy(
    samples: pd.DataFrame, durations: list[int], rtype: ReadingType, conversion: Conversion,
    reject: Reject,
) -> tuple[pd.DataFrame, list[Rejected]]:
    """Samples in canonical units → readings with a quality: a cumulative energy register
    becomes energy per interval (its longest reading duration, else 1 h); other values are
    kept as they are."""
    if not (rtype.accumulation == BULK_QUANTITY and conversion.quantity == "energy"):
        return samples.assign(quality="ok"), []
    step = pd.Timedelta(seconds=max(durations, default=3600) or 3600)
    converted = register_to_interval(samples, interval=step)
    problems = [reject(f"{t.isoformat()},{v:g}", r)
                for t, v, r in converted.problems.itertuples(index=False)]
    return converted.frame, problems


def _entry(element: Any) -> Any:
    """The Atom entry holding an ``espi:`` object (its grandparent), or None."""
    parent = element.getparent()
    return parent.getparent() if parent is not None else None


def _links(entry: Any) -> dict[str, str]:
    if entry is None:
        return {}
    return {link.get("rel", ""): link.get("href", "")
            for link in entry.findall("a:link", NS)}


def _segment(href: str, name: str) -> str | None:
    """The id after ``/name/`` in an ESPI href."""
    match = re.search(rf"/{name}/([^/]+)", href)
    return match.group(1) if match else None
