"""The benchmark's floor app (``benchmarks/floor_app.py``) does the same work as convstore's
update: one request merges keys into a stored conversation's metadata and answers the OpenAI
``Conversation`` object. PostgreSQL only (the floor speaks psycopg). No timings here."""

import io
import json
from http import HTTPStatus
from wsgiref.util import setup_testing_defaults

import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from benchmarks.floor_app import FloorApp
from conversations import services
from tests.skips import needs_postgresql

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=needs_postgresql("the floor app talks to it through psycopg"),
)


@pytest.fixture
def floor(transactional_db):
    """The floor app on the test database (committed data: it uses its own connection)."""
    params = connection.settings_dict
    app = FloorApp(
        make_conninfo(
            dbname=params["NAME"],
            host=params["HOST"] or "",
            port=str(params["PORT"] or ""),
            user=params["USER"] or "",
            password=params["PASSWORD"] or "",
        )
    )
    yield app
    app.close()  # the test database is dropped at the end of the run


def call(app, method: str, path: str, body: bytes) -> tuple[str, dict]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, headers

    chunks = app(environ, start_response)
    return answer["status"], json.loads(b"".join(chunks))


def test_floor_update_merges_a_key_into_stored_metadata(floor, project):
    conversation = services.conversation_create(
        project=project, actor=services.SYSTEM, metadata={"topic": "billing"}
    )
    body = json.dumps({"metadata": {"k3": "v"}}).encode()

    status, data = call(floor, "POST", f"/openai/v1/conversations/conv_{conversation.pk.hex}", body)

    assert status.startswith(str(HTTPStatus.OK.value))
    assert data == {
        "id": f"conv_{conversation.pk.hex}",
        "object": "conversation",
        "created_at": int(conversation.created_at.timestamp()),
        "metadata": {"topic": "billing", "k3": "v"},
    }
    conversation.refresh_from_db()
    assert conversation.metadata == {"topic": "billing", "k3": "v"}


def test_floor_rejects_a_body_without_a_metadata_object(floor, project):
    conversation = services.conversation_create(
        project=project, actor=services.SYSTEM, metadata={"topic": "billing"}
    )
    path = f"/openai/v1/conversations/conv_{conversation.pk.hex}"

    status, _ = call(floor, "POST", path, b'{"metadata": "k3"}')

    assert status.startswith(str(HTTPStatus.BAD_REQUEST.value))
    conversation.refresh_from_db()
    assert conversation.metadata == {"topic": "billing"}


def test_floor_answers_404_for_an_unknown_conversation(floor):
    status, data = call(
        floor, "POST", "/openai/v1/conversations/conv_" + "0" * 32, b'{"metadata": {}}'
    )

    assert status.startswith(str(HTTPStatus.NOT_FOUND.value))
    assert data == {"error": "not found"}


def test_floor_merge_removes_null_keys_and_refuses_a_seventeenth_pair(floor, project):
    conversation = services.conversation_create(
        project=project, actor=services.SYSTEM, metadata={f"k{i}": "v" for i in range(16)}
    )
    path = f"/telnyx/v2/ai/conversations/{conversation.pk}"

    status, data = call(floor, "PUT", path, json.dumps({"metadata": {"k0": None}}).encode())
    assert status.startswith("200") and "k0" not in data["metadata"]
    status, _ = call(floor, "PUT", path, json.dumps({"metadata": {"new": "1"}}).encode())
    assert status.startswith("200")
    status, data = call(floor, "PUT", path, json.dumps({"metadata": {"k17": "1"}}).encode())

    assert status.startswith(str(HTTPStatus.BAD_REQUEST.value)), data
    conversation.refresh_from_db()
    assert len(conversation.metadata) == 16 and "k17" not in conversation.metadata
    assert conversation.version == 3  # created at 1, two merges landed


def test_floor_patch_replaces_and_get_reads(floor, project):
    conversation = services.conversation_create(
        project=project, actor=services.SYSTEM, metadata={"a": "1"}
    )
    path = f"/agentphone/v1/conversations/conv_{conversation.pk.hex}"

    status, data = call(floor, "PATCH", path, json.dumps({"metadata": {"b": "2"}}).encode())
    assert status.startswith("200") and data["metadata"] == {"b": "2"}
    status, data = call(floor, "GET", f"/openai/v1/conversations/conv_{conversation.pk.hex}", b"")
    assert status.startswith("200") and data["metadata"] == {"b": "2"}
