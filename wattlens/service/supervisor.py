"""Keeps the roles of ``wattlens run`` running: each in its own thread; a role that crashes
(raises, or returns before the stop) is logged in one line and restarted after a backoff that
doubles up to a bound, without stopping the others."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

Role = Callable[[threading.Event], None]
"""One role: runs until the event (the stop) is set, then tidies up and returns."""


class Supervisor:
    """Runs ``roles`` until ``stop`` is set; restarts a crashed role after ``backoff`` [s],
    doubled at each crash up to ``max_backoff`` [s] (reset after a run that long)."""

    def __init__(self, roles: Mapping[str, Role], stop: threading.Event,
                 backoff: float = 1.0, max_backoff: float = 60.0) -> None:
        self.roles = dict(roles)
        self.stop = stop
        self.backoff, self.max_backoff = backoff, max_backoff
        self.restarts: Counter[str] = Counter()
        self.state = dict.fromkeys(self.roles, "starting")
        """Each role's state: starting, running, restarting (after a crash) or stopped."""
        self.threads = [threading.Thread(target=self._keep, args=(name, role), name=name,
                                         daemon=True) for name, role in self.roles.items()]

    def start(self) -> None:
        """Start every role."""
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` [s] in all for the roles to return; the ones still running."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]

    def _keep(self, name: str, role: Role) -> None:
        delay = self.backoff
        while not self.stop.is_set():
            began = time.monotonic()
            self.state[name] = "running"
            try:
                role(self.stop)
            except Exception as exc:  # a crashed role is restarted, the others run on
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            else:
                if self.stop.is_set():
                    break
                reason = "returned before the stop"
            if time.monotonic() - began >= self.max_backoff:
                delay = self.backoff
            self.restarts[name] += 1
            self.state[name] = "restarting"
            log.error("role %s crashed (%s); restart %d in %g s", name, reason,
                      self.restarts[name], delay)
            if self.stop.wait(delay):
                break
            delay = min(delay * 2, self.max_backoff)
        self.state[name] = "stopped"
