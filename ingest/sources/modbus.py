"""Modbus TCP power/energy meters, polled on the source's interval (pymodbus client).

A device is described by a *profile*: a register map per meter model in
``ingest/profiles/<name>.toml`` (address, function 3/4, type int16/uint16/int32/uint32/float32,
word and byte order, scale, unit, kind). Each poll reads the cumulative energy register
(→ energy [kWh per interval], via :func:`wattlens.ingest.normalise.register_to_interval`) and the
power register (→ power [kW] at the sample time).

Time of a sample: ``clock = "poll"`` (the worker's clock when the poll ran; the register value
read at the first poll after an interval boundary counts for that boundary) or ``"device"``
(the profile's ``clock`` register, UNIX seconds). Exception responses, timeouts and refused
connections never raise out of :meth:`ModbusSource.fetch`: a failing device becomes a
:class:`wattlens.ingest.base.Rejected` naming host, unit, register and fix; when no device answers
at all the poll raises :class:`wattlens.ingest.base.SourceUnavailable`. Clients reconnect on the
next poll.
"""

from __future__ import annotations

import logging
import struct
import tomllib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from wattlens.core.base import Duration, Frozen
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
from wattlens.ingest.normalise import unit_conversion
from wattlens.store.schema import validate_readings

log = logging.getLogger(__name__)

PROFILE_DIR = Path(__file__).resolve().parents[1] / "profiles"
"""Where the shipped register maps live (one TOML file per meter model)."""

RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32"]
_FORMATS: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
}
PATIENCE_S = 0.25
"""How long a fetch waits for slow devices before yielding the others' readings [s]."""
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def register_count(dtype: str) -> int:
    """How many 16-bit registers a value of ``dtype`` occupies."""
    return _FORMATS[dtype][1]


def decode(
    registers: list[int],
    dtype: str,
    word_order: str = "big",
    byte_order: str = "big",
) -> float:
    """Decode raw 16-bit registers to a number. ``word_order`` little = least significant
    word first (e.g. Carlo Gavazzi); ``byte_order`` little = bytes swapped inside a register."""
    fmt, n = _FORMATS[dtype]
    if len(registers) != n:
        raise ValueError(f"{dtype} needs {n} registers, got {len(registers)}")
    words = list(registers) if word_order == "big" else list(reversed(registers))
    raw = b"".join(int(w).to_bytes(2, byte_order) for w in words)  # type: ignore[arg-type]
    return float(struct.unpack(">" + fmt, raw)[0])


def encode(value: float, dtype: str, word_order: str = "big", byte_order: str = "big") -> list[int]:
    """Inverse of :func:`decode` (the simulator serves values with it)."""
    fmt, _ = _FORMATS[dtype]
    number: float | int = float(value) if dtype == "float32" else int(round(value))
    raw = struct.pack(">" + fmt, number)
    words = [int.from_bytes(raw[i : i + 2], byte_order) for i in range(0, len(raw), 2)]  # type: ignore[arg-type]
    return words if word_order == "big" else list(reversed(words))


class RegisterSpec(Frozen):
    """One value in a meter's register map."""

    name: str
    address: int = Field(ge=0, le=65535, description="zero-based protocol address")
    function: Literal[3, 4] = Field(description="3 read holding / 4 read input registers")
    type: RegisterType
    scale: float = Field(1.0, description="raw value x scale = value in `unit`")
    unit: str = Field(description="unit after scaling: W, kW, Wh, kWh, MWh, s, Hz, ...")
    kind: Literal["energy_register", "power", "clock", "other"]
    ingest: bool = Field(True, description="false: documented but not read by default")

    @property
    def count(self) -> int:
        return register_count(self.type)

    @property
    def rollover(self) -> float | None:
        """The register modulus in `unit` for unsigned counters (wrap-around), else None."""
        if self.type in ("uint16", "uint32"):
            return float(2 ** (16 * self.count)) * self.scale
        return None


class Profile(Frozen):
    """A meter model's register map (``ingest/profiles/<name>.toml``)."""

    model: str
    manual: str = Field(min_length=1, description="the manual the map comes from")
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    extends: str | None = None
    registers: list[RegisterSpec]

    def first(self, kind: str) -> RegisterSpec | None:
        """The first ingested register of ``kind``."""
        return next((r for r in self.registers if r.kind == kind and r.ingest), None)

    def get(self, name: str) -> RegisterSpec:
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise ValueError(
            f"profile {self.model!r} has no register {name!r}; use one of "
            f"{[r.name for r in self.registers]}"
        )


