"""Data-quality problems as data (OpenDSM's pattern): a gap, a stuck meter, too little
history is a returned :class:`DataWarning` with numbers, never an exception or a log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DataWarning:
    """One warning: a stable ``code`` for machines (``"baseline.sparse-days"``), a
    ``message`` for people, and the numbers behind it in ``data`` (JSON-able)."""

    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written into results."""
        return {"code": self.code, "message": self.message, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataWarning:
        """Read a warning back from a result (a plain string becomes code ``"legacy"``)."""
        if isinstance(data, str):
            return cls("legacy", data)
        return cls(str(data["code"]), str(data["message"]), dict(data.get("data") or {}))


def unique(warnings: list[DataWarning]) -> list[DataWarning]:
    """``warnings`` without repeats (same code and message), in first-seen order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for w in warnings:
        if (w.code, w.message) not in seen:
            seen.add((w.code, w.message))
            out.append(w)
    return out
