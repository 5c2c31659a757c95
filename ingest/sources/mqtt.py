"""MQTT subscriber (paho-mqtt): JSON payloads mapped to meters and quantities.

Each ``[[sources.topics]]`` entry maps a topic filter (``+``/``#`` wildcards) to a meter (a
template: ``{0}`` is the first ``+`` level) and its values by a path expression into the JSON
payload (``ENERGY.Total``, ``aenergy.total``, ``emeters[0].power``). A value's ``kind`` is
``register`` (cumulative energy → energy [kWh per interval]), ``interval`` (energy per message)
or ``power`` (→ power [kW]). The time comes from the payload (``time`` path; UNIX seconds,
milliseconds or ISO 8601, naive values in ``timezone``) or, without one, the arrival time.

Presets for common devices:

- ``shelly``: Shelly Plus/Pro PM switch status (``<device>/status/switch:0``): ``apower`` [W],
  ``aenergy.total`` [Wh], time ``aenergy.minute_ts`` (UNIX s).
- ``tasmota``: Tasmota telemetry (``tele/<device>/SENSOR``): ``ENERGY.Total`` [kWh],
  ``ENERGY.Power`` [W], time ``Time`` (ISO 8601, local time unless SetOption52 adds the offset).

Delivery: a persistent session (fixed ``client_id``, clean session off) at QoS 1, and messages
are acknowledged only after the worker has stored their batch, so nothing is lost while the
worker is down or killed (the broker keeps them) and redeliveries are dropped against the
checkpoint. Garbage, non-JSON and oversized payloads become :class:`wattlens.ingest.base.Rejected`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from wattlens.core.base import Duration, Frozen, TimeZone
from wattlens.core.meters import MeterInfo
from wattlens.ingest.base import (
    SOURCES,
    Batch,
    IngestContext,
    Rejected,
    SourceSection,
    SourceUnavailable,
)
from wattlens.ingest.live import RegisterState, meter_interval, register_intervals
from wattlens.ingest.normalise import collapse_duplicates, parse_local_time, unit_conversion
from wattlens.store.schema import ContractError, validate_readings

log = logging.getLogger(__name__)

_FIRST_S = pd.Timestamp.min.timestamp() + 1
_LAST_S = pd.Timestamp.max.timestamp() - 1
"""UNIX times [s] that fit a timestamp (pandas' nanosecond range, 1677-09-22..2262-04-11)."""

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``"a.b[0].c"`` → ``["a", "b", 0, "c"]``; raises ValueError on an empty path."""
    tokens: list[str | int] = []
    for name, index in _PATH_TOKEN.findall(path):
        tokens.append(int(index) if index else name)
    if not tokens or "".join(str(t) for t in tokens) == "":
        raise ValueError(f"path {path!r} is empty; write e.g. 'ENERGY.Total' or 'emeters[0].power'")
    return tokens


def extract(payload: Any, path: str) -> Any:
    """The value at ``path`` in a decoded JSON payload; KeyError naming the missing step."""
    value = payload
    for token in parse_path(path):
        try:
            value = value[token]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"payload has no {path!r} (missing at {token!r})") from None
    return value


def _finite(raw: Any, what: str) -> float:
    """``raw`` as a finite float; ValueError naming ``what`` for text, booleans, NaN,
    infinities and integers too large for a float."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{what} = {raw!r} is not a number")
    try:
        number = float(raw)
    except OverflowError:
        raise ValueError(f"{what} = {str(raw)[:20]}... is not a finite number (too large for "
                         f"a float)") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} = {raw!r} is not a finite number")
    return number


class ValueOptions(Frozen):
    """One value in a payload."""

    path: str = Field(description="path expression into the JSON payload")
    kind: Literal["register", "interval", "power"] = Field(
        description="register: cumulative energy; interval: energy per message; power"
    )
    unit: str = Field(description="unit of the value: Wh, kWh, W, kW, ...")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parse_path(value)
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        unit_conversion(value)
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "shelly": {
        "time": "aenergy.minute_ts", "time_format": "unix",
        "values": [
            {"path": "aenergy.total", "kind": "register", "unit": "Wh"},
            {"path": "apower", "kind": "power", "unit": "W"},
        ],
    },
    "tasmota": {
        "time": "Time", "time_format": "iso",
        "values": [
            {"path": "ENERGY.Total", "kind": "register", "unit": "kWh"},
            {"path": "ENERGY.Power", "kind": "power", "unit": "W"},
        ],
    },
}
"""Payload maps of common devices (a topic's own ``time``/``values`` override them)."""


