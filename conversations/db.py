"""Database guards for API requests: a statement timeout, and naming a database failure.

- :func:`apply_statement_timeout` gives the request's PostgreSQL connection
  ``statement_timeout = CONVSTORE_STATEMENT_TIMEOUT_MS`` (default 5000 ms; ``0`` turns it off).
  It is set once per connection (one ``SET`` when a connection is new or the setting
  changed), only by API requests: management commands (imports, exports, purges,
  migrations) run without it. A statement that runs longer, or waits longer for a row lock,
  is cancelled by PostgreSQL (SQLSTATE ``57014``).
- :func:`streaming_under_timeout` keeps a streamed read (a server-side cursor) under it.
- :func:`database_failure` tells such a cancellation, and a refused or dropped connection,
  from other database errors. The API formats answer both 503 with ``Retry-After``
  (``CONVSTORE_DB_RETRY_AFTER`` seconds), which the official SDKs retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver

QUERY_CANCELED = "57014"  # statement_timeout fired (PostgreSQL errcodes)
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout fired


def apply_statement_timeout() -> None:
    """Set the API's statement timeout on the current PostgreSQL connection (a no-op on
    SQLite, or when this connection already has it)."""
    if connection.vendor != "postgresql":
        return
    timeout = int(settings.CONVSTORE_STATEMENT_TIMEOUT_MS)
    connection.ensure_connection()
    if getattr(connection, "_convstore_statement_timeout", None) == timeout:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {timeout}")
    connection._convstore_statement_timeout = timeout


@contextmanager
def streaming_under_timeout() -> Iterator[None]:
    """Consume a streamed queryset (``iterator()``) under the statement timeout.

    Outside a transaction Django declares its server-side cursor ``WITH HOLD``, and
    PostgreSQL runs a holdable cursor's whole query when the declaring statement commits,
    after it has switched ``statement_timeout`` off: an expensive filter would run to the
    end however long it took. Inside a transaction the cursor is not holdable and every
    ``FETCH`` runs under the timeout. Wrap the code that reads the iterator. Costs ``BEGIN``
    and ``COMMIT``; inside a caller's transaction it simply joins it (no savepoint: a
    transaction around reads has nothing to roll back).
    """
    with transaction.atomic(savepoint=False):
        yield


@receiver(connection_created)
def _forget_statement_timeout(sender, connection, **kwargs) -> None:
    """A new connection starts with the server's default: the next API request sets ours."""
    connection._convstore_statement_timeout = None


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
