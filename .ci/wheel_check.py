"""Checks behind .ci/wheel-check, one per step (see that script for the order).

    python .ci/wheel_check.py contents DIST_DIR      # dev venv: the built wheel's files
    python -I .ci/wheel_check.py installed CONFIG    # fresh venv, outside the repository
    python -I .ci/wheel_check.py coexist             # fresh venv + Segment's analytics-python

``-I`` keeps the source tree (and PYTHONPATH, user site) off ``sys.path``: what is imported is
the installed wheel. Standard library only, so that it runs in the fresh venv before anything
but the wheel and the runtime requirements is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("store", "ingest", "forecasting", "analytics", "dashboard")
"""Top-level folders of the repository that install as ``wattlens.<folder>``."""
SUBPACKAGES = ("core", "sample", *FOLDERS)


def fail(message: str) -> None:
    sys.exit(f"wheel-check: {message}")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of a requirements file."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            out[_name(line)] = line.split("==", 1)[1].strip()
    return out


def required_data_files() -> set[str]:
    """Data files the runtime reads, as paths inside the wheel."""
    files = {"wattlens/py.typed", "wattlens/wattlens.example.toml"}
    for folder, installed, pattern in [
        ("wattlens/sample", "wattlens/sample", "*.csv.gz"),
        ("wattlens/sample", "wattlens/sample", "LICENSE"),
        ("wattlens/sample", "wattlens/sample", "README.md"),
        ("ingest/profiles", "wattlens/ingest/profiles", "*.toml"),
        ("dashboard/assets", "wattlens/dashboard/assets", "*.css"),
    ]:
        found = {f"{installed}/{p.name}" for p in (ROOT / folder).glob(pattern)}
        if not found:
            fail(f"no {pattern} in {folder}/ of the source tree")
        files |= found
    catalogs = {f"wattlens/dashboard/translations/{p.parts[-3]}/LC_MESSAGES/messages.mo"
                for p in (ROOT / "dashboard" / "translations").glob("*/LC_MESSAGES/messages.po")}
    if not catalogs:
        fail("no dashboard/translations/*/LC_MESSAGES/messages.po in the source tree")
    return files | catalogs  # compiled by setup.py's build_py


def contents(dist: Path) -> None:
    """One wheel; top_level.txt is exactly ``wattlens``; every runtime data file and every
    module of the source folders is in it, no test helper is; Requires-Dist are ranges, each
    pinned in requirements.txt."""
    wheels = sorted(dist.glob("wattlens-*.whl"))
    if len(wheels) != 1:
        fail(f"expected one wattlens wheel in {dist}, found {[w.name for w in wheels]}")
    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        top_level = whl.read(f"{info}/top_level.txt").decode().split()
        metadata = Parser().parsestr(whl.read(f"{info}/METADATA").decode())
    if top_level != ["wattlens"]:
        fail(f"top_level.txt is {top_level}, expected exactly ['wattlens']")
    stray = sorted(n for n in names if not n.startswith(("wattlens/", f"{info}/")))
    if stray:
        fail(f"files outside wattlens/ in the wheel: {stray}")
    missing = sorted(required_data_files() - names)
    modules = {f"wattlens/{p.relative_to(ROOT).as_posix()}" for folder in FOLDERS
               for p in (ROOT / folder).rglob("*.py")}
    modules |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "wattlens").rglob("*.py")}
    missing += sorted(m for m in modules - names if "__pycache__" not in m)
    if missing:
        fail(f"missing from the wheel: {missing}")
    helpers = sorted(n for n in names if re.search(r"(^|/)(tests?|conftest|localserver|probe)"
                                                    r"(/|\.py$)", n))
    if helpers:
        fail(f"test helpers in the wheel: {helpers}")
    requires = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    exact = [r for r in requires if "==" in r]
    if exact:
        fail(f"exact pins in Requires-Dist (use ranges; pins go in requirements.txt): {exact}")
    locked = pins(ROOT / "requirements.txt")
    unlocked = sorted(r for r in requires if _name(r) not in locked)
    if unlocked:
        fail(f"runtime dependencies not pinned in requirements.txt: {unlocked}")
    print(f"wheel-check: {wheels[0].name}: top_level wattlens, {len(names)} files, "
          f"{len(requires)} dependencies, all pinned in requirements.txt")


def _inside_venv(module_file: str | None) -> None:
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    if module_file is None or purelib not in Path(module_file).resolve().parents:
        fail(f"{module_file} is not inside the venv's {purelib}: the source tree leaked in")


def installed(config_path: Path) -> None:
    """The installed wheel imports from site-packages only, the folders are not top-level
    packages, the config with every source type loads, the shipped data files are readable."""
    for folder in FOLDERS:
        if importlib.util.find_spec(folder) is not None:
            fail(f"`import {folder}` works: the folder leaked out as a top-level package")
    import wattlens
    from wattlens.cli import EXAMPLE_CONFIG
    from wattlens.config import load_config
    from wattlens.ingest.base import SOURCES
    from wattlens.sample import sample_readings

    _inside_venv(wattlens.__file__)
    for sub in SUBPACKAGES:
        _inside_venv(importlib.import_module(f"wattlens.{sub}").__file__)
    config = load_config(config_path)
    types = {s.type for s in config.sources}
    if types != set(SOURCES) or len(config.sources) != len(types):
        fail(f"{config_path} should have one [[sources]] table of each type {sorted(SOURCES)}, "
             f"has {[s.type for s in config.sources]}")
    example = load_config(EXAMPLE_CONFIG)
    readings = sample_readings()
    here = Path(wattlens.__file__).parent
    for name in ("py.typed", "dashboard/assets/style.css"):
        if not (here / name).is_file():
            fail(f"{name} is not installed next to {here}")
    from wattlens.dashboard.i18n import _, locale_context

    with locale_context("ko"):
        if _("Live") == "Live":
            fail("the dashboard speaks no Korean: the compiled catalog (messages.mo) is missing")
    print(f"wheel-check: installed wattlens loads {config_path.name} ({sorted(types)}), the "
          f"example config ({len(example.sources)} sources) and the sample "
          f"({len(readings)} readings)")


def coexist() -> None:
    """Segment's ``analytics`` and ``wattlens.analytics`` in one process, each the right one."""
    import analytics  # noqa: TID251 - Segment's analytics-python, on purpose

    savings = importlib.import_module("wattlens.analytics.savings")
    _inside_venv(analytics.__file__)
    _inside_venv(savings.__file__)
    if not callable(getattr(analytics, "track", None)):
        fail(f"`import analytics` is {analytics.__file__}, not Segment's analytics-python")
    if sys.modules["wattlens.analytics"] is analytics:
        fail("wattlens.analytics and analytics are the same module")
    print(f"wheel-check: Segment's analytics ({Path(analytics.__file__).parent}) and "
          f"wattlens.analytics.savings import side by side")


if __name__ == "__main__":
    step, *args = sys.argv[1:] or ["?"]
    if step == "contents" and len(args) == 1:
        contents(Path(args[0]))
    elif step == "installed" and len(args) == 1:
        installed(Path(args[0]))
    elif step == "coexist" and not args:
        coexist()
    else:
        sys.exit(__doc__)
