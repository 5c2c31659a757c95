"""Who may see what: the dashboard's users, their meter scope and the meter catalogue.

Every read in :mod:`wattlens.dashboard.queries` takes a :class:`User` and refuses
(:class:`AccessDenied`) a meter outside the user's scope, so a crafted callback request cannot
fetch what the page would not show.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import LazyString
from werkzeug.security import check_password_hash, generate_password_hash

from wattlens.core.meters import MeterInfo
from wattlens.dashboard.config import DashboardConfig
from wattlens.dashboard.i18n import _


class AccessDenied(PermissionError):
    """The user may not see this meter (or is not logged in)."""


@dataclass(frozen=True)
class User:
    """Who is asking: a name and the meters they may see (``None`` = every meter)."""

    name: str
    meters: frozenset[str] | None

    def may_see(self, meter: str) -> bool:
        return self.meters is None or meter in self.meters


ANONYMOUS = User("anonymous", None)
"""The user when login is off: sees every meter."""


class Access:
    """The meter catalogue and the configured logins (one per app)."""

    def __init__(self, meters: Mapping[str, MeterInfo], settings: DashboardConfig,
                 names: Mapping[str, str | LazyString]) -> None:
        """``meters``: the catalogue in display order; ``names``: display names of site and
        building ids. Raises ValueError naming a user's unknown buildings or meters."""
        self.meters = dict(meters)
        self.names = dict(names)
        self.login_required = settings.login
        self._users = {u.name: u for u in settings.users}
        # checked for unknown names, so they take as long to refuse as a wrong password
        method = settings.users[0].password_hash.split("$")[0] if settings.users else "scrypt"
        self._decoy = generate_password_hash(secrets.token_hex(16), method=method)
        for user in settings.users:
            unknown = user.unknown(self.meters)
            if unknown:
                raise ValueError(
                    f"dashboard.users[{user.name!r}] names unknown sites/buildings/meters "
                    f"{unknown}; use ids from [[sites]] and [[sites.buildings]]"
                )

    def name_of(self, site_or_building: str | None) -> str:
        """The display name of a site or building id."""
        key = site_or_building or ""
        return str(self.names.get(key, key))

    def locale_of(self, name: str | None) -> str | None:
        """The configured language of user ``name`` (e.g. ``"ko-KR"``), None if unset."""
        cfg = self._users.get(name or "")
        return cfg.locale if cfg else None

    def user(self, name: str | None) -> User:
        """The configured user ``name`` with their scope; AccessDenied if unknown."""
        if not self.login_required:
            return ANONYMOUS
        cfg = self._users.get(name or "")
        if cfg is None:
            raise AccessDenied(_("not logged in; open /login"))
        return User(cfg.name, cfg.visible(self.meters))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` matches the stored hash, else None; an unknown name costs
        the same hash check, so timing does not tell which users exist."""
        cfg = self._users.get(name)
        matches = check_password_hash(cfg.password_hash if cfg else self._decoy, password)
        return self.user(name) if cfg is not None and matches else None

    def credential_tag(self, name: str) -> str:
        """A short digest of ``name``'s password hash: sessions carry it, so changing the
        password ends them. Empty for unknown users."""
        cfg = self._users.get(name)
        if cfg is None:
            return ""
        return hashlib.sha256(cfg.password_hash.encode()).hexdigest()[:16]

    def catalogue(self, user: User) -> list[MeterInfo]:
        """The meters ``user`` may see, in config order."""
        return [info for m, info in self.meters.items() if user.may_see(m)]

    def visible(self, user: User, meter: str | None) -> str | None:
        """``meter`` if ``user`` may see it and it is configured, else None (for URLs: a
        meter outside the scope is treated as not named at all)."""
        if meter and meter in self.meters and user.may_see(meter):
            return meter
        return None

    def info(self, user: User, meter: str | None) -> MeterInfo:
        """One visible meter's description; AccessDenied if outside the user's scope."""
        (meter,) = self.allowed(user, [meter])
        if meter not in self.meters:
            raise AccessDenied(_("meter %(meter)r is not configured; pick one from the list",
                                 meter=meter))
        return self.meters[meter]

    def allowed(self, user: User, meters: Sequence[str | None] | None) -> list[str]:
        """``meters`` if every one is visible to ``user``; AccessDenied naming the first not."""
        if not meters:
            raise AccessDenied(_("no meter chosen; pick one in the meter picker"))
        chosen: list[str] = []
        for meter in meters:
            if not isinstance(meter, str) or not user.may_see(meter):
                raise AccessDenied(_(
                    "user %(user)r may not see meter %(meter)r; ask an administrator to add "
                    "it to [[dashboard.users]]", user=user.name, meter=meter))
            chosen.append(meter)
        return chosen
