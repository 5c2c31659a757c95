"""Fixtures for the ingest source tests: a loopback HTTP server replaying Open-Meteo."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest


@dataclass
class Replay:
    """What the server answers and what it was asked."""

    port: int
    status: int = 200
    body: str = "{}"
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    """Answers to give in order (then ``body`` again); lets a test vary them per request."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def open_meteo() -> Iterator[Replay]:
    """A loopback server answering every GET with ``replay.status`` / ``replay.body``."""
    replay = Replay(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            replay.requests.append((parsed.path, query))
            body = replay.bodies.pop(0) if replay.bodies else replay.body
            data = body.encode()
            self.send_response(replay.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    replay.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
