"""Reads from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``), with read-your-writes.

With ``DATABASE_REPLICA_URL`` set, the settings add a ``replica`` database and
:class:`ReplicaRouter`. The heavy reads — the API's lists and searches, and exports — run
inside :func:`replica_reads`, which sends the block's ORM reads (and the export's SQL) to the
replica **when the replica has caught up**, and to the primary otherwise.

The rule (read-your-writes for every caller, the writer included): as the block starts, the
primary's WAL position is read (``pg_current_wal_lsn()``); the replica serves the block once
it has replayed up to there (``pg_last_wal_replay_lsn()``), waiting at most
``CONVSTORE_REPLICA_MAX_WAIT_MS`` (default 100 ms) for it. Whatever a caller wrote and saw
committed before its read began is therefore in what it reads, whichever app server either
request reached; no per-caller state is kept. A replica that is behind, paused or down sends
the read to the primary (a warning is logged when it is unreachable). Cost per block: one
round trip to the primary and one (or a few, while it catches up) to the replica.

Everything else (single-conversation reads, writes, the admin, reads inside a transaction)
stays on the primary. Sources: PostgreSQL "Hot Standby" and "System Administration Functions"
(``pg_current_wal_lsn``, ``pg_last_wal_replay_lsn``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

REPLICA = "replica"
logger = logging.getLogger(__name__)

#: The alias reads go to inside :func:`replica_reads` (``None``: the router's default).
_read_alias: ContextVar[str | None] = ContextVar("convstore_read_alias", default=None)


class ReplicaRouter:
    """Django database router: reads inside :func:`replica_reads` go where it chose; every
    write, and every other read, goes to ``default`` (the primary). Migrations run on the
    primary only (the replica replays them)."""

    def db_for_read(self, model, **hints):
        return _read_alias.get()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA


def configured() -> bool:
    """Whether a replica is configured (``DATABASE_REPLICA_URL``)."""
    return REPLICA in connections.settings


def caught_up_alias() -> str:
    """``"replica"`` when the replica has replayed the primary's WAL as of now (waiting up to
    ``CONVSTORE_REPLICA_MAX_WAIT_MS``), else ``"default"``. Raises the primary's
    :class:`~django.db.DatabaseError` (the replica's are logged and answered ``"default"``).
    """
    primary = connections[DEFAULT_DB_ALIAS]
    if not configured() or primary.in_atomic_block:  # a transaction reads its own writes
        return DEFAULT_DB_ALIAS
    with primary.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    replica = connections[REPLICA]
    deadline = time.monotonic() + settings.CONVSTORE_REPLICA_MAX_WAIT_MS / 1000
    try:
        with replica.cursor() as cursor:
            while True:
                # NULL (not a standby) is not caught up either.
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
                if cursor.fetchone()[0]:
                    return REPLICA
                if time.monotonic() >= deadline:
                    return DEFAULT_DB_ALIAS
                time.sleep(0.002)
    except DatabaseError as exc:
        logger.warning("replica unavailable, reading from the primary: %s", exc)
        replica.close()
        return DEFAULT_DB_ALIAS


@contextmanager
def replica_reads(*, api: bool = True) -> Iterator[str]:
    """Send the block's reads to the replica when it has caught up (see module); yields the
    alias chosen. ``api``: the block is an API request's, so the replica's statements run
    under the API's statement timeout too (``conversations.database.guards``); commands pass
    ``False``."""
    from conversations.database import guards

    alias = caught_up_alias()
    with ExitStack() as stack:
        if alias == REPLICA and api:
            guards.apply_statement_timeout(using=REPLICA)
            stack.enter_context(guards.statement_timeout(using=REPLICA))
        token = _read_alias.set(alias)
        try:
            yield alias
        finally:
            _read_alias.reset(token)
