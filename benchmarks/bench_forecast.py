"""Day-ahead accuracy of every model on 12 Cambridge buildings (2019) and Prophet throughput.

    .venv/bin/python -m benchmarks.bench_forecast [--months 12] [--workers 2]

Backtests each model on the electricity of all buildings in ../shared/data/cambridge over
2019 (origins at London midnight, 24 h ahead, refit weekly on the preceding 365 days, zeros
as missing, observed Bedford weather over the horizon, England's bank holidays) and prints
median CV(RMSE) and NMBE per model and the share of meters on which Prophet beats every
baseline. Then measures fit+forecast throughput (one meter-year of hourly data per fit,
24 h forecast) on 1 and on 2 dask workers, in meter-years per minute.
Goal: Prophet median CV(RMSE) <= 0.7 x persistence-week; Prophet best on >= 80 % of meters;
>= 100 meter-years/min on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from wattlens.core.calendar import SiteCalendar
from wattlens.forecasting.backtest import BacktestSpec, backtest_meter, summarise
from wattlens.forecasting.models import fit_model
from wattlens.forecasting.runner import MeterFailure, dask_client, run_per_meter

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "cambridge"
SITE = SiteCalendar(timezone="Europe/London", country="GB-ENG")
MODELS = ["persistence-day", "persistence-week", "persistence-ensemble", "towt", "prophet"]


def load_building(building: str, years: range) -> pd.Series:
    """Hourly electricity [kWh] of one building, UTC, zeros dropped (the archive's gaps)."""
    parts = []
    for year in years:
        path = DATA / "buildings" / building / "electricity" / f"{year}.csv"
        if path.exists():
            parts.append(pd.read_csv(path))
    frame = pd.concat(parts, ignore_index=True)
    frame.columns = ["time", "value"]
    series = pd.Series(frame["value"].to_numpy(float),
                       index=pd.to_datetime(frame["time"]).dt.tz_localize("UTC"), name=building)
    series = series[(series != 0) & series.notna()]
    return series[~series.index.duplicated()]


def load_weather(years: range) -> pd.DataFrame:
    frame = pd.concat([pd.read_csv(DATA / "weather" / "bedford" / f"{y}.csv") for y in years],
                      ignore_index=True)
    frame.columns = ["time", "temperature", "humidity", "ghi"]
    index = pd.DatetimeIndex(pd.to_datetime(frame["time"]).dt.tz_localize("UTC"))
    wide = frame[["temperature", "humidity", "ghi"]].set_index(index)
    return wide[~wide.index.duplicated()]


def _backtest(meter: str, load: pd.Series, spec: BacktestSpec, weather: pd.DataFrame):
    return backtest_meter(meter, load, weather, SITE, spec)


def _fit_forecast(meter: str, load: pd.Series, weather: pd.DataFrame) -> float:
    """Fit Prophet on one meter-year and forecast the next 24 h; returns seconds."""
    began = time.perf_counter()
    model = fit_model("prophet", load, weather, SITE)
    times = pd.date_range(load.index[-1] + pd.Timedelta("1h"), periods=24, freq="h")
    model.predict(times, weather, load)
    return time.perf_counter() - began


def accuracy(loads: dict[str, pd.Series], weather: pd.DataFrame, months: int, workers: int,
             models: list[str], save: Path | None) -> dict[str, dict]:
    """Backtest each model (reusing results saved in ``save`` by an earlier run)."""
    end = (pd.Timestamp("2019-01-01") + pd.DateOffset(months=months)).date()
    docs = {}
    with dask_client(workers=workers) as client:
        for model in models:
            path = save / f"{model}-{months}m.json" if save else None
            if path is not None and path.exists():
                docs[model] = json.loads(path.read_text())
                print(f"{model}: reused {path}")
                continue
            spec = BacktestSpec(model, 24, 7, 365, dt.date(2019, 1, 1), end)
            began = time.perf_counter()
            results = run_per_meter(_backtest, {m: (s, spec) for m, s in loads.items()},
                                    (weather,), client=client, description=f"backtest {model}")
            for meter, res in results.items():
                if isinstance(res, MeterFailure):
                    print(f"  {model} {meter} FAILED: {res.reason}")
                    results[meter] = _failed(meter, res.reason)
            docs[model] = summarise(model, 24, results)
            docs[model]["seconds"] = time.perf_counter() - began
            agg = docs[model]["aggregate"]
            print(f"{model}: median CV(RMSE) {agg['median_cv_rmse_pct']} %, "
                  f"{docs[model]['seconds']:.0f} s", flush=True)
            if path is not None:
                path.write_text(json.dumps(docs[model], default=float))
    return docs


def _failed(meter: str, reason: str):
    from wattlens.forecasting.backtest import MeterBacktest

    return MeterBacktest(meter, error=reason)


def throughput(loads: dict[str, pd.Series], weather: pd.DataFrame, workers: int,
               repeat: int) -> float:
    """Meter-years per minute of fit+forecast on ``workers`` dask workers."""
    year = {m: s[(s.index >= "2019-01-01") & (s.index < "2020-01-01")] for m, s in loads.items()}
    tasks = {f"{m}#{k}": (s,) for k in range(repeat) for m, s in year.items() if len(s) > 24 * 60}
    with dask_client(workers=workers) as client:
        # warm the workers (imports, Stan binary) before timing
        run_per_meter(_fit_forecast, dict(list(tasks.items())[:workers]), (weather,),
                      client=client, description="warm-up")
        began = time.perf_counter()
        results = run_per_meter(_fit_forecast, tasks, (weather,), client=client,
                                description=f"fit+forecast on {workers} worker(s)")
        wall = time.perf_counter() - began
    ok = [r for r in results.values() if not isinstance(r, MeterFailure)]
    for failure in [r for r in results.values() if isinstance(r, MeterFailure)][:3]:
        print(f"  FAILED {failure.meter}: {failure.reason}")
    meter_years = sum(len(tasks[m][0]) for m, r in results.items()
                      if not isinstance(r, MeterFailure)) / 8760
    print(f"  {workers} worker(s): {len(ok)} fits, {wall:.1f} s wall, "
          f"{np.mean(ok):.2f} s per fit+forecast")
    return meter_years / (wall / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=12, help="months of 2019 to backtest")
    parser.add_argument("--workers", type=int, default=2, help="workers for the backtests")
    parser.add_argument("--repeat", type=int, default=2, help="throughput: fits per meter")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument("--save", type=Path, help="directory keeping each model's results")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark needs ../shared/data/cambridge")
    buildings = sorted(p.name for p in (DATA / "buildings").iterdir() if p.is_dir())
    loads = {b: load_building(b, range(2018, 2020)) for b in buildings}
    weather = load_weather(range(2017, 2021))  # 2020: the horizon after a 2019 fit
    print(f"{len(loads)} buildings, electricity 2018-2019, Bedford weather")

    if not args.skip_accuracy:
        models = args.models.split(",")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
        docs = accuracy(loads, weather, args.months, args.workers, models, args.save)
        print(f"\nDay-ahead backtest, 2019 ({args.months} months), origins at London midnight, "
              f"refit weekly on 365 days, observed weather over the horizon")
        print("| model | median CV(RMSE) % | median NMBE % | median coverage % (80 % PI) "
              "| G14 pass | meters | time [s] |")
        print("|---|---|---|---|---|---|---|")
        for model, doc in docs.items():
            agg = doc["aggregate"]
            if not agg["meters_scored"]:
                print(f"| {model} | no meter scored | | | | | |")
                continue
            print(f"| {model} | {agg['median_cv_rmse_pct']:.1f} | {agg['median_nmbe_pct']:.2f} "
                  f"| {agg['median_coverage_pct']:.0f} | {agg['g14_pass_meters']}"
                  f"/{agg['meters_scored']} | {agg['meters_scored']} | {doc['seconds']:.0f} |")
        cv = {model: {m: v.get("cv_rmse_pct", np.inf) for m, v in doc["meters"].items()}
              for model, doc in docs.items()}
        if set(MODELS) - set(docs):
            return
        wins = [m for m in cv["prophet"]
                if all(cv["prophet"][m] < cv[b][m] for b in MODELS if b != "prophet")]
        print("\nper meter CV(RMSE) %:")
        print("| meter | " + " | ".join(docs) + " |")
        print("|---|" + "---|" * len(docs))
        for m in next(iter(cv.values())):
            print(f"| {m} | " + " | ".join(f"{cv[k][m]:.1f}" for k in docs) + " |")
        ratio = docs["prophet"]["aggregate"]["median_cv_rmse_pct"] / \
            docs["persistence-week"]["aggregate"]["median_cv_rmse_pct"]
        share = len(wins) / len(cv["prophet"])
        print(f"\nProphet / persistence-week median CV(RMSE): {ratio:.2f} (goal <= 0.70: "
              f"{'met' if ratio <= 0.7 else 'NOT met'})")
        print(f"Prophet beats every baseline on {len(wins)}/{len(cv['prophet'])} meters "
              f"({100 * share:.0f} %; goal >= 80 %: {'met' if share >= 0.8 else 'NOT met'})")

    if args.skip_throughput:
        return
    rates = {w: throughput(loads, weather, w, args.repeat) for w in (1, 2)}
    print(f"\nThroughput (Prophet fit on one meter-year hourly + 24 h forecast): "
          f"1 worker {rates[1]:.0f} meter-years/min, 2 workers {rates[2]:.0f} meter-years/min "
          f"(x{rates[2] / rates[1]:.2f}; goal >= 100 on 2 cores)")


if __name__ == "__main__":
    main()
