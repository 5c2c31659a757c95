"""Who calls the API and which meters they may read.

Over TCP a request carries ``Authorization: Bearer <token>``; the token is checked against the
``[[api.tokens]]`` hashes (werkzeug, like dashboard passwords) and a match is remembered in
memory by the token's SHA-256 so the slow hash is computed once per token. Over the Unix socket
the caller is the owner of the data directory: an administrator. A request outside the
caller's scope is refused as if the meter did not exist (404) and logged in one line.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from werkzeug.security import check_password_hash

from wattlens.core.meters import MeterInfo
from wattlens.service.api.settings import TOKEN_COMMAND, ApiToken

log = logging.getLogger("wattlens.api")


class Refused(Exception):
    """A request the caller may not make: ``status`` (401, 403 or 404) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who is asking: a name, the meters they may read (``None``: every meter), and whether
    they may write and read documents."""

    name: str
    meters: frozenset[str] | None
    admin: bool = False

    def may_see(self, meter: str) -> bool:
        return self.meters is None or meter in self.meters


LOCAL = Caller("local socket", None, admin=True)
"""The caller on the data directory's Unix socket."""


def refuse(caller: Caller, method: str, path: str, status: int, message: str) -> Refused:
    """Log a refused request in one line (token name, request; never the token) and return
    the exception to raise."""
    log.warning("api: refused %s %s for %s (%d): %s", method, path, caller.name, status, message)
    return Refused(status, message)


class Tokens:
    """The configured tokens and the meter catalogue their scopes select from."""

    def __init__(self, tokens: Iterable[ApiToken], catalogue: Mapping[str, MeterInfo]) -> None:
        """Raises ValueError naming a token's unknown sites, buildings or meters."""
        self._tokens = list(tokens)
        self._callers: dict[str, Caller] = {}
        for token in self._tokens:
            unknown = token.unknown(catalogue)
            if unknown:
                raise ValueError(f"api.tokens[{token.name!r}] names unknown sites/buildings/"
                                 f"meters {unknown}; use ids from [[sites]] and "
                                 f"[[sites.buildings]]")
            meters = None if token.admin else token.visible(catalogue)
            self._callers[token.name] = Caller(token.name, meters, token.admin)
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def caller(self, authorization: str | None) -> Caller:
        """The caller of an ``Authorization`` header; Refused (401) without a valid token."""
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Refused(401, "no bearer token; send 'Authorization: Bearer <token>' (make "
                               f"one with `{TOKEN_COMMAND}`)")
        digest = hashlib.sha256(presented.strip().encode()).hexdigest()
        with self._lock:
            name = self._known.get(digest)
        if name is None:
            name = next((t.name for t in self._tokens
                         if check_password_hash(t.token_hash, presented.strip())), None)
            if name is None:
                log.warning("api: refused a request with an unknown token")
                raise Refused(401, "unknown token; check the token or the [[api.tokens]] "
                                   "entries of the service's config")
            with self._lock:
                self._known[digest] = name
        return self._callers[name]
