"""MQTT source against a real Mosquitto broker."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from wattlens.ingest.sources.mqtt import MqttSource, extract, parse_path

from .support import drain, publish

pytestmark = pytest.mark.mqtt


def test_path_expressions() -> None:
    payload = {"ENERGY": {"Total": 1.5}, "emeters": [{"power": 3}, {"power": 4}]}
    assert parse_path("emeters[1].power") == ["emeters", 1, "power"]
    assert extract(payload, "ENERGY.Total") == 1.5
    assert extract(payload, "emeters[1].power") == 4
    with pytest.raises(KeyError, match="missing at 'Power'"):
        extract(payload, "ENERGY.Power")


def _options(broker, **extra) -> MqttSource.Options:
    return MqttSource.Options(
        host=broker.host, port=broker.port, client_id="test-ingest", timezone="Europe/London",
        max_payload_bytes=2048,
        topics=[
            {"topic": "shellies/+/status/switch:0", "meter": "{0}", "preset": "shelly",
             "interval": "1h"},
            {"topic": "tele/+/SENSOR", "meter": "{0}", "preset": "tasmota", "interval": "1h"},
        ],
        **extra,
    )


def shelly(total_wh: float, watts: float, minute_ts: int) -> str:
    """A Shelly Plus/Pro PM ``status/switch:0`` message (Gen2 API field names)."""
    return json.dumps({"id": 0, "source": "timer", "output": True, "apower": watts,
                       "voltage": 231.2, "current": watts / 231.2,
                       "aenergy": {"total": total_wh, "by_minute": [0, 0, 0],
                                   "minute_ts": minute_ts},
                       "temperature": {"tC": 40.1, "tF": 104.2}})


def tasmota(local_time: str, total_kwh: float, watts: float) -> str:
    """A Tasmota ``tele/<device>/SENSOR`` message (local time without offset)."""
    return json.dumps({"Time": local_time, "ENERGY": {
        "TotalStartTime": "2019-01-01T00:00:00", "Total": total_kwh, "Yesterday": 0.0,
        "Today": 0.0, "Power": watts, "ApparentPower": watts, "ReactivePower": 0,
        "Factor": 1.0, "Voltage": 231, "Current": 0.5}})


def test_presets_garbage_and_oversized_payloads(mosquitto) -> None:
    source = MqttSource("mqtt", _options(mosquitto), {})
    list(source.fetch(None))  # connect and subscribe (creates the persistent session)
    t0 = int(pd.Timestamp("2019-07-01T00:00Z").timestamp())
    messages = [
        ("shellies/plug1/status/switch:0", shelly(1000.0, 400.0, t0)),
        ("shellies/plug1/status/switch:0", shelly(1400.0, 500.0, t0 + 3600)),
        ("shellies/plug1/status/switch:0", "{not json"),
        ("shellies/plug1/status/switch:0", b"\xff\xfe\x00garbage"),
        ("shellies/plug1/status/switch:0", json.dumps({"apower": "high"})),
        ("tele/plug2/SENSOR", tasmota("2019-07-01T01:00:00", 10.0, 1000)),
        ("tele/plug2/SENSOR", tasmota("2019-07-01T02:00:00", 10.75, 800)),
        ("tele/plug2/SENSOR", json.dumps({"Time": "x", "pad": "y" * 5000})),
        ("shellies/plug1/status/switch:0", shelly(1900.0, 450.0, t0 + 7200)),
    ]
    publish(mosquitto.host, mosquitto.port, messages)
    batches = list(drain(source, None, want=len(messages)))
    source.close()
    readings = pd.concat([b.readings for b in batches], ignore_index=True)
    rejected = [r for b in batches for r in b.rejected]
    reasons = " | ".join(r.reason for r in rejected)
    assert len(rejected) == 4, reasons
    assert "is not JSON" in reasons and "over max_payload_bytes=2048" in reasons
    assert "'apower' = 'high' is not a number" in reasons or "aenergy" in reasons
    energy = readings[readings["quantity"] == "energy"].set_index(["meter", "time"])["value"]
    h = pd.Timestamp("2019-07-01T00:00Z")
    assert energy[("plug1", h)] == pytest.approx(0.4)  # Wh register -> kWh per hour
    assert energy[("plug1", h + pd.Timedelta("1h"))] == pytest.approx(0.5)
    # Tasmota local time in BST: 01:00 London = 00:00 UTC
    assert energy[("plug2", h)] == pytest.approx(0.75)
    power = readings[readings["quantity"] == "power"]
    assert power["value"].max() == pytest.approx(1.0)  # W -> kW


def test_unacknowledged_messages_are_redelivered_without_duplicates(mosquitto) -> None:
    source = MqttSource("mqtt", _options(mosquitto), {})
    list(source.fetch(None))
    t0 = int(pd.Timestamp("2019-01-01T00:00Z").timestamp())
    publish(mosquitto.host, mosquitto.port,
            [("shellies/p/status/switch:0", shelly(1000.0 * i, 1000.0, t0 + 3600 * i))
             for i in range(3)])
    time.sleep(0.5)
    fetch = source.fetch(None)
    first = next(fetch)  # a batch the worker never confirms (e.g. killed before storing)
    assert (first.readings["quantity"] == "energy").sum() == 2
    source._client.disconnect()  # the process dies: no acknowledgements reach the broker
    source._client.loop_stop()
    fetch.close()
    again = MqttSource("mqtt", _options(mosquitto), {})
    redelivered = list(drain(again, None, want=3))
    energy = pd.concat([b.readings for b in redelivered])
    assert (energy["quantity"] == "energy").sum() == 2  # the broker kept them
    # with the checkpoint of a stored batch, redeliveries add nothing
    publish(mosquitto.host, mosquitto.port,
            [("shellies/p/status/switch:0", shelly(1000.0, 1000.0, t0 + 3600))])
    time.sleep(0.3)
    [batch] = again.fetch(redelivered[-1].checkpoint)
    assert batch.readings.empty
    again.close()


def test_a_new_checkpoint_leaves_the_stored_one_unchanged(mosquitto) -> None:
    """The worker stores a batch only when its checkpoint differs from the stored one, so
    fetch must not write into the checkpoint it was given."""
    source = MqttSource("mqtt", _options(mosquitto).model_copy(update={"client_id": "cp-ingest"}), {})
    list(source.fetch(None))
    t0 = int(pd.Timestamp("2019-03-01T00:00Z").timestamp())
    topic = "shellies/cp/status/switch:0"
    publish(mosquitto.host, mosquitto.port, [(topic, shelly(1000.0, 500.0, t0))])
    [first] = drain(source, None, want=1)
    stored = json.loads(json.dumps(first.checkpoint))
    publish(mosquitto.host, mosquitto.port, [(topic, shelly(1500.0, 600.0, t0 + 3600))])
    [second] = drain(source, first.checkpoint, want=1)
    source.close()
    assert first.checkpoint == stored
    assert second.checkpoint != first.checkpoint


def test_nan_infinity_and_huge_numbers_are_quarantined_and_acknowledged(mosquitto) -> None:
    """Issue #13 item 1: one poison payload must not cost the batch it arrived in, nor come
    back after a restart."""
    source = MqttSource("mqtt", _options(mosquitto), {})
    list(source.fetch(None))
    t0 = int(pd.Timestamp("2019-07-01T00:00Z").timestamp())
    topic = "shellies/plug9/status/switch:0"
    poison = [
        shelly(1000.0, 400.0, t0).replace('"apower": 400.0', '"apower": NaN'),
        shelly(1000.0, 400.0, t0).replace('"apower": 400.0', '"apower": Infinity'),
        shelly(1000.0, 400.0, t0).replace('"apower": 400.0', '"apower": 1' + "0" * 400),
        shelly(1000.0, 400.0, t0).replace(f'"minute_ts": {t0}', '"minute_ts": 1' + "0" * 30),
        shelly(1000.0, 400.0, t0).replace(f'"minute_ts": {t0}', '"minute_ts": -Infinity'),
    ]
    good = [shelly(1000.0 + 500 * i, 400.0 + i, t0 + 3600 * i) for i in range(3)]
    publish(mosquitto.host, mosquitto.port,
            [(topic, good[0]), *((topic, p) for p in poison), (topic, good[1]),
             (topic, good[2])])
    batches = list(drain(source, None, want=len(good) + len(poison)))
    readings = pd.concat([b.readings for b in batches], ignore_index=True)
    rejected = [r for b in batches for r in b.rejected]
    assert len(rejected) == len(poison), [r.reason for r in rejected]
    for r in rejected:
        assert r.record.startswith(topic), r.record  # the topic and a payload excerpt
        assert topic in r.reason and ("not a finite number" in r.reason
                                      or "out of range" in r.reason), r.reason
    power = readings[readings["quantity"] == "power"].set_index("time")["value"]
    assert sorted(power.round(3)) == [0.4, 0.401, 0.402]  # every good message stored
    energy = readings[readings["quantity"] == "energy"]
    assert len(energy) == 2 and energy["value"].sum() == pytest.approx(1.0)
    source.close()
    again = MqttSource("mqtt", _options(mosquitto), {})  # same session: nothing redelivered
    list(again.fetch(None))
    time.sleep(0.5)
    late = list(again.fetch(None))
    again.close()
    assert all(b.readings.empty and not b.rejected for b in late)
