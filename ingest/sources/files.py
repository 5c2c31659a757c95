"""``files`` source: CSV, Parquet and Excel exports with a column mapping, globs and
incremental reads; the Cambridge estates archive is the named preset ``cambridge``.

Config (one ``[[sources]]`` table)::

    [[sources]]
    name = "exports"
    type = "files"
    root = "data/exports"            # globs are relative to this folder
    glob = "site-*/*.csv"            # CSV, Parquet (.parquet) or Excel (.xlsx) by extension
    path_regex = "site-(?P<site>[^/]+)/"   # named groups usable as {site} in meter ids
    time_column = "timestamp"
    time_format = "%d/%m/%Y %H:%M"   # optional; ISO 8601 otherwise
    timezone = "Europe/London"       # wall-clock zone of naive times (offsets win)
    ambiguous = "infer"              # infer | earliest | latest | reject (DST fall-back hour)
    missing_zero = false             # true: an energy value of 0 means "no reading"
    [sources.columns."Main kWh"]
    meter = "{site}-elec"
    unit = "kWh"                     # Wh kWh MWh W kW MW m3 therm degC degF % W/m2
    kind = "interval"                # interval | register | power

Long files (one row per time, meter id and value, optionally a unit per row) set
``meter_column``, ``value_column`` and ``unit_column``; ``[sources.columns.<meter id in the
file>]`` then optionally renames a meter and sets its unit, kind and factors. A row whose unit
is unknown or does not suit the meter's kind is quarantined.

Incremental: the checkpoint records, per file, its size, mtime and the data rows consumed;
an unchanged file is skipped, a grown one is read from the first new row (append-only
exports), a shrunk or rewritten one from the start. Files are read in chunks of
``chunk_rows`` rows (CSV: blocks of whole lines; Parquet: row batches; Excel files are
loaded whole, they are small by nature), chunks of small files combined into one
:class:`~wattlens.ingest.base.Batch`, so memory stays flat whatever the file size.
Registers and power samples carry their last sample(s) across chunks in the checkpoint.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field, ValidationError, field_validator, model_validator

from wattlens.core.base import Duration, Frozen, TimeZone
from wattlens.ingest.base import SOURCES, Batch, IngestContext, Rejected, SourceSection
from wattlens.ingest.normalise import (
    Ambiguous,
    Conversion,
    LocalTimes,
    collapse_duplicates,
    flag_suspicious,
    parse_local_time,
    power_to_interval,
    register_to_interval,
    to_canonical,
    unit_conversion,
)
from wattlens.store.csvio import zeros_as_missing
from wattlens.store.schema import empty_readings, validate_readings

Format = Literal["csv", "parquet", "excel"]
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv", ".txt": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
}


class ColumnMap(Frozen):
    """How one value column becomes readings of one meter."""

    meter: str = Field(min_length=1, description="meter id; {group} from path_regex allowed")
    unit: str = Field("kWh", description="unit in the file: Wh kWh MWh W kW m3 therm degC ...")
    kind: Literal["interval", "register", "power"] = Field(
        "interval", description="interval energy, cumulative register or power samples"
    )
    kwh_per_unit: float | None = Field(None, gt=0, description="gas m3/therm → kWh factor")
    commodity: str = Field("", description="'water' keeps m3 as volume")
    rollover: float | None = Field(None, gt=0, description="register modulus [file unit]")
    interval: Duration = Field("1h", description="interval for register/power conversion")
    optional: bool = Field(False, description="a file without this column is still read")

    @model_validator(mode="after")
    def _unit(self) -> ColumnMap:
        quantity = unit_conversion(self.unit, self.kwh_per_unit, self.commodity).quantity
        needs = {"register": ("energy", "volume"), "power": ("power",)}.get(self.kind)
        if needs is not None and quantity not in needs:
            raise ValueError(
                f"kind = {self.kind!r} needs a unit of {' or '.join(needs)}, not {self.unit!r}; "
                f"fix 'unit' or 'kind'"
            )
        return self

    @property
    def conversion(self) -> Conversion:
        return unit_conversion(self.unit, self.kwh_per_unit, self.commodity)


@dataclass(frozen=True)
class FileSpec:
    """One family of files read the same way (a preset may have several)."""

    glob: str
    columns: dict[str, ColumnMap]
    time_column: str
    time_format: str | None
    timezone: str
    path_regex: str | None
    missing_zero: bool
    meter_column: str | None = None
    value_column: str = "value"
    unit_column: str | None = None
    year_files: bool = False
    """Each file holds one UTC calendar year named by its stem (``2019.csv``), so a backfill
    window can skip the other years without reading them."""


def cambridge_specs(weather_suffix: str = "-weather") -> list[FileSpec]:
    """The Cambridge estates archive layout: ``buildings/UCam_Building_<b>/<commodity>/<year>
    .csv`` (UTC, hourly kWh, zero = no reading) → meters ``<b>-elec`` / ``<b>-gas``, and
    ``weather/<station>/<year>.csv`` → meter ``<station><weather_suffix>``."""
    common: dict[str, Any] = {"time_column": "datetime", "time_format": "%Y-%m-%d %H:%M:%S",
                              "timezone": "UTC", "missing_zero": True, "year_files": True}
    building = r"UCam_Building_(?P<building>[^/]+)/"
    return [
        FileSpec("buildings/*/electricity/*.csv",
                 {"equipment load [kWh]": ColumnMap(meter="{building}-elec")},
                 path_regex=building, **common),
        FileSpec("buildings/*/gas/*.csv",
                 {"heating load [kWh]": ColumnMap(meter="{building}-gas")},
                 path_regex=building, **common),
        FileSpec("weather/*/*.csv",
                 {"air_temperature [degC]": ColumnMap(meter="{station}" + weather_suffix,
                                                      unit="degC"),
                  "rltv_hum [%]": ColumnMap(meter="{station}" + weather_suffix, unit="%"),
                  "glbl_irad_amt [W/m2]": ColumnMap(meter="{station}" + weather_suffix,
                                                    unit="W/m2")},
                 path_regex=r"weather/(?P<station>[^/]+)/", **common),
    ]


@SOURCES.register("files")
class FilesSource:
    """Reads exports matching a glob (or a preset's globs) under ``root``."""

    class Options(Frozen):
        root: Path = Field(Path("."), description="folder the globs are relative to")
        preset: Literal["cambridge"] | None = Field(None, description="a named layout")
        glob: str | None = Field(None, description="file pattern, e.g. '*/*.csv'")
        path_regex: str | None = Field(None, description="named groups usable in meter ids")
        format: Format | None = Field(None, description="csv | parquet | excel (default: ext)")
        time_column: str = Field("time", description="column holding the timestamps")
        time_format: str | None = Field(None, description="strftime format; ISO 8601 if unset")
        timezone: TimeZone = Field("UTC", description="IANA zone of naive timestamps")
        ambiguous: Ambiguous = Field("infer", description="DST fall-back policy")
        columns: dict[str, ColumnMap] = Field(
            default_factory=dict,
            description="wide files: value column → meter; long files: meter id in the file → "
            "meter (optional)",
        )
        meter_column: str | None = Field(None, description="long files: the meter id column")
        value_column: str = Field("value", description="long files: the value column")
        unit_column: str | None = Field(None, description="long files: a per-row unit column")
        missing_zero: bool = Field(False, description="energy 0 means 'no reading'")
        delimiter: str = Field(",", min_length=1, max_length=1, description="CSV delimiter")
        decimal: Literal[".", ","] = Field(".", description="decimal mark of the values")
        sheet: str | int = Field(0, description="Excel sheet name or index")
        chunk_rows: int = Field(100_000, gt=0, description="rows per batch")
        weather_suffix: str = Field("-weather", description="cambridge preset: weather meter")

        @field_validator("path_regex")
        @classmethod
        def _regex(cls, value: str | None) -> str | None:
            if value is not None:
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ValueError(f"not a regular expression ({exc}); fix it") from exc
            return value

        @model_validator(mode="after")
        def _mapping(self) -> FilesSource.Options:
            if self.preset is None and (
                self.glob is None or not (self.columns or self.meter_column)
            ):
                raise ValueError(
                    "give either preset = 'cambridge', or glob and a [sources.columns] mapping "
                    "(value column → meter, unit, kind), or glob and meter_column (long files)"
                )
            return self

    def __init__(self, name: str, options: Options) -> None:
        self.name = name
        self.options = options
        self.specs = (
            cambridge_specs(options.weather_suffix) if options.preset == "cambridge" else [
                FileSpec(options.glob or "", options.columns, options.time_column,
                         options.time_format, options.timezone, options.path_regex,
                         options.missing_zero, options.meter_column, options.value_column,
                         options.unit_column)
            ]
        )

    @classmethod
    def from_config(cls, section: SourceSection, context: IngestContext) -> FilesSource:
        """Build from a validated ``[[sources]]`` section."""
        assert isinstance(section.options, cls.Options)
        return cls(section.name, section.options)

    def close(self) -> None:
        """Nothing to release: files are opened per chunk."""

    def paths(self) -> list[tuple[Path, FileSpec]]:
        """Every matching file with its spec, in a stable order (by path)."""
        root = self.options.root
        if not root.is_dir():
            raise ValueError(
                f"source {self.name!r}: root {str(root)!r} is not a folder; fix 'root' "
                f"(relative paths are relative to the working directory)"
            )
        found = [(p, spec) for spec in self.specs for p in sorted(root.glob(spec.glob))
                 if p.is_file()]
        return sorted(found, key=lambda item: item[0].as_posix())

    def fetch(
        self,
        checkpoint: dict[str, Any] | None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Iterator[Batch]:
        """Batches of about ``chunk_rows`` rows from new or grown files: chunks of small files
        are combined, big files are cut (see the module docstring). With ``start``/``end``
        (a backfill window) rows outside are dropped, so the checkpoint returned then only
        vouches for that window: do not resume regular runs from it."""
        state = _State.load(checkpoint)
        pending: list[_Chunk] = []
        for path, spec in self.paths():
            if spec.year_files and not _year_overlaps(path.stem, start, end):
                continue
            key = path.relative_to(self.options.root).as_posix()
            stat = path.stat()
            previous = state.files.get(key)
            if previous is not None and previous["done"] and (
                    previous["size"], previous["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
                continue  # unchanged since it was read: not even hashed
            skip, head = _resume(path, stat.st_size, previous)
            entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head": head}
            if previous is not None and skip == previous["rows"] and previous["done"] and (
                    stat.st_size == previous["size"]):
                state.files[key] = {**entry, "rows": skip, "done": True}  # only touched
                continue
            reader = _FileReader(self, path, key, spec, start, end, state)
            rows = skip
            try:
                for chunk in reader.chunks(skip):
                    rows += chunk.rows
                    state.files[key] = {**entry, "rows": rows, "done": False}
                    pending.append(chunk)
                    if sum(c.rows for c in pending) >= self.options.chunk_rows:
                        yield self._batch(pending, state)
                        pending = []
            except _UNREADABLE as exc:  # this file only: the others are still read
                where = "(whole file)" if rows == skip else f"after data row {rows}"
                pending.append(_Chunk(empty_readings(), [reader.reject(
                    where, f"cannot read the file ({type(exc).__name__}: {exc}); the rows "
                    f"before were kept; fix or re-export the file (it is read again when it "
                    f"changes)")], 0))
            state.files[key] = {**entry, "rows": rows, "done": True}
        if pending or state.dump() != (checkpoint or _State({}, {}).dump()):
            yield self._batch(pending, state)

    def _batch(self, chunks: list[_Chunk], state: _State) -> Batch:
        """One batch of the given chunks, with the state after the last of them."""
        readings = empty_readings() if not chunks else validate_readings(collapse_duplicates(
            pd.concat([c.readings for c in chunks], ignore_index=True)),
            name=f"{self.name} batch")
        return Batch(readings, [r for c in chunks for r in c.rejected], state.dump())


_UNREADABLE = (OSError, EOFError, ValueError, UnicodeError, pa.ArrowException, csv.Error,
               zlib.error)
"""Errors that make a whole file unreadable (a broken gzip stream, a corrupt Parquet footer)."""


def _resume(path: Path, size: int, previous: dict[str, Any] | None) -> tuple[int, str]:
    """The data rows to skip in ``path`` and the hash of its first ``size`` bytes. Rows are
    skipped only when the part read before is unchanged (its hash matches), so a rewritten
    export — shorter, as long or longer — is read again from the start."""
    old = previous["size"] if previous is not None and size >= previous["size"] else None
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        _hash(handle, digest, old or 0)
        old_head = digest.hexdigest()
        _hash(handle, digest, size - (old or 0))
    if previous is None or old is None:
        return 0, digest.hexdigest()
    same = previous.get("head", old_head) == old_head  # no head: a checkpoint from before
    return (previous["rows"] if same else 0), digest.hexdigest()


def _hash(handle: BinaryIO, digest: Any, size: int) -> None:
    """Feed the next ``size`` bytes of ``handle`` to ``digest`` (1 MB at a time)."""
    while size > 0:
        block = handle.read(min(1 << 20, size))
        if not block:
            return
        digest.update(block)
        size -= len(block)


@dataclass
class _State:
    files: dict[str, dict[str, Any]]
    tails: dict[str, list[list[Any]]]
    """Carried samples per meter: a register's last sample, a power meter's open interval."""

    @classmethod
    def load(cls, checkpoint: dict[str, Any] | None) -> _State:
        checkpoint = checkpoint or {}
        return cls(
            {k: dict(v) for k, v in checkpoint.get("files", {}).items()},
            {k: [list(s) for s in v] for k, v in checkpoint.get("tails", {}).items()},
        )

    def dump(self) -> dict[str, Any]:
        return {
            "files": {k: dict(v) for k, v in self.files.items()},
            "tails": {k: [list(s) for s in v] for k, v in self.tails.items()},
        }


@dataclass(frozen=True)
class _Chunk:
    readings: pd.DataFrame
    rejected: list[Rejected]
    rows: int


class _FileReader:
    """Reads one file chunk by chunk and turns each chunk into readings."""

    def __init__(self, source: FilesSource, path: Path, key: str, spec: FileSpec,
                 start: pd.Timestamp | None, end: pd.Timestamp | None, state: _State) -> None:
        self.source, self.path, self.key, self.spec = source, path, key, spec
        self.start, self.end, self.state = start, end, state
        match = re.search(spec.path_regex, key) if spec.path_regex else None
        self.groups = match.groupdict() if match else {}
        self.fmt: Format = source.options.format or _EXTENSIONS.get(path.suffix.lower(), "csv")
        self.meters: dict[str, str] = {}
        self.columns: dict[str, ColumnMap] = dict(spec.columns)
        self.wanted: list[str] = [spec.time_column, *spec.columns]

    def reject(self, record: str, reason: str) -> Rejected:
        return Rejected.of(self.source.name, f"{self.key}: {record}", reason)

    def chunks(self, skip: int) -> Iterator[_Chunk]:
        missing_group = None
        try:
            self.meters = {c: m.meter.format(**self.groups) for c, m in self.spec.columns.items()}
        except KeyError as exc:
            missing_group = exc.args[0]
        if missing_group is not None:
            yield _Chunk(empty_readings(), [self.reject(
                "(whole file)", f"meter id template needs {{{missing_group}}} but path_regex "
                f"{self.spec.path_regex!r} does not capture it from this path; fix path_regex "
                f"or the meter id")], 0)
            return
        readers = {"csv": self._csv, "parquet": self._parquet, "excel": self._excel}
        yield from readers[self.fmt](skip)

    def _missing_columns(self, names: list[str]) -> _Chunk | None:
        """Pick the mapped columns this file has; a rejection if a required one is absent."""
        spec = self.spec
        if spec.meter_column is not None:
            self.columns = {}
            self.wanted = [spec.time_column, spec.meter_column, spec.value_column]
            self.wanted += [spec.unit_column] if spec.unit_column else []
        else:
            self.columns = {c: m for c, m in spec.columns.items() if c in names or not m.optional}
            self.wanted = [spec.time_column, *self.columns]
        missing = [c for c in self.wanted if c not in names]
        if not missing:
            return None
        return _Chunk(empty_readings(), [self.reject(
            "(header) " + ",".join(map(str, names)),
            f"column(s) {missing} not in the file (it has {names}); fix time_column / the "
            f"columns mapping, or the file's header")], 0)

    def _csv(self, skip: int) -> Iterator[_Chunk]:
        opener = gzip.open if self.path.suffix.lower() == ".gz" else open
        with opener(self.path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            names = next(csv.reader(handle, delimiter=self.source.options.delimiter), [])
        bad = self._missing_columns(names)
        if bad is not None:
            yield bad
            return
        block_size = max(1 << 12, self.source.options.chunk_rows * 40)
        with opener(self.path, "rb") as handle:
            handle.readline()  # the header, parsed above
            for _ in itertools.islice(handle, skip):  # rows consumed before the checkpoint
                pass
            line = skip + 2  # 1-based file line of the next data row (header is line 1)
            for data in _line_blocks(handle, block_size):
                total = data.count(b"\n")
                data, undecodable = _undecodable_lines(data)
                rejected = [self.reject(f"line {line + i}: {text}", reason)
                            for i, text, reason in undecodable]
                table, invalid = self._parse_block(data, names)
                rejected += [self._invalid(r, line - 1) for r in invalid]
                skipped = [line - 1 + r.number for r in invalid if r.number is not None]
                skipped += list(line + _empty_lines(data))
                lines = np.setdiff1d(np.arange(line, line + total), skipped)[: table.num_rows]
                yield self._convert(table.to_pandas(), rejected, lines, total)
                line += total

    def _parse_block(self, data: bytes, names: list[str]) -> tuple[pa.Table, list[Any]]:
        """Parse whole lines of CSV (no header); rows with a wrong field count are returned
        apart (Arrow's invalid-row handler) instead of failing the block."""
        invalid: list[Any] = []

        def on_invalid(row: Any) -> str:
            invalid.append(row)
            return "skip"

        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           block_size=len(data) + 1),
            parse_options=pacsv.ParseOptions(delimiter=self.source.options.delimiter,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=self.wanted,
                column_types={c: pa.string() for c in self.wanted},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        return table, invalid

    def _invalid(self, row: Any, offset: int = 0) -> Rejected:
        """A CSV row with the wrong number of fields (``offset``: lines before its block)."""
        return self.reject(
            f"line {row.number + offset}: {row.text}" if row.number is not None else row.text,
            f"row has {row.actual_columns} field(s), the header has {row.expected_columns}: "
            f"a malformed or truncated row; fix or remove it",
        )

    def _parquet(self, skip: int) -> Iterator[_Chunk]:
        try:
            handle = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            yield _Chunk(empty_readings(), [self.reject(
                "(whole file)", f"not a readable Parquet file ({exc}); re-export it")], 0)
            return
        bad = self._missing_columns(handle.schema_arrow.names)
        if bad is not None:
            yield bad
            return
        wanted = self.wanted
        seen = 0
        for batch in handle.iter_batches(batch_size=self.source.options.chunk_rows,
                                         columns=wanted):
            n = batch.num_rows
            if seen + n <= skip:
                seen += n
                continue
            frame = batch.slice(max(0, skip - seen)).to_pandas()
            first = seen + max(0, skip - seen)
            seen += n
            lines = np.arange(first + 1, first + 1 + len(frame))
            yield self._convert(frame, [], lines, len(frame))

    def _excel(self, skip: int) -> Iterator[_Chunk]:
        try:
            frame = pd.read_excel(self.path, sheet_name=self.source.options.sheet, dtype=object)
        except (ValueError, OSError, KeyError) as exc:
            yield _Chunk(empty_readings(), [self.reject(
                "(whole file)", f"not a readable Excel sheet ({exc}); check 'sheet' and the "
                f"file")], 0)
            return
        bad = self._missing_columns([str(c) for c in frame.columns])
        if bad is not None:
            yield bad
            return
        frame.columns = [str(c) for c in frame.columns]
        frame = frame.iloc[skip:]
        step = self.source.options.chunk_rows
        for i in range(0, len(frame), step):
            part = frame.iloc[i:i + step]
            lines = np.arange(skip + i + 2, skip + i + 2 + len(part))
            yield self._convert(part.reset_index(drop=True), [], lines, len(part))

    def _times(self, column: pd.Series) -> LocalTimes:
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            utc = column.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
            return LocalTimes(utc, pd.Series(None, index=column.index, dtype=object))
        text = column.astype("string")
        fmt = self.spec.time_format
        if pd.api.types.is_datetime64_dtype(column.dtype):
            text, fmt = column.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").astype("string"), None
        return parse_local_time(text, self.spec.timezone, fmt, self.source.options.ambiguous)

    def _convert(self, frame: pd.DataFrame, rejected: list[Rejected], lines: np.ndarray,
                 rows: int) -> _Chunk:
        """Turn one chunk (time column + raw value columns) into readings; ``lines`` are the
        rows' line numbers in the file (Parquet: row numbers), for rejections."""
        frame = frame.reset_index(drop=True)
        parsed = self._times(frame[self.spec.time_column])
        times, problems = parsed.utc, parsed.problems
        raw_time = frame[self.spec.time_column].astype("string")
        bad_time = times.isna()
        for i in np.flatnonzero(bad_time.to_numpy()):
            reason = problems.iloc[i] or "empty time; every row needs a timestamp"
            rejected.append(self.reject(f"line {lines[i]}: {raw_time.iloc[i]}", reason))
        in_range = ~bad_time
        if self.start is not None:
            in_range &= times >= self.start
        if self.end is not None:
            in_range &= times < self.end
        parts: list[pd.DataFrame] = []
        keep_rows = in_range.to_numpy()
        for column, mapping in self.columns.items():
            values, keep = self._values(frame, column, mapping.unit, keep_rows, lines, raw_time,
                                        rejected)
            samples = pd.DataFrame({"time": times[keep], "value": values[keep]})
            parts.append(self._meter_readings(self.meters[column], mapping, samples, rejected))
        if self.spec.meter_column is not None:
            parts += self._long_parts(frame, times, keep_rows, lines, raw_time, rejected)
        readings = pd.concat(parts, ignore_index=True) if parts else empty_readings()
        if self.spec.missing_zero:
            readings = zeros_as_missing(readings)
        # duplicates are collapsed and the contract checked once per batch (FilesSource._batch)
        return _Chunk(flag_suspicious(readings), rejected, rows)

    def _values(self, frame: pd.DataFrame, column: str, unit: str, keep: np.ndarray,
                lines: np.ndarray, raw_time: pd.Series, rejected: list[Rejected]
                ) -> tuple[pd.Series, np.ndarray]:
        """A value column as float64 and the rows to keep; empty and non-numeric values of
        rows in range are rejected with their line."""
        values, ok = _numbers(frame[column], self.source.options.decimal)
        empty = frame[column].isna().to_numpy()
        for i in np.flatnonzero(~ok.to_numpy() & ~empty & keep):
            rejected.append(self.reject(
                f"line {lines[i]}: {raw_time.iloc[i]},{frame[column].iloc[i]}",
                f"{column!r} value {frame[column].iloc[i]!r} is not a number; write a "
                f"plain decimal in {unit}"))
        for i in np.flatnonzero(empty & keep):
            rejected.append(self.reject(
                f"line {lines[i]}: {raw_time.iloc[i]},",
                f"{column!r} is empty; a missing reading is a missing row (delete the row "
                f"or fill the value)"))
        return values, ok.to_numpy() & keep

    def _long_parts(self, frame: pd.DataFrame, times: pd.Series, keep: np.ndarray,
                    lines: np.ndarray, raw_time: pd.Series, rejected: list[Rejected]
                    ) -> list[pd.DataFrame]:
        """Long files: one row per (time, meter id, value[, unit]); rows with an unknown or
        unsuitable unit are rejected, the others converted per (meter, unit)."""
        spec = self.spec
        assert spec.meter_column is not None
        ids = frame[spec.meter_column].astype("string").str.strip()
        no_id = (ids.isna() | (ids == "")).to_numpy()
        for i in np.flatnonzero(no_id & keep):
            rejected.append(self.reject(f"line {lines[i]}: {raw_time.iloc[i]},",
                                         f"{spec.meter_column!r} is empty; every row needs a "
                                         f"meter id"))
        values, keep = self._values(frame, spec.value_column, "the meter's unit", keep & ~no_id,
                                    lines, raw_time, rejected)
        units = (frame[spec.unit_column].astype("string").fillna("") if spec.unit_column
                 else pd.Series("", index=frame.index, dtype="string"))
        rows = pd.DataFrame({"time": times, "value": values, "id": ids, "unit": units})[keep]
        parts = []
        for (meter_id, unit), group in rows.groupby(["id", "unit"], sort=False):
            base = self.spec.columns.get(meter_id, ColumnMap(meter=meter_id))
            try:
                mapping = ColumnMap.model_validate({**base.model_dump(), "unit": unit or base.unit})
                meter = mapping.meter.format(**self.groups)
            except (ValidationError, KeyError) as exc:
                message = (exc.errors()[0]["msg"].removeprefix("Value error, ")
                           if isinstance(exc, ValidationError) else
                           f"meter id needs {{{exc.args[0]}}} from path_regex")
                index = group.index.to_numpy()
                rejected.extend(
                    self.reject(f"line {lines[i]}: {raw_time.iloc[i]},{meter_id},"
                                 f"{values.iloc[i]},{unit}",
                                 f"meter {meter_id!r} unit {unit!r}: {message}")
                    for i in index)
                continue
            parts.append(self._meter_readings(meter, mapping, group[["time", "value"]],
                                              rejected))
        return parts

    def _meter_readings(self, meter: str, mapping: ColumnMap, samples: pd.DataFrame,
                        rejected: list[Rejected]) -> pd.DataFrame:
        conversion = mapping.conversion
        samples = samples.assign(value=to_canonical(samples["value"], conversion))
        if mapping.kind == "interval":
            out = samples.assign(quality="ok")
        else:
            tail = self.state.tails.get(meter, [])
            carried = pd.DataFrame({
                "time": pd.Series([pd.Timestamp(t) for t, _ in tail],
                                  dtype="datetime64[ns, UTC]"),
                "value": pd.Series([v for _, v in tail], dtype="float64"),
            })
            samples = pd.concat([carried, samples], ignore_index=True)
            samples = samples.sort_values("time", kind="stable")
            if mapping.kind == "register":
                rollover = None if mapping.rollover is None else (
                    mapping.rollover * conversion.factor)
                converted = register_to_interval(samples, rollover, mapping.interval)
                last = samples.tail(1)
                self.state.tails[meter] = [[t.isoformat(), float(v)] for t, v in
                                           zip(last["time"], last["value"], strict=True)]
            else:
                step = pd.Timedelta(mapping.interval)
                bucket = samples["time"].dt.floor(step)
                open_bucket = samples[bucket == bucket.max()] if len(samples) else samples
                complete = None if samples.empty else bucket.max()
                converted = power_to_interval(samples, step, complete_before=complete)
                self.state.tails[meter] = [[t.isoformat(), float(v)] for t, v in
                                           zip(open_bucket["time"], open_bucket["value"],
                                               strict=True)]
            for t, v, reason in converted.problems.itertuples(index=False):
                rejected.append(self.reject(f"{t.isoformat()},{v:g}", f"{meter}: {reason}"))
            out = converted.frame
        quantity = "energy" if mapping.kind == "power" else conversion.quantity
        return out.assign(meter=meter, quantity=quantity)

def _line_blocks(handle: io.BufferedIOBase, size: int) -> Iterator[bytes]:
    """Whole lines of ``handle`` in blocks of about ``size`` bytes (memory stays flat);
    a last line without a newline gets one. Newlines inside quoted values are not supported."""
    carry = b""
    while True:
        block = handle.read(size)
        if not block:
            if carry:
                yield carry if carry.endswith(b"\n") else carry + b"\n"
            return
        data = carry + block
        cut = data.rfind(b"\n") + 1
        data, carry = data[:cut], data[cut:]
        if data:
            yield data


def _undecodable_lines(data: bytes) -> tuple[bytes, list[tuple[int, str, str]]]:
    """``data`` with the lines that are not UTF-8 emptied (so Arrow skips them), and those
    lines as (index in the block, text with replacement marks, reason)."""
    try:
        data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    bad = []
    for i, raw in enumerate(lines):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append((i, raw.decode("utf-8", "replace"),
                        f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1} is not UTF-8 "
                        f"text; re-export the file as UTF-8 or fix that byte"))
            lines[i] = b""
    return b"\n".join(lines), bad


def _empty_lines(data: bytes) -> np.ndarray:
    """Indexes of the empty lines in a block of whole lines (Arrow skips them)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], ends[:-1] + 1])
    length = ends - starts
    carriage = length == 1
    carriage[carriage] = raw[starts[carriage]] == 13
    return np.flatnonzero((length == 0) | carriage)


def _year_overlaps(stem: str, start: pd.Timestamp | None, end: pd.Timestamp | None) -> bool:
    """Whether the UTC year named by ``stem`` overlaps [start, end) (True if not a year)."""
    if not (stem.isdigit() and len(stem) == 4):
        return True
    first = pd.Timestamp(f"{stem}-01-01", tz="UTC")
    after = pd.Timestamp(f"{int(stem) + 1}-01-01", tz="UTC")
    return (start is None or after > start) and (end is None or first < end)


def _numbers(column: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Values as float64 and a mask of the finite ones (fast path through Arrow);
    ``decimal=","`` reads European decimals such as ``1,5``."""
    if pd.api.types.is_numeric_dtype(column.dtype) and column.dtype != bool:
        values = column.astype("float64")
    else:
        if decimal == ",":
            column = column.astype("string").str.replace(",", ".", regex=False)
        try:
            values = pd.Series(
                pc.cast(pa.array(column, from_pandas=True), pa.float64()).to_numpy(
                    zero_copy_only=False), index=column.index)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = pd.to_numeric(column.astype("string"), errors="coerce").astype("float64")
    finite = pd.Series(np.isfinite(values.to_numpy(dtype="float64")), index=column.index)
    return values, finite
