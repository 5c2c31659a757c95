"""One contract, every store: the same calls give the same answers on DuckDB, real InfluxDB and
a RemoteStore talking to a real wattlens API (on a Unix socket) over DuckDB."""

import threading

import numpy as np
import pandas as pd
import pytest

from wattlens.service.api.app import create_api
from wattlens.service.api.auth import Tokens
from wattlens.service.api.serve import close_unix_server, local, unix_server
from wattlens.service.metrics import ServiceMetrics
from wattlens.store.duck import DuckDBStore
from wattlens.store.remote import RemoteStore, service_socket
from wattlens.store.schema import ContractError


@pytest.fixture
def remote_store(tmp_path):
    """A RemoteStore on the API of a DuckDB store, served as `wattlens run` serves it."""
    backing = DuckDBStore(tmp_path / "w.duckdb")
    sock = service_socket(backing.path)
    server = unix_server(sock, local(create_api(backing, {}, Tokens([], {}),
                                                ServiceMetrics()).wsgi_app))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = RemoteStore.over_socket(sock)
    yield store
    store.close()
    close_unix_server(server, sock)
    backing.close()


@pytest.fixture(params=["duckdb", "influx", "remote"])
def store(request: pytest.FixtureRequest):
    """Each contract test runs once per store implementation."""
    fixture = {"duckdb": "duck_store", "influx": "influx_store", "remote": "remote_store"}
    return request.getfixturevalue(fixture[request.param])

HOSTILE = [
    "b12-elec",
    "with space",
    "comma,meter",
    "equals=meter",
    'double"quote',
    "single'quote",
    "back\\slash",
    "trailing\\",
    "ünïcødé-€-计量",
    "x' OR '1'='1",
    '"; DROP DATABASE wattlens; --',
    "percent%5C%25",
    "/regex.*/",
]


def hourly(meter, start="2019-01-01", periods=48, quantity="energy", scale=1.0):
    t = pd.date_range(start, periods=periods, freq="h", tz="UTC")
    return pd.DataFrame({"time": t, "meter": meter, "quantity": quantity,
                         "value": np.round(np.arange(periods) * scale + 0.1, 3)})


def test_twelve_meters_a_year_hourly_round_trip_identically(store):
    rng = np.random.default_rng(7)
    t = pd.date_range("2019-01-01", "2020-01-01", freq="h", tz="UTC", inclusive="left")
    frame = pd.concat(
        pd.DataFrame({"time": t, "meter": f"b{i}-elec", "value": rng.gamma(2.0, 50.0, len(t))})
        for i in range(12)
    )
    assert store.write_readings(frame) == 12 * 8760
    back = store.read_readings()
    assert len(back) == 12 * 8760
    expected = frame.assign(quantity="energy", quality="ok").sort_values(["meter", "time"])
    np.testing.assert_array_equal(back["value"].to_numpy(), expected["value"].to_numpy())
    assert (back["time"].to_numpy() == expected["time"].to_numpy()).all()
    assert list(back["meter"]) == list(expected["meter"])


@pytest.mark.parametrize("meter", HOSTILE)
def test_hostile_meter_ids_round_trip_and_never_alter_a_query(store, meter):
    store.write_readings(pd.concat([hourly(meter), hourly("victim", scale=2.0)]))
    assert meter in store.meters()
    back = store.read_readings([meter])
    assert set(back["meter"]) == {meter} and len(back) == 48
    assert store.read_readings(["victim"])["value"].sum() == pytest.approx(
        hourly("victim", scale=2.0)["value"].sum())
    agg = store.aggregate([meter], "energy", "2019-01-01T00:00Z", "2019-01-03T00:00Z", "1d")
    assert list(agg["meter"]) == [meter, meter]
    assert store.latest([meter])["meter"].tolist() == [meter]
    store.put_document("checkpoint", meter, {"meter": meter})
    assert store.get_document("checkpoint", meter) == {"meter": meter}
    assert sorted(store.meters()) == sorted([meter, "victim"])  # nothing dropped or added


def test_overwrite_is_idempotent(store):
    store.write_readings(hourly("m"))
    store.write_readings(hourly("m").assign(value=5.0))
    back = store.read_readings(["m"])
    assert len(back) == 48 and (back["value"] == 5.0).all()


def test_invalid_frame_writes_nothing(store):
    bad = pd.concat([hourly("good"), hourly("bad").assign(value="x")])
    with pytest.raises(ContractError):
        store.write_readings(bad)
    assert store.read_readings().empty


def test_filters_and_half_open_ranges(store):
    store.write_readings(pd.concat([hourly("a"), hourly("b"),
                                    hourly("a", quantity="power", scale=3.0)]))
    part = store.read_readings(["a"], "energy", "2019-01-01T05:00Z", "2019-01-01T10:00Z")
    assert list(part["time"].dt.hour) == [5, 6, 7, 8, 9]
    assert set(store.read_readings(quantity=None)["quantity"]) == {"energy", "power"}
    assert store.meters("power") == ["a"]
    assert store.read_readings([]).empty
    with pytest.raises(ValueError, match="no timezone"):
        store.read_readings(start="2019-01-01")


