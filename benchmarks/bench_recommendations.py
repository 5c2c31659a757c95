"""Claimed savings of the recommendation rules on the 12 Cambridge buildings.

For each meter (electricity and gas, hourly, zeros = missing) of ../shared/data/cambridge
the rules run on one year (default 2019, before the 2020 closures) with the Bedford
temperatures; the table gives each meter's consumption, the total saving its recommendations
claim, what their rules would claim alone (summed naively) and the claim as a share of
consumption, and per rule the total claimed and the number of meters claiming it.
Building b2 is tagged ``use = "laboratory"``; the others have no ``use`` tag (unknown use).

Run: ``.venv/bin/python -m benchmarks.bench_recommendations [--year 2019]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from wattlens.analytics.recommendations import recommend
from wattlens.analytics.tariffs import Tariff, TariffsSection
from wattlens.core.calendar import SiteCalendar
from wattlens.core.meters import MeterInfo

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cambridge"
CALENDAR = SiteCalendar(timezone="Europe/London", country="GB-ENG")
USES = {"b2": "laboratory"}
TARIFFS = TariffsSection(catalog=[
    Tariff(id="elec", commodity="electricity", source="illustrative flat rate",
           versions=[{"valid_from": "2015-01-01", "energy_rate": 0.15}]),
    Tariff(id="gas", commodity="gas", source="illustrative flat rate",
           versions=[{"valid_from": "2015-01-01", "energy_rate": 0.04}]),
], default={"electricity": "elec", "gas": "gas"})
FACTORS = {"electricity": 0.207, "gas": 0.183}


def load(path: Path, meter: str) -> pd.DataFrame:
    """One archive year as readings (zeros dropped: they mean 'no reading')."""
    raw = pd.read_csv(path)
    raw.columns = ["time", "value"]
    raw["time"] = pd.to_datetime(raw["time"]).dt.tz_localize("UTC")
    raw = raw[raw["value"] > 0].drop_duplicates("time")
    return raw.assign(meter=meter)[["time", "meter", "value"]]


def weather(year: int) -> pd.DataFrame:
    raw = pd.read_csv(DATA / "weather" / "bedford" / f"{year}.csv")
    raw.columns = ["time", "temperature", "humidity", "ghi"]
    raw["time"] = pd.to_datetime(raw["time"]).dt.tz_localize("UTC")
    return raw.set_index("time")[["temperature"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2019)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark needs ../shared/data/cambridge")
    frames, infos = [], {}
    for folder in sorted((DATA / "buildings").iterdir()):
        building = folder.name.rsplit("_", 1)[-1]
        for commodity, suffix in (("electricity", "elec"), ("gas", "gas")):
            path = folder / commodity / f"{args.year}.csv"
            if not path.exists():
                continue
            meter = f"{building}-{suffix}"
            frames.append(load(path, meter))
            tags = {"use": USES[building]} if building in USES else {}
            infos[meter] = MeterInfo(id=meter, building=building, commodity=commodity,
                                     calendar=CALENDAR, tags=tags)
    readings = pd.concat(frames, ignore_index=True)
    recs, warnings = recommend(readings, weather=weather(args.year), meters=infos,
                               tariffs=TARIFFS, carbon_factors=FACTORS)
    console = Console()
    meters = Table(title=f"Claimed saving per meter, {args.year} (annualised)")
    for column in ("meter", "use", "consumption kWh", "claimed kWh", "alone, summed kWh",
                   "share", "rules"):
        meters.add_column(column, justify="left" if column in ("meter", "use", "rules")
                          else "right")
    shares = []
    for meter, rows in readings.groupby("meter"):
        mine = [r for r in recs if r.meter == meter]
        days = rows["time"].dt.floor("D").nunique()
        used = float(rows["value"].sum()) * 365.0 / max(days, 1)
        claimed = sum(r.annual_kwh for r in mine)
        alone = sum(r.evidence.get("alone_kwh", r.annual_kwh) for r in mine)
        shares.append(claimed / used)
        meters.add_row(str(meter), infos[meter].use or "—", f"{used:,.0f}", f"{claimed:,.0f}",
                       f"{alone:,.0f}", f"{claimed / used:.1%}",
                       ", ".join(sorted(r.rule for r in mine)))
    console.print(meters)
    console.print(f"median share {pd.Series(shares).median():.1%}, max {max(shares):.1%}")
    rules = Table(title="Per rule")
    for column in ("rule", "meters", "claimed kWh", "claimed cost"):
        rules.add_column(column, justify="left" if column == "rule" else "right")
    by_rule: dict[str, list] = {}
    for r in recs:
        by_rule.setdefault(r.rule, []).append(r)
    for rule, found in sorted(by_rule.items()):
        rules.add_row(rule, str(len(found)), f"{sum(r.annual_kwh for r in found):,.0f}",
                      f"{sum(r.annual_cost or 0.0 for r in found):,.0f}")
    console.print(rules)
    codes = pd.Series([w.code for w in warnings]).value_counts()
    console.print("warnings:", dict(codes))


if __name__ == "__main__":
    main()
