"""Dashboard speed: server time of every page's callbacks and JSON payload per chart.

100 meters × 1 year × 15 min (3.5 M readings, shaped from the shipped sample's 2019 load
profiles) plus forecasts, events and recommendations are written to a DuckDBStore and to an
InfluxStore on a throwaway local influxd; each callback is then called the way the browser
calls it (POST /_dash-update-component through Flask's test client, so the time is the
server's), for ``--calls`` different meters after one warm-up call, with the read cache off
(every call hits the store). Goals: p95 ≤ 300 ms on DuckDB and ≤ 800 ms on InfluxDB; ≤ 1 MB
of JSON per chart. M&V (run on demand with a button) is timed separately.

    .venv/bin/python -m benchmarks.bench_dashboard [--meters 100] [--calls 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import track
from rich.table import Table

from tests.support import probe
from tests.support.influxd import LocalInfluxd
from wattlens.config import Config, parse_config
from wattlens.dashboard.app import create_app
from wattlens.sample import WEATHER_METER, sample_readings, sample_weather
from wattlens.store.csvio import weather_to_readings
from wattlens.store.duck import DuckDBStore
from wattlens.store.influx import InfluxStore

GOAL_MS = {"duckdb": 300.0, "influx": 800.0}
GOAL_BYTES = 1_000_000
PER_BUILDING = 10


def meter_ids(n: int) -> list[str]:
    return [f"m{i:03d}" for i in range(n)]


def build_config(n: int) -> Config:
    ids = meter_ids(n)
    buildings = [{"id": f"bldg{b:02d}", "name": f"Building {b}", "meters": [
        {"id": m, "commodity": "electricity", "interval": "15min"}
        for m in ids[b * PER_BUILDING:(b + 1) * PER_BUILDING]]}
        for b in range((n + PER_BUILDING - 1) // PER_BUILDING)]
    return parse_config({
        "sites": [{"id": "bench", "timezone": "Europe/London", "country": "GB",
                   "weather_meter": WEATHER_METER, "buildings": buildings}],
        "dashboard": {"cache_ttl_s": 0},
    })


def build_frames(n: int) -> dict[str, pd.DataFrame]:
    """15-min readings for ``n`` meters over 2019, forecasts for 10, events, weather."""
    rng = np.random.default_rng(0)
    sample = sample_readings()
    in_2019 = (sample["time"] >= "2019-01-01T00:00Z") & (sample["time"] < "2020-01-01T00:00Z")
    sample = sample[in_2019]
    grid = pd.date_range("2019-01-01", "2020-01-01", freq="15min", tz="UTC", inclusive="left")
    profiles = []
    for _, group in sample.groupby("meter"):
        hourly = group.set_index("time")["value"].reindex(grid.floor("1h")).to_numpy() / 4
        profiles.append(hourly)
    frames = []
    for i, meter in enumerate(meter_ids(n)):
        base = profiles[i % len(profiles)] * rng.uniform(0.3, 2.0)
        values = base * (1 + rng.normal(0, 0.03, len(grid)))
        ok = np.isfinite(values)
        frames.append(pd.DataFrame({"time": grid[ok], "meter": meter, "quantity": "energy",
                                    "value": values[ok], "quality": "ok"}))
    readings = pd.concat(frames, ignore_index=True)
    weather = weather_to_readings(sample_weather(), WEATHER_METER)
    forecasts = []
    end = grid[-1].floor("1D")
    for meter in meter_ids(min(n, 10)):
        series = readings[readings["meter"] == meter].set_index("time")["value"]
        for day in pd.date_range(end - pd.Timedelta("28D"), end, freq="1D"):
            times = pd.date_range(day, periods=192, freq="15min")
            yhat = series.reindex(times - pd.Timedelta("7D")).to_numpy()
            ok = np.isfinite(yhat)
            forecasts.append(pd.DataFrame({
                "issued_at": day, "meter": meter, "model": "prophet", "model_version": "bench",
                "time": times[ok], "yhat": yhat[ok], "yhat_lower": yhat[ok] * 0.85,
                "yhat_upper": yhat[ok] * 1.15}))
    starts = grid[rng.integers(0, len(grid) - 100, 500)]
    events = pd.DataFrame({
        "meter": rng.choice(meter_ids(n), 500), "start": starts,
        "end": starts + pd.Timedelta("6h"), "kind": rng.choice(["spike", "after-hours"], 500),
        "severity": rng.uniform(0, 1, 500), "excess_kwh": rng.uniform(0, 200, 500),
        "details": "{}"})
    return {"readings": pd.concat([readings, weather], ignore_index=True),
            "forecasts": pd.concat(forecasts, ignore_index=True), "events": events}


def seed(store, frames: dict[str, pd.DataFrame]) -> float:
    started = time.perf_counter()
    store.init()
    store.write_readings(frames["readings"])
    store.write_forecasts(frames["forecasts"])
    store.write_events(frames["events"])
    for i, meter in enumerate(meter_ids(10)):
        store.put_document("recommendation", f"rule/{meter}", {
            "rule": "after_hours_baseload", "meter": meter, "title": f"Cut {meter} baseload",
            "annual_kwh": 1000.0 * i, "annual_cost": 250.0 * i, "annual_co2_kg": 207.0 * i,
            "confidence": 0.7, "evidence": {"night_kw": i}})
    return time.perf_counter() - started


def figure_sizes(answer: probe.Answer) -> dict[str, int]:
    """JSON bytes of each figure in a callback answer."""
    body = answer.json() or {}
    return {f"{c}.figure": len(json.dumps(p["figure"]))
            for c, p in (body.get("response") or {}).items() if "figure" in p}


def measure(store, config: Config, calls: int, with_mv: bool) -> tuple[list[dict], dict]:
    app = create_app(config, store)
    client = app.server.test_client()
    cbs = probe.callbacks(client)
    meters = meter_ids(len(config.meters()))
    rows = []
    mv = {}
    skip = {"mv-summary", "mv-report", "explorer-download", "anomalies-saved"}
    for cb in cbs:
        if cb.output_ids[0].startswith("_pages") or skip & set(cb.output_ids):
            continue
        times, sizes, statuses, errors = [], {}, set(), 0
        for k in range(-1, calls):  # call -1 warms up (first query plans, imports): not counted
            meter = meters[(k * 7) % min(len(meters), 10 if "forecast" in cb.output else 100)]
            values = {"meter-picker.value": meter, "live-tick.n_intervals": k,
                      "url.pathname": "/", "anomalies-scope.value": ["meter"],
                      "forecast-horizon.value": "day-ahead (0-24 h)",
                      "explorer-against.value": "year",
                      "forecast-period.start_date": "2019-12-04",
                      "forecast-period.end_date": "2019-12-31"}
            if cb.output_ids[0] == "anomalies-chart":
                events = store.read_events([meter])
                if events.empty:
                    continue
                values["anomalies-grid.selectedRows"] = [  # a grid row, as the browser sends
                    {"event_id": events["event_id"].iloc[0], "meter": meter}]
            answer = probe.call(client, cb, values)
            if k < 0:
                continue
            statuses.add(answer.status)
            errors += b'"error-banner"' in answer.body and b'"block"' in answer.body
            times.append(answer.seconds * 1000)
            for key, size in figure_sizes(answer).items():
                sizes[key] = max(sizes.get(key, 0), size)
            if cb.output_ids[0] == "explorer-series":  # and a zoom to one week
                zoom = {**values, "explorer-series.relayoutData": {
                    "xaxis.range[0]": "2019-06-03 00:00:00", "xaxis.range[1]": "2019-06-10"}}
                answer = probe.call(client, cb, zoom, changed="explorer-series.relayoutData")
                times.append(answer.seconds * 1000)
        if not times:
            continue
        rows.append({"callback": cb.output.strip(".").split("...")[0], "errors": errors,
                     "p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
                     "sizes": sizes})
    if with_mv:
        cb = probe.find(cbs, "mv-summary")
        values = {"meter-picker.value": meters[0], "mv-run.n_clicks": 1,
                  "mv-model.value": "caltrack-daily", "mv-confidence.value": 0.9,
                  "mv-baseline.start_date": "2019-01-01", "mv-baseline.end_date": "2019-06-30",
                  "mv-reporting.start_date": "2019-07-01",
                  "mv-reporting.end_date": "2019-12-31"}
        answer = probe.call(client, cb, values)
        mv = {"seconds": answer.seconds, "status": answer.status, "sizes": figure_sizes(answer)}
    return rows, mv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    console = Console()
    config = build_config(args.meters)
    started = time.perf_counter()
    frames = build_frames(args.meters)
    console.print(f"built {len(frames['readings']):,} readings, {len(frames['forecasts']):,} "
                  f"forecast rows, {len(frames['events'])} events in "
                  f"{time.perf_counter() - started:.1f} s")
    results = {}
    with tempfile.TemporaryDirectory() as tmp, LocalInfluxd(Path(tmp) / "influxd") as server:
        stores = {"duckdb": DuckDBStore(Path(tmp) / "bench.duckdb"),
                  "influx": InfluxStore(server.url, "bench")}
        for name in track(list(stores), description="seeding and measuring"):
            seconds = seed(stores[name], frames)
            console.print(f"{name}: seeded in {seconds:.1f} s")
            results[name] = measure(stores[name], config, args.calls, with_mv=True)
            stores[name].close()
    table = Table(min_width=130,
                  title=f"dashboard callbacks, {args.meters} meters × 1 year × 15 min, "
                        f"{args.calls} calls each (server time, cache off)")
    for column in ("callback", "DuckDB p50 ms", "DuckDB p95 ms", "p95/goal",
                   "InfluxDB p50 ms", "InfluxDB p95 ms", "p95/goal", "max chart JSON kB",
                   "errors"):
        table.add_column(column, justify="left" if column == "callback" else "right")
    duck = {r["callback"]: r for r in results["duckdb"][0]}
    influx = {r["callback"]: r for r in results["influx"][0]}
    worst = {"duckdb": 0.0, "influx": 0.0}
    biggest = 0
    for name, d in duck.items():
        i = influx.get(name, d)
        size = max([*d["sizes"].values(), *i["sizes"].values(), 0])
        biggest = max(biggest, size)
        worst["duckdb"] = max(worst["duckdb"], d["p95"])
        worst["influx"] = max(worst["influx"], i["p95"])
        table.add_row(name, f"{d['p50']:.0f}", f"{d['p95']:.0f}",
                      f"{d['p95'] / GOAL_MS['duckdb']:.2f}", f"{i['p50']:.0f}",
                      f"{i['p95']:.0f}", f"{i['p95'] / GOAL_MS['influx']:.2f}",
                      f"{size / 1000:.0f}" if size else "-", str(d["errors"] + i["errors"]))
    console.print(table)
    for name in ("duckdb", "influx"):
        mv = results[name][1]
        console.print(f"{name}: M&V on demand (caltrack-daily, 6 + 6 months of 15-min data): "
                      f"{mv['seconds']:.2f} s, status {mv['status']}, charts "
                      f"{max(mv['sizes'].values(), default=0) / 1000:.0f} kB")
    console.print(
        f"worst p95: DuckDB {worst['duckdb']:.0f} ms (goal {GOAL_MS['duckdb']:.0f}, ratio "
        f"{worst['duckdb'] / GOAL_MS['duckdb']:.2f}); InfluxDB {worst['influx']:.0f} ms (goal "
        f"{GOAL_MS['influx']:.0f}, ratio {worst['influx'] / GOAL_MS['influx']:.2f}); largest "
        f"chart {biggest / 1e6:.2f} MB (goal 1 MB, ratio {biggest / GOAL_BYTES:.2f})")


if __name__ == "__main__":
    main()
