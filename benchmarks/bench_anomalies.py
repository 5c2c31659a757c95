"""Event-level precision, recall and F1 of the anomaly detectors on real data with injected,
labelled anomalies, and the alarm volume on a clean year, side by side.

Real hourly meters from ../shared/data/cambridge (zeros = missing), a year of history and a
reporting window. Each scenario copies one meter-window and injects labelled anomalies of ONE
kind: spikes, a level shift, schedule drift (late shutdown for a working week, or a weekend
run at occupied load), a stuck meter, drop-outs. Detection also runs on the untouched data:
events of the same kind overlapping those are pre-existing (real anomalies), not scored.

Scoring, per kind: a label is found if an event with a reason of its kind's group overlaps it
(recall); an event of a group is correct if it overlaps a label of that group (precision). A
new event of another group overlapping the label is collateral (e.g. a stuck-high meter also
looks like after-hours use) and is counted separately, not as a false positive. A label whose
injected fault is immaterial by construction — judged by the detectors' own materiality rule
(:func:`~wattlens.analytics.anomalies.materiality`: e.g. a gas schedule drift worth £2 at the
stand-in tariff, under the £10 minimum cost) — cannot be an event by design; it is counted
as ``immaterial``, not as a miss (the F1 counting it as a miss is printed as well).

Alarm volume: every meter's 2019 (the clean year, no injections) detected with 2018 as
history, default settings and a documented stand-in flat tariff (electricity 0.25, gas 0.06
GBP/kWh; the archive has no tariffs) so the materiality test includes its minimum cost:
events per meter-month (goal <= 1.0), whether every one is material, and the share of
schedule kinds (after-hours, weekend, holiday).

Run: ``.venv/bin/python -m benchmarks.bench_anomalies [--meters N] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import track
from rich.table import Table

from wattlens.analytics.anomalies import (
    SCHEDULE_KINDS,
    WASTE_KINDS,
    AnomalySettings,
    Finding,
    blocks,
    detect,
    materiality,
    typical_day_kwh,
)
from wattlens.analytics.tariffs import Tariff, marginal_price
from wattlens.core.calendar import SiteCalendar

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cambridge"
TZ, COUNTRY = "Europe/London", "GB"
CALENDAR = SiteCalendar(timezone=TZ, country=COUNTRY)
GROUPS = {
    "spike": {"spike"},
    "level-shift": {"level-shift"},
    "schedule": {"after-hours", "weekend", "holiday"},
    "stuck": {"stuck"},
    "dropout": {"gap"},
}
WINDOWS = [("2019-03-04", "2019-04-29"), ("2019-09-30", "2019-11-25")]
TARIFFS = {commodity: Tariff(id=f"flat-{commodity}", currency="GBP",
                             versions=[{"valid_from": "2015-01-01", "energy_rate": rate}])
           for commodity, rate in (("electricity", 0.25), ("gas", 0.06))}
"""Stand-in flat tariffs [GBP/kWh] so materiality's minimum cost applies."""


@dataclass
class Label:
    kind: str
    start: pd.Timestamp
    end: pd.Timestamp


def load_meter(building: str, commodity: str, years: range) -> pd.Series | None:
    """Hourly kWh of one archive meter (UTC index); zeros dropped (they mean 'no reading')."""
    frames = []
    for year in years:
        path = SHARED / "buildings" / building / commodity / f"{year}.csv"
        if not path.exists():
            return None
        raw = pd.read_csv(path)
        raw.columns = ["time", "value"]
        frames.append(raw)
    data = pd.concat(frames)
    series = pd.Series(data["value"].to_numpy(float),
                       index=pd.to_datetime(data["time"]).dt.tz_localize("UTC"))
    series = series[~series.index.duplicated()].sort_index()
    return series[series > 0]


def load_weather(years: range) -> pd.DataFrame:
    frames = [pd.read_csv(SHARED / "weather" / "bedford" / f"{y}.csv") for y in years]
    data = pd.concat(frames)
    data.columns = ["time", "temperature", "humidity", "ghi"]
    data["time"] = pd.to_datetime(data["time"]).dt.tz_localize("UTC")
    return data.set_index("time")[["temperature"]]


def _free_start(rng: np.random.Generator, index: pd.DatetimeIndex, lo: pd.Timestamp,
                hi: pd.Timestamp, hours: int, taken: list[tuple[pd.Timestamp, pd.Timestamp]],
                present: pd.Series) -> pd.Timestamp | None:
    """A start hour in [lo, hi) whose ``hours``-long span (plus a day each side) is fully
    present and clear of ``taken``."""
    for _ in range(200):
        start = lo + pd.Timedelta(hours=int(rng.integers(0, int((hi - lo) / pd.Timedelta("1h"))
                                                         - hours)))
        end = start + pd.Timedelta(hours=hours)
        pad = pd.Timedelta("1D")
        if any(start - pad < t_end and end + pad > t_start for t_start, t_end in taken):
            continue
        if present[start - pd.Timedelta("3h"):end + pd.Timedelta("2h")].all():
            taken.append((start, end))
            return start
    return None


