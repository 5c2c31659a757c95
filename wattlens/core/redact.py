"""Keeping secrets out of messages and logs: which config keys hold secrets, URLs that carry
credentials, and replacing known secret values in a text by ``<hidden>``."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

HIDDEN = "<hidden>"
"""What a secret is shown as."""

_SECRET_NAMES = frozenset({"password", "passwd", "token", "secret", "api_key", "apikey",
                           "password_hash", "private_key"})
_SECRET_SUFFIXES = ("_password", "_token", "_secret", "_api_key", "_hash")


def is_secret_key(name: str) -> bool:
    """Whether a config key holds a secret (``password``, ``token``, ``password_hash``, ...);
    ``*_env`` keys only name an environment variable and are not secrets."""
    name = name.lower()
    return name in _SECRET_NAMES or name.endswith(_SECRET_SUFFIXES)


def url_has_credentials(value: str) -> bool:
    """Whether ``value`` is a URL with a password in it (``scheme://user:password@host``)."""
    try:
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc and parts.password)
    except ValueError:
        return False


def hide_url_credentials(url: str) -> str:
    """``url`` with its ``user:password@`` shown as ``<hidden>@``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{HIDDEN}@{host}").geturl()


def url_secrets(url: str | None) -> list[str]:
    """What of ``url`` must not be shown, e.g. of a webhook whose path is its token: the URL
    and its path with query (HTTP errors quote either)."""
    if not url:
        return []
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url] + ([rest] if len(rest) > 1 else [])


def hide(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by ``<hidden>``
    (longest first, so a URL goes before its path)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
