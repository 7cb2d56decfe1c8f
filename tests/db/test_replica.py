"""Lists, searches and exports read from a real streaming replica (``DATABASE_REPLICA_URL``),
with read-your-writes: the replica serves a read only once it has replayed the primary's WAL as
of the read's start (``conversations.database.replica``); behind, paused or down, the primary serves
it.

The replica is built by ``streaming_replica`` (tests/db/conftest.py: ``pg_basebackup -R`` of
127.0.0.1:5432, started on a free port) and added to Django as the ``replica`` alias (a test
mirror of ``default``, as the settings declare it) with the router on.
"""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from conversations.database.replica import REPLICA
from conversations.services import SYSTEM, conversation_create

from .conftest import free_port, postgres_only

pytestmark = [
    postgres_only,
    pytest.mark.django_db(transaction=True, databases=["default", REPLICA]),
]
TABLE = "conversations_conversation"


@pytest.fixture(scope="module", autouse=True)
def replica_alias(streaming_replica):
    """The ``replica`` alias and router for this module (before each test's database set-up,
    which checks the aliases it names)."""
    port, _ = streaming_replica
    base = connections["default"].settings_dict
    connections.settings[REPLICA] = {
        **copy.deepcopy(base), "HOST": "127.0.0.1", "PORT": port,
        "TEST": {**base["TEST"], "MIRROR": "default"},
    }  # fmt: skip
    with override_settings(
        DATABASE_ROUTERS=["conversations.database.replica.ReplicaRouter"],
        CONVSTORE_REPLICA_MAX_WAIT_MS=10_000,  # the tests wait for the replica to catch up
    ):
        yield
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture
def replica_session(streaming_replica):
    port, _ = streaming_replica
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres",
        dbname=connections["default"].settings_dict["NAME"], autocommit=True,
    ) as session:  # fmt: skip
        yield session
        session.execute("SELECT pg_wal_replay_resume()")


@contextmanager
def statements():
    """``{alias: [sql, …]}`` of the statements this thread runs on each database."""
    seen = {"default": [], REPLICA: []}
    with connections["default"].execute_wrapper(spy(seen["default"])):
        with connections[REPLICA].execute_wrapper(spy(seen[REPLICA])):
            yield seen


def spy(into: list):
    def wrapper(execute, sql, params, many, context):
        into.append(sql)
        return execute(sql, params, many, context)

    return wrapper


def reads_conversations(sqls: list[str]) -> bool:
    return any(TABLE in sql for sql in sqls)


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


LISTS = [
    ("/openai/v1/conversations?limit=100", lambda body: [c["id"][5:] for c in body["data"]]),
    ("/telnyx/v2/ai/conversations?metadata->tier=eq.gold", lambda body: [
        c["id"].replace("-", "") for c in body["data"]]),
    ("/agentphone/v1/conversations?limit=100", lambda body: [
        c["id"][5:] for c in body["data"]]),
]  # fmt: skip


def listed(client, key, path, ids_of) -> set[str]:
    response = client.get(path, **auth(key))
    assert response.status_code == 200, response.content[:300]
    return set(ids_of(response.json()))


def test_lists_and_searches_read_from_the_replica(client, api_key, project):
    made = {
        conversation_create(project=project, metadata={"tier": "gold"}, actor=SYSTEM).pk.hex
        for _ in range(3)
    }
    for path, ids_of in LISTS:
        with statements() as seen:
            assert listed(client, api_key, path, ids_of) == made, path
        assert reads_conversations(seen[REPLICA]), (path, seen)
        assert not reads_conversations(seen["default"]), (path, seen)


def test_the_caller_that_just_wrote_reads_its_write_while_the_replica_lags(
    client, api_key, project, replica_session, settings
):
    first = conversation_create(project=project, metadata={"tier": "gold"}, actor=SYSTEM)
    path, ids_of = LISTS[0]
    assert listed(client, api_key, path, ids_of) == {first.pk.hex}  # the replica caught up
    replica_session.execute("SELECT pg_wal_replay_pause()")
    settings.CONVSTORE_REPLICA_MAX_WAIT_MS = 50
    response = client.post(
        "/openai/v1/conversations", json.dumps({"metadata": {"tier": "gold"}}),
        content_type="application/json", **auth(api_key),
    )  # fmt: skip
    assert response.status_code == 200
    written = response.json()["id"][5:]
    for path, ids_of in LISTS:
        with statements() as seen:
            assert listed(client, api_key, path, ids_of) == {first.pk.hex, written}, path
        assert reads_conversations(seen["default"]), (path, seen)  # the primary served it
        assert not reads_conversations(seen[REPLICA]), (path, seen)
    replica_session.execute("SELECT pg_wal_replay_resume()")
    settings.CONVSTORE_REPLICA_MAX_WAIT_MS = 10_000
    with statements() as seen:
        assert listed(client, api_key, *LISTS[0]) == {first.pk.hex, written}
    assert reads_conversations(seen[REPLICA])


def test_a_replica_that_is_down_leaves_reads_to_the_primary(client, api_key, project, caplog):
    made = conversation_create(project=project, metadata={"tier": "gold"}, actor=SYSTEM)
    replica = connections[REPLICA]
    port = replica.settings_dict["PORT"]
    replica.close()
    replica.settings_dict["PORT"] = free_port()  # nothing listens there
    try:
        for path, ids_of in LISTS:
            assert listed(client, api_key, path, ids_of) == {made.pk.hex}, path
    finally:
        replica.close()
        replica.settings_dict["PORT"] = port
    assert "replica unavailable, reading from the primary" in caplog.text


def test_the_export_command_reads_from_the_replica(project, streaming_replica, tmp_path):
    _, log = streaming_replica
    made = {
        str(conversation_create(project=project, metadata={"n": str(n)}, actor=SYSTEM).pk)
        for n in range(3)
    }
    logged_before = log.read_text(errors="replace")
    output = tmp_path / "export.jsonl"
    call_command("export_conversations", "--output", str(output))
    exported = {json.loads(line)["id"] for line in output.read_text().splitlines()}
    assert made <= exported
    logged = log.read_text(errors="replace")[len(logged_before) :]
    assert f"FROM {TABLE} c" in logged and "ORDER BY c.id" in logged, logged[-2000:]