def profile_names() -> list[str]:
    """Shipped profile names (file stems in ``ingest/profiles``)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


@cache
def load_profile(name: str) -> Profile:
    """Load a shipped profile by name, or a TOML file by path; ``extends`` merges a base map
    (registers of the same name are replaced)."""
    path = Path(name) if name.endswith(".toml") else PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ValueError(
            f"Modbus profile {name!r} not found; use one of {profile_names()} or a path to a "
            f"TOML register map"
        )
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    if data.get("extends"):
        base = load_profile(data["extends"])
        own = {r["name"] for r in data.get("registers", [])}
        inherited = [r.model_dump() for r in base.registers if r.name not in own]
        data = {
            "word_order": base.word_order,
            "byte_order": base.byte_order,
            **data,
            "registers": inherited + data.get("registers", []),
        }
    return Profile.model_validate(data)


class DeviceOptions(Frozen):
    """One Modbus TCP device (meter) polled by the source."""

    meter: str = Field(min_length=1, description="meter id the readings belong to")
    host: str = Field("127.0.0.1", description="device or gateway address")
    port: int = Field(502, ge=1, le=65535, description="Modbus TCP port")
    unit: int = Field(1, ge=0, le=255, description="Modbus unit (device) id")
    profile: str = Field(description="register map name in ingest/profiles, or a .toml path")
    energy: str | None = Field(None, description="energy register name (default: profile's)")
    power: str | None = Field(None, description="power register name (default: profile's)")
    clock: Literal["poll", "device"] = Field(
        "poll", description="sample time: poll (worker clock) or device (profile clock register)"
    )
    interval: Duration | None = Field(
        None, description="energy interval (default: the meter's configured interval, else 15min)"
    )
    zero_is_missing: bool = Field(False, description="drop intervals with zero energy")

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        load_profile(value)
        return value


class _Device:
    """A device with its resolved registers and energy interval."""

    def __init__(self, options: DeviceOptions, interval: pd.Timedelta) -> None:
        self.options = options
        self.profile = load_profile(options.profile)
        p = self.profile
        self.energy = p.get(options.energy) if options.energy else p.first("energy_register")
        self.power = p.get(options.power) if options.power else p.first("power")
        self.clock = p.first("clock") if options.clock == "device" else None
        if options.clock == "device" and self.clock is None:
            raise ValueError(
                f"device {options.meter!r}: clock = 'device' but profile {options.profile!r} "
                f"has no clock register; use clock = 'poll'"
            )
        self.interval = interval
        self.energy_kwh = unit_conversion(self.energy.unit).factor if self.energy else 1.0
        self.power_kw = unit_conversion(self.power.unit).factor if self.power else 1.0

    @property
    def where(self) -> str:
        o = self.options
        return f"modbus://{o.host}:{o.port}/unit {o.unit} (meter {o.meter!r})"


class DeviceError(Exception):
    """One device could not be read; the message says why and what to check.
    ``unreachable``: no answer at all (refused, timed out), as opposed to a bad answer."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@SOURCES.register("modbus")
