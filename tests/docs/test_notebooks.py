"""Every notebook runs top to bottom without error (executed on a copy; the committed file,
with its outputs, is not touched), with a kernel running this test's interpreter."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def _executor():
    spec = importlib.util.spec_from_file_location("wattlens_notebooks_execute",
                                                  NOTEBOOKS / "execute.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


EXECUTE = _executor()


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXECUTE.NOTEBOOKS)


@pytest.mark.parametrize("name", EXECUTE.NOTEBOOKS)
def test_committed_notebook_has_outputs_and_is_small(name: str):
    path = NOTEBOOKS / name
    assert path.stat().st_size < 2_000_000, f"{name} is over 2 MB; shrink its figures"
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), \
        f"{name} is committed without outputs; run `make notebooks`"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name} was committed with an error output"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))


def test_kernel_runs_this_interpreter(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    data_dir = EXECUTE.kernel_dir(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(data_dir))
    spec = KernelSpecManager().get_kernel_spec(EXECUTE.KERNEL)
    assert spec.argv[0] == sys.executable


@pytest.mark.slow
@pytest.mark.parametrize("name", EXECUTE.NOTEBOOKS)
def test_notebook_executes(name: str, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", "")
    copy = tmp_path / name
    copy.write_bytes((NOTEBOOKS / name).read_bytes())
    nb = EXECUTE.execute(copy, EXECUTE.kernel_dir(tmp_path / "jupyter"), write=False)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