def inject(series: pd.Series, kind: str, lo: pd.Timestamp, hi: pd.Timestamp,
           rng: np.random.Generator) -> tuple[pd.Series, list[Label]]:
    """A copy of ``series`` with anomalies of ``kind`` in [lo, hi) and their labels."""
    s = series.copy()
    grid = pd.date_range(lo, hi, freq="1h", inclusive="left")
    present = pd.Series(grid.isin(s.index), index=grid).reindex(
        pd.date_range(lo - pd.Timedelta("1D"), hi + pd.Timedelta("1D"), freq="1h"),
        fill_value=False)
    window = s[(s.index >= lo) & (s.index < hi)]
    level = float(window.median())
    spread = float(window.quantile(0.95) - window.quantile(0.05))
    cal = CALENDAR.days(s.index)
    night_mask = ((cal["hour"] < 7) | (cal["hour"] >= 19)).to_numpy()
    occupied = float(s[cal["working"].to_numpy() & ~night_mask].quantile(0.75))
    night = float(s[night_mask].median())
    labels: list[Label] = []
    taken: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    if kind == "spike":
        for _ in range(3):
            hours = int(rng.integers(1, 3))
            start = _free_start(rng, grid, lo, hi, hours, taken, present)
            if start is None:
                continue
            span = (s.index >= start) & (s.index < start + pd.Timedelta(hours=hours))
            s[span] += rng.uniform(1.0, 2.0) * max(spread, 0.3 * level)
            labels.append(Label(kind, start, start + pd.Timedelta(hours=hours)))
    elif kind == "level-shift":
        day = lo.normalize() + pd.Timedelta(days=int(rng.integers(7, 21)))
        delta = rng.choice([-1, 1]) * rng.uniform(0.25, 0.5) * max(night, 0.2 * level)
        span = s.index >= day
        s[span] = np.maximum(s[span] + delta, 0.05 * level)
        labels.append(Label(kind, day, hi))
    elif kind == "schedule":
        lift = max(occupied - night, 0.25 * night) * rng.uniform(0.7, 1.0)
        monday = lo.normalize() + pd.Timedelta(days=7 * int(rng.integers(1, 4)))
        monday -= pd.Timedelta(days=monday.day_of_week)
        local = s.index.tz_convert(TZ)
        week = (s.index >= monday) & (s.index < monday + pd.Timedelta(days=5))
        evening = week & (local.hour >= 19)
        s[evening] += lift
        labels.append(Label(kind, s.index[evening][0], s.index[evening][-1] + pd.Timedelta("1h")))
        saturday = monday + pd.Timedelta(days=12)
        if saturday + pd.Timedelta("1D") < hi:
            sat = (s.index >= saturday) & (s.index < saturday + pd.Timedelta("1D"))
            day_hours = sat & (local.hour >= 7) & (local.hour < 19)
            s[day_hours] += lift
            labels.append(Label(kind, s.index[day_hours][0],
                                s.index[day_hours][-1] + pd.Timedelta("1h")))
    elif kind == "stuck":
        for _ in range(2):
            hours = int(rng.integers(12, 49))
            start = _free_start(rng, grid, lo, hi, hours, taken, present)
            if start is None:
                continue
            span = (s.index >= start) & (s.index < start + pd.Timedelta(hours=hours))
            s[span] = s[span].iloc[0]
            labels.append(Label(kind, start, start + pd.Timedelta(hours=hours)))
    elif kind == "dropout":
        for _ in range(2):
            hours = int(rng.integers(3, 49))
            start = _free_start(rng, grid, lo, hi, hours, taken, present)
            if start is None:
                continue
            s = s[(s.index < start) | (s.index >= start + pd.Timedelta(hours=hours))]
            labels.append(Label(kind, start, start + pd.Timedelta(hours=hours)))
    return s, labels


FINDING_KIND = {"spike": "spike", "level-shift": "level-shift", "schedule": "after-hours",
                "stuck": "stuck", "dropout": "gap"}
"""The event kind whose materiality rule judges an injected fault of each kind."""


