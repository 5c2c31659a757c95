"""The query, body and row models of the HTTP API: they validate requests and, through
flask-openapi3, make its OpenAPI description."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask_openapi3 import RawModel
from pydantic import Field

from wattlens.core.base import Frozen
from wattlens.store.base import Aggregation
from wattlens.store.remote import ANY_QUANTITY, PARQUET
from wattlens.store.schema import QUANTITIES

Format = Annotated[Literal["json", "csv", "parquet"],
                   Field(description="json (records), csv or parquet")]
MEDIA: dict[str, str] = {"json": "application/json", "csv": "text/csv", "parquet": PARQUET}
"""Media type of each ``format``."""

_METER = Field(None, description="meter id (repeatable); default every meter the token sees")
_START = Field(None, description="start, ISO 8601 with offset, e.g. 2019-01-01T00:00:00Z")
_END = Field(None, description="end (exclusive), ISO 8601 with offset")
_QUANTITY = Field("energy", description=f"one of {sorted(QUANTITIES)}")


class MetersQuery(Frozen):
    quantity: str | None = Field(None, description="count readings of this quantity only")


class ReadingsQuery(Frozen):
    meter: list[str] | None = _METER
    quantity: str = Field("energy", description=f"one of {sorted(QUANTITIES)}, or "
                                                f"{ANY_QUANTITY!r} for all")
    start: str | None = _START
    end: str | None = _END
    format: Format = "json"


class AggregateQuery(Frozen):
    meter: list[str] | None = _METER
    quantity: str = _QUANTITY
    start: str = Field(description="start, ISO 8601 with offset")
    end: str = Field(description="end (exclusive), ISO 8601 with offset")
    every: str = Field("1h", description="bucket width: 1min, 5min, 15min, 30min, 1h or 1d")
    how: Aggregation = Field("sum", description="sum, mean, max, min or count")
    tz: str = Field("UTC", description="IANA timezone the buckets align in")
    format: Format = "json"


class LatestQuery(Frozen):
    meter: list[str] | None = _METER
    quantity: str = _QUANTITY
    format: Format = "json"


class ForecastsQuery(Frozen):
    meter: list[str] | None = _METER
    start: str | None = _START
    end: str | None = _END
    model: str | None = Field(None, description="only this model, e.g. prophet")
    format: Format = "json"


class EventsQuery(Frozen):
    meter: list[str] | None = _METER
    start: str | None = _START
    end: str | None = _END
    kind: list[str] | None = Field(None, description="only these kinds (repeatable)")
    format: Format = "json"


class Annotation(Frozen):
    event_id: str = Field(min_length=1, description="the event's id")
    status: Literal["acknowledged", "non-routine", "open"] = Field(
        description="acknowledged, non-routine or open")
    note: str = Field("", description="why")
    by: str | None = Field(None, description="who (default: the token's name)")
    at: str | None = Field(None, description="when, ISO 8601 with offset (default: now)")


class JobsQuery(Frozen):
    limit: int = Field(100, ge=1, le=10000, description="runs returned, newest first")
    job: str | None = Field(None, description="only this job, e.g. detect")


class MVQuery(Frozen):
    meter: list[str] | None = _METER


class KeyQuery(Frozen):
    key: str = Field(min_length=1, description="the result's key")


class KindQuery(Frozen):
    kind: str = Field(min_length=1, description="document kind, e.g. checkpoint")


class DocumentQuery(Frozen):
    kind: str = Field(min_length=1, description="document kind, e.g. checkpoint")
    key: str = Field(min_length=1, description="document key")


class FrameBody(RawModel):
    """A frame of rows: Parquet, or JSON records (times ISO 8601 with offset)."""

    mimetypes: list[str] = [PARQUET, "application/json"]


class DocumentBody(RawModel):
    """One JSON document (an object)."""

    mimetypes: list[str] = ["application/json"]


class Written(Frozen):
    written: int = Field(description="rows written")


class Meter(Frozen):
    id: str
    name: str = ""
    site: str | None = None
    building: str | None = None
    commodity: str | None = None
    timezone: str = "UTC"
    stored: bool = Field(description="the store has readings of the meter (of the quantity "
                                     "asked)")


class Error(Frozen):
    error: str = Field(description="what is wrong and what to do")
    type: str = Field("", description="the kind of error")


class ReadingRow(Frozen):
    time: str
    meter: str
    quantity: str
    value: float
    quality: str


class AggregateRow(Frozen):
    time: str = Field(description="bucket start (UTC)")
    meter: str
    value: float


class LatestRow(Frozen):
    meter: str
    time: str
    value: float


class ForecastRow(Frozen):
    issued_at: str
    meter: str
    model: str
    model_version: str
    time: str
    yhat: float
    yhat_lower: float
    yhat_upper: float


class EventRow(Frozen):
    event_id: str
    meter: str
    start: str
    end: str
    kind: str
    severity: float
    excess_kwh: float
    details: str
    status: str
    annotated_by: str
    annotated_at: str | None
    note: str


def table(row: type[Frozen], what: str) -> dict[str, Any]:
    """The 200 response of a table endpoint: JSON records of ``row``, CSV or Parquet."""
    return {"description": what, "content": {
        MEDIA["json"]: {"schema": {"type": "array", "items": row.model_json_schema()}},
        MEDIA["csv"]: {"schema": {"type": "string"}},
        MEDIA["parquet"]: {"schema": {"type": "string", "format": "binary"}},
    }}
