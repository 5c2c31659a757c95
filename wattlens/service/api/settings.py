"""The ``[api]`` section: the tokens machine clients of the HTTP API authenticate with.

A token is stored only as a werkzeug hash (``scrypt:...``); ``wattlens api token NAME`` makes a
new random token and prints it once with the ``[[api.tokens]]`` entry to paste. Its scope is a
dashboard user's (:class:`~wattlens.core.scope.MeterScope`); ``admin`` adds the writes and the
documents a CLI command needs.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from wattlens.core.base import Frozen
from wattlens.core.scope import MeterScope
from wattlens.dashboard.config import hash_weakness

TOKEN_COMMAND = "wattlens api token NAME"


class ApiToken(MeterScope):
    """One machine client: a hashed bearer token and the meters it may read."""

    name: str = Field(min_length=1, description="who holds the token (logged on refusals)")
    token_hash: str = Field(description=f"werkzeug hash of the token; make one with "
                                        f"`{TOKEN_COMMAND}`")
    admin: bool = Field(False, description="may write readings, forecasts, events and "
                                           "documents, and sees every meter")

    @field_validator("token_hash")
    @classmethod
    def _hashed(cls, value: str) -> str:
        weakness = hash_weakness(value)
        if weakness:
            raise ValueError(f"{weakness}; never put the token itself here: run "
                             f"`{TOKEN_COMMAND}` and paste its token_hash")
        return value


class ApiSection(Frozen):
    """Who may call the HTTP API over TCP (the data directory's Unix socket needs no token:
    only the owner of the data directory can connect to it)."""

    tokens: list[ApiToken] = Field(default_factory=list, description="bearer tokens")

    @model_validator(mode="after")
    def _unique(self) -> ApiSection:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("two api.tokens share a name; give each token a unique name")
        return self