class TopicOptions(Frozen):
    """A topic filter and how its payloads map to a meter."""

    topic: str = Field(min_length=1, description="topic filter, e.g. tele/+/SENSOR")
    meter: str = Field(min_length=1, description="meter id; {0} = the first '+' level")
    preset: Literal["shelly", "tasmota"] | None = Field(None, description="device preset")
    time: str | None = Field(None, description="path of the timestamp; none = arrival time")
    time_format: Literal["unix", "unix_ms", "iso"] = Field("iso", description="timestamp form")
    values: list[ValueOptions] = Field(default_factory=list, description="values to read")
    interval: Duration | None = Field(None, description="energy interval of registers (default "
                                 "the meter's configured interval, else 15min)")
    zero_is_missing: bool = Field(False, description="drop intervals with zero energy")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            return {**PRESETS[data["preset"]], **data}
        return data

    @model_validator(mode="after")
    def _has_values(self) -> TopicOptions:
        if not self.values:
            raise ValueError(
                f"topic {self.topic!r} maps no values; add [[sources.topics.values]] or set "
                f"preset = 'shelly' | 'tasmota'"
            )
        return self

    def pattern(self) -> re.Pattern[str]:
        """A regex for the filter; '+' levels are captured for the meter template."""
        parts = []
        for level in self.topic.split("/"):
            parts.append("([^/]+)" if level == "+" else ".*" if level == "#" else re.escape(level))
        return re.compile("^" + "/".join(parts) + "$")


@dataclass
class _Message:
    arrival: pd.Timestamp
    topic: str
    payload: bytes
    mid: int
    qos: int