def label_material(label: Label, original: pd.Series, injected: pd.Series, meter: str,
                   tariff: Tariff, settings: AnomalySettings) -> bool:
    """Whether an injected fault could be raised at all: its energy (what it adds or removes
    over the label, a level shift per hour, a stuck run's readings in doubt), priced at the
    stand-in tariff, passes :func:`~wattlens.analytics.anomalies.materiality` against the
    meter's typical day before the label's week, as a detector's finding would."""
    span = (original.index >= label.start) & (original.index < label.end)
    change = injected.reindex(original.index).fillna(0.0) - original
    hours = pd.date_range(label.start, label.end, freq="1h", inclusive="left")
    details: dict = {"intervals": len(hours), "hours": len(hours),
                     "typical_kwh": float(original[original.index < label.start].median())}
    excess = change[span]
    if label.kind == "level-shift":
        excess = pd.Series(float(change[span].median()), index=hours)
    learn_end = blocks(label.start, label.end, TZ)[0][0]
    f = Finding(meter=meter, kind=FINDING_KIND[label.kind], start=label.start, end=label.end,
                severity=1.0, excess=excess, details=details,
                expected_kwh=float(original[span].sum()),
                typical_day_kwh=typical_day_kwh(original, learn_end, TZ,
                                                settings.materiality.typical_days))
    positive = excess.clip(lower=0)
    cost = float((positive * marginal_price(tariff, pd.DatetimeIndex(positive.index), TZ)).sum())
    return materiality(f, settings.materiality, cost) >= 1.0


def to_readings(series: pd.Series, meter: str) -> pd.DataFrame:
    return pd.DataFrame({"time": series.index, "meter": meter, "value": series.to_numpy()})


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


def reasons(event) -> set[str]:
    """The kinds an event was raised for (its merged reasons)."""
    return {r["kind"] for r in json.loads(event.details).get("reasons", [])} | {event.kind}


