"""Import benchmark: peak memory of ``wattlens import readings`` on a big CSV (issue #13
item 20: a 194 MB file peaked at 1.5 GB before the import was streamed; the goal is <= 400 MB
whatever the size).

    .venv/bin/python -m benchmarks.bench_import [--mb 194] [--keep]

Writes a readings CSV of about ``--mb`` MB (hourly energy of synthetic meters) into a
temporary folder, imports it into a DuckDB store with the CLI in a child process, and prints
the file size, the time taken and the child's peak resident memory (ru_maxrss). Exits 1 when
the peak is above 400 MB. Run it by hand; it is not a test (it takes about a minute).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LIMIT_MB = 400.0
ROWS_PER_MB = 22_000  # "2018-01-01T00:00:00Z,meter-0001,12.345,energy\n" is ~46 bytes


def write_csv(path: Path, megabytes: float) -> int:
    """A readings CSV of about ``megabytes`` MB; returns its data rows."""
    rows = int(megabytes * ROWS_PER_MB)
    hours = 24 * 365 * 2
    meters = max(1, rows // hours)
    rng = np.random.default_rng(7)
    times = pd.date_range("2018-01-01", periods=hours, freq="h", tz="UTC").strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    with path.open("w") as out:
        out.write("time,meter,value,quantity\n")
        for m in range(meters):
            values = np.round(rng.gamma(4.0, 3.0, hours), 3)
            block = pd.DataFrame({"time": times, "meter": f"meter-{m:04d}", "value": values,
                                  "quantity": "energy"})
            block.to_csv(out, header=False, index=False)
    return meters * hours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=194.0, help="CSV size to generate [MB]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    csv_path = folder / "readings.csv"
    rows = write_csv(csv_path, args.mb)
    config = folder / "wattlens.toml"
    config.write_text(f'data_dir = "{folder / "data"}"\n[store]\nkind = "duckdb"\n'
                      f'path = "{folder / "store.duckdb"}"\n')
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "wattlens", "--config", str(config), "import",
                           "readings", str(csv_path)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    size_mb = csv_path.stat().st_size / 1e6
    print(done.stderr.strip()[-500:])
    print(f"file {size_mb:.0f} MB, {rows:,} rows: import took {seconds:.0f} s, peak memory "
          f"{peak_mb:.0f} MB (goal <= {LIMIT_MB:.0f} MB)")
    if not args.keep:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
    return 0 if done.returncode == 0 and peak_mb <= LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
