"""Schemathesis against the live OpenAPI schema of a running server: no input may produce a 5xx.

Bounded (examples per operation, fixed seed) so it runs in CI in about a minute. The server runs the
tiny test model with auth on; schemathesis sends an admin key so it reaches every handler, and also
negative (schema-violating) cases, which must all be 4xx.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from inference.app import create_app

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_5xx_for_any_generated_request(trained, tmp_path):
    settings, _ = trained
    settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'st.db'}",
                                           "model_reload_interval_s": 0, "rate_limit_per_minute": 10_000_000,
                                           "rate_limit_burst": 1_000_000})
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        key, _ = app.state.services.keys.create("schemathesis", ["admin"])
        st = Path(sys.executable).parent / "st"
        done = subprocess.run(
            [str(st), "run", f"http://127.0.0.1:{port}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "80", "--seed", "7", "--phases", "examples,coverage,fuzzing",
             "-H", f"Authorization: Bearer {key}", "--request-timeout", "20", "--no-color",
             "--report", "junit", "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=900)
        print(done.stdout[-6000:])
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        import re

        generated = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
        assert generated and int(generated.group(1)) >= 300 and generated.group(1) == generated.group(2)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
