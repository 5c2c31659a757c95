"""The ``[dashboard]`` config section: where the app listens, who may log in and what each sees.

Passwords are stored only as werkzeug hashes (``scrypt:...`` or ``pbkdf2:...``); make one with
``wattlens dashboard --hash-password``. The session secret comes from the environment variable
named by ``secret_key_env`` and is never written to the file.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from wattlens.core.base import Frozen
from wattlens.core.scope import MeterScope

_HASH_METHODS = ("scrypt:", "pbkdf2:")
_REMOVED = ("currency", "price_per_kwh", "co2_kg_per_kwh")
"""Former keys: prices and emission factors now come from [tariffs] and [carbon]."""


def check_hash(value: str, what: str, command: str) -> str:
    """``value`` if it is a werkzeug hash; else ValueError: never the plain ``what``, run
    ``command``."""
    if not value.startswith(_HASH_METHODS):
        raise ValueError(
            f"is not a {what} hash; never put a plain {what} here, run `{command}` and paste "
            f"its output"
        )
    return value


class DashboardUser(MeterScope):
    """One login: a hashed password and the sites/buildings/meters the user may see."""

    name: str = Field(min_length=1, description="login name")
    password_hash: str = Field(
        description="werkzeug password hash; make one with `wattlens dashboard --hash-password`"
    )

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, value: str) -> str:
        return check_hash(value, "password", "wattlens dashboard --hash-password")


class DashboardConfig(Frozen):
    """How the dashboard is served and refreshed, and who may log in."""

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 exposes it")
    port: int = Field(8050, ge=1, le=65535, description="TCP port")
    login: bool = Field(False, description="require a login; users see only their meters")
    secret_key_env: str = Field(
        "WATTLENS_DASHBOARD_SECRET",
        description="environment variable holding the session signing key (random if unset)",
    )
    users: list[DashboardUser] = Field(default_factory=list, description="logins")
    refresh_s: float = Field(5.0, gt=0, description="live page refresh period [s]")
    cache_ttl_s: float = Field(10.0, ge=0, description="how long a store read is reused [s]")
    max_points: int = Field(2000, ge=100, description="points per trace sent to the browser")

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            gone = sorted(set(data) & set(_REMOVED))
            if gone:
                raise ValueError(
                    f"{', '.join(gone)} no longer belong in [dashboard]: the KPI cards price "
                    f"energy with the meter's tariff and weigh CO2 with the carbon factors; "
                    f"move prices to [tariffs] (catalog, default) and emission factors to "
                    f"[carbon] factors, then delete these keys"
                )
        return data

    @model_validator(mode="after")
    def _users(self) -> DashboardConfig:
        names = [u.name for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError("two users share a name; give each login a unique name")
        if self.login and not self.users:
            raise ValueError("login = true needs at least one [[dashboard.users]] entry")
        return self
