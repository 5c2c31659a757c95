"""Live testbed: replay the shipped sample as real protocol peers at a speed-up.

``wattlens simulate`` serves each electricity meter of the sample as a Modbus TCP meter
(pymodbus's server, one port per meter, register maps from ``ingest/profiles``: a cumulative
energy register, the power of the last interval and a device clock) and publishes each gas
meter to an MQTT broker as a Shelly Pro/Plus PM (``<device>/status/switch:0``: ``apower`` [W],
``aenergy.total`` [Wh], ``aenergy.minute_ts``) or a Tasmota plug (``tele/<device>/SENSOR``:
``ENERGY.Total`` [kWh], ``ENERGY.Power`` [W], ``Time`` with offset).

Simulated time advances one sample hour every ``3600 / speed`` seconds after ``warmup_s``
seconds at the starting state, so ingest sees a baseline before the first hour is consumed.
Hours missing from the sample do not advance the registers (an ingest source with
``zero_is_missing`` leaves them absent, as the sample does). :meth:`Simulation.expected` is the
truth an end-to-end test compares the store against; :meth:`Simulation.sources` is the matching
``[[sources]]`` configuration for ``wattlens ingest run``.

:class:`LiveSimulation` (``wattlens demo``, the soak test) instead plays the sample continuously
on a :class:`SimClock` (shared with the service's scheduler), looping forever, with labelled
faults (:class:`LoadStep`) on top.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from wattlens.core.net import free_port
from wattlens.ingest.normalise import unit_conversion
from wattlens.ingest.sources.modbus import Profile, encode, load_profile

log = logging.getLogger(__name__)

HOUR = pd.Timedelta("1h")
Fault = Literal["exception", "timeout"]
MQTT_STYLES = ("shelly", "tasmota")
MODBUS_PROFILES = ("simulated_sdm630", "simulated_em24")


@dataclass
class MeterPlay:
    """One replayed meter: its hourly series on a regular grid and how it is served."""

    meter: str
    values: np.ndarray  # energy [kWh] per hour, 0 where the sample has no reading
    present: np.ndarray  # bool: the sample has a reading for that hour
    protocol: Literal["modbus", "mqtt"]
    style: str  # modbus profile name or mqtt style
    port: int = 0
    cumulative: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cumulative = np.concatenate([[0.0], np.cumsum(self.values)])


class Simulation:
    """Modbus servers and an MQTT publisher replaying ``readings`` (energy [kWh per hour]).

    ``start``/``hours`` choose the replayed window (default: the first 24 sample hours);
    ``speed`` is simulated seconds per real second; ``mqtt`` is (host, port) of a broker or
    None to serve only Modbus meters; ``modbus_port`` the first meter's port (0: free ports).
    Fault injection for tests: ``faults[meter] = "exception"`` answers every request with
    exception 4 (server device failure), ``"timeout"`` delays answers by ``timeout_s``.
    """

    def __init__(
        self,
        readings: pd.DataFrame,
        *,
        start: pd.Timestamp | None = None,
        hours: int = 24,
        speed: float = 3600.0,
        warmup_s: float = 2.0,
        host: str = "127.0.0.1",
        mqtt: tuple[str, int] | None = None,
        mqtt_prefix: str = "wattlens-sim",
        meters: list[str] | None = None,
        modbus_port: int = 0,
    ) -> None:
        energy = readings[readings["quantity"].fillna("energy") == "energy"] if (
            "quantity" in readings.columns) else readings
        t = pd.to_datetime(energy["time"], utc=True)
        self.start = (start if start is not None else t.min()).floor("1h")
        self.hours = hours
        self.speed = speed
        self.step_s = 3600.0 / speed
        self.warmup_s = warmup_s
        self.host = host
        self.mqtt = mqtt
        self.mqtt_prefix = mqtt_prefix
        grid = pd.date_range(self.start, periods=hours, freq="1h")
        names = meters or sorted(energy["meter"].unique())
        self.plays: list[MeterPlay] = []
        n_modbus = n_mqtt = 0
        next_port = modbus_port
        for name in names:
            rows = energy[energy["meter"] == name]
            series = pd.Series(rows["value"].to_numpy(float), index=t[rows.index]).reindex(grid)
            protocol: Literal["modbus", "mqtt"] = (
                "mqtt" if mqtt is not None and not name.endswith("-elec") else "modbus"
            )
            if protocol == "modbus":
                style = MODBUS_PROFILES[n_modbus % 2]
                n_modbus += 1
                port = next_port
                next_port += 1 if next_port else 0
            else:
                style = MQTT_STYLES[n_mqtt % 2]
                n_mqtt += 1
            self.plays.append(MeterPlay(
                name, series.fillna(0.0).to_numpy(), series.notna().to_numpy(), protocol, style,
                port if protocol == "modbus" else 0,
            ))
        self.heartbeat_s = 1.0
        self.faults: dict[str, Fault] = {}
        self.timeout_s = 5.0
        self._t0 = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._servers: list[Any] = []

    # ---------------------------------------------------------------- clock
    def step(self, now: float | None = None) -> int:
        """Completed simulated hours (0 during warm-up, at most ``hours``)."""
        elapsed = (time.monotonic() if now is None else now) - self._t0 - self.warmup_s
        if not elapsed >= 0:  # warm-up (also while held with an infinite warm-up)
            return 0
        return int(min(self.hours, elapsed // self.step_s))

    def release(self, after_s: float = 0.5) -> None:
        """End the warm-up ``after_s`` seconds from now (start with ``warmup_s=math.inf`` to
        hold the first state until every client is connected)."""
        self.warmup_s = time.monotonic() - self._t0 + after_s

    def finished(self) -> bool:
        """Every hour is served and every MQTT message published."""
        publishing = any(t.name == "sim-mqtt" and t.is_alive() for t in self._threads)
        return self.step() >= self.hours and not publishing

    @property
    def duration_s(self) -> float:
        """Real seconds from start until the last hour is served (inf while held)."""
        return self.warmup_s + self.hours * self.step_s

    def state(self, play: MeterPlay, k: int) -> tuple[pd.Timestamp, float, float]:
        """(device clock, cumulative energy [kWh], power of the last hour [kW]) at step k."""
        power = float(play.values[k - 1]) if k > 0 else 0.0
        return self.start + k * HOUR, float(play.cumulative[k]), power

    def current(self, play: MeterPlay) -> tuple[pd.Timestamp, float, float]:
        """What the device reads now: :meth:`state` at the current step."""
        return self.state(play, self.step())

    # ---------------------------------------------------------------- truth & config
    def expected(self) -> pd.DataFrame:
        """The readings ingest must end up with: energy [kWh per hour] of every replayed hour
        the sample has."""
        grid = pd.date_range(self.start, periods=self.hours, freq="1h")
        frames = [
            pd.DataFrame({"time": grid[p.present], "meter": p.meter, "quantity": "energy",
                          "value": p.values[p.present], "quality": "ok"})
            for p in self.plays
        ]
        return pd.concat(frames, ignore_index=True)

    def sources(self, interval: str = "100ms", client_id: str = "wattlens-ingest",
                reading_interval: str = "1h") -> list[dict[str, Any]]:
        """``[[sources]]`` tables that ingest this simulation (modbus and, if used, mqtt):
        polled every ``interval``, one energy reading per ``reading_interval``."""
        out: list[dict[str, Any]] = []
        devices = [
            {"meter": p.meter, "host": self.host, "port": p.port, "unit": 1,
             "profile": p.style, "clock": "device", "interval": reading_interval,
             "zero_is_missing": True}
            for p in self.plays if p.protocol == "modbus"
        ]
        if devices:
            out.append({"name": "sim-modbus", "type": "modbus", "interval": interval,
                        "timeout_s": 1.0, "devices": devices})
        topics = [
            {"topic": self.topic(p), "meter": p.meter, "preset": p.style,
             "interval": reading_interval, "zero_is_missing": True}
            for p in self.plays if p.protocol == "mqtt"
        ]
        if topics and self.mqtt is not None:
            out.append({"name": "sim-mqtt", "type": "mqtt", "interval": interval,
                        "host": self.mqtt[0], "port": self.mqtt[1], "client_id": client_id,
                        "topics": topics})
        return out

    def sources_toml(self, interval: str = "100ms", client_id: str = "wattlens-ingest") -> str:
        """:meth:`sources` as TOML to append to a wattlens config file."""
        return sources_toml(self.sources(interval, client_id))

    def topic(self, play: MeterPlay) -> str:
        device = f"{self.mqtt_prefix}-{play.meter}"
        return f"{device}/status/switch:0" if play.style == "shelly" else f"tele/{device}/SENSOR"

    # ---------------------------------------------------------------- modbus
    def _device(self, play: MeterPlay) -> Any:
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        profile: Profile = load_profile(play.style)
        blocks = [
            SimData(r.address, values=[0] * r.count, datatype=DataType.REGISTERS)
            for r in sorted(profile.registers, key=lambda r: r.address)
        ]

        latched: dict[str, Any] = {}

        async def action(fc: int, start: int, address: int, count: int,
                         registers: list[int], values: Any) -> Any:
            fault = self.faults.get(play.meter)
            if fault == "exception":
                return ExcCodes.DEVICE_FAILURE
            if fault == "timeout":
                await asyncio.sleep(self.timeout_s)
            asked = {r.kind for r in profile.registers if address <= r.address < address + count}
            # the registers hold one sampling instant, as a meter's do: taken when the clock is
            # read or after the energy was, so a poll's clock and energy always agree
            if not latched or latched["read"] or "clock" in asked:
                latched.update(state=self.current(play), read=False)
            latched["read"] = "energy_register" in asked
            clock, kwh, kw = latched["state"]
            for reg in profile.registers:
                if reg.kind == "clock":
                    value = clock.timestamp()
                elif reg.kind == "power":
                    value = kw / unit_conversion(reg.unit).factor
                elif reg.kind == "energy_register":
                    value = (kwh if reg.ingest else 0.0) / unit_conversion(reg.unit).factor
                else:
                    value = 50.0  # supply frequency [Hz]
                words = encode(value / reg.scale, reg.type, profile.word_order,
                               profile.byte_order)
                registers[reg.address - start : reg.address - start + reg.count] = words
            return None

        return SimDevice(1, simdata=blocks, action=action)

    async def _serve(self) -> None:
        from pymodbus.server import ModbusTcpServer

        for play in self.plays:
            if play.protocol != "modbus":
                continue
            play.port = play.port or free_port()
            server = ModbusTcpServer(self._device(play), address=(self.host, play.port))
            await server.serve_forever(background=True)
            self._servers.append(server)
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        for server in self._servers:
            await server.shutdown()

    # ---------------------------------------------------------------- mqtt
    def payload(self, play: MeterPlay, k: int) -> str:
        """The device's JSON message at step k."""
        return self.message(play, *self.state(play, k))

    def message(self, play: MeterPlay, clock: pd.Timestamp, kwh: float, kw: float) -> str:
        """The device's JSON message reading ``kwh`` [kWh] and ``kw`` [kW] at ``clock``."""
        if play.style == "shelly":
            body: dict[str, Any] = {
                "id": 0, "source": "timer", "output": True, "apower": round(kw * 1000, 3),
                "voltage": 230.0, "current": round(kw * 1000 / 230.0, 3),
                "aenergy": {"total": round(kwh * 1000, 3), "by_minute": [0.0, 0.0, 0.0],
                            "minute_ts": int(clock.timestamp())},
                "temperature": {"tC": 41.2, "tF": 106.2},
            }
        else:
            body = {
                "Time": clock.isoformat(),
                "ENERGY": {"TotalStartTime": self.start.isoformat(), "Total": round(kwh, 3),
                           "Yesterday": 0.0, "Today": 0.0, "Power": round(kw * 1000),
                           "ApparentPower": round(kw * 1000), "ReactivePower": 0,
                           "Factor": 1.0, "Voltage": 230, "Current": round(kw * 1000 / 230, 3)},
            }
        return json.dumps(body)

    def _publish(self) -> None:
        import paho.mqtt.client as mqtt

        assert self.mqtt is not None
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wattlens-simulator")
        client.connect(self.mqtt[0], self.mqtt[1])
        client.loop_start()
        plays = [p for p in self.plays if p.protocol == "mqtt"]
        last = time.monotonic()

        def send(k: int) -> None:
            nonlocal last
            for play in plays:
                info = client.publish(self.topic(play), self.payload(play, k), qos=1)
                info.wait_for_publish(timeout=10)
            last = time.monotonic()

        try:
            for k in range(self.hours + 1):
                while k > 0 and self.step() < k and not self._stop.is_set():
                    time.sleep(0.01)
                    if time.monotonic() - last >= self.heartbeat_s:
                        send(k - 1)  # devices repeat their status periodically
                if self._stop.is_set():
                    break
                send(k)
        finally:
            client.loop_stop()
            client.disconnect()

    # ---------------------------------------------------------------- lifecycle
    def start_serving(self) -> Simulation:
        """Start the Modbus servers and the MQTT publisher in background threads."""
        self._t0 = time.monotonic()
        modbus = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True,
                                  name="sim-modbus")
        modbus.start()
        self._threads.append(modbus)
        if not self._ready.wait(10):
            raise RuntimeError("the simulated Modbus servers did not start within 10 s")
        if self.mqtt is not None and any(p.protocol == "mqtt" for p in self.plays):
            publisher = threading.Thread(target=self._publish, daemon=True, name="sim-mqtt")
            publisher.start()
            self._threads.append(publisher)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> Simulation:
        return self.start_serving()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class LoadStep:
    """A labelled fault: ``kw`` [kW] more load on ``meter`` during [``start``, ``end``)
    (simulated UTC time), e.g. a plant left on."""

    label: str
    meter: str
    start: pd.Timestamp
    duration: pd.Timedelta
    kw: float

    @property
    def end(self) -> pd.Timestamp:
        return self.start + self.duration

    def energy(self, at: pd.Timestamp) -> float:
        """Energy [kWh] the step has added by ``at``."""
        return self.kw * max(0.0, (min(at, self.end) - self.start) / HOUR)

    def power(self, at: pd.Timestamp) -> float:
        """Load [kW] the step adds at ``at``."""
        return self.kw if self.start <= at < self.end else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "meter": self.meter, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "kw": self.kw}


