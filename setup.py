"""The build hook compiling the gettext catalogs: every ``dashboard/translations/*/LC_MESSAGES/
*.po`` becomes a ``.mo`` inside the built package (wheels, and the sdist's wheel), so the
compiled catalogs are built, never committed. Everything else is in pyproject.toml."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

CATALOGS = Path("dashboard", "translations")


class BuildPyWithCatalogs(build_py):
    """``build_py`` that also writes each catalog's ``.mo`` into the build directory."""

    def run(self) -> None:
        super().run()
        for po in sorted(CATALOGS.glob("*/LC_MESSAGES/*.po")):
            target = Path(self.build_lib, "wattlens", po).with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parts[-3])
            with target.open("wb") as out:
                write_mo(out, catalog)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
