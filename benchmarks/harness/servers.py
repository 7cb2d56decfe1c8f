"""Processes under test on a free loopback port: started, waited for, stopped.

:func:`start_gunicorn` serves a WSGI application (convstore, the floor, the bare Django view)
from the project's root; :func:`gunicorn_options` is the one set of production settings the
throughput benchmarks run every server under; :func:`start_process` starts anything else that
listens on a port (a webhook receiver)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from benchmarks.harness import ROOT


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_process(
    argv: list[str], port: int, *, name: str, timeout: float = 30, log_name: str = "", **popen
) -> subprocess.Popen:
    """Start ``argv`` (``popen``: :class:`subprocess.Popen`'s keywords) and return it once
    127.0.0.1:``port`` accepts connections (within ``timeout`` seconds). Raises
    ``SystemExit`` naming ``name`` (and the log ``log_name``, if any) if it exits or does not
    start; a process that does not start is stopped first."""
    proc = subprocess.Popen(argv, **popen)
    where = f"; log: {log_name}" if log_name else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}{where}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"{name} did not start on port {port}{where}")


def start_gunicorn(app: str, options: list[str], env: dict, log=None):
    """Start ``gunicorn app`` with ``options`` on a free loopback port, from the project's
    root; return ``(process, port)`` once it accepts connections (within 30 s).

    ``log``: an open file for the server's output (its request lines), else a temporary
    file, whose path a failure to start names. Raises ``SystemExit`` if it exits or does not
    start."""
    if log is None:  # kept open (and on disk) for the server's lifetime
        log = tempfile.NamedTemporaryFile("wb", prefix="bench-server-", suffix=".log", delete=False)
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), *options,
    ]  # fmt: skip
    proc = start_process(
        cmd, port, name=f"gunicorn {app}", log_name=log.name,
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return proc, port


@contextmanager
def gunicorn(app: str, options: list[str], env: dict, log=None):
    """:func:`start_gunicorn` as a context: yields ``(process, port)``, stops it on leaving."""
    proc, port = start_gunicorn(app, options, env, log)
    try:
        yield proc, port
    finally:
        stop_server(proc)


def stop_server(proc, timeout: float = 15) -> None:
    """SIGTERM a server process (gunicorn: graceful stop), SIGKILL it after ``timeout`` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gunicorn_options(
    workers: int | None = None, worker_class: str | None = None, threads: int | None = None
) -> list[str]:
    """The one set of gunicorn settings every server of a comparison runs under: the
    production settings the README recommends (``gunicorn.conf.py``: 2 x cores + 1
    ``gthread`` workers of 2 threads, worker recycling, …), gunicorn's own log at
    ``warning``; ``workers``, ``worker_class`` and ``threads`` override the file's values
    when given."""
    options = ["--config", str(ROOT / "gunicorn.conf.py"), "--log-level", "warning"]
    if workers:
        options += ["--workers", str(workers)]
    if worker_class:
        options += ["--worker-class", worker_class]
    if threads:
        options += ["--threads", str(threads)]
    return options
