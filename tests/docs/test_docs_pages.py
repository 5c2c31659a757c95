"""The user guide is current and complete: generated pages match the code, every command,
option and config key is documented, every code example in docs/ runs.

Code examples are the fenced blocks of docs/**/*.md: ``sh`` blocks (run with bash, ``set -e``,
the .venv's bin first on PATH), ``python`` blocks (run with this interpreter) and ``toml``
blocks (parsed as a complete wattlens config). The blocks of one page run in document order in
one fresh temporary directory, so a page can build on its own earlier examples. Blocks fenced
as ``text`` or ``console`` are illustrations and are not run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GENERATED = {"config.md", "cli.md"}
FENCE = re.compile(r"^```(\w+)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def _generator():
    spec = importlib.util.spec_from_file_location("wattlens_docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.name not in GENERATED)


def _blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


# ---- generated pages ------------------------------------------------------------------------


def test_generated_pages_are_current():
    result = subprocess.run([sys.executable, str(DOCS / "generate.py"), "--check"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, (
        f"docs/config.md or docs/cli.md is stale; run .venv/bin/python docs/generate.py\n"
        f"{result.stdout[-4000:]}{result.stderr[-2000:]}")


def test_check_mode_fails_on_a_stale_page(tmp_path, monkeypatch):
    gen = _generator()
    (tmp_path / "sources").mkdir()
    for name in ("config.md", "cli.md"):
        (tmp_path / name).write_text("stale\n", encoding="utf-8")
    monkeypatch.setattr(gen, "DOCS", tmp_path)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0


def _commands():
    import typer
    from typer import _click

    from wattlens.cli import app

    root = typer.main.get_command(app)
    out = []

    def walk(path, cmd, ctx):
        out.append((path, cmd))
        for name in getattr(cmd, "list_commands", lambda c: [])(ctx):
            sub = cmd.get_command(ctx, name)
            walk([*path, name], sub, _click.Context(sub, info_name=name, parent=ctx))

    walk(["wattlens"], root, _click.Context(root, info_name="wattlens"))
    return out


def test_every_command_and_option_is_in_the_cli_reference():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (wattlens[^\n]*)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    commands = _commands()
    assert len(commands) > 10
    for path, cmd in commands:
        title = " ".join(path)
        assert title in sections, f"command {title!r} is missing from docs/cli.md"
        for param in cmd.params:
            if type(param).__name__.endswith("Argument"):
                assert f"`{param.name.upper()}` (argument)" in sections[title], (title, param)
            else:
                for opt in [*param.opts, *param.secondary_opts]:
                    assert f"`{opt}`" in sections[title], f"{title} {opt} missing from cli.md"


def _config_models():
    """(model, fields) of every pydantic model reachable from Config, and every source's
    Options model."""
    import typing

    from pydantic import BaseModel

    from wattlens.config import Config
    from wattlens.ingest.base import SOURCES, SourceSection, source_class

    source_class("files")
    seen: dict[type, list[str]] = {}

    def models_in(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation
        for arg in typing.get_args(annotation):
            yield from models_in(arg)

    def visit(model):
        if model in seen:
            return
        fields = [k for k in model.model_fields if not (model is SourceSection and k == "options")]
        seen[model] = fields
        for key, field in model.model_fields.items():
            if model is SourceSection and key == "options":
                continue
            for sub in models_in(field.annotation):
                visit(sub)

    visit(Config)
    for _, cls in SOURCES.items():
        visit(cls.Options)
    return seen


def test_every_config_key_is_in_the_config_reference():
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    tables = [set(re.findall(r"^\| `([^`]+)` \|", body, re.M))
              for body in re.split(r"^## ", text, flags=re.M)[1:]]
    models = _config_models()
    assert len(models) > 15
    for model, fields in models.items():
        assert any(set(fields) == keys for keys in tables), (
            f"no table in docs/config.md lists exactly the keys of {model.__name__}: {fields}")


def test_hand_written_pages_link_to_existing_files():
    for page in _pages():
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            assert (page.parent / target).resolve().exists(), f"{page.name}: broken link {target}"


# ---- code examples --------------------------------------------------------------------------


def _example_pages() -> list[Path]:
    return [p for p in _pages() if any(lang in ("sh", "python", "toml") for lang, _ in _blocks(p))]


def test_docs_have_examples():
    langs = {lang for p in _pages() for lang, _ in _blocks(p)}
    assert {"sh", "python", "toml"} <= langs
    assert len(_example_pages()) >= 5


def _example_params() -> list:
    """Pages with examples; a page whose examples start a throwaway influxd (when installed)
    carries the ``influx`` marker."""
    return [pytest.param(page, id=str(page.relative_to(DOCS)),
                         marks=[pytest.mark.influx] if "LocalInfluxd" in page.read_text("utf-8")
                         else [])
            for page in _example_pages()]


@pytest.mark.slow
@pytest.mark.parametrize("page", _example_params())
def test_page_examples_run(page: Path, tmp_path: Path):
    from wattlens.config import parse_config

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("WATTLENS_INFLUX_TOKEN", None)
    ran = 0
    for number, (lang, body) in enumerate(_blocks(page), start=1):
        where = f"{page.relative_to(ROOT)} block {number} ({lang})"
        if lang == "toml":
            parse_config(tomllib.loads(body), where)
        elif lang in ("sh", "python"):
            command = ["bash", "-euo", "pipefail", "-c", body] if lang == "sh" else \
                [sys.executable, "-c", body]
            result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True,
                                    text=True, timeout=300)
            assert result.returncode == 0, (
                f"{where} failed (exit {result.returncode}):\n{body}\n--- stdout\n"
                f"{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
        else:
            continue
        ran += 1
    assert ran