class ModbusSource:
    """Poll Modbus TCP meters; one batch per poll of all devices."""

    class Options(Frozen):
        devices: list[DeviceOptions] = Field(min_length=1, description="the meters to poll")
        timeout_s: float = Field(2.0, gt=0, description="per-request timeout [s]")

    def __init__(self, name: str, options: Options, meters: dict[str, MeterInfo]) -> None:
        self.name = name
        self.timeout = options.timeout_s
        self.devices = [
            _Device(d, pd.Timedelta(d.interval) if d.interval else meter_interval(meters, d.meter))
            for d in options.devices
        ]
        self._clients: dict[tuple[str, int], ModbusTcpClient] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._groups: dict[tuple[str, int], list[_Device]] = {}
        for device in self.devices:
            o = device.options
            self._groups.setdefault((o.host, o.port), []).append(device)
        self._inflight: dict[tuple[str, int], Future[list[tuple[str, Any]]]] = {}

    @classmethod
    def from_config(cls, section: SourceSection, context: IngestContext) -> ModbusSource:
        """Build from a ``[[sources]]`` section; device intervals default to the meters'."""
        assert isinstance(section.options, cls.Options)
        return cls(section.name, section.options, context.meters)

    # ----------------------------------------------------------------- transport
    def _client(self, host: str, port: int) -> ModbusTcpClient:
        client = self._clients.get((host, port))
        if client is None:
            client = ModbusTcpClient(host, port=port, timeout=self.timeout, retries=0)
            self._clients[(host, port)] = client
        if not client.connected and not client.connect():
            raise DeviceError(
                f"cannot connect to {host}:{port} (refused or unreachable); check the device "
                f"is powered and reachable and the host/port options",
                unreachable=True,
            )
        return client

    def _drop_client(self, host: str, port: int) -> None:
        client = self._clients.pop((host, port), None)
        if client is not None:
            client.close()

    def _read(self, device: _Device, reg: RegisterSpec) -> float:
        o = device.options
        client = self._client(o.host, o.port)
        read = client.read_input_registers if reg.function == 4 else client.read_holding_registers
        try:
            response = read(reg.address, count=reg.count, device_id=o.unit)
        except ModbusException as exc:
            self._drop_client(o.host, o.port)  # reconnect on the next poll
            raise DeviceError(
                f"{device.where}: no answer reading {reg.name} (address {reg.address:#06x}) "
                f"within {self.timeout:g} s ({type(exc).__name__}); check the unit id, wiring "
                f"and the timeout_s option",
                unreachable=True,
            ) from None
        if response.isError():
            code = getattr(response, "exception_code", None)
            what = EXCEPTION_NAMES.get(code or 0, "unknown")
            raise DeviceError(
                f"{device.where}: exception response {code} ({what}) reading {reg.name} at "
                f"address {reg.address:#06x} function {reg.function}; check the profile "
                f"{o.profile!r} matches the meter model and the unit id"
            )
        value = decode(
            list(response.registers), reg.type, device.profile.word_order,
            device.profile.byte_order,
        ) * reg.scale
        if not np.isfinite(value):
            raise DeviceError(
                f"{device.where}: {reg.name} holds a non-number ({value}); the meter reports "
                f"no valid value, check its display"
            )
        return value

    # ----------------------------------------------------------------- polling
    def _poll(self, device: _Device, state: dict[str, Any] | None) -> tuple[
        list[dict[str, Any]], dict[str, Any] | None, list[str]
    ]:
        """Read one device: (reading rows, new state, problems)."""
        o = device.options
        if device.clock is not None:
            seconds = self._read(device, device.clock)
            when = pd.Timestamp(int(seconds), unit="s", tz="UTC")
        else:
            when = pd.Timestamp.now(tz="UTC")
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        last = pd.Timestamp(state["sample"]) if state and state.get("sample") else None
        if last is not None and when <= last and device.clock is not None:
            return rows, state, problems  # the device has not moved on since the last poll
        if device.power is not None:
            kw = self._read(device, device.power) * device.power_kw
            rows.append(
                {"time": when, "meter": o.meter, "quantity": "power", "value": kw, "quality": "ok"}
            )
        new_state = dict(state or {})
        new_state["sample"] = when.isoformat()
        if device.energy is not None:
            kwh = self._read(device, device.energy) * device.energy_kwh
            rollover = device.energy.rollover
            result = register_intervals(
                RegisterState.from_json(state),
                [(when, kwh)],
                device.interval,
                rollover * device.energy_kwh if rollover else None,
                o.zero_is_missing,
            )
            rows += [
                {"time": t, "meter": o.meter, "quantity": "energy", "value": v, "quality": q}
                for t, v, q in result.rows
            ]
            problems += [f"{device.where}: {p}" for p in result.problems]
            if result.state is not None:
                new_state.update(result.state.to_json())
        return rows, new_state, problems

    def _try_poll(self, device: _Device, states: dict[str, Any]) -> tuple[str, Any]:
        """(device address, (rows, state, problems, meter) or the DeviceError)."""
        meter = device.options.meter
        try:
            rows, state, problems = self._poll(device, states.get(meter))
        except DeviceError as exc:
            return device.where, exc
        return device.where, (rows, state, problems, meter)

    def fetch(
        self,
        checkpoint: dict[str, Any] | None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Iterator[Batch]:
        """Poll every device once. A live meter has no history: ``start``/``end`` are refused."""
        if start is not None or end is not None:
            raise ValueError(
                f"source {self.name!r} reads live Modbus meters, which keep no history to "
                f"backfill; run `wattlens ingest run` instead"
            )
        states: dict[str, Any] = dict((checkpoint or {}).get("devices", {}))
        rows: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        failures = 0
        # devices behind one host:port share a connection and are read in turn; different
        # hosts are read in parallel. A group still busy (a silent meter waiting out its
        # timeout) is collected by a later fetch, so it never delays the others' readings.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(16, len(self._groups)),
                                            thread_name_prefix=f"modbus-{self.name}")
        for key, devices in self._groups.items():
            if key not in self._inflight:
                snapshot = {d.options.meter: states.get(d.options.meter) for d in devices}
                self._inflight[key] = self._pool.submit(
                    lambda ds, st: [self._try_poll(d, st) for d in ds], devices, snapshot
                )
        wait(list(self._inflight.values()), timeout=PATIENCE_S)
        for key, future in list(self._inflight.items()):
            if not future.done():
                continue
            del self._inflight[key]
            for where, outcome in future.result():
                if isinstance(outcome, DeviceError):
                    failures += outcome.unreachable
                    rejected.append(Rejected.of(self.name, where, str(outcome)))
                    continue
                new_rows, state, problems, meter = outcome
                states[meter] = state
                rows += new_rows
                rejected += [Rejected.of(self.name, where, p) for p in problems]
        if failures == len(self.devices):
            raise SourceUnavailable(  # a device that answers badly is a reject, not this
                f"source {self.name!r}: no device answered: "
                + "; ".join(r.reason for r in rejected[:3])
            )
        frame = pd.DataFrame(rows, columns=["time", "meter", "quantity", "value", "quality"])
        readings = validate_readings(frame, f"source {self.name!r}")
        yield Batch(readings, rejected, {"devices": states})

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
            self._inflight.clear()
        for host, port in list(self._clients):
            self._drop_client(host, port)
