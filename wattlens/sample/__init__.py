"""The shipped sample: three real Cambridge university buildings, 2018-2019, hourly.

Electricity and gas of buildings b2, b97 and b119 and the Bedford weather station, from the
Cambridge University Estates building energy archive (MIT licence, see ``LICENSE`` beside this
file). Zeros in the archive mean "no reading", so they are absent rows here.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd

from wattlens.store.csvio import read_readings_csv, read_weather_csv, weather_to_readings

BUILDINGS = ("b2", "b97", "b119")
YEARS = (2018, 2019)
WEATHER_METER = "bedford-weather"
TIMEZONE = "Europe/London"
COUNTRY = "GB"


def _path(name: str) -> Path:
    return Path(str(files(__name__).joinpath(name)))


def sample_readings() -> pd.DataFrame:
    """Energy readings of the sample meters (energy [kWh per hour])."""
    return read_readings_csv(_path("readings.csv.gz"))


def sample_weather() -> pd.DataFrame:
    """Hourly Bedford weather, wide: temperature [degC], humidity [%], ghi [W/m2]."""
    return read_weather_csv(_path("weather.csv.gz"))


def load_sample() -> pd.DataFrame:
    """Everything in the sample as one readings frame (energy and weather meters)."""
    return pd.concat(
        [sample_readings(), weather_to_readings(sample_weather(), WEATHER_METER)],
        ignore_index=True,
    )


def build(cambridge: Path, out: Path) -> None:
    """Rebuild the sample files from the archive folder ``cambridge`` (maintainers only)."""
    frames = []
    for building in BUILDINGS:
        for commodity, short in (("electricity", "elec"), ("gas", "gas")):
            for year in YEARS:
                folder = cambridge / "buildings" / f"UCam_Building_{building}" / commodity
                raw = pd.read_csv(folder / f"{year}.csv")
                raw.columns = ["time", "value"]
                raw = raw[raw["value"] != 0]
                raw["meter"] = f"{building}-{short}"
                frames.append(raw)
    readings = pd.concat(frames, ignore_index=True)
    readings["time"] = pd.to_datetime(readings["time"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    readings[["time", "meter", "value"]].to_csv(out / "readings.csv.gz", index=False)
    weather = pd.concat(
        pd.read_csv(cambridge / "weather" / "bedford" / f"{year}.csv") for year in YEARS
    )
    weather.columns = ["time", "temperature", "humidity", "ghi"]
    weather["time"] = pd.to_datetime(weather["time"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    weather.to_csv(out / "weather.csv.gz", index=False)