def clean_year(meters: list[tuple[str, pd.Series]], weather: pd.DataFrame
               ) -> dict[str, float]:
    """Alarm volume on 2019 of every meter, learning from 2018."""
    settings = AnomalySettings()
    events, months, schedule, material = 0, 0, 0, 0
    kinds: dict[str, int] = {}
    for meter, series in track(meters, description="clean 2019"):
        year = series[series.index < pd.Timestamp("2020-01-01", tz="UTC")]
        found = detect(to_readings(year, meter), "2019-01-01T00:00Z", "2020-01-01T00:00Z",
                       weather=weather, calendar=CALENDAR, settings=settings,
                       tariff=TARIFFS[meter.rsplit("-", 1)[1]]).events
        months += 12
        events += len(found)
        for e in found.itertuples():
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
            schedule += e.kind in SCHEDULE_KINDS
            d = json.loads(e.details)
            material += d.get("materiality", 0) >= 1 and (
                "cost" not in d or e.kind not in WASTE_KINDS
                or d["cost"] >= settings.materiality.min_cost)
    return {"events": events, "meter_months": months, "per_meter_month": events / months,
            "schedule": schedule, "material": material, "kinds": kinds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=24, help="most meters to use")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-injected", action="store_true",
                        help="only the clean-year alarm volume")
    args = parser.parse_args()
    console = Console(width=160)
    if not SHARED.exists():
        console.print(f"{SHARED} not found: the benchmark needs ../shared/data/cambridge")
        raise SystemExit(1)
    years = range(2018, 2020)
    weather = load_weather(years)
    meters = []
    for building in sorted(p.name for p in (SHARED / "buildings").iterdir()):
        for commodity in ("electricity", "gas"):
            series = load_meter(building, commodity, years)
            if series is not None and len(series) > 0.8 * 2 * 8760:
                meters.append((f"{building.removeprefix('UCam_Building_')}-{commodity}", series))
    meters = meters[: args.meters]
    rng = np.random.default_rng(args.seed)
    stats = {k: {"labels": 0, "found": 0, "events": 0, "correct": 0, "collateral": 0,
                 "untouched": 0, "masked": 0, "immaterial": 0} for k in GROUPS}
    settings = AnomalySettings()
    windows_run = 0
    cases = [] if args.skip_injected else [(m, s, w) for m, s in meters for w in WINDOWS]
    tariffs = {m: TARIFFS[m.rsplit("-", 1)[1]] for m, _ in meters}
    t0 = time.perf_counter()
    for meter, series, (lo_text, hi_text) in track(cases, description="scenarios"):
        lo, hi = pd.Timestamp(lo_text, tz="UTC"), pd.Timestamp(hi_text, tz="UTC")
        history = series[(series.index >= lo - pd.Timedelta(days=365)) & (series.index < hi)]
        if history[history.index >= lo].count() < 0.8 * (hi - lo) / pd.Timedelta("1h"):
            continue
        clean = detect(to_readings(history, meter), lo, hi, weather=weather,
                       calendar=CALENDAR, tariff=tariffs[meter]).events
        windows_run += 1
        for e in clean.itertuples():
            group = next((g for g, ks in GROUPS.items() if e.kind in ks), None)
            if group is not None:
                stats[group]["untouched"] += 1
        for kind in GROUPS:
            injected, labels = inject(history, kind, lo, hi, rng)
            if not labels:
                continue
            events = detect(to_readings(injected, meter), lo, hi, weather=weather,
                            calendar=CALENDAR, tariff=tariffs[meter]).events
            new = [e for e in events.itertuples() if not any(
                c.kind == e.kind and overlaps(c.start, c.end, e.start, e.end)
                for c in clean.itertuples())]
            scorable = [lab for lab in labels if not any(
                reasons(c) & GROUPS[kind] and overlaps(c.start, c.end, lab.start, lab.end)
                for c in clean.itertuples())]
            stats[kind]["masked"] += len(labels) - len(scorable)
            material = [lab for lab in scorable if label_material(
                lab, history, injected, meter, tariffs[meter], settings)]
            stats[kind]["immaterial"] += len(scorable) - len(material)
            scorable = material
            stats[kind]["labels"] += len(scorable)
            stats[kind]["found"] += sum(
                any(reasons(e) & GROUPS[kind] and overlaps(e.start, e.end, lab.start, lab.end)
                    for e in events.itertuples()) for lab in scorable)
            for e in new:
                group = kind if reasons(e) & GROUPS[kind] else next(
                    (g for g, ks in GROUPS.items() if reasons(e) & ks), None)
                if group is None:
                    continue
                hits_label = any(overlaps(e.start, e.end, lab.start, lab.end) for lab in labels)
                if group == kind:
                    stats[group]["events"] += 1
                    stats[group]["correct"] += int(hits_label)
                elif hits_label:
                    stats[kind]["collateral"] += 1
                else:
                    stats[group]["events"] += 1
    elapsed = time.perf_counter() - t0
    table = Table("kind", "labels", "found", "events", "correct", "precision", "recall", "F1",
                  "collateral", "masked", "immaterial", "untouched/window",
                  title=f"{windows_run} meter-windows of 8 weeks ({len(meters)} meters), "
                  f"seed {args.seed}, {elapsed:.0f} s")
    totals = {k: 0 for k in ("labels", "found", "events", "correct", "collateral", "untouched",
                             "masked", "immaterial")}

    def row(name: str, s: dict[str, int]) -> None:
        precision = s["correct"] / s["events"] if s["events"] else float("nan")
        recall = s["found"] / s["labels"] if s["labels"] else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table.add_row(name, *(str(s[k]) for k in ("labels", "found", "events", "correct")),
                      f"{precision:.3f}", f"{recall:.3f}", f"{f1:.3f}", str(s["collateral"]),
                      str(s["masked"]), str(s["immaterial"]),
                      f"{s['untouched'] / max(windows_run, 1):.1f}")

    for kind, s in stats.items():
        row(kind, s)
        for key in totals:
            totals[key] += s[key]
    row("overall", totals)
    if cases:
        console.print(table)
        console.print("untouched/window: events the detectors raise on the real data before "
                      "injection (real anomalies or false alarms; not scored above); immaterial: "
                      "labels below the materiality rule by construction (not scored)")
    volume = clean_year(meters, weather)
    precision = totals["correct"] / totals["events"] if totals["events"] else float("nan")
    recall = totals["found"] / totals["labels"] if totals["labels"] else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else float("nan")
    side = Table("measure", "value", "goal", title="anomalies: found vs raised")
    side.add_row("event-level F1 on injected faults", f"{f1:.3f}", ">= 0.95")
    missed = totals["labels"] + totals["immaterial"]
    strict = totals["found"] / missed if missed else float("nan")
    side.add_row("  the same, immaterial labels counted as misses",
                 f"{2 * precision * strict / (precision + strict):.3f}", "")
    side.add_row("clean 2019: events", f"{volume['events']} on {len(meters)} meters", "")
    side.add_row("clean 2019: events per meter-month", f"{volume['per_meter_month']:.2f}",
                 "<= 1.0")
    side.add_row("clean 2019: material events", f"{volume['material']} of {volume['events']}",
                 "all")
    side.add_row("clean 2019: schedule kinds",
                 f"{volume['schedule']} ({volume['schedule'] / max(volume['events'], 1):.0%})",
                 "")
    console.print(side)
    console.print("clean 2019 by kind: " + ", ".join(
        f"{k} {n}" for k, n in sorted(volume["kinds"].items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
