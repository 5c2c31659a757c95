"""Site closures (config section ``sites[].closures``): days a site is shut, e.g. a Christmas
shutdown. Kept free of other wattlens imports so the config can use it."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Closure(BaseModel):
    """A site closure: local dates ``start`` .. ``end`` inclusive, treated as non-working
    days by the forecasting models."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    start: dt.date = Field(description="first closed local date")
    end: dt.date = Field(description="last closed local date (inclusive)")
    name: str = Field("closure", description="what the closure is")

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.end < self.start:
            raise ValueError(
                f"closure ends ({self.end}) before it starts ({self.start}); swap them"
            )
        return self
