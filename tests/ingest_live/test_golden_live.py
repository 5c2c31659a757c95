"""Golden cases of the live sources: ``tests/data/{mqtt,modbus}/<case>/`` hold the raw input
(``messages.jsonl``: topic + payload per line; ``polls.json``: raw register words per poll),
the source config (``source.toml``), the expected readings (``expected.csv``) and the expected
rejections (``rejected.txt``: one reason fragment per line, in order). MQTT cases go through
Mosquitto, Modbus cases through pymodbus's TCP server."""

from __future__ import annotations

import asyncio
import json
import threading
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from wattlens.config import parse_config
from wattlens.core.net import free_port
from wattlens.ingest.base import build_source
from wattlens.ingest.sources.modbus import load_profile
from wattlens.store.csvio import read_readings_csv
from wattlens.store.schema import validate_readings

from .support import drain, publish

DATA = Path(__file__).resolve().parents[1] / "data"
MQTT_CASES = sorted(p for p in (DATA / "mqtt").iterdir() if (p / "source.toml").exists())
MODBUS_CASES = sorted(p for p in (DATA / "modbus").iterdir() if (p / "source.toml").exists())


def _source(case: Path, **extra):
    table = {"name": case.name, **tomllib.loads((case / "source.toml").read_text()), **extra}
    config = parse_config({"sources": [table]})
    return build_source(config.sources[0], config.ingest_context())


def _check(case: Path, batches: list) -> None:
    readings = validate_readings(pd.concat([b.readings for b in batches], ignore_index=True))
    expected = read_readings_csv(case / "expected.csv")
    pd.testing.assert_frame_equal(readings, expected, check_exact=False, rtol=1e-6)
    fragments = [line for line in (case / "rejected.txt").read_text().splitlines() if line]
    reasons = [r.reason for b in batches for r in b.rejected]
    assert len(reasons) == len(fragments), reasons
    for fragment, reason in zip(fragments, reasons, strict=True):
        assert fragment in reason


@pytest.mark.mqtt
@pytest.mark.parametrize("case", MQTT_CASES, ids=lambda c: c.name)
def test_mqtt_golden_case(case: Path, mosquitto) -> None:
    source = _source(case, host=mosquitto.host, port=mosquitto.port, client_id=case.name)
    batches = list(source.fetch(None))  # subscribe first
    messages = [json.loads(line) for line in (case / "messages.jsonl").read_text().splitlines()]
    publish(mosquitto.host, mosquitto.port, ((m["topic"], m["payload"]) for m in messages),
            client_id=f"{case.name}-device")
    # a repeated status adds no power reading
    batches += drain(source, batches[-1].checkpoint, want=len(messages) - 1)
    source.close()
    _check(case, batches)


class _RegisterServer:
    """pymodbus's TCP server answering with the raw words of the current poll."""

    def __init__(self, profile: str) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        self.words: dict[int, list[int]] = {}
        regs = sorted(load_profile(profile).registers, key=lambda r: r.address)
        blocks = [SimData(r.address, values=[0] * r.count, datatype=DataType.REGISTERS)
                  for r in regs]

        async def action(fc, start, address, count, registers, values):
            for addr, words in self.words.items():
                registers[addr - start : addr - start + len(words)] = words
            return None

        self.port = free_port()
        self._stop = threading.Event()
        ready = threading.Event()

        async def serve() -> None:
            server = ModbusTcpServer(SimDevice(1, simdata=blocks, action=action),
                                     address=("127.0.0.1", self.port))
            await server.serve_forever(background=True)
            ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.02)
            await server.shutdown()

        self._thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
        self._thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.parametrize("case", MODBUS_CASES, ids=lambda c: c.name)
def test_modbus_golden_case(case: Path) -> None:
    polls = json.loads((case / "polls.json").read_text())
    server = _RegisterServer(polls["profile"])
    table = tomllib.loads((case / "source.toml").read_text())
    devices = [{**d, "port": server.port} for d in table.pop("devices")]
    source = _source(case, devices=devices)
    batches = []
    checkpoint = None
    try:
        for poll in polls["polls"]:
            server.words = {int(a, 16): w for a, w in poll["registers"].items()}
            for batch in source.fetch(checkpoint):
                batches.append(batch)
                checkpoint = batch.checkpoint
    finally:
        source.close()
        server.stop()
    _check(case, batches)


def test_every_live_source_type_has_golden_cases() -> None:
    assert len(MQTT_CASES) >= 2 and len(MODBUS_CASES) >= 2