@dataclass(frozen=True)
class SimClock:
    """Simulated time (UTC): ``origin`` at the wall-clock instant ``origin_real`` [Unix s],
    running ``speed`` simulated seconds per real second. Frozen and read from the wall clock,
    so separate processes (the simulated meters, ``wattlens run``, the same service restarted
    after a crash) that share its three numbers share one timeline (:meth:`save`,
    :meth:`load`)."""

    origin: pd.Timestamp
    origin_real: float
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.origin.tzinfo is None or not self.speed > 0:
            raise ValueError(f"SimClock needs a tz-aware origin and a positive speed; got "
                             f"origin={self.origin!r}, speed={self.speed!r}")

    def now(self) -> pd.Timestamp:
        """The simulated time now."""
        return self.to_sim(time.time())

    def to_sim(self, real: float) -> pd.Timestamp:
        """The simulated time (UTC, to the microsecond) at wall-clock ``real`` [Unix s]."""
        elapsed = pd.Timedelta(seconds=(real - self.origin_real) * self.speed)
        return (self.origin + elapsed).tz_convert("UTC").floor("us")

    def to_real(self, sim: pd.Timestamp) -> float:
        """The wall-clock time [Unix s] at simulated time ``sim``."""
        return self.origin_real + (sim - self.origin).total_seconds() / self.speed

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin.isoformat(), "origin_real": self.origin_real,
                "speed": self.speed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimClock:
        return cls(pd.Timestamp(data["origin"]), float(data["origin_real"]),
                   float(data["speed"]))

    def save(self, path: Path) -> None:
        """Write the clock to ``path`` (JSON) for ``wattlens run --sim-clock``."""
        path.write_text(json.dumps(self.to_json()) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SimClock:
        """The clock :meth:`save` wrote to ``path``; ValueError naming the file otherwise."""
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"simulated clock {path}: {type(exc).__name__}: {exc}; write it "
                             f"with SimClock.save (origin, origin_real, speed)") from None


