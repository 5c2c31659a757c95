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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree
from pydantic import Field

from wattlens.core.base import Frozen
from wattlens.ingest.base import SOURCES, Batch, IngestContext, Rejected, SourceSection
from wattlens.ingest.normalise import (
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
        """Readings and rejected records of one ESPI document."""

        def reject(record: str, reason: str) -> Rejected:
            return Rejected.of(self.name, f"{label}: {record}", reason)

        try:
            tree = etree.fromstring(payload, parser=etree.XMLParser(resolve_entities=False,
                                                                    no_network=True))
        except etree.XMLSyntaxError as exc:
            return empty_readings(), [reject(payload[:200].decode(errors="replace"),
                                             f"not well-formed XML ({exc}); re-download it")]
        blocks = tree.findall(".//espi:IntervalBlock", NS)
        if not blocks:
            foreign = {etree.QName(e).namespace for e in tree.iter()
                       if isinstance(e.tag, str) and etree.QName(e).localname == "IntervalBlock"}
            why = (f"IntervalBlock elements are in namespace {sorted(map(str, foreign))}, not "
                   f"{ESPI!r}; fix the xmlns declaration (Green Button files use xmlns:espi="
                   f"\"{ESPI}\")" if foreign else
                   f"no espi:IntervalBlock in the document (namespace {ESPI!r}); is it a Green "
                   f"Button usage file?")
            return empty_readings(), [reject(f"<{etree.QName(tree).localname}>", why)]
        reading_types = self._reading_types(tree)
        parts: list[pd.DataFrame] = []
        rejected: list[Rejected] = []
        for block in blocks:
            entry = block.getparent().getparent() if block.getparent() is not None else None
            links = _links(entry)
            up = links.get("up", links.get("self", ""))
            usage_point = _segment(up, "UsagePoint") or "1"
            meter_reading = _segment(up, "MeterReading")
            rtype = reading_types.get(meter_reading) or (
                next(iter(reading_types.values())) if len(reading_types) == 1 else None)
            if rtype is None:
                rejected.append(reject(f"IntervalBlock {up}", "no ReadingType found for this "
                                       "IntervalBlock (link rel='related' on its MeterReading); "
                                       "the file is incomplete, export it again"))
                continue
            uom, multiplier, accumulation = rtype
            if uom not in UOM:
                rejected.append(reject(f"IntervalBlock {up} uom={uom}",
                                       f"ReadingType uom {uom} is not supported; wattlens reads "
                                       f"{UOM} (Wh, W, m3, therm)"))
                continue
            try:
                conversion = unit_conversion(UOM[uom], self.options.kwh_per_unit)
            except ValueError as exc:
                rejected.append(reject(f"IntervalBlock {up}", str(exc)))
                continue
            times, values, durations = [], [], []
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
                "value": to_canonical(pd.Series(values, dtype="float64"), conversion),
            })
            if accumulation == BULK_QUANTITY and conversion.quantity == "energy":
                step = pd.Timedelta(seconds=max(durations, default=3600) or 3600)
                converted = register_to_interval(samples, interval=step)
                rejected += [reject(f"{t.isoformat()},{v:g}", r)
                             for t, v, r in converted.problems.itertuples(index=False)]
                samples = converted.frame
            else:
                samples = samples.assign(quality="ok")
            meter = self.options.meter.format(usage_point=usage_point)
            parts.append(samples.assign(meter=meter, quantity=conversion.quantity))
        if not parts:
            return empty_readings(), rejected
        readings = flag_suspicious(collapse_duplicates(pd.concat(parts, ignore_index=True)))
        return validate_readings(readings, name=f"{self.name}:{label}"), rejected

    @staticmethod
    def _reading_types(tree: Any) -> dict[str | None, tuple[int, int, int]]:
        """ReadingType (uom, powerOfTenMultiplier, accumulationBehaviour) by the id of the
        MeterReading that links to it."""
        by_href: dict[str, tuple[int, int, int]] = {}
        for rt in tree.findall(".//espi:ReadingType", NS):
            entry = rt.getparent().getparent()
            uom, multiplier, accumulation = (
                int(rt.findtext(f"espi:{tag}", "0", NS) or 0)
                for tag in ("uom", "powerOfTenMultiplier", "accumulationBehaviour"))
            by_href[_links(entry).get("self", f"#{len(by_href)}")] = (uom, multiplier,
                                                                     accumulation)
        out: dict[str | None, tuple[int, int, int]] = {}
        for mr in tree.findall(".//espi:MeterReading", NS):
            links = _links(mr.getparent().getparent())
            related = links.get("related", "")
            if related in by_href:
                out[_segment(links.get("self", ""), "MeterReading")] = by_href[related]
        if not out:
            out = {str(i): v for i, v in enumerate(by_href.values())}
        return out


def _links(entry: Any) -> dict[str, str]:
    if entry is None:
        return {}
    return {link.get("rel", ""): link.get("href", "")
            for link in entry.findall("a:link", NS)}


def _segment(href: str, name: str) -> str | None:
    """The id after ``/name/`` in an ESPI href."""
    match = re.search(rf"/{name}/([^/]+)", href)
    return match.group(1) if match else None
