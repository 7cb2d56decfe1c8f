"""The write path's costs and the guarantees its shortcuts must keep.

- Database round trips per request, counted honestly on PostgreSQL from libpq's own protocol
  trace (every ``ReadyForQuery`` the server sends ends one round trip: ``BEGIN``, ``COMMIT``
  and any health-check query included), not from Django's query log.
- The fast write path (``conversations.services.fastwrite``) falls back to the locking path
  when the row moved between its read and its write, so no change is lost.
- The per-process API key cache lets a revoked key work at most
  ``CONVSTORE_API_KEY_CACHE_SECONDS`` (its clock stepped by the test, not slept).
- With per-request health checks off, a connection dropped between requests fails no
  request: it is found before the next request's first statement and replaced.
- API routes skip the admin-only middleware; the admin keeps it (sessions, CSRF).
- The hot statements are prepared once per connection and reused.
"""

import contextlib
import json
import tempfile
import threading
from http import HTTPStatus

import httpx
import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from conversations.models import ApiKey, Conversation, MetadataChange, WebhookEvent
from conversations.selectors import rows
from conversations.services import (
    Actor,
    MessageInput,
    api_key_authenticate,
    api_key_create,
    api_keys,
    conversation_create,
    conversation_metadata_merge,
    messages_create,
)
from conversations.webhooks.endpoints import webhook_endpoint_create
from tests.skips import needs_postgresql

CMD = Actor.for_command("tests")
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=needs_postgresql("counts protocol messages: libpq trace"),
)


