"""The ``[dashboard]`` config section: where the app listens, who may log in and what each sees.

Passwords are stored only as werkzeug hashes (``scrypt:...`` or ``pbkdf2:...``) with at least
OWASP's work factors; make one with ``wattlens dashboard --hash-password``. The session secret
comes from the environment variable named by ``secret_key_env`` and is never written to the file.
:func:`bind_host` is the one check of the address the dashboard listens on.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from wattlens.core.base import Frozen
from wattlens.core.scope import MeterScope
from wattlens.dashboard.i18n import parse_locale

log = logging.getLogger(__name__)

_MIN_SCRYPT_N = 2**14
"""Smallest scrypt cost accepted (werkzeug's default is 2**15)."""
_MIN_PBKDF2 = {"sha256": 600_000, "sha512": 210_000}
"""Smallest PBKDF2 iteration counts accepted per digest (OWASP password storage cheat sheet)."""
_REMOVED = ("currency", "price_per_kwh", "co2_kg_per_kwh")
"""Former keys: prices and emission factors now come from [tariffs] and [carbon]."""


def _locale_tag(value: str) -> str:
    parse_locale(value)  # ValueError naming the fix when Babel does not know it
    return value


LocaleTag = Annotated[str, AfterValidator(_locale_tag)]
"""A language tag Babel knows, as written (``ko-KR``, ``en-GB``): a site's or a user's locale."""


class DashboardUser(MeterScope):
    """One login: a hashed password and the sites/buildings/meters the user may see."""

    name: str = Field(min_length=1, description="login name")
    password_hash: str = Field(
        description="werkzeug password hash; make one with `wattlens dashboard --hash-password`"
    )
    locale: LocaleTag | None = Field(
        None, description="the user's dashboard language and formats, e.g. 'ko-KR' or 'en-GB' "
        "(unset: the site's locale); the language switch in the navbar overrides it"
    )

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, value: str) -> str:
        weakness = hash_weakness(value)
        if weakness:
            raise ValueError(
                f"{weakness}; run `wattlens dashboard --hash-password` and paste its output"
            )
        return value


def hash_weakness(value: str) -> str | None:
    """Why a werkzeug password hash is not accepted (not a hash, too cheap to brute-force), or
    None when it is strong enough."""
    method, _, rest = value.partition("$")
    name, *args = method.split(":")
    if not rest or name not in ("scrypt", "pbkdf2"):
        return "is not a password hash (never put a plain password here)"
    try:
        if name == "scrypt":
            n, r, _p = (int(a) for a in args) if args else (2**15, 8, 1)
            if n < _MIN_SCRYPT_N or r < 8:
                return f"scrypt with n={n}, r={r} is too weak (need n >= {_MIN_SCRYPT_N}, r >= 8)"
            return None
        digest = args[0] if args else "sha256"
        iterations = int(args[1]) if len(args) > 1 else 1_000_000
    except ValueError:
        return f"hash method {method!r} is malformed"
    if digest not in _MIN_PBKDF2:
        return f"pbkdf2 with {digest} is too weak (use sha256 or sha512)"
    if iterations < _MIN_PBKDF2[digest]:
        return (f"pbkdf2:{digest} with {iterations} iterations is too weak "
                f"(need >= {_MIN_PBKDF2[digest]:,})")
    return None


class DashboardConfig(Frozen):
    """How the dashboard is served and refreshed, and who may log in."""

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 exposes it")
    port: int = Field(8050, ge=1, le=65535, description="TCP port")
    login: bool = Field(False, description="require a login; users see only their meters")
    secret_key_env: str = Field(
        "WATTLENS_DASHBOARD_SECRET",
        description="environment variable holding the session signing key (>= 32 bytes; "
        "required with logins under several workers, random per process if unset)",
    )
    insecure_no_login: bool = Field(
        False, description="serve on a non-loopback address without logins (unsafe: anyone "
        "who reaches the port sees every meter); prefer login = true"
    )
    secure_cookie: bool = Field(
        False, description="mark the session cookie Secure (sent over HTTPS only); set it when "
        "a TLS proxy is in front"
    )
    trusted_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"],
        description="Host header values served (others get 400, against DNS rebinding); a "
        "leading dot matches subdomains, e.g. ['energy.example.org']",
    )
    proxies: int = Field(
        0, ge=0, le=5, description="reverse proxies in front that set X-Forwarded-For/-Proto/"
        "-Host (client addresses for rate limits and logs come from them); 0 when none"
    )
    login_rate: str = Field(
        "10 per minute", description="login attempts allowed per client address"
    )
    lockout: str = Field(
        "5 per 15 minutes",
        description="failed logins allowed per user name before it is locked for the window",
    )
    limiter_storage_uri: str = Field(
        "memory://", description="where login counters live: memory:// (one process) or "
        "redis://host:6379 shared by every worker"
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


def bind_host(settings: DashboardConfig, host: str | None = None,
              insecure_no_login: bool = False) -> str:
    """The address to bind (``host`` or ``settings.host``). Refused (ValueError) when it is not
    a loopback address and logins are off, unless ``insecure_no_login`` (or the config key)
    overrides it, which logs a loud warning."""
    host = host or settings.host
    if settings.login or _loopback(host):
        return host
    if insecure_no_login or settings.insecure_no_login:
        log.warning("INSECURE: the dashboard serves every meter WITHOUT LOGIN on %s; anyone "
                    "who reaches this port sees all data", host)
        return host
    raise ValueError(
        f"refusing to serve the dashboard on {host} without logins: anyone who reaches it would "
        f"see every meter. Set [dashboard] login = true with [[dashboard.users]], or bind "
        f"127.0.0.1 behind a proxy, or pass --insecure-no-login if you really mean it"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything
