"""A connection PostgreSQL dropped between requests (``pg_terminate_backend``, a restart or a
failover) is found before the next request's first statement and replaced, at the cost of one
``select()`` on the socket and no round trip (``conversations.database.guards.close_if_dropped``):
requests that start after the drop answer normally. (A request whose statement is running when its
connection drops still answers 503, tests/limits/test_database_failures.py.)
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from conversations.database.guards import close_if_dropped
from conversations.services import SYSTEM, conversation_create
from tests.limits.servers import APPLICATION_NAME, gunicorn, request

from .conftest import UPSTREAM, postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def admin_session() -> psycopg.Connection:
    return psycopg.connect(
        host=UPSTREAM[0], port=UPSTREAM[1], user="postgres", dbname="postgres", autocommit=True
    )


def terminate(where: str, params: list) -> int:
    """End the matching sessions and wait until each is gone (``pg_terminate_backend``'s
    timeout, PostgreSQL 14+); returns how many."""
    with admin_session() as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            f"WHERE pid <> pg_backend_pid() AND {where}",
            params,
        ).fetchall()
    assert all(ended for (ended,) in rows), rows
    return len(rows)


def test_a_dropped_connection_is_found_without_a_round_trip_and_replaced():
    connection.ensure_connection()
    assert close_if_dropped(connection) is False  # healthy and idle: kept
    assert connection.connection is not None
    old_pid = connection.connection.info.backend_pid

    assert terminate("pid = %s", [old_pid]) == 1
    assert close_if_dropped(connection) is True
    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_a_connection_inside_a_transaction_is_left_to_fail():
    """Closing it would lose the transaction's work without telling its code."""
    from django.db import transaction

    with pytest.raises(Exception), transaction.atomic():  # noqa: B017, PT011
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        terminate("pid = %s", [connection.connection.info.backend_pid])
        assert close_if_dropped(connection) is False
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the dropped connection: an error, not a silent retry
    connection.close()


def test_requests_that_start_after_the_drop_all_succeed(project, api_key):
    """Two gunicorn workers, four threads each, persistent connections (production's
    ``DB_CONN_MAX_AGE``): every app backend is terminated between two rounds of requests."""
    conversation = conversation_create(project=project, metadata={"k": "v"}, actor=SYSTEM)
    path = f"/openai/v1/conversations/conv_{conversation.pk.hex}"
    headers = {"Authorization": f"Bearer {api_key}"}
    with gunicorn(workers=2, threads=4) as (host, port):
        before = [request(host, port, "GET", path, headers=headers)[0] for _ in range(24)]
        assert before == [200] * 24
        assert terminate("application_name = %s", [APPLICATION_NAME]) > 0
        after = [request(host, port, "GET", path, headers=headers)[0] for _ in range(24)]
        body = b'{"metadata": {"k": "w"}}'
        after += [request(host, port, "POST", path, body=body, headers=headers)[0]]
    assert after == [200] * 25
