"""The readings contract rejects bad input with a message that says what to do."""

import numpy as np
import pandas as pd
import pytest

from wattlens.store.csvio import (
    read_readings_csv,
    read_weather_csv,
    readings_to_weather,
    weather_to_readings,
)
from wattlens.store.schema import (
    ContractError,
    validate_events,
    validate_forecasts,
    validate_readings,
)


def readings(**overrides):
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2019-01-01", periods=3, freq="h", tz="UTC"),
            "meter": ["m1", "m1", "m1"],
            "value": [1.0, 2.0, 3.5],
        }
    )
    return frame.assign(**overrides)


def test_valid_frame_gets_defaults_and_canonical_types():
    out = validate_readings(readings())
    assert list(out.columns) == ["time", "meter", "quantity", "value", "quality"]
    assert str(out["time"].dtype) == "datetime64[ns, UTC]"
    assert (out["quantity"] == "energy").all() and (out["quality"] == "ok").all()


def test_offsets_are_converted_to_utc():
    out = validate_readings(readings(time=["2019-06-01T01:00:00+01:00", "2019-06-01T01:00:00Z",
                                           "2019-06-01T03:00:00+02:00"]).assign(meter=["a", "b", "c"]))
    assert set(out["time"]) == {pd.Timestamp("2019-06-01T00:00Z"), pd.Timestamp("2019-06-01T01:00Z")}


@pytest.mark.parametrize(
    "bad, words",
    [
        (readings(time=pd.date_range("2019-01-01", periods=3, freq="h")), "naive"),
        (readings(time=["2019-01-01 00:00", "2019-01-01 01:00", "2019-01-01 02:00"]), "without a timezone"),
        (readings(time=["2019-01-01T00:00Z", "yesterday+01:00", "2019-01-01T02:00Z"]), "not timestamps"),
        (readings(meter=["m1", None, "m1"]), "no meter id"),
        (readings(meter=["m1", "  ", "m1"]), "no meter id"),
        (readings(meter=["m1", "a\nb", "m1"]), "control character"),
        (readings(value=[1.0, "lots", 3.0]), "not numbers"),
        (readings(value=[1.0, np.nan, 3.0]), "missing reading is a missing row"),
        (readings(value=[1.0, np.inf, 3.0]), "infinite"),
        (readings(time=["2019-01-01T00:00Z"] * 3), "share the same"),
        (readings(quantity="furlongs"), "unknown quantity"),
        (readings(quality="great"), "unknown quality"),
        (readings().drop(columns="value"), "missing column"),
    ],
)
def test_bad_readings_are_rejected_with_a_clear_error(bad, words):
    with pytest.raises(ContractError, match=words):
        validate_readings(bad, name="upload.csv")
    with pytest.raises(ContractError, match="upload.csv"):
        validate_readings(bad, name="upload.csv")


def test_same_time_different_quantity_is_not_a_duplicate():
    frame = pd.concat([readings(quantity="energy"), readings(quantity="power")])
    assert len(validate_readings(frame)) == 6


def test_forecasts_and_events_validate():
    t = pd.date_range("2019-01-01", periods=2, freq="h", tz="UTC")
    f = validate_forecasts(pd.DataFrame({"issued_at": t[0], "meter": "m", "model": "prophet",
                                         "time": t, "yhat": 1.0, "yhat_lower": 0.5,
                                         "yhat_upper": 2.0}))
    assert list(f["model_version"]) == ["", ""]
    with pytest.raises(ContractError, match="yhat_lower > yhat_upper"):
        validate_forecasts(f.assign(yhat_lower=3.0))
    e = validate_events(pd.DataFrame({"meter": ["m"], "start": [t[0]], "end": [t[1]],
                                      "kind": ["spike"], "severity": [0.7]}))
    assert len(e["event_id"][0]) == 16
    assert validate_events(e)["event_id"][0] == e["event_id"][0]  # stable
    with pytest.raises(ContractError, match="end before they start"):
        validate_events(e.assign(start=t[1], end=t[0]))
    with pytest.raises(ContractError, match="0..1"):
        validate_events(e.assign(severity=3.0))


def test_csv_round_trip_and_errors(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("time,meter,value\n2019-01-01T00:00:00Z,b 1,0\n2019-01-01T02:00:00+01:00,b 1,2.5\n")
    frame = read_readings_csv(path)
    assert len(frame) == 2 and frame["quantity"].eq("energy").all()
    assert len(read_readings_csv(path, missing_zero=True)) == 1
    (tmp_path / "bad.csv").write_text("when,meter,value\n")
    with pytest.raises(ContractError, match="missing column.*time"):
        read_readings_csv(tmp_path / "bad.csv")
    with pytest.raises(ContractError, match="no such file"):
        read_readings_csv(tmp_path / "nope.csv")


def test_weather_csv(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("time,temperature,humidity\n2019-01-01T00:00:00Z,5.5,80\n2019-01-01T01:00:00Z,,81\n")
    wide = read_weather_csv(path)
    assert wide["temperature"].isna().sum() == 1
    long = weather_to_readings(wide, "station")
    assert len(long) == 3
    back = readings_to_weather(long)
    assert back.loc["2019-01-01T00:00Z", "humidity"] == 80