@contextlib.contextmanager
def round_trips():
    """Count the round trips this thread's connection makes inside the block: yields a list
    that holds the count afterwards."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    counted: list[int] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield counted
        finally:
            pgconn.untrace()
            trace.seek(0)
            lines = trace.read().splitlines()
            counted.append(sum(1 for line in lines if "\tReadyForQuery\t" in line))


@pytest.fixture(autouse=True)
def allow_private_receivers(settings):
    """The endpoints here point at 127.0.0.1 (nothing delivers to them): lift the address
    rule, as tests/webhooks/conftest.py does."""
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def busy_conversation(project):
    """A conversation with messages and metadata, in a project with one subscribed webhook
    endpoint that wants history: the common case, not the cheapest one."""
    webhook_endpoint_create(project=project, url="http://127.0.0.1:9/hook", context_limit=10)
    conversation = conversation_create(
        project=project, actor=CMD, metadata={"customer": "Jane"}, phone_number="+15551234567"
    )
    messages_create(
        conversation=conversation,
        messages=[MessageInput(role="user", content=f"hello {n}") for n in range(3)],
    )
    return conversation


def send(client, method, path, key, body=None):
    data = json.dumps(body) if body is not None else None
    kwargs = {"content_type": "application/json"} if data is not None else {}
    return getattr(client, method)(path, data=data, HTTP_AUTHORIZATION=f"Bearer {key}", **kwargs)


UPDATES = [
    ("post", "/openai/v1/conversations/conv_{hex}", 3),
    ("put", "/telnyx/v2/ai/conversations/{uuid}", 3),
    # AgentPhone answers the conversation with its latest 50 messages: one more read.
    ("patch", "/agentphone/v1/conversations/conv_{hex}", 4),
]


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("method", "path", "budget"), UPDATES)
def test_an_update_costs_at_most_three_round_trips(
    client, api_key, busy_conversation, method, path, budget
):
    path = path.format(hex=busy_conversation.pk.hex, uuid=busy_conversation.pk)
    assert send(client, method, path, api_key, {"metadata": {"k": "warm"}}).status_code == 200
    events_before = WebhookEvent.objects.count()

    with round_trips() as counted:
        response = send(client, method, path, api_key, {"metadata": {"k": "v2"}})

    assert response.status_code == HTTPStatus.OK
    assert counted[0] <= budget, f"{counted[0]} round trips"
    stored = Conversation.objects.get(pk=busy_conversation.pk)
    assert stored.metadata["k"] == "v2"
    last = MetadataChange.objects.filter(conversation=stored).latest("id")
    assert last.after == stored.metadata and last.api_key is not None
    [event] = WebhookEvent.objects.order_by("-id")[: WebhookEvent.objects.count() - events_before]
    assert event.payload["conversationState"] == stored.metadata
    assert [h["content"] for h in event.payload["recentHistory"]] == [
        "hello 0",
        "hello 1",
        "hello 2",
    ]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_get_costs_one_round_trip(client, api_key, busy_conversation):
    path = f"/openai/v1/conversations/conv_{busy_conversation.pk.hex}"
    assert send(client, "get", path, api_key).status_code == 200
    with round_trips() as counted:
        response = send(client, "get", path, api_key)
    assert response.status_code == HTTPStatus.OK
    assert counted[0] == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_hot_statements_are_prepared_once_per_connection(client, api_key, busy_conversation):
    """PostgreSQL parses and plans the read and the write once per connection, then reuses
    them (``DB_PREPARED_STATEMENTS``, settings): each is prepared once and executed every
    time. Without a ``prepare_threshold`` on the connection psycopg ignored ``prepare=True``
    and both were parsed and planned on every request."""
    path = f"/openai/v1/conversations/conv_{busy_conversation.pk.hex}"
    for n in range(3):
        assert send(client, "post", path, api_key, {"metadata": {"k": f"{n}"}}).status_code == 200
        assert send(client, "get", path, api_key).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT split_part(statement, ' ', 1), generic_plans + custom_plans "
            "FROM pg_prepared_statements"
        )
        executions = sorted(cursor.fetchall())
    # The GET's read, the update's read (with the endpoints), the write: three statements.
    assert executions == [("SELECT", 3), ("SELECT", 3), ("WITH", 3)]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_hot_reads_reuse_one_cursor_per_connection(project):
    """``rows.fetchone`` keeps one psycopg cursor per connection (making one costs as much as
    the read); a reconnect gets a fresh cursor, and a failed statement leaves it usable."""
    conversation = conversation_create(project=project, actor=CMD, metadata={"k": "v"})

    def read():
        return rows.conversation_in_partition(conversation.pk, project.pk, "")

    assert read().metadata == {"k": "v"}
    first = rows.connection_cursor(connection)
    assert read().metadata == {"k": "v"}
    assert rows.connection_cursor(connection) is first

    with pytest.raises(DatabaseError):
        rows.fetchone("SELECT 1 / %s::integer", [0])
    assert read().metadata == {"k": "v"}  # autocommit: the failure ended with its statement

    connection.close()
    assert read().metadata == {"k": "v"}
    assert rows.connection_cursor(connection) is not first
    assert first.cursor.connection.closed  # the old cursor went with its connection


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_without_endpoints_or_messages_an_update_costs_two(client, api_key, project):
    conversation = conversation_create(project=project, actor=CMD)
    path = f"/openai/v1/conversations/conv_{conversation.pk.hex}"
    assert send(client, "post", path, api_key, {"metadata": {"k": "1"}}).status_code == 200
    with round_trips() as counted:
        assert send(client, "post", path, api_key, {"metadata": {"k": "2"}}).status_code == 200
    assert counted[0] == 2


@pytest.mark.django_db(transaction=True)
def test_a_write_that_loses_the_race_is_redone_on_the_new_row(project, settings):
    """Our write reads the row, a concurrent writer commits a change before our statement
    lands: the compare-and-swap misses and the locking path merges into the new row."""
    webhook_endpoint_create(project=project, url="http://127.0.0.1:9/hook", context_limit=0)
    conversation = conversation_create(project=project, actor=CMD, metadata={"a": "1"})
    holding, release = threading.Event(), threading.Event()
    failures = []

    def other_writer():
        try:
            with transaction.atomic():
                conversation_metadata_merge(
                    conversation=conversation.pk, patch={"b": "2"}, actor=CMD
                )
                holding.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            holding.set()
        finally:
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()  # commits while our write waits for the row

    result = conversation_metadata_merge(conversation=conversation.pk, patch={"c": "3"}, actor=CMD)
    thread.join(10)

    assert not failures
    assert result.metadata == {"a": "1", "b": "2", "c": "3"}
    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.metadata == result.metadata and stored.version == result.version
    merges = MetadataChange.objects.filter(conversation=conversation, action="merge")
    assert [c.after for c in merges.order_by("id")] == [
        {"a": "1", "b": "2"},
        {"a": "1", "b": "2", "c": "3"},
    ]
    states = [e.payload["conversationState"] for e in WebhookEvent.objects.order_by("id")]
    assert states == [{"a": "1"}, {"a": "1", "b": "2"}, {"a": "1", "b": "2", "c": "3"}]


def test_a_revoked_key_stops_working_within_the_cache_bound(project, settings, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(api_keys, "clock", lambda: now[0])  # stepped, not slept
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 0.5
    api_key, raw = api_key_create(project=project)
    assert api_key_authenticate(raw) == api_key  # now cached in this process
    # Revoked elsewhere (another worker, the admin of another process): no local eviction.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=api_key.created_at)
    now[0] += 0.49
    assert api_key_authenticate(raw) == api_key, "within the bound the cache answers"
    now[0] += 0.02
    assert api_key_authenticate(raw) is None


def test_a_wrong_key_is_never_cached(project, settings):
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 60
    api_key, raw = api_key_create(project=project)
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=api_key.created_at)
    assert api_key_authenticate(raw) is None
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=None)
    assert api_key_authenticate(raw) == api_key


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason=needs_postgresql("terminates a server process")
)
@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_between_requests_fails_no_request(live_server, api_key, project):
    """Health checks are off, yet the dead persistent connection is found before the next
    request's first statement (its socket is readable,
    ``conversations.database.guards.close_if_dropped``)
    and replaced: that request and the next answer 200, on a new server session."""
    conversation = conversation_create(project=project, actor=CMD, metadata={"a": "1"})
    url = f"{live_server.url}/openai/v1/conversations/conv_{conversation.pk.hex}"
    headers = {"Authorization": f"Bearer {api_key}"}
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = None  # persistent, as in production
    try:
        with httpx.Client() as session:
            assert session.get(url, headers=headers, timeout=10).status_code == 200
            with connection.cursor() as cursor:  # kill the server thread's connection
                cursor.execute(
                    "SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )
                killed = cursor.fetchall()
            statuses = [session.get(url, headers=headers, timeout=10).status_code for _ in "ab"]
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = saved
    assert killed and all(ended for _, ended in killed), killed
    assert statuses == [200, 200]


def test_api_routes_skip_the_admin_middleware(client, api_key, admin_client):
    response = client.get("/openai/v1/conversations/conv_" + "0" * 32, **auth(api_key))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "Set-Cookie" not in response  # no session middleware ran
    assert not hasattr(response.wsgi_request, "session")
    admin = admin_client.get("/admin/")
    assert admin.status_code == HTTPStatus.OK and admin["X-Frame-Options"] == "DENY"
    assert hasattr(admin.wsgi_request, "session") and admin.wsgi_request.user.is_staff


def test_the_admin_still_refuses_a_post_without_a_csrf_token(db, django_user_model):
    from django.test import Client

    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-12345678")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(boss)  # django-axes' backend needs a request, which login() has not
    response = browser.post("/admin/conversations/project/add/", {"name": "x"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def auth(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_a_check_on_the_row_read_refuses_before_anything_is_written(project):
    """The hook a conditional write (If-Match, expected version) uses on the fast path."""
    from conversations.services import fastwrite

    conversation = conversation_create(project=project, actor=CMD, metadata={"a": "1"})
    if not fastwrite.enabled("default"):
        pytest.skip(needs_postgresql("the fast write path"))

    def expect_version(row):
        if row.version != conversation.version + 1:
            raise ValueError(f"version is {row.version}")

    with pytest.raises(ValueError, match=f"version is {conversation.version}"):
        fastwrite.write(
            conversation=conversation.pk,
            scope=None,
            compute=lambda stored: {**stored, "b": "2"},
            action=lambda new: "merge",
            actor=CMD,
            check=expect_version,
        )
    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.metadata == {"a": "1"} and stored.version == conversation.version
