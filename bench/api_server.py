"""`atlas serve` in a subprocess on a free loopback port, for benchmarks that measure real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def start_server(workers: int | None = None, log_path: Path | None = None, database_url: str | None = None,
                 wait_seconds: float = 120, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """(the server process, its base URL) once /api/health says ready (models warm); this environment's
    settings, with DATABASE_URL, ATLAS_API_WORKERS and `env` replaced when given (so as atlas_api when its
    password is known)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, ATLAS_API_HOST="127.0.0.1", **(env or {}))
    if workers is not None:
        env["ATLAS_API_WORKERS"] = str(workers)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    log = Path(log_path or os.devnull).open("w")  # noqa: SIM115 - the server's, closed when it ends
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=5).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit("atlas serve did not start")
        time.sleep(0.3)
