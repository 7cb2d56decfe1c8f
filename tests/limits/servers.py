"""A real gunicorn serving convstore on the test database, for tests that need production's
WSGI server (chunked bodies, dropped database connections)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from benchmarks.harness.servers import stop_server

ROOT = Path(__file__).resolve().parents[2]
APPLICATION_NAME = "convstore_test_gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """``DATABASE_URL`` of the database the tests use (the test runner's copy)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] or "postgres"
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}?application_name={APPLICATION_NAME}"


@contextmanager
def gunicorn(*, workers: int = 1, threads: int = 1, env: dict | None = None):
    """Run ``gunicorn convstore.wsgi`` on a free loopback port; yield ``(host, port)``."""
    port = free_port()
    server_env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    server_env.update(
        DATABASE_URL=test_database_url(),
        CONVSTORE_CHAT_RESPONDER="conversations.formats.telnyx.responders.echo",
        PYTHONWARNINGS="ignore::UserWarning",  # whitenoise: no collectstatic in tests
        **(env or {}),
    )
    cmd = [
        sys.executable, "-m", "gunicorn", "convstore.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(threads),
        "--graceful-timeout", "5",
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=server_env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"gunicorn exited with {proc.returncode}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        stop_server(proc)


def request(host, port, method, path, *, body=None, headers=None, chunked=False, timeout=30):
    """One request on a fresh connection; ``(status, headers, parsed JSON or raw bytes)``.

    With ``chunked=True`` the body (bytes) is sent as ``Transfer-Encoding: chunked`` in 64 KiB
    chunks, with no ``Content-Length``.
    """
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if chunked:
            data = body or b""
            pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
            conn.request(method, path, body=iter(pieces), headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return response.status, dict(response.getheaders()), payload
    finally:
        conn.close()
