"""Honest packaging, checked on the source tree (fast); .ci/wheel-check checks the built wheel.

- every third-party module the runtime packages import is a declared dependency;
- ``[project].dependencies`` are ranges, each pinned in requirements.txt by a version inside it;
- tests/data/config/every-source.toml has one ``[[sources]]`` table of every source type.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from wattlens.config import load_config
from wattlens.ingest.base import SOURCES, source_class

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [ROOT / d for d in PYPROJECT["tool"]["setuptools"]["package-dir"].values()]


def _declared() -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    return {canonicalize_name(r.name): r for r in reqs}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"requirements.txt pins exactly: {line!r}"
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module name -> the files importing it (absolute imports, any depth)."""
    found: dict[str, set[str]] = {}
    for folder in RUNTIME:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("wattlens",
                                                                          "__future__"):
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_declared_dependency():
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, files in sorted(_third_party_imports().items()):
        dists = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not dists & declared.keys():
            undeclared[module] = sorted(files)
    assert not undeclared, (
        f"imported by the runtime packages but not in [project].dependencies of pyproject.toml "
        f"(declare it, as a range, and pin it in requirements.txt): {undeclared}")


def test_dependencies_are_ranges_pinned_in_the_lock():
    pins = _pins()
    for name, req in _declared().items():
        assert req.specifier, f"{req}: give a version range"
        assert not any(s.operator in ("==", "===") for s in req.specifier), (
            f"{req}: a range in pyproject.toml; the exact version goes in requirements.txt")
        assert any(s.operator == ">=" for s in req.specifier), f"{req}: give a lower bound"
        assert name in pins, f"{req} is not pinned in requirements.txt"
        assert pins[name] in req.specifier, (
            f"requirements.txt pins {name}=={pins[name]}, outside pyproject.toml's {req}")


def test_the_every_source_config_has_each_source_type_once():
    source_class("files")  # imports the built-in sources
    config = load_config(ROOT / "tests/data/config/every-source.toml")
    types = [s.type for s in config.sources]
    assert sorted(types) == sorted(SOURCES), (
        f"tests/data/config/every-source.toml needs one [[sources]] table of each type "
        f"{sorted(SOURCES)}, has {types}")


def test_build_requires_setuptools_with_spdx_license():
    requires = PYPROJECT["build-system"]["requires"]
    assert "setuptools>=77" in requires, f"{requires}: license = 'MIT' (PEP 639) needs 77"
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "dynamic" not in PYPROJECT["project"]
    assert (ROOT / "wattlens/py.typed").is_file()
