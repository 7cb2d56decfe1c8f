"""Database guards for API requests: a statement timeout, and naming a database failure.

- :func:`apply_statement_timeout` and :func:`statement_timeout` run an API request's SQL
  under ``statement_timeout = CONVSTORE_STATEMENT_TIMEOUT_MS`` (default 5000 ms; ``0`` turns
  it off). A statement that runs longer, or waits longer for a row lock, is cancelled by
  PostgreSQL (SQLSTATE ``57014``). Only API requests run under it: management commands
  (imports, exports, purges, migrations) and other clients of the database never do. How
  it is applied depends on ``DB_POOLER`` (settings):

  - no pooler (the default): the connection is this process's own, so one ``SET`` per
    connection (when it is new or the setting changed) holds for every later request on it;
  - ``DB_POOLER=pgbouncer`` (transaction pooling): a session setting would stay on whichever
    server connection ran it (other clients inherit it, our next transaction may run on
    another server connection without it), so it is set with ``SET LOCAL`` at the start of
    every transaction the request runs, and ends with it. A statement outside
    ``transaction.atomic`` is run in a transaction of its own for that (``BEGIN``, ``SET
    LOCAL``, the statement, ``COMMIT``: three more round trips; inside a transaction one more
    per transaction).
- :func:`streaming_under_timeout` keeps a streamed read (a server-side cursor) under it.
- :func:`close_if_dropped` replaces a connection the server dropped, as each request starts.
- :func:`database_failure` tells such a cancellation, and a refused or dropped connection,
  from other database errors. The API formats answer both 503 with ``Retry-After``
  (``CONVSTORE_DB_RETRY_AFTER`` seconds), which the official SDKs retry.
"""

from __future__ import annotations

import select
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.signals import request_started
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.dispatch import receiver

QUERY_CANCELED = "57014"  # statement_timeout fired (PostgreSQL errcodes)
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout fired

#: The timeout last ``SET`` on each psycopg connection (no pooler). Weak keys: a new
#: connection (after a reconnect) starts with the server's default and gets ours again.
_SESSION_TIMEOUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pooled() -> bool:
    """Whether a transaction-pooling PgBouncer stands between us and PostgreSQL
    (``DB_POOLER=pgbouncer``)."""
    return settings.DB_POOLER == "pgbouncer"


def apply_statement_timeout(using: str = "default") -> None:
    """Without a pooler, give PostgreSQL connection ``using`` the API's statement timeout
    (one ``SET`` when the connection is new or the setting changed). A no-op on SQLite and
    under ``DB_POOLER`` (see :func:`statement_timeout`). Called by the view after its first
    checks, so a refused connection is answered like any database failure."""
    db = connections[using]
    if db.vendor != "postgresql" or pooled():
        return
    timeout = int(settings.CONVSTORE_STATEMENT_TIMEOUT_MS)
    db.ensure_connection()
    raw = db.connection
    if _SESSION_TIMEOUTS.get(raw) == timeout:
        return
    with db.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {timeout}")
    _SESSION_TIMEOUTS[raw] = timeout


@contextmanager
def statement_timeout(using: str = "default") -> Iterator[None]:
    """Under ``DB_POOLER``, run the block's statements (an API view's) on connection ``using``
    with ``SET LOCAL statement_timeout`` in each of their transactions (see module); sends
    nothing itself. A no-op otherwise, and when the setting is 0."""
    db = connections[using]
    timeout = int(settings.CONVSTORE_STATEMENT_TIMEOUT_MS)
    if db.vendor != "postgresql" or not pooled() or timeout <= 0:
        yield
        return
    with db.execute_wrapper(_PerTransactionTimeout(timeout)):
        yield


