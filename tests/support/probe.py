"""Call a running dashboard's callbacks over HTTP exactly as the browser does.

Used by the access-control tests (crafted ``/_dash-update-component`` requests) and by
``benchmarks/bench_dashboard.py`` (server time and JSON payload per callback); a test helper,
not installed with wattlens. Works with a
Flask test client or a ``requests.Session`` pointed at a live server.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Callback:
    """One callback as ``/_dash-dependencies`` describes it."""

    output: str
    outputs: list[dict[str, str]]
    inputs: list[dict[str, str]]
    state: list[dict[str, str]]

    @property
    def output_ids(self) -> list[str]:
        return [o["id"] for o in self.outputs]


@dataclass(frozen=True)
class Answer:
    status: int
    seconds: float
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _outputs(spec: str) -> list[dict[str, str]]:
    parts = spec.strip(".").split("...") if spec.startswith("..") else [spec]
    out = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        out.append({"id": ident, "property": prop})
    return out


def callbacks(client: Any, prefix: str = "/") -> list[Callback]:
    """The app's callbacks (server-side ones only)."""
    response = client.get(prefix + "_dash-dependencies")
    deps = response.json() if callable(getattr(response, "json", None)) else response.json
    found = []
    for dep in deps:
        if dep.get("clientside_function"):
            continue
        found.append(Callback(dep["output"], _outputs(dep["output"]),
                              [{"id": i["id"], "property": i["property"]} for i in dep["inputs"]],
                              [{"id": s["id"], "property": s["property"]} for s in dep["state"]]))
    return found


def find(cbs: list[Callback], output_id: str) -> Callback:
    """The callback that writes ``output_id``."""
    for cb in cbs:
        if output_id in cb.output_ids:
            return cb
    raise KeyError(f"no callback outputs {output_id!r}")


def call(client: Any, cb: Callback, values: dict[str, Any], changed: str | None = None,
         prefix: str = "/") -> Answer:
    """POST ``cb`` with ``values`` keyed ``"id.property"`` (absent ones are None)."""
    def fill(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    first = f"{cb.inputs[0]['id']}.{cb.inputs[0]['property']}" if cb.inputs else ""
    payload = {"output": cb.output, "outputs": cb.outputs if len(cb.outputs) > 1
               or cb.output.startswith("..") else cb.outputs[0],
               "inputs": fill(cb.inputs), "state": fill(cb.state),
               "changedPropIds": [changed or first]}
    started = time.perf_counter()
    response = client.post(prefix + "_dash-update-component", json=payload)
    seconds = time.perf_counter() - started
    body = response.data if hasattr(response, "data") else response.content
    return Answer(response.status_code, seconds, body)
