"""Pieces every benchmark script shares."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it does not exist; any other URL
    (SQLite) is left alone."""
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def vacuum_analyze(*models) -> None:
    """``VACUUM ANALYZE`` the tables of ``models`` on Django's default database (PostgreSQL;
    a no-op elsewhere).

    Benchmarks update the same rows tens of thousands of times and delete earlier runs' data.
    Where autovacuum is off (as on the development machine) or has not come round yet, the
    dead row versions stay in the tables and their indexes and slow every later statement,
    more with each run; each measured run therefore starts from vacuumed, analysed tables.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn {app} exited with {proc.returncode}; log: {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"gunicorn {app} did not start on port {port}; log: {log.name}")


def stop_server(proc) -> None:
    """SIGTERM a server process (gunicorn: graceful stop), SIGKILL it after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's Django processes: this one (minus pytest's markers),
    production settings — ``DEBUG`` off, ``SECRET_KEY`` as set or a random one — over plain
    HTTP on loopback (``CONVSTORE_HTTPS=0``), ``DATABASE_URL``, then ``extra``."""

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="convstore.settings",
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        CONVSTORE_HTTPS="0",
        # WhiteNoise warns once per worker that STATIC_ROOT is missing (no collectstatic).
        PYTHONWARNINGS="ignore:No directory at:UserWarning",
    )
    env.update(extra)
    return env


def rate_limiter_env() -> dict[str, str]:
    """The rate limiter on, as in production, counting in Redis (one round trip per request;
    ``REDIS_URL``, default ``redis://127.0.0.1:6379/0``) at a limit the load never reaches
    (``CONVSTORE_RATE_LIMIT``, default ``1000000/s``; the default 100/s would answer 429)."""

    return {
        "CONVSTORE_RATE_LIMIT": os.environ.get("CONVSTORE_RATE_LIMIT", "1000000/s"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }


def process_stat(pid: int, *, reaped: bool = False) -> tuple[int, float]:
    """``(parent pid, user + system CPU seconds)`` of process ``pid``, from Linux's
    ``/proc/<pid>/stat``; with ``reaped``, plus the CPU of its children that ended and were
    waited for (``cutime`` + ``cstime``: the kernel adds a reaped child's CPU to its
    parent's). Raises ``OSError`` when the process is gone (or there is no ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, ``"0.25, 2.33, 2.44"`` (the cores are
    shared: read every figure with it)."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())
