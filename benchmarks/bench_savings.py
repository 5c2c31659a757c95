"""M&V accuracy: the OpenEEmeter il-* answer key and a placebo test on Cambridge.

1. Answer key — every il-* sample file as shipped (hourly, daily, monthly and bimonthly
   bills; the blank last value read as missing) with each model form suited to its data
   (caltrack-hourly for hourly; caltrack-daily, CalTRACK 2.0's degree days of the daily mean,
   and daily-degree-hours for all): the estimated saving and its 90 % interval against the
   designed 10 % (a ratio of own-weather totals) and against the file's own weather-adjusted
   saving under the correctly specified model (tests/analytics_mv/il_samples.py explains the
   difference); the acceptance line counts the files within ±1 point of it per model form.
2. OpenDSM parity — the cases of tests/analytics_mv/test_mv_opendsm_parity.py (when the
   OpenDSM venv is built): wattlens vs OpenDSM savings per case (hourly with the reference's
   TOWT rules, and with wattlens's default rules beside it).
3. Placebo — every Cambridge meter (12 buildings × electricity/gas, zeros = missing), baseline
   2018, reporting 2019, no known intervention: the share of meters whose 90 % FSU interval
   contains zero, per model, and the meters whose interval excludes it.
4. Calibration — simulated no-change meters (constant load + AR(1) noise, ρ 0 … 0.95, daily
   and hourly lengths): the share whose interval holds the known zero.

Run from the repository root: ``.venv/bin/python -m benchmarks.bench_savings`` (needs
../shared/data; ``-m`` puts the root on sys.path, so ``tests.analytics_mv`` imports).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import track
from rich.table import Table

from tests.analytics_mv import il_samples as il
from tests.analytics_mv import test_mv_opendsm_parity as parity_cases
from tests.analytics_mv.synthetic import ar1_interval_coverage
from wattlens.analytics.savings import SavingsError, estimate_savings
from wattlens.cli.savings import read_meter_csv

ROOT = Path(__file__).resolve().parents[1]

CAMBRIDGE = ROOT / ".." / "shared" / "data" / "cambridge"
CONFIDENCE = 0.9
console = Console(width=170)


def answer_key() -> None:
    table = Table("sample", "model", "estimate %", "90 % interval %", "|est−10|",
                  "oracle %", "|est−oracle|", "oracle in interval", "CV(RMSE) %", "G14",
                  title="il-* answer key (designed: 10 % of own-weather totals; oracle: the "
                        "file's weather-adjusted saving under the designed model form)")
    hits_ten = hits_oracle = inside = total = 0
    per_model: dict[str, list[int]] = {}
    for design in il.DESIGNS:
        for freq in il.FREQS:
            sample = f"{design}-{freq}"
            baseline = ("2015-11-22", il.BASELINE[1]) if freq.startswith("billing") \
                else il.BASELINE
            shipped = read_meter_csv(il.SAMPLES / f"{sample}.csv.gz", sample)
            daily_forms = ("daily-degree-hours", "caltrack-daily")
            for model in (("caltrack-hourly", *daily_forms) if freq == "hourly"
                          else daily_forms):
                result = estimate_savings(
                    shipped, il.weather(), sample, baseline, il.REPORTING,
                    blackout=il.BLACKOUT, model=model, tz=il.TZ, confidence=CONFIDENCE,
                    force=True,
                )
                rep = result.reporting
                oracle = il.oracle_savings(sample, baseline, il.REPORTING)
                low, high = (100 * v / rep.adjusted_baseline_kwh for v in rep.savings_interval_kwh)
                total += 1
                hits_ten += abs(rep.savings_pct - 10) <= 1
                hits_oracle += abs(rep.savings_pct - oracle) <= 1
                inside += low <= oracle <= high
                # the acceptance counts each form on the data it is made for: caltrack-hourly
                # on hourly files, the daily forms on daily files and bills (a daily model
                # of an hourly file sees complete days only, its oracle all hours)
                if (model == "caltrack-hourly") == (freq == "hourly"):
                    tally = per_model.setdefault(model, [0, 0])
                    tally[0] += abs(rep.savings_pct - oracle) <= 1
                    tally[1] += 1
                table.add_row(
                    sample, model, f"{rep.savings_pct:.2f}", f"[{low:.2f}, {high:.2f}]",
                    f"{abs(rep.savings_pct - 10):.2f}", f"{oracle:.2f}",
                    f"{abs(rep.savings_pct - oracle):.2f}",
                    "yes" if low <= oracle <= high else "no",
                    f"{result.baseline.cv_rmse_pct:.1f}",
                    "pass" if result.baseline.g14_pass else "fail",
                )
    console.print(table)
    console.print(f"within ±1 point of the designed 10 %: {hits_ten}/{total}; within ±1 point "
                  f"of the oracle: {hits_oracle}/{total}; oracle inside the 90 % interval: "
                  f"{inside}/{total}")
    tallies = "; ".join(f"{model} {hit}/{n}" for model, (hit, n) in per_model.items())
    console.print(f"acceptance (within ±1 point of the file's weather-adjusted saving, each "
                  f"form on its own granularity): {tallies}")


def opendsm_parity() -> None:
    if not parity_cases.OPENDSM_PYTHON.exists():
        console.print(f"[yellow]skipped OpenDSM parity: {parity_cases.OPENDSM_PYTHON} not "
                      f"built")
        return
    table = Table("case", "wattlens model", "wattlens %", "OpenDSM %", "difference",
                  "shared knots, weighted share", "tolerance",
                  title="OpenDSM parity (complete days; OpenDSM 1.2.7)")
    for case, ours, theirs in parity_cases.compare():
        model = case["model"]
        shared = (f"{parity_cases.ours(case, parity_cases.SHARED_KNOTS) - theirs:+.3f}"
                  if model == "hourly" else "")
        table.add_row(case["name"], parity_cases.WATTLENS_MODEL[model], f"{ours:.3f}",
                      f"{theirs:.3f}", f"{ours - theirs:+.3f}", shared,
                      f"±{parity_cases.TOLERANCE[model]}")
    console.print(table)


def cambridge_readings() -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = []
    for building in sorted(p.name for p in (CAMBRIDGE / "buildings").iterdir()):
        for commodity, short in (("electricity", "elec"), ("gas", "gas")):
            for year in (2018, 2019):
                path = CAMBRIDGE / "buildings" / building / commodity / f"{year}.csv"
                if not path.exists():
                    continue
                raw = pd.read_csv(path)
                frames.append(pd.DataFrame({
                    "time": pd.to_datetime(raw.iloc[:, 0], utc=True),
                    "meter": f"{building.removeprefix('UCam_Building_')}-{short}",
                    "quantity": "energy", "value": raw.iloc[:, 1].to_numpy(dtype=float),
                    "quality": "ok",
                }))
    readings = pd.concat(frames, ignore_index=True)
    readings = readings[readings["value"] > 0]  # the archive wrote 0 for "no reading"
    readings["time"] = readings["time"].astype("datetime64[ns, UTC]")
    weather = pd.concat(
        [pd.read_csv(CAMBRIDGE / "weather" / "bedford" / f"{y}.csv") for y in (2018, 2019)]
    )
    index = pd.to_datetime(weather["datetime"], utc=True).astype("datetime64[ns, UTC]")
    return readings, pd.DataFrame(
        {"temperature": weather["air_temperature [degC]"].to_numpy()}, index=index
    ).dropna()


def placebo() -> None:
    if not CAMBRIDGE.exists():
        console.print(f"[yellow]skipped placebo: {CAMBRIDGE} not found")
        return
    readings, weather = cambridge_readings()
    meters = sorted(readings["meter"].unique())
    table = Table("model", "meters", "interval contains 0", "share", "median |savings| %",
                  "G14 pass", "errors", "seconds", "meters whose interval excludes 0 (savings %)",
                  title=f"placebo: Cambridge, baseline 2018, reporting 2019, {CONFIDENCE:.0%}")
    for model in ("caltrack-daily", "towt"):
        contains = fitted = g14 = 0
        errors: list[str] = []
        pct = []
        changed: list[str] = []
        start = time.perf_counter()
        for meter in track(meters, description=f"placebo {model}", console=console):
            try:
                result = estimate_savings(
                    readings, weather, meter, ("2018-01-01", "2019-01-01"),
                    ("2019-01-01", "2020-01-01"), model=model, tz="Europe/London",
                    confidence=CONFIDENCE, commodity="gas" if meter.endswith("gas")
                    else "electricity",
                )
            except SavingsError as exc:
                errors.append(f"{meter}: {exc}")
                continue
            fitted += 1
            low, high = result.reporting.savings_interval_kwh
            contains += low <= 0 <= high
            if not low <= 0 <= high:
                changed.append(f"{meter} {result.reporting.savings_pct:+.0f}")
            g14 += result.baseline.g14_pass
            pct.append(abs(result.reporting.savings_pct))
        table.add_row(model, str(fitted), str(contains), f"{contains / max(fitted, 1):.0%}",
                      f"{pd.Series(pct).median():.1f}", f"{g14}/{fitted}", str(len(errors)),
                      f"{time.perf_counter() - start:.1f}", ", ".join(changed))
        for line in errors:
            console.print(f"  [yellow]{model} not estimated: {line}", highlight=False)
    console.print(table)


def calibration() -> None:
    """The same interval on simulated no-change meters, where zero is the known answer."""
    table = Table("lag-1 autocorrelation ρ", "observations", "meters",
                  f"interval holds 0 ({CONFIDENCE:.0%} nominal)",
                  title="calibration: constant load + AR(1) noise, no change, G14 interval")
    for n in (365, 8760):
        for rho in (0.0, 0.5, 0.8, 0.95):
            reps = 1000 if n == 365 else 200
            share = ar1_interval_coverage(rho, n, reps, CONFIDENCE)
            table.add_row(f"{rho:.2f}", str(n), str(reps), f"{share:.1%}")
    console.print(table)


if __name__ == "__main__":
    if il.available():
        answer_key()
        opendsm_parity()
    else:
        console.print(f"[yellow]skipped answer key: {il.SAMPLES} not found")
    placebo()
    calibration()
