"""Day-ahead accuracy of every model on 12 Cambridge buildings (2019) and Prophet throughput.

    .venv/bin/python -m benchmarks.bench_forecast [--months 12] [--every 4] [--workers 2]
        [--weather observed,issue-time] [--buildings UCam_Building_b0,...]

Backtests each model on the electricity of all buildings in ../shared/data/cambridge over
2019 (origins at London midnight, 24 h ahead, refit weekly on the preceding 365 days, zeros
as missing, England's bank holidays, every issue through the plausibility guard), once with
the observed Bedford weather over the horizon and once with only the weather known at issue
(the previous-day stand-in: the archive has no stored weather forecasts). ``--every 4`` keeps
one weekly fit window in four (14 weeks starting 1 Jan, 29 Jan, … 3 Dec, 31 Dec, across the
four seasons: a quarter of the full year's time; measured at a load average of 9-18 from other
work on 2 cores: persistence 6.5 min, Prophet 18-31 min per weather mode). Prints per model
and weather mode: median CV(RMSE), its ratio to persistence-week, median 80 % interval
coverage and the worst meter's ratio to persistence-week. Then measures fit+forecast
throughput (one meter-year of hourly data per fit, 24 h forecast) on 1 and on 2 dask
workers, in meter-years per minute.
Goals: Prophet median CV(RMSE) <= 0.65 x persistence-week; coverage 77-83 %; no meter worse
than persistence-week; >= 100 meter-years/min on 2 cores.
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
from wattlens.forecasting.backtest import BacktestSpec, backtest_many, summarise
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


def _fit_forecast(meter: str, load: pd.Series, weather: pd.DataFrame) -> float:
    """Fit Prophet on one meter-year and forecast the next 24 h; returns seconds."""
    began = time.perf_counter()
    model = fit_model("prophet", load, weather, SITE)
    times = pd.date_range(load.index[-1] + pd.Timedelta("1h"), periods=24, freq="h")
    model.predict(times, weather, load)
    return time.perf_counter() - began


WEATHER_FREE = {"persistence-day", "persistence-week", "persistence-ensemble"}
"""Models that use no weather: backtested once, the same figures under both weather modes."""


def accuracy(loads: dict[str, pd.Series], weather: pd.DataFrame, months: int, every: int,
             workers: int, models: list[str], modes: list[str], save: Path | None
             ) -> dict[tuple, dict]:
    """Backtest each model under each weather mode on every ``every``-th weekly fit window
    (reusing results saved in ``save``)."""
    end = (pd.Timestamp("2019-01-01") + pd.DateOffset(months=months)).date()
    docs: dict[tuple, dict] = {}
    sites = dict.fromkeys(loads, SITE)
    with dask_client(workers=workers) as client:
        for mode in modes:
            for model in models:
                if model in WEATHER_FREE and (model, modes[0]) in docs:
                    docs[model, mode] = docs[model, modes[0]]
                    continue
                path = save / f"{model}-{mode}-{months}m-every{every}.json" if save else None
                if path is not None and path.exists():
                    docs[model, mode] = json.loads(path.read_text())
                    print(f"{model} ({mode}): reused {path}")
                    continue
                spec = BacktestSpec(model, 24, 7, 365, dt.date(2019, 1, 1), end, weather=mode,
                                    every=every)
                began = time.perf_counter()
                results = backtest_many(loads, weather, sites, spec, client)
                doc = summarise(model, 24, results, mode, spec.guard)
                doc["seconds"] = time.perf_counter() - began
                docs[model, mode] = doc
                print(f"{model} ({doc['weather']}): median CV(RMSE) "
                      f"{doc['aggregate']['median_cv_rmse_pct']} %, {doc['seconds']:.0f} s",
                      flush=True)
                if path is not None:
                    path.write_text(json.dumps(doc, default=float))
    return docs


def _cv(doc: dict) -> dict[str, float]:
    return {m: v.get("cv_rmse_pct") or np.inf for m, v in doc["meters"].items()}


def sample(months: int, every: int) -> str:
    """The origins backtested, in words: the weeks (first origin of each) and their count."""
    end = pd.Timestamp("2019-01-01") + pd.DateOffset(months=months)
    firsts = pd.date_range("2019-01-01", end, freq=f"{7 * every}D", inclusive="left")
    days = sum(min(7, (end - first).days) for first in firsts)
    windows = "every weekly fit window" if every == 1 else f"one weekly fit window in {every}"
    weeks = ", ".join(first.strftime("%d %b") for first in firsts)
    return f"2019 ({months} months), {windows}: {len(firsts)} weeks from {weeks} ({days} origins)"


def report(docs: dict[tuple, dict], months: int, every: int) -> None:
    """Per model and weather mode: median CV(RMSE), its ratio to persistence-week, median
    interval coverage, the worst meter's ratio; then the goals."""
    print(f"\nDay-ahead backtest, {sample(months, every)}, origins at London midnight, refit "
          f"weekly on 365 days; observed = weather as it happened over the horizon, "
          f"issue-time = only weather known at issue (previous-day stand-in)")
    print("| model | weather | median CV(RMSE) % | ratio to persistence-week | median coverage "
          "% (80 % PI) | worst meter's ratio | G14 pass | forecasts replaced | time [s] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (model, mode), doc in docs.items():
        agg = doc["aggregate"]
        week = docs.get(("persistence-week", mode))
        if not agg["meters_scored"] or week is None:
            print(f"| {model} | {mode} | no meter scored | | | | | | |")
            continue
        ratio = agg["median_cv_rmse_pct"] / week["aggregate"]["median_cv_rmse_pct"]
        mine, base = _cv(doc), _cv(week)
        worst = max(mine, key=lambda m: mine[m] / base[m])
        print(f"| {model} | {mode} | {agg['median_cv_rmse_pct']:.1f} | {ratio:.2f} "
              f"| {agg['median_coverage_pct']:.0f} | {mine[worst] / base[worst]:.2f} ({worst}) "
              f"| {agg['g14_pass_meters']}/{agg['meters_scored']} "
              f"| {agg.get('origins_replaced', 0)} | {doc.get('seconds', 0):.0f} |")
    for mode in dict.fromkeys(m for _, m in docs):
        if ("prophet", mode) not in docs or ("persistence-week", mode) not in docs:
            continue
        doc, week = docs["prophet", mode], docs["persistence-week", mode]
        ratio = doc["aggregate"]["median_cv_rmse_pct"] / \
            week["aggregate"]["median_cv_rmse_pct"]
        cover = doc["aggregate"]["median_coverage_pct"]
        mine, base = _cv(doc), _cv(week)
        worse = [m for m in mine if mine[m] > base[m]]
        print(f"\nprophet, {mode} weather: ratio {ratio:.2f} (goal <= 0.65: "
              f"{'met' if ratio <= 0.65 else 'NOT met'}); coverage {cover:.0f} % (goal 77-83: "
              f"{'met' if 77 <= cover <= 83 else 'NOT met'}); meters worse than "
              f"persistence-week: {len(worse)} {worse} (goal none: "
              f"{'met' if not worse else 'NOT met'})")
        print("per meter CV(RMSE) % / coverage %: " + ", ".join(
            f"{m} {mine[m]:.1f}/{doc['meters'][m].get('coverage_pct') or 0:.0f}"
            f" (week {base[m]:.1f})" for m in mine))


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
    parser.add_argument("--every", type=int, default=1,
                        help="backtest one weekly fit window in N (4: 13 weeks over the year)")
    parser.add_argument("--workers", type=int, default=2, help="workers for the backtests")
    parser.add_argument("--repeat", type=int, default=2, help="throughput: fits per meter")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument("--save", type=Path, help="directory keeping each model's results")
    parser.add_argument("--weather", default="observed,issue-time",
                        help="comma-separated weather modes over the horizon")
    parser.add_argument("--buildings", help="comma-separated buildings (default: all)")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark needs ../shared/data/cambridge")
    buildings = args.buildings.split(",") if args.buildings else \
        sorted(p.name for p in (DATA / "buildings").iterdir() if p.is_dir())
    loads = {b: load_building(b, range(2018, 2020)) for b in buildings}
    weather = load_weather(range(2017, 2021))  # 2020: the horizon after a 2019 fit
    print(f"{len(loads)} buildings, electricity 2018-2019, Bedford weather")

    if not args.skip_accuracy:
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
        docs = accuracy(loads, weather, args.months, args.every, args.workers,
                        args.models.split(","), args.weather.split(","), args.save)
        report(docs, args.months, args.every)

    if args.skip_throughput:
        return
    rates = {w: throughput(loads, weather, w, args.repeat) for w in (1, 2)}
    print(f"\nThroughput (Prophet fit on one meter-year hourly + 24 h forecast): "
          f"1 worker {rates[1]:.0f} meter-years/min, 2 workers {rates[2]:.0f} meter-years/min "
          f"(x{rates[2] / rates[1]:.2f}; goal >= 100 on 2 cores)")


if __name__ == "__main__":
    main()
