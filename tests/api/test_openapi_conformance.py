"""/openapi.json matches what runs: Schemathesis (every check, every phase) against the real app
under uvicorn on loopback finds no server error, no schema violation, no undocumented status.

The run is bounded (`--max-examples`) and deterministic, so it takes seconds and a failure
reproduces. The only setting changed from Schemathesis's defaults: a schema-valid request may
also be refused with 400, as the reference does for business rules a schema cannot express
(unknown symbol, tick size, INSUFFICIENT_BALANCE).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.conftest import LiveServer, auth_headers, settings
from velocimex_cli.engine.api.app import create_app, rest_operations

CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409"]
"""


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    app = create_app(settings(data_dir=tmp_path / "engine", rest_limit_per_minute=100_000))
    with LiveServer(app) as server:
        headers = auth_headers(app.state.runtime.keys)
        spec = httpx.get(server.url + "/openapi.json").json()
        (tmp_path / "schemathesis.toml").write_text(CONFIG)
        report = tmp_path / "report.json"
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "run",
            server.url + "/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--generation-deterministic",
            "--request-timeout",
            "10",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--no-color",
            *(f"-H{name}: {value}" for name, value in headers.items()),
        ]
        run = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
    output = run.stdout[-6000:] + run.stderr[-2000:]
    result = json.loads(report.read_text())
    declared = len(rest_operations())
    documented = sum(len(item) for item in spec["paths"].values())
    assert documented == declared  # the document is the route table, nothing more or less
    assert result["operations"]["tested"] == declared, output
    assert result["operations"]["errored"] == 0, output
    assert result["failures"] == [], output
    assert result["errors"] == [], output
    assert result["test_cases"]["generated"] > 20 * declared, output
    assert run.returncode == 0, output