@pytest.mark.parametrize("every,how,tz", [
    ("1h", "mean", "UTC"), ("1d", "sum", "UTC"), ("1d", "sum", "Europe/London"),
    ("15min", "max", "UTC"), ("1d", "count", "America/New_York"), ("1h", "min", "Asia/Seoul"),
])
def test_aggregation_in_the_store_matches_pandas(store, every, how, tz):
    # spans the March 2019 DST change in Europe and America
    frame = pd.concat([hourly("a", "2019-03-29", 24 * 5, scale=1.5),
                       hourly("b", "2019-03-29", 24 * 5, scale=0.5)])
    frame = frame[frame["time"].dt.hour != 13]  # a gap in every day
    store.write_readings(frame)
    start, end = pd.Timestamp("2019-03-29T06:00Z"), pd.Timestamp("2019-04-02T06:00Z")
    got = store.aggregate(["a", "b"], "energy", start, end, every, how, tz)
    sel = frame[(frame["time"] >= start) & (frame["time"] < end)]
    local = sel.assign(bucket=sel["time"].dt.tz_convert(tz).dt.floor(
        "D" if every == "1d" else every, ambiguous=False, nonexistent="shift_forward"))
    expected = (local.groupby(["meter", "bucket"])["value"].agg(how).reset_index()
                .rename(columns={"bucket": "time"}))
    expected["time"] = expected["time"].dt.tz_convert("UTC")
    assert list(got["meter"]) == list(expected["meter"])
    assert (got["time"].to_numpy() == expected["time"].to_numpy()).all()
    np.testing.assert_allclose(got["value"], expected["value"].astype(float))


def test_aggregation_rejects_what_stores_cannot_align(store):
    with pytest.raises(ValueError, match="every"):
        store.aggregate(None, "energy", "2019-01-01T00:00Z", "2019-02-01T00:00Z", "1w")
    with pytest.raises(ValueError, match="IANA"):
        store.aggregate(None, "energy", "2019-01-01T00:00Z", "2019-02-01T00:00Z", "1d",
                        tz="Mars/Olympus")


def test_latest(store):
    store.write_readings(pd.concat([hourly("a"), hourly("b", periods=10)]))
    latest = store.latest()
    assert latest["meter"].tolist() == ["a", "b"]
    assert latest["time"].tolist() == [pd.Timestamp("2019-01-02T23:00Z"),
                                       pd.Timestamp("2019-01-01T09:00Z")]


def test_forecasts_as_issued_keep_every_issue(store):
    t = pd.date_range("2019-01-02", periods=24, freq="h", tz="UTC")
    day1 = pd.DataFrame({"issued_at": pd.Timestamp("2019-01-01T00:00Z"), "meter": "m,1",
                         "model": "prophet", "model_version": "1.5.0", "time": t,
                         "yhat": 1.0, "yhat_lower": 0.5, "yhat_upper": 1.5})
    day2 = day1.assign(issued_at=pd.Timestamp("2019-01-01T12:00Z"), yhat=2.0)
    assert store.write_forecasts(pd.concat([day1, day2])) == 48
    back = store.read_forecasts(["m,1"], t[0], t[-1] + pd.Timedelta("1h"), model="prophet")
    assert len(back) == 48
    assert sorted(back["issued_at"].unique()) == [pd.Timestamp("2019-01-01T00:00Z"),
                                                  pd.Timestamp("2019-01-01T12:00Z")]
    assert back.groupby("issued_at")["yhat"].first().tolist() == [1.0, 2.0]
    assert store.read_forecasts(model="towt").empty


def test_events_and_annotations(store):
    t = pd.Timestamp("2019-01-01T00:00Z")
    events = pd.DataFrame({"meter": ["a", "b"], "start": [t, t + pd.Timedelta("2D")],
                           "end": [t + pd.Timedelta("3h"), t + pd.Timedelta("2D3h")],
                           "kind": ["spike", "after-hours"], "severity": [0.9, 0.4],
                           "excess_kwh": [12.5, 3.0], "details": ['{"z": 7.1}', "{}"]})
    assert store.write_events(events) == 2
    got = store.read_events()
    assert got["status"].tolist() == ["open", "open"]
    event = got["event_id"][0]
    store.annotate_event(event, "acknowledged", "ana", "known test", at=t + pd.Timedelta("1D"))
    store.annotate_event(event, "non-routine", "bob", 'tenant "fit-out"\\n\nweek 2',
                         at=t + pd.Timedelta("2D"))
    got = store.read_events(meters=["a"])
    assert got[["status", "annotated_by", "note"]].iloc[0].tolist() == [
        "non-routine", "bob", 'tenant "fit-out"\\n\nweek 2']
    assert got["excess_kwh"].iloc[0] == 12.5 and got["details"].iloc[0] == '{"z": 7.1}'
    assert store.read_events(start=t + pd.Timedelta("1D")).meter.tolist() == ["b"]
    assert store.read_events(kinds=["spike"]).meter.tolist() == ["a"]
    store.write_events(events.assign(severity=[0.95, 0.4]))  # same ids overwrite
    assert len(store.read_events()) == 2


def test_documents(store):
    assert store.get_document("checkpoint", "files") is None
    store.put_document("checkpoint", "files", {"offset": 10, "file": "a b.csv"})
    store.put_document("checkpoint", "files", {"offset": 20, "file": "a b.csv"})
    store.put_document("checkpoint", "modbus", {"offset": 1})
    assert store.get_document("checkpoint", "files") == {"offset": 20, "file": "a b.csv"}
    assert list(store.list_documents("checkpoint")) == ["files", "modbus"]