class _PerTransactionTimeout:
    """An ``execute_wrapper`` that puts ``SET LOCAL statement_timeout`` at the start of every
    transaction its statements run in (one of their own for a statement in autocommit)."""

    __slots__ = ("sql",)

    def __init__(self, timeout: int):
        self.sql = f"SET LOCAL statement_timeout = {int(timeout)}"

    def __call__(self, execute, sql, params, many, context):
        db = context["connection"]
        if not db.get_autocommit():  # inside transaction.atomic
            from psycopg import pq

            raw = db.connection
            if raw.info.transaction_status == pq.TransactionStatus.IDLE:
                raw.execute(self.sql)  # psycopg sends the transaction's BEGIN before it
            return execute(sql, params, many, context)
        # Autocommit: under transaction pooling each statement may run on another server
        # connection, so this one gets a transaction that carries the setting. Its result
        # is read by the client before COMMIT (psycopg's client-side cursors hold it).
        with transaction.atomic(using=db.alias, savepoint=False):
            db.connection.execute(self.sql)
            return execute(sql, params, many, context)


@contextmanager
def streaming_under_timeout(using: str | None = None) -> Iterator[None]:
    """Consume a streamed queryset (``iterator()``) under the statement timeout.

    Outside a transaction Django declares its server-side cursor ``WITH HOLD``, and
    PostgreSQL runs a holdable cursor's whole query when the declaring statement commits,
    after it has switched ``statement_timeout`` off: an expensive filter would run to the
    end however long it took. Inside a transaction the cursor is not holdable and every
    ``FETCH`` runs under the timeout. Wrap the code that reads the iterator. Costs ``BEGIN``
    and ``COMMIT``; inside a caller's transaction it simply joins it (no savepoint: a
    transaction around reads has nothing to roll back). ``using``: the connection the
    iterator reads from (default: the primary).
    """
    with transaction.atomic(using=using, savepoint=False):
        yield


def close_if_dropped(db) -> bool:
    """Close Django connection ``db`` if PostgreSQL has dropped it; ``True`` if it did.

    Costs one ``select()`` on the socket, no round trip. An idle connection's socket has
    nothing to read: everything the server sent was read with the last answer. When the
    server ends the session (``pg_terminate_backend``, a restart or failover, an idle timeout)
    it sends an error and closes the socket, which makes it readable; so does anything else
    the server sends unasked (a notice), which costs a needless reconnect, nothing more. A
    connection inside a transaction is left alone (its work would be lost). Django's
    ``CONN_HEALTH_CHECKS`` (``DB_CONN_HEALTH_CHECKS``) finds the same with a ``SELECT 1``
    round trip per request, and also finds a network that died silently.
    """
    raw = db.connection
    if raw is None or db.vendor != "postgresql" or db.in_atomic_block:
        return False
    if raw.closed or raw.broken:
        readable = True
    else:
        try:
            readable = bool(select.select([raw.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            readable = True
    if readable:
        db.close()
    return readable


@receiver(request_started)
def _replace_dropped_connections(sender, **kwargs) -> None:
    """Before a request's first statement, replace this thread's dropped connections, so a
    request that starts after a failover or ``pg_terminate_backend`` goes on."""
    for db in connections.all(initialized_only=True):
        close_if_dropped(db)


def database_failure(exc: BaseException) -> str | None:
    """``"timeout"`` for a statement cancelled by its timeout, ``"unavailable"`` for a
    database that refused or dropped the connection, ``None`` for anything else (a bug).

    Knows Django's wrapped errors and the driver's own (psycopg's), which a few code paths
    raise unwrapped (closing a server-side cursor on a dropped connection).
    """
    driver = getattr(connection, "Database", None)
    transient = (OperationalError, InterfaceError)
    if driver is not None:
        transient += (driver.OperationalError, driver.InterfaceError)
    if not isinstance(exc, transient):
        return None
    raw = exc.__cause__ if isinstance(exc, DatabaseError) else exc
    if getattr(raw, "sqlstate", None) in (QUERY_CANCELED, LOCK_NOT_AVAILABLE):
        return "timeout"
    # Connection failures (class 08, admin shutdown 57P01, …) and SQLite's "database is
    # locked" are all worth a retry.
    return "unavailable"
