"""Serving the API: beside the dashboard on its TCP port, and alone on the Unix socket beside
the DuckDB file (:func:`~wattlens.store.remote.service_socket`) for the CLI on this machine."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from wattlens.service.api.app import LOCAL_ENVIRON, PUBLIC
from wattlens.store.remote import API

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_SOCKET_PATH = 100
"""Longest Unix socket path we bind [bytes] (Linux allows 107)."""


def beside(api: WSGIApp, dashboard: WSGIApp) -> WSGIApp:
    """One WSGI app: the API's paths (``/api/``, ``/healthz``, ``/metrics``) to ``api``,
    every other path to ``dashboard``."""
    prefixes = (API + "/", *PUBLIC)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        target = api if path.startswith(prefixes) else dashboard
        return target(environ, start_response)
    return app


def local(api: WSGIApp) -> WSGIApp:
    """``api`` for callers on the Unix socket: the data directory's owner, an administrator."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return api({**environ, LOCAL_ENVIRON: True}, start_response)
    return app


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def unix_server(path: Path, app: WSGIApp) -> BaseWSGIServer:
    """A threaded server of ``app`` on the Unix socket ``path``, mode 0600 from the start (bound
    in a private directory, then moved into place). RuntimeError when another process answers
    there; ValueError when the path is too long for a socket."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ValueError(f"the socket path {path} is longer than {MAX_SOCKET_PATH} bytes; move "
                         f"the DuckDB file ([store] path) to a shorter path")
    if path.exists():
        if _answers(path):
            raise RuntimeError(f"another wattlens service answers on {path}; stop it first")
        path.unlink()  # left by a process that died
    private = Path(tempfile.mkdtemp(prefix=".s", dir=path.parent))  # mode 0700
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(private / "s"))
        os.chmod(private / "s", 0o600)
        os.rename(private / "s", path)
        sock.listen(64)
        return make_server(f"unix://{path}", 0, app, threaded=True, fd=sock.fileno())
    finally:
        sock.close()
        private.rmdir()


def close_unix_server(server: BaseWSGIServer, path: Path) -> None:
    """Remove the socket file (ours: :func:`unix_server` never replaces one that answers), so no
    command connects any more, then stop ``server``."""
    path.unlink(missing_ok=True)
    server.shutdown()
    server.server_close()
