"""Daily-use features without a browser (issue #16 item 4, #14 gap edges): date presets, totals
and per-m² comparison, the streamed CSV at each resolution within the user's scope, gap-edge
partial readings drawn as gaps, the Forecast page's fixes and plurals."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from dashboard_seed import PASSWORDS, site_config

from tests.support import probe
from wattlens.core.meters import MeterInfo
from wattlens.dashboard import exports, presets, totals, transforms
from wattlens.dashboard.app import create_app
from wattlens.store.duck import DuckDBStore

WEDNESDAY = dt.date(2026, 3, 4)


@pytest.mark.parametrize(("name", "first", "last"), [
    ("today", "2026-03-04", "2026-03-04"),
    ("yesterday", "2026-03-03", "2026-03-03"),
    ("this-week", "2026-03-02", "2026-03-04"),  # Monday to today
    ("last-week", "2026-02-23", "2026-03-01"),  # Monday to Sunday
    ("this-month", "2026-03-01", "2026-03-04"),
    ("last-month", "2026-02-01", "2026-02-28"),
    ("this-year", "2026-01-01", "2026-03-04"),
    ("last-12-months", "2025-03-05", "2026-03-04"),
])
def test_presets_on_a_wednesday(name, first, last):
    assert presets.preset_dates(name, WEDNESDAY) == (dt.date.fromisoformat(first),
                                                     dt.date.fromisoformat(last))


def test_presets_across_year_ends_leap_days_and_mondays():
    assert presets.preset_dates("last-month", dt.date(2026, 1, 15)) == (
        dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert presets.preset_dates("last-week", dt.date(2026, 1, 5)) == (  # a Monday
        dt.date(2025, 12, 29), dt.date(2026, 1, 4))
    assert presets.preset_dates("this-week", dt.date(2026, 1, 5)) == (
        dt.date(2026, 1, 5), dt.date(2026, 1, 5))
    assert presets.preset_dates("last-12-months", dt.date(2024, 2, 29)) == (
        dt.date(2023, 3, 1), dt.date(2024, 2, 29))
    with pytest.raises(ValueError, match="unknown date range 'fortnight'.*last-week"):
        presets.preset_dates("fortnight", WEDNESDAY)


def test_presets_are_counted_in_the_sites_time_zone():
    evening = pd.Timestamp("2026-12-06 20:00", tz="UTC")  # already Monday 7th in Seoul
    assert presets.local_today("Asia/Seoul", evening) == dt.date(2026, 12, 7)
    assert presets.preset_strings("today", "Europe/London", evening) == ("2026-12-06",
                                                                          "2026-12-06")
    assert presets.preset_strings("this-week", "Asia/Seoul", evening) == ("2026-12-07",
                                                                          "2026-12-07")


def test_export_ranges_take_whole_local_days_or_exact_times():
    first, last = exports.local_range("2019-03-30", "2019-03-31", "Europe/London")
    assert first == pd.Timestamp("2019-03-30 00:00Z")  # GMT
    assert last == pd.Timestamp("2019-03-31 23:00Z")  # end of the 31st in BST
    first, last = exports.local_range("2019-06-03T06:00", "2019-06-03 09:30:00",
                                      "Europe/London")
    assert (first, last) == (pd.Timestamp("2019-06-03 05:00Z"), pd.Timestamp("2019-06-03 08:30Z"))
    with pytest.raises(ValueError, match="empty"):
        exports.local_range("2019-06-03", "2019-06-01", "UTC")
    with pytest.raises(ValueError, match="not a date"):
        exports.local_range("June", "2019-06-01", "UTC")


def test_export_windows_cut_at_local_month_starts():
    start, end = exports.local_range("2019-01-15", "2019-03-10", "Europe/London")
    cuts = exports.windows(start, end, "Europe/London")
    assert [(a.isoformat(), b.isoformat()) for a, b in cuts] == [
        ("2019-01-15T00:00:00+00:00", "2019-02-01T00:00:00+00:00"),
        ("2019-02-01T00:00:00+00:00", "2019-03-01T00:00:00+00:00"),
        ("2019-03-01T00:00:00+00:00", "2019-03-11T00:00:00+00:00")]


def test_csv_chunks_have_one_header_and_neutralised_cells():
    frames = [pd.DataFrame({"meter": ["=1+1"], "v": [1.0]}), pd.DataFrame({"meter": ["b"],
                                                                            "v": [2.0]})]
    assert "".join(exports.csv_chunks(frames)) == "meter,v\n'=1+1,1.0\nb,2.0\n"


def _info(meter: str, building: str, area: float | None, site: str = "s",
          commodity: str = "electricity", parent: str | None = None) -> MeterInfo:
    return MeterInfo(id=meter, site=site, building=building, floor_area_m2=area,
                     commodity=commodity, parent=parent)


def test_totals_rows_nest_site_building_meter_with_energy_per_area():
    infos = [_info("a1", "A", 100.0), _info("a2", "A", 100.0, commodity="gas"),
             _info("b1", "B", None), _info("a1-sub", "A", 100.0, parent="a1")]
    times = pd.date_range("2026-01-01", periods=24, freq="1h", tz="UTC")
    readings = pd.concat([pd.DataFrame({"time": times, "meter": m, "value": v,
                                        "quantity": "energy"})
                          for m, v in (("a1", 2.0), ("a2", 1.0), ("b1", 3.0), ("a1-sub", 0.5))])
    from wattlens.analytics import kpis

    rows = totals.totals_rows(kpis.kpis(readings, infos), infos, {"s": "Site", "A": "Alpha"})
    keyed = {(r["level"], r["id"], r["commodity"]): r for r in rows}
    assert [r["level"] for r in rows][:4] == ["site", "site", "site", "building"]
    assert keyed[("site", "s", "all")]["energy_kwh"] == 24 * 6.0  # submeter not added again
    assert keyed[("site", "s", "all")]["kwh_per_m2"] is None  # building B has no area
    assert keyed[("building", "A", "all")]["energy_kwh"] == 72.0
    assert keyed[("building", "A", "all")]["kwh_per_m2"] == 0.72
    assert keyed[("building", "A", "electricity")]["name"] == "Alpha"
    assert keyed[("meter", "a1-sub", "electricity")]["energy_kwh"] == 12.0
    order = [(r["level"], r["id"]) for r in rows if r["commodity"] != "gas"]
    assert order.index(("meter", "a1-sub")) < order.index(("building", "B"))
    assert totals.per_m2(500.0, 250.0) == 2.0 and totals.per_m2(500.0, None) is None


def test_compare_frame_normalises_per_m2_and_names_those_without_area():
    groups = {"A": [_info("a1", "A", 200.0), _info("a3", "A", 200.0)],
              "B": [_info("b1", "B", None)]}
    days = pd.date_range("2026-01-01", periods=2, freq="1D", tz="UTC")
    daily = pd.DataFrame({"time": list(days) * 3, "meter": ["a1"] * 2 + ["a3"] * 2 + ["b1"] * 2,
                          "value": [100.0, 300.0, 100.0, 100.0, 50.0, 50.0]})
    frame, missing = totals.compare_frame(daily, groups, normalise=True)
    assert missing == ["B"] and set(frame["entity"]) == {"A"}
    assert frame["value"].tolist() == [1.0, 2.0]  # (100 + 100) / 200, (300 + 100) / 200
    frame, missing = totals.compare_frame(daily, groups, normalise=False)
    assert missing == [] and frame.groupby("entity")["value"].sum().to_dict() == {
        "A": 600.0, "B": 100.0}


def test_break_at_turns_suspect_buckets_into_gaps():
    times = pd.date_range("2026-01-01", periods=6, freq="1h", tz="UTC")
    frame = pd.DataFrame({"time": times, "meter": "m", "value": [5.0, 5, 5, 5, 5, 5]})
    suspect = pd.Series([times[2] + pd.Timedelta("30min")])  # a half-hour reading in hour 2
    out = transforms.break_at(frame, suspect, "1h", "UTC")
    assert out["value"].isna().tolist() == [False, False, True, False, False, False]
    resampled = frame.drop(index=[2, 3])  # dropped by resampling: added back as a gap
    out = transforms.break_at(resampled, pd.Series([times[3]]), "1h", "UTC")
    assert out["time"].tolist() == [times[i] for i in (0, 1, 3, 4, 5)]
    assert np.isnan(out["value"].iloc[2])
    days = transforms.break_at(frame.assign(time=pd.date_range(
        "2026-01-01", periods=6, freq="1D", tz="Asia/Seoul").tz_convert("UTC")),
        pd.Series([pd.Timestamp("2026-01-02 16:00Z")]), "1d", "Asia/Seoul")  # 3rd, 01:00 KST
    assert days["value"].isna().tolist() == [False, False, True, False, False, False]


def test_energy_forecasts_and_bands_are_clipped_at_zero():
    frame = pd.DataFrame({"yhat": [-3.0, 2.0], "yhat_lower": [-5.0, -1.0],
                          "yhat_upper": [1.0, 4.0], "other": [-1.0, -1.0]})
    out = transforms.clip_at_zero(frame)
    assert out["yhat"].tolist() == [0.0, 2.0] and out["yhat_lower"].tolist() == [0.0, 0.0]
    assert out["yhat_upper"].tolist() == [1.0, 4.0] and out["other"].tolist() == [-1.0, -1.0]


# ---------------------------------------------------------------- over HTTP, real stores
@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    """One hourly meter over January 2026 with a 6-hour gap edged by two partial readings."""
    store = DuckDBStore(tmp_path_factory.mktemp("gappy") / "gappy.duckdb")
    store.init()
    times = pd.date_range("2026-01-01", "2026-02-01", freq="1h", tz="UTC", inclusive="left")
    values = pd.Series(10.0 + (times.hour >= 8) * 20.0, index=times)
    gap = (times >= "2026-01-10 10:00Z") & (times < "2026-01-10 16:00Z")
    values[times == pd.Timestamp("2026-01-10 09:00Z")] = 7.0  # partial: ~1/4 of 30
    values[times == pd.Timestamp("2026-01-10 16:00Z")] = 9.0
    store.write_readings(pd.DataFrame({"time": times[~gap], "meter": "m1",
                                       "value": values[~gap].to_numpy()}))
    yield store
    store.close()


def test_explorer_draws_gap_edge_partial_readings_as_gaps(gappy):
    client = create_app(gappy).server.test_client()
    cb = probe.find(probe.callbacks(client), "explorer-series")
    answer = probe.call(client, cb, {"meter-picker.value": "m1",
                                     "explorer-period.start_date": "2026-01-09",
                                     "explorer-period.end_date": "2026-01-11"})
    body = answer.json()["response"]
    trace = body["explorer-series"]["figure"]["data"][0]
    shown = dict(zip(trace["x"], trace["y"], strict=True))
    assert shown["2026-01-10 09:00:00"] is None and shown["2026-01-10 16:00:00"] is None
    assert shown["2026-01-10 08:00:00"] == 30.0 and shown["2026-01-10 17:00:00"] == 30.0
    assert "2 partial readings drawn as gaps" in body["explorer-note"]["children"]


def _csv(client, **query) -> pd.DataFrame:
    response = client.get(exports.link(query.pop("meter"), query.pop("start"),
                                       query.pop("end"), query.pop("resolution")))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.is_streamed
    return pd.read_csv(io.StringIO(response.get_data(as_text=True)))


def test_csv_export_at_every_resolution_sums_the_store(gappy):
    client = create_app(gappy).server.test_client()
    raw = _csv(client, meter="m1", start="2026-01-10", end="2026-01-10", resolution="raw")
    assert len(raw) == 18 and list(raw.columns) == ["time", "meter", "energy_kwh", "quality"]
    assert raw.loc[raw["energy_kwh"] < 10, "quality"].tolist() == ["suspect", "suspect"]
    hourly = _csv(client, meter="m1", start="2026-01-01", end="2026-01-31", resolution="1h")
    assert len(hourly) == 31 * 24 - 6 and hourly["time"].iloc[0] == "2026-01-01T00:00:00+00:00"
    quarter = _csv(client, meter="m1", start="2026-01-02", end="2026-01-02", resolution="15min")
    assert quarter["energy_kwh"].sum() == pytest.approx(8 * 10 + 16 * 30)
    daily = _csv(client, meter="m1", start="2026-01-01", end="2026-01-31", resolution="1d")
    assert len(daily) == 31 and daily["energy_kwh"].sum() == pytest.approx(
        gappy.read_readings(["m1"])["value"].sum())
    empty = client.get(exports.link("m1", "2027-01-01", "2027-01-02", "1h"))
    assert empty.get_data(as_text=True) == "time,meter,energy_kwh\n"
    bad = client.get(exports.link("m1", "2026-01-01", "2026-01-02", "1w"))
    assert bad.status_code == 400 and b"resolution '1w' is unknown" in bad.data


def test_csv_export_keeps_to_the_users_meters(seeded):
    client = create_app(site_config(login=True), seeded).server.test_client()
    url = exports.link("b97-elec", "2019-06-01", "2019-06-02", "1h")
    assert client.get(url).status_code == 302  # not signed in: to the login form
    client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"]})
    refused = client.get(url)
    assert refused.status_code == 403 and b"may not see meter" in refused.data
    own = client.get(exports.link("b2-elec", "2019-06-01", "2019-06-02", "1h"))
    assert own.status_code == 200 and len(own.get_data(as_text=True).splitlines()) == 49


def test_forecast_scorecard_has_no_repeated_persistence_row(seeded_duck):
    app = create_app(site_config(), seeded_duck)
    from wattlens.dashboard.pages import forecast

    scores = [{"model": m, "n": 24, "cv_rmse_pct": 10.0, "nmbe_pct": 1.0, "coverage_pct": 80.0,
               "g14_pass": True} for m in (
        "persistence-week", "previous-week persistence (beside persistence-week)",
        "prophet", "previous-week persistence (beside prophet)")]
    with app.server.test_request_context():
        rows = forecast.scorecard_rows(scores)
    assert [r["model"] for r in rows] == ["persistence-week", "prophet",
                                          "previous-week persistence (beside prophet)"]
    assert rows[0]["coverage"] == 80.0 and rows[0]["g14"] == "pass"


def test_forecast_page_clips_bands_and_fits_its_residual_label(seeded_duck):
    client = create_app(site_config(), seeded_duck).server.test_client()
    cb = probe.find(probe.callbacks(client), "forecast-chart")
    answer = probe.call(client, cb, {"meter-picker.value": "b2-gas",
                                     "forecast-period.start_date": "2019-12-04",
                                     "forecast-period.end_date": "2019-12-31",
                                     "forecast-horizon.value": "day-ahead"}).json()["response"]
    bands = [t for t in answer["forecast-chart"]["figure"]["data"] if t.get("name") != "actual"]
    assert bands and all(y is None or y >= 0 for t in bands for y in t["y"])
    title = answer["forecast-residuals"]["figure"]["layout"]["yaxis"]["title"]["text"]
    assert "<br>" in title
    table = answer["forecast-scorecard"]["children"]["props"]["data"]
    assert [r["model"] for r in table] == ["prophet", "previous-week persistence (beside prophet)"]


def test_event_counts_are_plural_aware(seeded_duck):
    app = create_app(site_config(), seeded_duck)
    from wattlens.dashboard.pages import anomalies

    with app.server.test_request_context():
        assert [anomalies.count_text(n) for n in (0, 1, 2)] == ["0 events", "1 event",
                                                                "2 events"]
