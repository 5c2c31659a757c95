"""An empty store gives readable "nothing yet" states, never a traceback; the CLI and the WSGI
entry point build the app from a config file."""

from __future__ import annotations

import json

from dashboard_seed import site_config
from typer.testing import CliRunner

from tests.support import probe
from wattlens.cli import app as cli
from wattlens.dashboard.app import create_app
from wattlens.store.duck import DuckDBStore


def test_every_callback_on_an_empty_store_says_what_is_missing(tmp_path):
    store = DuckDBStore(tmp_path / "empty.duckdb")
    client = create_app(site_config(), store).server.test_client()
    for path in ("/", "/explorer", "/forecast", "/anomalies", "/savings"):
        assert client.get(path).status_code == 200
    messages = []
    for cb in probe.callbacks(client):
        if cb.output_ids[0].startswith("_pages"):
            continue
        answer = probe.call(client, cb, {"meter-picker.value": "b2-elec",
                                         "anomalies-scope.value": ["meter"],
                                         "forecast-horizon.value": "day-ahead (0-24 h)",
                                         "explorer-against.value": "year"})
        body = answer.body.decode()
        assert answer.status in (200, 204), (cb.output, body[:300])
        assert "Traceback" not in body and 'File "' not in body, cb.output
        for figure in _figures(answer):
            texts = [a["text"] for a in figure["layout"].get("annotations", [])]
            assert figure["data"] or texts, f"{cb.output}: an empty chart without a message"
            messages += texts
    assert any("No readings for b2-elec yet" in m for m in messages)
    assert any("has no readings yet" in m for m in messages)
    store.close()


def _figures(answer: probe.Answer) -> list[dict]:
    body = json.loads(answer.body) if answer.body else {}
    return [p["figure"] for p in (body.get("response") or {}).values() if "figure" in p]


def test_wsgi_server_and_cli_read_the_config(tmp_path, monkeypatch):
    config = tmp_path / "wattlens.toml"
    config.write_text(f'[store]\nkind = "duckdb"\npath = "{tmp_path / "w.duckdb"}"\n'
                      '[dashboard]\nport = 8123\n', encoding="utf-8")
    monkeypatch.setenv("WATTLENS_CONFIG", str(config))
    from wattlens.dashboard import app as module

    server = module.server
    assert server.name == "wattlens.dashboard"
    assert server.test_client().get("/").status_code == 200
    assert (tmp_path / "w.duckdb").exists()  # the store of the config, not the default
    result = CliRunner().invoke(cli, ["dashboard", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output
