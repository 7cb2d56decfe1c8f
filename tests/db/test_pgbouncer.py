"""Through PgBouncer in transaction mode (``DB_POOLER=pgbouncer``): what must hold when each
transaction may run on another server connection.

- The API's statement timeout holds for every API statement (``SET LOCAL`` per transaction),
  and never reaches a command's statement or another client's session.
- The admin's bulk AI actions work (no server-side cursor outside a transaction).
- Requests work with the pooler's settings (no prepared statements: PgBouncer before 1.21
  loses them between transactions).

The pool rotates its server connections (``server_round_robin``, tests/db/conftest.py), so a
setting or cursor left on one server connection is missed by the next transaction.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from conversations.admin import paging
from conversations.domain.ids import prefixed
from conversations.models import Conversation, MetadataChange
from conversations.services import SYSTEM, conversation_create

from .conftest import POOL_SIZE, UPSTREAM, pooled_database_settings, postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/conversations/conversation/"


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@contextmanager
def row_locked(pk, release_after: float = 10):
    """Hold conversation ``pk``'s row ``FOR UPDATE`` from a direct (unpooled) session.

    A request that does not time out would wait for the lock for ever; the lock is released
    after ``release_after`` seconds so that such a failure shows as a 200, not a hung test.
    """
    locker = psycopg.connect(
        host=UPSTREAM[0], port=UPSTREAM[1], user="postgres",
        dbname=connection.settings_dict["NAME"],
    )  # fmt: skip
    locker.execute("SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE", [pk])
    timer = threading.Timer(release_after, locker.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        locker.rollback()
        locker.close()


def test_api_statements_time_out_at_the_setting_on_every_server_connection(
    through_pgbouncer, client, api_key, project, settings
):
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    settings.CONVSTORE_STATEMENT_TIMEOUT_MS = 300
    path = f"/openai/v1/conversations/{prefixed(conversation.pk, 'conv')}"
    answers = []
    with row_locked(conversation.pk):
        for _ in range(POOL_SIZE):  # the rotation's every server connection
            response = client.post(
                path, json.dumps({"metadata": {"k": "v"}}), content_type="application/json",
                **auth(api_key),
            )  # fmt: skip
            answers.append((response.status_code, response.get("Retry-After")))
            assert "300 ms" in response.content.decode()
    assert answers == [(503, "1")] * POOL_SIZE
    conversation.refresh_from_db()
    assert conversation.metadata == {"keep": "me"}


def test_the_timeout_never_reaches_a_command_or_another_session(
    through_pgbouncer, client, api_key, settings
):
    settings.CONVSTORE_STATEMENT_TIMEOUT_MS = 100
    for _ in range(2 * POOL_SIZE):
        missing = client.get(f"/openai/v1/conversations/conv_{'a' * 32}", **auth(api_key))
        assert missing.status_code == 404
    # A management command's statements (this process's connection, outside any API view)
    # run longer than the API's timeout and are not cancelled, on each server connection.
    with connection.cursor() as cursor:
        for _ in range(POOL_SIZE):
            cursor.execute("SELECT pg_sleep(0.3)")
    # Fresh client sessions through the pooler see the server's default.
    seen = []
    for _ in range(2 * POOL_SIZE):
        with through_pgbouncer.connect(connection.settings_dict["NAME"]) as session:
            seen.append(session.execute("SHOW statement_timeout").fetchone()[0])
    assert seen == ["0"] * (2 * POOL_SIZE)


@pytest.mark.parametrize("server_side_cursors", [False, True], ids=["pooler", "cursors-on"])
def test_admin_bulk_ai_actions_work_through_pgbouncer(
    through_pgbouncer, admin_client, admin_user, project, monkeypatch, server_side_cursors
):
    """With ``DB_POOLER``'s settings, and with server-side cursors left on (the admin reads
    the selection in keyset chunks, never with a cursor held across transactions)."""
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = not server_side_cursors
    monkeypatch.setattr(paging, "PK_CHUNK", 7)  # several chunks
    Conversation.objects.bulk_create(Conversation(project=project) for _ in range(30))
    for action, state, disabled in (("turn_ai_off", "off", True), ("turn_ai_on", "on", False)):
        for _ in range(2):  # the second time, every one is already in that state
            response = admin_client.post(
                CHANGELIST,
                {"action": action, "select_across": "1", "_selected_action": ["x"]},
                follow=True,
            )
            assert response.status_code == 200
            text = response.content.decode()
            assert f"AI turned {state}" in text, text[-2000:]
        assert Conversation.objects.filter(ai_disabled=disabled).count() == 30
    flips = MetadataChange.objects.filter(action="ai_switch")
    assert flips.count() == 60
    assert {change.user for change in flips} == {admin_user}


def test_requests_work_with_the_poolers_settings(through_pgbouncer, client, api_key, project):
    """No statement is prepared (a prepared statement lives on one server connection; the
    next transaction may run on another and fail with ``prepared statement … does not
    exist``)."""
    conversation = conversation_create(project=project, metadata={}, actor=SYSTEM)
    path = f"/openai/v1/conversations/{prefixed(conversation.pk, 'conv')}"
    statuses = []
    for n in range(3 * POOL_SIZE):
        body = json.dumps({"metadata": {"n": str(n)}})
        statuses.append(
            client.post(path, body, content_type="application/json", **auth(api_key)).status_code
        )
        statuses.append(client.get(path, **auth(api_key)).status_code)
    assert statuses == [200] * (6 * POOL_SIZE)
    conversation.refresh_from_db()
    assert conversation.metadata == {"n": str(3 * POOL_SIZE - 1)}


def test_db_pooler_settings():
    pooled = pooled_database_settings()
    assert pooled["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert "prepare_threshold" not in pooled.get("OPTIONS", {})  # Django's default: None
    # PgBouncer 1.21+ with max_prepared_statements keeps them: they can be turned back on.
    on = pooled_database_settings(DB_PREPARED_STATEMENTS="1")
    assert on["OPTIONS"]["prepare_threshold"] > 0
