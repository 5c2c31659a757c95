"""Vectorised InfluxDB line protocol: frames → batches of bytes, and tag/InfluxQL quoting.

Serialisation runs in Arrow compute kernels (no Python loop per row): ~2M lines/s here,
about 10x influxdb-client's DataframeSerializer.

Tag values are written so that *any* meter id round-trips exactly on every InfluxDB version:
1.x cannot represent a backslash before a separator or at the end of a tag value, so ``%`` and
``\\`` are percent-encoded (``%25``, ``%5C``) before the line-protocol escapes of ``,``, ``=``
and space; :func:`decode_tag` reverses it on read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_DECODE = re.compile(r"%(25|5C)")


def encode_tag(value: str) -> str:
    """The stored form of a tag value (before line-protocol escaping)."""
    return value.replace("%", "%25").replace("\\", "%5C")


def decode_tag(stored: str) -> str:
    """Inverse of :func:`encode_tag`."""
    return _DECODE.sub(lambda m: "%" if m.group(1) == "25" else "\\", stored)


def escape_tag(value: str) -> str:
    """A tag value (or key) as it appears in a line."""
    return (
        encode_tag(value).replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
    )


def quote_string(value: str) -> str:
    """An InfluxQL string literal: ``'...'`` with ``\\`` and ``'`` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tag_literal(value: str) -> str:
    """An InfluxQL literal matching the stored form of tag ``value``."""
    return quote_string(encode_tag(value))


def quote_identifier(name: str) -> str:
    """An InfluxQL identifier: ``"..."`` with ``\\`` and ``"`` escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _string_field(values: pd.Series) -> pa.Array:
    """Quoted string field values, escaped once per distinct value."""
    codes, uniques = pd.factorize(values.astype("str"))
    quoted = [
        '"' + u.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for u in uniques
    ]
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(quoted, type=pa.string())
    ).cast(pa.string())


def _field(values: pd.Series) -> pa.Array:
    if pd.api.types.is_float_dtype(values.dtype):
        return pa.array(values.to_numpy(dtype="float64")).cast(pa.string())
    if pd.api.types.is_integer_dtype(values.dtype):
        return pc.binary_join_element_wise(
            pa.array(values.to_numpy(dtype="int64")).cast(pa.string()), pa.scalar("i"), ""
        )
    return _string_field(values)


def serialise(
    measurement: str,
    tags: pd.DataFrame,
    fields: Mapping[str, pd.Series],
    times: pd.Series,
) -> pa.Array:
    """One line per row, each ending in ``\\n``: ``measurement,tags fields time_ns``.

    ``tags`` columns are text; float fields become floats, integer fields ``i`` integers and
    anything else quoted strings. ``times`` must be tz-aware.
    """
    head = escape_tag(measurement)
    if len(tags.columns):
        codes, uniques = _factorize_rows(tags)
        prefixes = [
            head + "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in zip(tags.columns, row))
            + " "
            for row in uniques
        ]
        prefix = pa.DictionaryArray.from_arrays(
            pa.array(codes.astype(np.int32)), pa.array(prefixes, type=pa.string())
        ).cast(pa.string())
    else:
        prefix = pa.array([head + " "] * len(times), type=pa.string())
    parts: list[pa.Array | pa.Scalar] = [prefix]
    for i, (name, values) in enumerate(fields.items()):
        parts.append(pa.scalar(("," if i else "") + escape_tag(name) + "="))
        parts.append(_field(values))
    ns = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns").asi8
    parts += [pa.scalar(" "), pa.array(ns).cast(pa.string()), pa.scalar("\n")]
    return pc.binary_join_element_wise(*parts, "")


def _factorize_rows(tags: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Codes of each row's tag combination and the combinations (per-column factorise)."""
    combined = np.zeros(len(tags), dtype=np.int64)
    columns = []
    for name in tags.columns:
        codes, uniques = pd.factorize(tags[name].astype("str"))
        combined = combined * len(uniques) + codes
        columns.append((codes, uniques))
    _, first_row, inverse = np.unique(combined, return_index=True, return_inverse=True)
    rows = [tuple(str(u[c[i]]) for c, u in columns) for i in first_row]
    return inverse, rows


def batches(lines: pa.Array, size: int) -> Iterator[bytes]:
    """Cut serialised lines into request bodies of at most ``size`` lines (zero-copy slices)."""
    for start in range(0, len(lines), size):
        chunk = lines.slice(start, size)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
        first, last = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
        yield memoryview(chunk.buffers()[2])[first:last].tobytes()
