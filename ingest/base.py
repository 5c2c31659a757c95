"""The source plug-in contract every ingest source implements.

Contract (for source authors and the worker runtime):

- A source is a class registered with ``@SOURCES.register("type-name")`` (a
  :class:`~wattlens.core.base.Registry`: a taken name is refused). It has a nested ``Options``
  model (a :class:`~wattlens.core.base.Frozen` subclass) describing its config keys, and a
  classmethod ``from_config(section: SourceSection, context: IngestContext) -> Source``.
  ``section.options`` is an already validated instance of that ``Options`` model; ``context``
  is what a source may know besides its options (meters, site positions), built from the
  config by the entry point — sources never see the whole configuration.
- ``fetch(checkpoint, start=None, end=None)`` yields :class:`Batch` es: one per file chunk or poll.
  ``batch.readings`` is a validated readings frame (``wattlens.store.schema.validate_readings``; may
  be empty); ``batch.rejected`` lists the bad records of that chunk, each with a reason naming the
  input, the problem and the fix; ``batch.checkpoint`` is the JSON-able state *after* the batch.
  The worker stores the checkpoint only after the batch's readings are durably written, and passes
  the last stored one back to ``fetch`` on restart, so a source resumes without gap or duplicate.
  ``start``/``end`` (UTC, half-open) restrict a backfill; ``checkpoint=None`` means from scratch.
- A bad record never raises: it becomes a :class:`Rejected`. Exceptions are for misuse
  (``ValueError``) or an unreachable device/service (:class:`SourceUnavailable`, retry later).
- ``close()`` releases connections; it is safe to call twice.
- Config: ``[[sources]]`` tables in the TOML file, validated by :class:`SourceSection`: the common
  keys ``name``, ``type``, ``interval``, ``enabled``; every other key of the table is an option of
  that type, validated by its ``Options`` model (errors name the key, the value and the fix).
  Source modules register themselves on import; ``wattlens.ingest.sources`` imports them all.
  ``section.model_dump()`` gives the options nested under ``options``; that form validates too.
- :func:`prefetch` wraps ``fetch`` so that the next batch is parsed while the current one is
  written (a backfill of file sources runs ~1.3-2x faster; see benchmarks/bench_ingest.py).
"""

from __future__ import annotations

import contextlib
import importlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import pandas as pd
from pydantic import Field, SerializeAsAny, ValidationError, model_validator

from wattlens.core.base import Duration, Frozen, Registry
from wattlens.core.meters import MeterInfo
from wattlens.store.schema import empty_readings

RECORD_CHARS = 500
"""Longest raw record kept in a :class:`Rejected` (longer records are cut, with a marker)."""


class SourceUnavailable(RuntimeError):
    """The device or service behind a source cannot be reached now; retrying later may work."""


@dataclass(frozen=True)
class Rejected:
    """One bad input record: where it came from, its raw text and why it was refused."""

    source: str
    record: str
    reason: str

    @classmethod
    def of(cls, source: str, record: Any, reason: str) -> Rejected:
        """Build a rejection, cutting a huge raw record to :data:`RECORD_CHARS` characters."""
        text = record if isinstance(record, str) else repr(record)
        if len(text) > RECORD_CHARS:
            text = f"{text[:RECORD_CHARS]}... [{len(text)} chars]"
        return cls(source, text, reason)