@SOURCES.register("mqtt")
class MqttSource:
    """Subscribe to topics; each fetch turns the messages received since the last one into a
    batch, and acknowledges them after the worker has stored it."""

    class Options(Frozen):
        host: str = Field("127.0.0.1", description="broker address")
        port: int = Field(1883, ge=1, le=65535, description="broker port")
        client_id: str | None = Field(None, description="session id (default wattlens-<name>)")
        username: str | None = Field(None, description="broker user")
        password_env: str = Field("WATTLENS_MQTT_PASSWORD", description="env var of the password")
        qos: Literal[0, 1, 2] = Field(1, description="subscription QoS")
        max_payload_bytes: int = Field(65536, gt=0, description="larger payloads are refused")
        max_batch: int = Field(5000, gt=0, description="messages per batch at most")
        timezone: TimeZone = Field(
            "UTC", description="timezone of payload times without an offset"
        )
        topics: list[TopicOptions] = Field(min_length=1, description="topics and their mapping")

    def __init__(self, name: str, options: Options, meters: dict[str, MeterInfo],
                 password: str | None = None) -> None:
        self.name = name
        self.options = options
        self._password = password
        self._topics = [(t, t.pattern()) for t in options.topics]
        self._meters = meters
        self._pending: deque[_Message] = deque()
        self._early: list[Rejected] = []
        self._meter_topics: dict[str, TopicOptions] = {}
        self._meter_ids: dict[str, str] = {}  # meter id -> "" if valid, else why not
        self._lock = threading.Lock()
        self._client: Any = None
        self._connected = threading.Event()
        self._error = ""

    @classmethod
    def from_config(cls, section: SourceSection, context: IngestContext) -> MqttSource:
        """Build from a ``[[sources]]`` section; the password comes from ``password_env``."""
        options = section.options
        assert isinstance(options, cls.Options)
        return cls(section.name, options, context.meters,
                   os.environ.get(options.password_env))

    # ------------------------------------------------------------ connection
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._error = f"broker refused the connection: {reason}"
            return
        for topic in self.options.topics:
            client.subscribe(topic.topic, qos=self.options.qos)
        self._connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       props: Any) -> None:
        self._connected.clear()
        self._error = f"disconnected from the broker ({reason})"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        arrival = pd.Timestamp.now(tz="UTC")
        if len(msg.payload) > self.options.max_payload_bytes:
            with self._lock:
                self._early.append(Rejected.of(
                    self.name, f"{msg.topic} {msg.payload[:200]!r}",
                    f"payload on {msg.topic!r} is {len(msg.payload)} bytes, over "
                    f"max_payload_bytes={self.options.max_payload_bytes}; fix the publisher or "
                    f"raise the limit",
                ))
            if msg.qos:
                client.ack(msg.mid, msg.qos)
            return
        with self._lock:
            self._pending.append(_Message(arrival, msg.topic, msg.payload, msg.mid, msg.qos))

    def _connect(self) -> None:
        import paho.mqtt.client as mqtt

        o = self.options
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=o.client_id or f"wattlens-{self.name}",
            clean_session=False,
            manual_ack=True,
        )
        if o.username:
            client.username_pw_set(o.username, self._password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        # paho hints min_delay as int, but it is a delay in seconds and floats work
        client.reconnect_delay_set(0.2, 5)  # type: ignore[arg-type]
        try:
            client.connect(o.host, o.port, keepalive=30)
        except OSError as exc:
            raise SourceUnavailable(
                f"source {self.name!r}: MQTT broker {o.host}:{o.port} unreachable ({exc}); "
                f"check that it runs and the host/port options"
            ) from None
        client.loop_start()
        self._client = client
        if not self._connected.wait(5):
            raise SourceUnavailable(
                f"source {self.name!r}: MQTT broker {o.host}:{o.port} did not accept the "
                f"session within 5 s ({self._error or 'no CONNACK'})"
            )

    # ------------------------------------------------------------ mapping
    def _time(self, topic: TopicOptions, body: Any, arrival: pd.Timestamp) -> pd.Timestamp:
        if topic.time is None:
            return arrival
        raw = extract(body, topic.time)
        if topic.time_format in ("unix", "unix_ms"):
            seconds = _finite(raw, f"time {topic.time!r}")
            if topic.time_format == "unix_ms":
                seconds /= 1000
            if not _FIRST_S <= seconds < _LAST_S:
                raise ValueError(f"time {topic.time!r} = {raw!r} is out of range for a UNIX "
                                 f"timestamp in seconds (years 1678-2261)")
            return pd.Timestamp(seconds, unit="s", tz="UTC")
        parsed = parse_local_time(pd.Series([str(raw)]), self.options.timezone)
        problem = parsed.problems.iloc[0]
        if isinstance(problem, str):
            raise ValueError(problem)
        return pd.Timestamp(parsed.utc.iloc[0])

    def _samples(self, msg: _Message) -> tuple[list[tuple[str, str, pd.Timestamp, float]], str]:
        """(meter, kind, time, canonical value) per mapped value, or a reason to reject;
        remembers which topic entry each meter came from (its interval and options)."""
        for topic, pattern in self._topics:
            match = pattern.match(msg.topic)
            if match is None:
                continue
            try:
                body = json.loads(msg.payload)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return [], f"payload on {msg.topic!r} is not JSON ({exc}); check the publisher"
            try:
                meter = self._meter(topic.meter.format(*match.groups()))
                when = self._time(topic, body, msg.arrival)
                out: list[tuple[str, str, pd.Timestamp, float]] = []
                for value in topic.values:
                    number = _finite(extract(body, value.path), repr(value.path))
                    converted = number * unit_conversion(value.unit).factor
                    out.append((meter, value.kind, when, _finite(converted, repr(value.path))))
                self._meter_topics[meter] = topic
            except (KeyError, ValueError, IndexError, OverflowError) as exc:
                text = str(exc).strip("'\"")
                return [], f"payload on {msg.topic!r}: {text}; check the topic's path options"
            return out, ""
        return [], f"topic {msg.topic!r} matches no [[sources.topics]] filter"

    def _meter(self, meter: str) -> str:
        """``meter`` if it is a valid meter id (checked once per id by the readings contract),
        else ValueError."""
        known = self._meter_ids.get(meter)
        if known is None:
            try:
                validate_readings(pd.DataFrame({"time": [pd.Timestamp(0, tz="UTC")],
                                                "meter": [meter], "value": [0.0]}))
                known = ""
            except ContractError as exc:
                known = f"meter id {meter!r} from the topic is not usable ({exc})"
            self._meter_ids[meter] = known
        if known:
            raise ValueError(known)
        return meter

    def _interval(self, meter: str) -> pd.Timedelta:
        topic = self._meter_topics.get(meter)
        if topic is not None and topic.interval:
            return pd.Timedelta(topic.interval)
        return meter_interval(self._meters, meter)

    def fetch(
        self,
        checkpoint: dict[str, Any] | None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Iterator[Batch]:
        """The messages received since the last fetch as one batch (acked after it is stored)."""
        if start is not None or end is not None:
            raise ValueError(
                f"source {self.name!r} subscribes to live MQTT topics, which keep no history "
                f"to backfill; run `wattlens ingest run` instead"
            )
        if self._client is None:
            self._connect()
        with self._lock:
            taken = [self._pending.popleft()
                     for _ in range(min(len(self._pending), self.options.max_batch))]
            rejected, self._early = self._early, []
        if not taken and not rejected and not self._connected.is_set():
            raise SourceUnavailable(f"source {self.name!r}: {self._error or 'not connected'}")
        try:
            batch = self._batch(taken, rejected, checkpoint)
            yield batch
        except BaseException:  # not stored (or a bug): keep the messages for the next fetch
            with self._lock:
                self._pending.extendleft(reversed(taken))
            raise
        for msg in taken:
            if msg.qos:
                self._client.ack(msg.mid, msg.qos)

    def _batch(self, taken: list[_Message], rejected: list[Rejected],
               checkpoint: dict[str, Any] | None) -> Batch:
        """The batch of the ``taken`` messages: each message mapped on its own (a bad one is
        rejected with its topic, a payload excerpt and the reason), registers advanced."""
        state: dict[str, dict[str, Any]] = {  # a copy: the stored checkpoint stays as it was
            meter: dict(s) for meter, s in (checkpoint or {}).get("meters", {}).items()}
        registers: dict[str, list[tuple[pd.Timestamp, float]]] = {}
        rows: list[dict[str, Any]] = []
        for msg in taken:
            samples, reason = self._samples(msg)
            if reason:
                text = msg.payload.decode("utf-8", "replace")
                rejected.append(Rejected.of(self.name, f"{msg.topic} {text}", reason))
            for meter, kind, when, value in samples:
                if kind == "register":
                    registers.setdefault(meter, []).append((when, value))
                    continue
                quantity = "power" if kind == "power" else "energy"
                mstate = state.setdefault(meter, {})
                last = mstate.get(f"last_{quantity}")
                if last is not None and when <= pd.Timestamp(last):
                    continue  # a redelivery of a message already stored
                rows.append({"time": when, "meter": meter, "quantity": quantity,
                             "value": value, "quality": "ok"})
                newest = max(when, pd.Timestamp(mstate.get(f"newest_{quantity}", when)))
                mstate[f"newest_{quantity}"] = newest.isoformat()
        for meter, register in registers.items():
            mstate = state.setdefault(meter, {})
            result = register_intervals(
                RegisterState.from_json(mstate), register, self._interval(meter),
                zero_is_missing=self._meter_topics[meter].zero_is_missing,
            )
            rows += [{"time": t, "meter": meter, "quantity": "energy", "value": v, "quality": q}
                     for t, v, q in result.rows]
            rejected += [Rejected.of(self.name, meter, f"meter {meter!r} {p}")
                         for p in result.problems]
            if result.state is not None:
                mstate.update(result.state.to_json())
        frame = pd.DataFrame(rows, columns=["time", "meter", "quantity", "value", "quality"])
        frame = collapse_duplicates(frame)
        for mstate in state.values():
            for quantity in ("power", "energy"):
                if f"newest_{quantity}" in mstate:
                    mstate[f"last_{quantity}"] = mstate.pop(f"newest_{quantity}")
        return Batch(validate_readings(frame, f"source {self.name!r}"), rejected,
                     {"meters": state})

    def close(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
