"""Execute the notebooks top to bottom with the interpreter running this script.

    .venv/bin/python notebooks/execute.py            # re-execute all, outputs saved in place
    .venv/bin/python notebooks/execute.py NAME.ipynb # just one

Used by ``make notebooks`` and by ``tests/docs/test_notebooks.py`` (which executes copies and
never writes). A cell that raises stops the run with the notebook's name and the error.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("forecast_vs_actual.ipynb", "testbed_mv.ipynb", "energy_review.ipynb")
KERNEL = "wattlens-venv"
CELL_TIMEOUT_S = 600


def kernel_dir(root: Path) -> Path:
    """Make ``root`` a Jupyter data dir holding a kernelspec that runs *this* interpreter
    (the project's .venv), whatever other kernels the machine has installed."""
    from ipykernel.kernelspec import write_kernel_spec

    spec = root / "kernels" / KERNEL
    write_kernel_spec(spec, overrides={
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "wattlens (.venv)",
    })
    return root


def execute(path: Path, data_dir: Path, write: bool = True) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` (working directory: notebooks/); raise
    ``nbclient.exceptions.CellExecutionError`` on the first failing cell."""
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(data_dir), *filter(None, [os.environ.get("JUPYTER_PATH")])])
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name=KERNEL, allow_errors=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    if write:
        nbformat.write(nb, path)
    return nb


def main(names: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="wattlens-kernels-") as tmp:
        data_dir = kernel_dir(Path(tmp))
        for name in names or NOTEBOOKS:
            path = HERE / name
            print(f"executing {path.name} ...", flush=True)
            execute(path, data_dir)
            print(f"  wrote {path.name} ({path.stat().st_size / 1e6:.2f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