@dataclass(frozen=True)
class Batch:
    """What a source yields: validated readings, rejected records and the checkpoint after it."""

    readings: pd.DataFrame = field(default_factory=empty_readings)
    rejected: list[Rejected] = field(default_factory=list)
    checkpoint: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """A configured source instance (see the module docstring for the contract)."""

    name: str

    def fetch(
        self,
        checkpoint: dict[str, Any] | None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Iterator[Batch]: ...

    def close(self) -> None: ...


class SitePosition(Frozen):
    """Where a site is and which meter holds its outdoor weather (what the weather source
    needs of a site)."""

    id: str = Field(min_length=1, description="site id")
    latitude: float | None = Field(None, description="latitude [deg]")
    longitude: float | None = Field(None, description="longitude [deg]")
    weather_meter: str | None = Field(None, description="meter id of the site's weather")


class IngestContext(Frozen):
    """What a source may know besides its own options; built once by the entry point."""

    meters: dict[str, MeterInfo] = Field(
        default_factory=dict, description="every configured meter by id"
    )
    sites: dict[str, SitePosition] = Field(
        default_factory=dict, description="every configured site by id"
    )


SOURCES: Registry[type[Any]] = Registry("source type")
"""Registered source classes by type name (``type`` in a ``[[sources]]`` table); each follows
the contract of this module's docstring (a nested ``Options`` model, ``from_config``)."""

SOURCE_MODULES = "wattlens.ingest.sources"
"""Package whose import registers every built-in source."""


def source_class(type_name: str) -> type[Any]:
    """The registered class for ``type_name`` (importing the built-in sources first)."""
    importlib.import_module(SOURCE_MODULES)
    try:
        return SOURCES[type_name]
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def _options_error(type_name: str, exc: ValidationError, data: dict[str, Any]) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        fix = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            parts.append(f"option '{key}' is required for type {type_name!r}; add it")
        elif err["type"] == "extra_forbidden":
            parts.append(
                f"option '{key}' is not known to type {type_name!r}; remove it or check its "
                f"spelling in wattlens.example.toml"
            )
        else:
            parts.append(f"option '{key}' = {err.get('input')!r}: {fix}")
    return "; ".join(parts)


class SourceSection(Frozen):
    """One ``[[sources]]`` table: common keys plus the options of its source type."""

    COMMON: ClassVar[tuple[str, ...]] = ("name", "type", "interval", "enabled")

    name: str = Field(min_length=1, description="unique source name, e.g. 'cambridge-files'")
    type: str = Field(min_length=1, description="registered source type: files, weather, ...")
    interval: Duration = Field("1h", description="poll/schedule interval as a pandas duration")
    enabled: bool = Field(True, description="false keeps the section but does not run it")
    options: SerializeAsAny[Frozen] = Field(
        description="the type's options (validated by its Options model)"
    )

    @model_validator(mode="before")
    @classmethod
    def _split_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("options"), Frozen):
            return data
        if isinstance(data.get("options"), dict):  # the dumped form: options nested
            data = {**{k: v for k, v in data.items() if k != "options"}, **data["options"]}
        type_name = data.get("type")
        if not isinstance(type_name, str):
            raise ValueError("every [[sources]] table needs type = 'files' | 'weather' | ...")
        options_model = source_class(type_name).Options
        raw = {k: v for k, v in data.items() if k not in cls.COMMON}
        try:
            options = options_model.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(
                f"source {data.get('name')!r}: {_options_error(type_name, exc, raw)}"
            ) from None
        common = {k: v for k, v in data.items() if k in cls.COMMON}
        return {**common, "options": options}

    @property
    def every(self) -> pd.Timedelta:
        """The schedule interval as a Timedelta."""
        return pd.Timedelta(self.interval)


def prefetch(batches: Iterator[Batch], depth: int = 1) -> Iterator[Batch]:
    """Yield ``batches`` in order while a thread already reads up to ``depth`` more, so that
    parsing the next chunk overlaps writing this one. Exceptions surface in order; closing
    the generator stops the reader after its current batch."""
    pending: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                pending.put(("batch", batch))
            pending.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            pending.put(("error", exc))

    reader = threading.Thread(target=read, name="ingest-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = pending.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                pending.get(timeout=0.05)
        reader.join()


def build_source(section: SourceSection, context: IngestContext) -> Source:
    """Instantiate the source described by ``section``."""
    return source_class(section.type).from_config(section, context)
