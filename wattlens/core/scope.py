"""Which meters someone may see: the one scope rule of dashboard users and API tokens."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from wattlens.core.base import Frozen
from wattlens.core.meters import MeterInfo


class MeterScope(Frozen):
    """The meters of ``sites``, of ``buildings`` and the ``meters`` named; every meter with
    ``all_meters``."""

    all_meters: bool = Field(False, description="may see every meter (an administrator)")
    sites: list[str] = Field(
        default_factory=list, description="ids of sites whose meters are visible"
    )
    buildings: list[str] = Field(
        default_factory=list, description="ids of buildings whose meters are visible"
    )
    meters: list[str] = Field(default_factory=list, description="ids of further visible meters")

    def unknown(self, catalogue: Mapping[str, MeterInfo]) -> list[str]:
        """The site, building and meter ids of this scope that ``catalogue`` does not know."""
        sites = {m.site for m in catalogue.values()}
        buildings = {m.building for m in catalogue.values()}
        return sorted((set(self.sites) - sites) | (set(self.buildings) - buildings)
                      | (set(self.meters) - set(catalogue)))

    def visible(self, catalogue: Mapping[str, MeterInfo]) -> frozenset[str] | None:
        """The visible meter ids of ``catalogue`` (``None``: every meter)."""
        if self.all_meters:
            return None
        chosen = {m for m, info in catalogue.items()
                  if info.site in self.sites or info.building in self.buildings}
        return frozenset(chosen | set(self.meters))
