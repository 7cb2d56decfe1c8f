"""Helpers for tests that run convstore in a child process (gunicorn, runserver).

The child gets the test database's URL (``test_database_url``), so it sees the rows a
``transaction=True`` test commits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_child() -> str:
    """A ``DATABASE_URL`` naming the database the test runner created."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child server: this one, minus pytest's marker, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Poll ``url`` until it answers (any status); fail with the child's output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"server exited {process.returncode}:\n{out}\n{err}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s")


class Server:
    """A child server process; ``stop()`` sends SIGTERM and returns ``(code, stdout, stderr)``."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, probe: str = "/healthz"):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        wait_until_up(self.url + probe, self.process)

    def stop(self, timeout: float = 40) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            out, err = self.process.communicate()
        return self.process.returncode, out, err