class LiveSimulation(Simulation):
    """The sample looped forever as meters that read now: electricity meters over Modbus TCP,
    the others (with ``mqtt``, a broker's (host, port)) as Shelly/Tasmota devices publishing
    every ``publish_every`` of simulated time at QoS 1.

    Simulated time is ``clock`` (default: starting at ``origin`` when the meters are served,
    ``speed`` times as fast as the wall clock); the device clock register and the messages
    read it. The energy registers read 0 at ``origin``. Simulated time ``t`` plays sample time
    ``loop_start + (t - shift - loop_start) mod weeks`` (``shift`` and ``weeks`` whole weeks,
    so weekday and hour of day stay true); each sample hour's energy accrues evenly through
    the hour, so the registers advance continuously and a poll every few seconds yields
    sub-hourly readings. ``steps`` add their load on top. Hours missing from the sample do not
    advance the registers (ingest with ``zero_is_missing`` leaves them absent).
    """

    def __init__(
        self,
        readings: pd.DataFrame,
        *,
        origin: pd.Timestamp,
        shift: pd.Timedelta,
        loop_start: pd.Timestamp,
        weeks: int,
        speed: float = 1.0,
        steps: tuple[LoadStep, ...] = (),
        host: str = "127.0.0.1",
        meters: list[str] | None = None,
        mqtt: tuple[str, int] | None = None,
        publish_every: str = "1min",
        clock: SimClock | None = None,
    ) -> None:
        super().__init__(readings, start=loop_start, hours=weeks * 168, speed=speed,
                         warmup_s=0.0, host=host, meters=meters, mqtt=mqtt)
        self.origin = origin
        self.clock = clock
        self.shift = shift
        self.steps = steps
        self.publish_every = pd.Timedelta(publish_every)
        self.published: list[tuple[str, pd.Timestamp, float]] = []
        """(meter, simulated time, register [kWh]) of each message published."""
        self._raw: list[tuple[str, str]] = []
        for play in self.plays:  # known before serving: the ingest config names them
            if play.protocol == "modbus":
                play.port = free_port()
        # registers read 0 at origin: a float32 register keeps its resolution for longer
        self._zero = {p.meter: self._energy(p, self.origin) for p in self.plays}

    def now(self) -> pd.Timestamp:
        """The simulated time (UTC); ``origin`` until the meters are served."""
        return self.origin if self.clock is None else self.clock.now()

    def start_serving(self) -> LiveSimulation:
        """Start the clock (unless given) and serve the meters."""
        if self.clock is None:
            self.clock = SimClock(self.origin, time.time(), self.speed)
        super().start_serving()
        return self

    def inject(self, meter: str, payload: str) -> None:
        """Publish ``payload`` (any text, e.g. a broken message) on ``meter``'s topic with the
        next messages."""
        self._raw.append((meter, payload))

    def _publish(self) -> None:
        import paho.mqtt.client as mqtt

        assert self.mqtt is not None and self.clock is not None
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wattlens-simulator")
        client.connect(self.mqtt[0], self.mqtt[1])
        client.loop_start()
        plays = {p.meter: p for p in self.plays if p.protocol == "mqtt"}
        period = self.publish_every.total_seconds() / self.clock.speed
        try:
            while not self._stop.wait(period):
                while self._raw:
                    meter, text = self._raw.pop(0)
                    client.publish(self.topic(plays[meter]), text, qos=1).wait_for_publish(10)
                for play in plays.values():
                    at = self.now()
                    kwh, kw = self.reading(play, at)
                    info = client.publish(self.topic(play), self.message(play, at, kwh, kw),
                                          qos=1)
                    info.wait_for_publish(timeout=10)
                    self.published.append((play.meter, at, kwh))
        finally:
            client.loop_stop()
            client.disconnect()

    def position(self, at: pd.Timestamp) -> tuple[int, float]:
        """(loops completed, sample hours into the loop) at simulated time ``at``."""
        loops, into = divmod((at - self.shift - self.start) / HOUR, self.hours)
        return int(loops), float(into)

    def _energy(self, play: MeterPlay, at: pd.Timestamp) -> float:
        """The sample's energy [kWh] played from the first loop's start to ``at``."""
        loops, into = self.position(at)
        k = int(into)
        return (loops * float(play.cumulative[-1]) + float(play.cumulative[k])
                + (into - k) * float(play.values[k]))

    def reading(self, play: MeterPlay, at: pd.Timestamp) -> tuple[float, float]:
        """(cumulative energy [kWh] since origin, load [kW]) of ``play`` at simulated ``at``."""
        kwh = self._energy(play, at) - self._zero[play.meter]
        kw = float(play.values[int(self.position(at)[1])])
        for step in self.steps:
            if step.meter == play.meter:
                kwh += step.energy(at)
                kw += step.power(at)
        return kwh, kw

    def current(self, play: MeterPlay) -> tuple[pd.Timestamp, float, float]:
        at = self.now()
        return (at, *self.reading(play, at))

    def intervals(self, start: pd.Timestamp, end: pd.Timestamp, step: str) -> pd.DataFrame:
        """The energy readings [kWh per ``step``] the meters would have given between the
        ``step`` boundaries ``start`` and ``end`` (intervals without energy left out, as
        ``zero_is_missing`` ingests them)."""
        edges = pd.date_range(start, end, freq=step)
        frames = []
        for play in self.plays:
            energy = np.diff([self.reading(play, t)[0] for t in edges])
            keep = energy > 0
            frames.append(pd.DataFrame({"time": edges[:-1][keep], "meter": play.meter,
                                        "quantity": "energy", "value": energy[keep],
                                        "quality": "ok"}))
        return pd.concat(frames, ignore_index=True)


def _toml_value(value: Any) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def sources_toml(tables: list[dict[str, Any]]) -> str:
    """``[[sources]]`` tables as TOML text (nested lists of tables as inline tables)."""
    out = []
    for table in tables:
        out.append("[[sources]]")
        out += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        out.append("")
    return "\n".join(out)


def toml_document(data: dict[str, Any]) -> str:
    """``data`` as a TOML document: one ``key = value`` line per top-level key, tables and
    lists of tables inline."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in data.items())
