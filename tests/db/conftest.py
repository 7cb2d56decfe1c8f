"""PgBouncer in transaction mode, started by the tests, in front of the test database.

``pgbouncer`` (session scope) runs the Debian package's ``pgbouncer`` on a free loopback port
from a temporary directory, pooling ``127.0.0.1:5432`` in ``pool_mode = transaction`` with
``server_round_robin = 1``: consecutive transactions go to different server connections (the
pool is warmed to several), so anything that leans on session state between transactions
fails here as it would under load. ``through_pgbouncer`` points Django's default connection
at it with the settings ``DB_POOLER=pgbouncer`` gives (read from ``convstore/settings.py``
itself). Skipped on SQLite, and where ``pgbouncer`` is not installed (``make test`` installs
it).
"""

from __future__ import annotations

import os
import runpy
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connection

SETTINGS = Path(__file__).resolve().parents[2] / "convstore" / "settings.py"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ("127.0.0.1", 5432)
POOL_SIZE = 4
#: The pool's server sessions carry it, so teardown can make sure none outlives the pooler.
APPLICATION_NAME = "convstore_test_pgbouncer"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PgBouncer pools PostgreSQL connections"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bouncer:
    """A running PgBouncer: ``port``, and ``connect(dbname)`` for a plain client session."""

    def __init__(self, port: int):
        self.port = port

    def connect(self, dbname: str, **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
            prepare_threshold=None, **kwargs,
        )  # fmt: skip

    def warm(self, dbname: str) -> None:
        """Open :data:`POOL_SIZE` server connections at once (each client holds one inside a
        transaction until all have one), so round-robin has several to rotate through."""
        clients = [self.connect(dbname) for _ in range(POOL_SIZE)]
        try:
            for client in clients:
                client.execute("SELECT 1")  # opens a transaction: the server stays assigned
        finally:
            for client in clients:
                client.rollback()
                client.close()


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.skip("PgBouncer pools PostgreSQL connections")
    if not os.path.exists(PGBOUNCER):
        pytest.skip("pgbouncer is not installed (make test installs it)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="convstore-pgbouncer-") as tmp:
        directory = Path(tmp)
        (directory / "users.txt").write_text('"postgres" ""\n')
        (directory / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={UPSTREAM[0]} port={UPSTREAM[1]} connect_query='SET application_name = {APPLICATION_NAME}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "users.txt"}
pool_mode = transaction
server_round_robin = 1
default_pool_size = {POOL_SIZE}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = {directory / "pgbouncer.log"}
"""
        )
        command = [PGBOUNCER, str(directory / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root: it runs as postgres
            command[1:1] = ["-u", "postgres"]
            for path in (directory, directory / "users.txt", directory / "pgbouncer.ini"):
                shutil.chown(path, "postgres")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until_listening(port, process)
            yield Bouncer(port)
        finally:
            process.send_signal(signal.SIGINT)  # safe shutdown: closes its server sessions
            process.wait(timeout=10)
            end_server_sessions()


def end_server_sessions() -> None:
    """Wait until no backend of the pool is left (the test database is dropped next)."""
    with psycopg.connect(
        host=UPSTREAM[0], port=UPSTREAM[1], user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APPLICATION_NAME],
        )


def wait_until_listening(port: int, process: subprocess.Popen) -> None:
    stopped = threading.Event()
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {process.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            stopped.wait(0.05)
    raise RuntimeError("pgbouncer did not start listening")


def pooled_database_settings(**env: str) -> dict:
    """``DATABASES["default"]`` as ``convstore/settings.py`` builds it with
    ``DB_POOLER=pgbouncer`` and ``env`` (the keys that matter here: ``OPTIONS``,
    ``DISABLE_SERVER_SIDE_CURSORS``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DB_POOLER", "pgbouncer")
        patch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/any")
        patch.delenv("DB_PREPARED_STATEMENTS", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))["DATABASES"]["default"]


@contextmanager
def django_through(bouncer: Bouncer, **overrides):
    """Point Django's default connection at ``bouncer`` (same database name) with
    ``overrides`` of its settings dict for the block; reconnects before and after."""
    settings_dict = connection.settings_dict
    saved = {key: settings_dict.get(key) for key in ("HOST", "PORT", *overrides)}
    connection.close()
    settings_dict.update(HOST="127.0.0.1", PORT=bouncer.port, **overrides)
    try:
        yield
    finally:
        connection.close()
        for key, value in saved.items():
            if value is None:
                settings_dict.pop(key, None)
            else:
                settings_dict[key] = value


@pytest.fixture
def through_pgbouncer(pgbouncer, settings, transactional_db):
    """Django's default connection through PgBouncer with ``DB_POOLER=pgbouncer``'s
    settings; yields the :class:`Bouncer` (pool warmed)."""
    pooled = pooled_database_settings()
    settings.DB_POOLER = "pgbouncer"
    pgbouncer.warm(connection.settings_dict["NAME"])
    with django_through(
        pgbouncer,
        OPTIONS=dict(pooled.get("OPTIONS", {})),
        DISABLE_SERVER_SIDE_CURSORS=pooled.get("DISABLE_SERVER_SIDE_CURSORS", False),
    ):
        yield pgbouncer


PG_BIN = Path("/usr/lib/postgresql/15/bin")
SLOT_PREFIX = "convstore_test_replica_"
REPLICA_SETTINGS = ("max_connections", "max_worker_processes", "max_wal_senders",
                    "max_prepared_transactions", "max_locks_per_transaction")  # fmt: skip


def as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command`` as the postgres user (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    return subprocess.run(command, check=True, capture_output=True, **kwargs)


@pytest.fixture(scope="session")
def streaming_replica(django_db_setup):
    """A hot-standby streaming replica of ``127.0.0.1:5432`` (``pg_basebackup -R``) in a
    temporary directory, started with ``pg_ctl`` on a free port; yields ``(port, log path)``
    (every statement it runs is logged). Built once the test database exists, so it holds
    it."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL streaming replica")
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
    with psycopg.connect(
        host=UPSTREAM[0], port=UPSTREAM[1], user="postgres", dbname="postgres"
    ) as primary:
        limits = {name: primary.execute(f"SHOW {name}").fetchone()[0] for name in REPLICA_SETTINGS}
        # A slot keeps the WAL the replica has not received yet (a busy primary recycles it
        # within seconds); left-over slots of earlier runs that died are dropped first.
        primary.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name LIKE %s AND NOT active",
            [f"{SLOT_PREFIX}%"],
        )
        primary.commit()
    # A fresh machine's pg_hba.conf has no replication line: the reference stack's script
    # adds the one it needs (and reloads), the same for the stack and for this replica.
    subprocess.run([str(ROOT / "deploy" / "stack"), "allow-replication"], check=True)
    slot = f"{SLOT_PREFIX}{os.getpid()}"
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="convstore-replica-")
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    data = Path(tmp) / "data"
    try:
        as_postgres(
            str(PG_BIN / "pg_basebackup"), "-h", UPSTREAM[0], "-p", str(UPSTREAM[1]),
            "-U", "postgres", "-D", str(data), "-R", "-X", "stream", "-c", "fast",
            "-C", "-S", slot,
        )  # fmt: skip
        config = [
            f"port = {port}", "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{tmp}'", "hot_standby = on", "shared_buffers = 16MB",
            "max_standby_streaming_delay = -1",  # a long export is never cancelled by replay
            "log_statement = 'all'",  # the tests read what ran here from the log
            *(f"{name} = {value}" for name, value in limits.items()),
        ]  # fmt: skip
        as_postgres("sh", "-c", f"cat > {data}/postgresql.conf", input="\n".join(config).encode())
        hba = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        as_postgres("sh", "-c", f"cat > {data}/pg_hba.conf", input=hba.encode())
        as_postgres("sh", "-c", f"touch {data}/pg_ident.conf")
        as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", f"{tmp}/log", "-w", "-t", "60", "start"
        )
        try:
            yield port, Path(tmp) / "log"
        finally:
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with psycopg.connect(
            host=UPSTREAM[0], port=UPSTREAM[1], user="postgres", dbname="postgres",
            autocommit=True,
        ) as primary:  # fmt: skip
            primary.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                [slot],
            )
