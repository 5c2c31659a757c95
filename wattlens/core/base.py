"""Shared building blocks: the frozen model base, validated timezone and duration types, and
the plug-in registry (one policy: a duplicate name is refused)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict

T = TypeVar("T")


class Frozen(BaseModel):
    """Base of every settings and config model: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def check_timezone(value: str) -> str:
    """``value`` if it is an IANA timezone name; else ValueError saying what to write."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"{value!r} is not an IANA timezone name; write e.g. 'Europe/London' or 'Asia/Seoul'"
        ) from exc
    return value


TimeZone = Annotated[str, AfterValidator(check_timezone)]
"""An IANA timezone name, e.g. ``"Asia/Seoul"``."""


def _positive_duration(value: str) -> str:
    try:
        delta = pd.Timedelta(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a duration; write e.g. '15min' or '1h'") from exc
    if delta <= pd.Timedelta(0):
        raise ValueError(f"{value!r} must be positive, e.g. '15min' or '1h'")
    return value


Duration = Annotated[str, AfterValidator(_positive_duration)]
"""A positive pandas duration written as text, e.g. ``"15min"`` or ``"1h"``."""


class Registry(Generic[T]):
    """Plug-ins of one kind (sources, detectors, rules, models) registered by name.

    ``@registry.register("name")`` adds one; a second plug-in under a taken name is refused
    (ValueError), so two modules can never silently replace each other. ``registry[name]``
    names the known plug-ins when ``name`` is unknown.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``item`` under ``name``."""

        def deco(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered; pick another name")
            self._items[name] = item
            return item

        return deco

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, plug-in) pairs, in registration order."""
        return list(self._items.items())
