"""A slow or vanished database answers 503 with ``Retry-After`` in the caller's format.

- Statement timeout (PostgreSQL): API requests run with ``statement_timeout =
  CONVSTORE_STATEMENT_TIMEOUT_MS``. Tested with a request that waits for a row another
  connection holds locked, and with an expensive real filter under a tiny timeout.
- Dropped connections: a live gunicorn under load has its backends killed with
  ``pg_terminate_backend``; every answer is a 200 or a format-shaped 503 with Retry-After, the
  next requests succeed, and the ``openai`` SDK's retry of such a 503 succeeds.

Before: no statement timeout existed, and a dropped connection answered Django's HTML 500.
"""

import json
import threading

import openai
import psycopg
import pytest
from django.db import connection

from conversations.domain.ids import prefixed
from conversations.domain.metadata import MAX_VALUE_LENGTH
from conversations.formats.telnyx.filters import MAX_METADATA_CONDITIONS
from conversations.models import Conversation
from conversations.services import SYSTEM, conversation_create
from tests.skips import needs_postgresql

from .routes import assert_error_shape, auth_headers, fill
from .servers import APPLICATION_NAME, gunicorn, request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=needs_postgresql("statement_timeout and pg_terminate_backend"),
    ),
]

# Writes that lock the conversation row: (format, method, path template, body).
LOCKING_WRITES = [
    ("openai", "POST", "/openai/v1/conversations/{conv}", {"metadata": {"k": "v"}}),
    ("azure", "POST", "/azure/openai/v1/conversations/{conv}/items",
     {"items": [{"role": "user", "content": "hi"}]}),
    ("telnyx", "PUT", "/telnyx/v2/ai/conversations/{uuid}", {"metadata": {"k": "v"}}),
    ("telnyx", "POST", "/telnyx/v2/ai/conversations/{uuid}/message",
     {"role": "user", "content": "hi"}),
    ("agentphone", "PATCH", "/agentphone/v1/conversations/{conv}", {"metadata": {"k": "v"}}),
]  # fmt: skip


def raw_connection():
    """A second PostgreSQL session on the test database (not Django's)."""
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"] or "postgres",
        dbname=s["NAME"],
    )  # fmt: skip


@pytest.fixture
def locked_row(project):
    """A committed conversation whose row another session holds ``FOR UPDATE``.

    A request that did not time out would wait for ever: the lock is released after 10 s,
    so that such a failure shows as a 200 (and a changed row), not a hung test.
    """
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    locker = raw_connection()
    locker.execute(
        "SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE", [conversation.id]
    )
    release = threading.Timer(10, locker.rollback)
    release.start()
    yield conversation
    release.cancel()
    locker.rollback()
    locker.close()


@pytest.fixture
def tiny_timeout(settings):
    settings.CONVSTORE_STATEMENT_TIMEOUT_MS = 300
    yield
    connection.close()  # the next test's connection starts with the server's default


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_api_requests_run_under_the_statement_timeout_and_commands_do_not(
    client, api_key, tiny_timeout
):
    assert statement_timeout() == "0"  # what a command (or any non-API code) runs with
    response = client.get(
        f"/openai/v1/conversations/conv_{'a' * 32}", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert response.status_code == 404
    assert statement_timeout() == "300ms"


def django_headers(fmt, key):
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in auth_headers(fmt, key).items()}


@pytest.mark.parametrize(("fmt", "method", "template", "body"), LOCKING_WRITES)
def test_a_request_waiting_on_a_lock_times_out_with_503(
    client, api_key, locked_row, tiny_timeout, fmt, method, template, body
):
    response = client.generic(
        method, fill(template, locked_row), json.dumps(body), content_type="application/json",
        **django_headers(fmt, api_key),
    )  # fmt: skip
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert_error_shape(fmt, 503, response.json())
    assert "300 ms" in response.content.decode()
    locked_row.refresh_from_db()
    assert locked_row.metadata == {"keep": "me"}


def test_an_expensive_filter_times_out_with_503_in_telnyx_shape(
    client, api_key, project, settings, tiny_timeout
):
    n = MAX_METADATA_CONDITIONS  # as many metadata conditions as one request may hold
    # Every row holds every key the conditions name, at the longest value a pair may hold,
    # so that each of the n conditions scans a whole value on every row: tens of
    # milliseconds in all, whatever plan is chosen, far past the 1 ms timeout below.
    value = ("ab" * MAX_VALUE_LENGTH)[:MAX_VALUE_LENGTH]
    rows = [
        Conversation(project=project, metadata={f"k{j}": value for j in range(n)})
        for _ in range(3000)
    ]
    Conversation.objects.bulk_create(rows)
    settings.CONVSTORE_STATEMENT_TIMEOUT_MS = 1
    conditions = ",".join(f"metadata->k{i}.ilike.*a*a*a*a*a*a*c" for i in range(n))
    response = client.get(
        "/telnyx/v2/ai/conversations", {"or": f"({conditions})"},
        **django_headers("telnyx", api_key),
    )  # fmt: skip
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "1"
    assert_error_shape("telnyx", 503, response.json())
    # The same request with the default timeout completes.
    settings.CONVSTORE_STATEMENT_TIMEOUT_MS = 5000
    response = client.get(
        "/telnyx/v2/ai/conversations", {"or": f"({conditions})"},
        **django_headers("telnyx", api_key),
    )  # fmt: skip
    assert response.status_code == 200


def terminate_server_backends() -> int:
    """Kill every PostgreSQL session of the test gunicorn; returns how many."""
    with raw_connection() as admin:
        admin.autocommit = True
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [APPLICATION_NAME],
        ).fetchall()
    return len(rows)


@pytest.fixture
def server(project):
    with gunicorn(workers=2, threads=4) as address:
        yield address


LOAD_ROUTES = [
    ("openai", "POST", "/openai/v1/conversations/{conv}", lambda i: {"metadata": {"n": str(i)}}),
    ("openai", "GET", "/openai/v1/conversations/{conv}/items", None),
    ("azure", "GET", "/azure/openai/v1/conversations/{conv}", None),
    ("telnyx", "PUT", "/telnyx/v2/ai/conversations/{uuid}", lambda i: {"metadata": {"n": str(i)}}),
    ("telnyx", "GET", "/telnyx/v2/ai/conversations?metadata->keep=eq.me", None),
    ("agentphone", "GET", "/agentphone/v1/conversations/{conv}", None),
    ("agentphone", "PATCH", "/agentphone/v1/conversations/{conv}",
     lambda i: {"metadata": {"n": str(i)}}),
]  # fmt: skip


def wait_for_lock_waiter() -> int:
    """The pid of the test server's session that waits for a row lock (polls up to 10 s)."""
    with raw_connection() as watcher:
        watcher.autocommit = True
        for _ in range(200):
            waiting = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                [APPLICATION_NAME],
            ).fetchall()
            if waiting:
                return waiting[0][0]
            threading.Event().wait(0.05)
    raise AssertionError("the request never waited for the lock")


def test_dropped_connections_under_load_answer_503_and_recover(server, project, api_key):
    """Six clients loop over the routes while every server session is terminated, ten
    times; one request is caught mid-statement for sure (waiting on a row lock when its
    session is ended), so at least that one must answer the format's 503."""
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    held = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    answers, failures = [], []
    stop, warmed = threading.Event(), threading.Event()

    def client_loop(worker: int):
        i = 0
        while not stop.is_set() and i < 400:
            fmt, method, template, make_body = LOAD_ROUTES[(worker + i) % len(LOAD_ROUTES)]
            body = json.dumps(make_body(i)).encode() if make_body else None
            try:
                status, headers, payload = request(
                    *server, method, fill(template, conversation), body=body,
                    headers=auth_headers(fmt, api_key), timeout=20,
                )  # fmt: skip
            except Exception as exc:  # a transport failure is a failure too
                failures.append(repr(exc))
                break
            answers.append((fmt, status, headers, payload))
            if len(answers) >= 30:
                warmed.set()
            i += 1

    caught = {}

    def caught_mid_statement():
        caught["answer"] = request(
            *server, "POST", fill("/openai/v1/conversations/{conv}", held),
            body=b'{"metadata": {"k": "v"}}', headers=auth_headers("openai", api_key),
            timeout=20,
        )  # fmt: skip

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    assert warmed.wait(60), "the clients never got going"  # requests in flight
    answered_before = len(answers)
    locker = raw_connection()
    locker.execute("SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE", [held.id])
    blocked = threading.Thread(target=caught_mid_statement)
    blocked.start()
    try:
        wait_for_lock_waiter()
        killed = 0
        pause = threading.Event()
        for _ in range(10):
            killed += terminate_server_backends()
            pause.wait(0.3)
        blocked.join(timeout=30)
    finally:
        locker.rollback()
        locker.close()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert killed > 0
    status, headers, payload = caught["answer"]
    assert status == 503, payload
    assert headers.get("Retry-After") == "1", headers
    assert_error_shape("openai", 503, payload)
    assert len(answers) > answered_before + 10  # requests went on while backends were killed
    statuses = {status for _, status, _, _ in answers}
    assert statuses <= {200, 503}, statuses
    unavailable = [a for a in answers if a[1] == 503]
    for fmt, status, headers, payload in unavailable:
        assert headers.get("Retry-After") == "1", headers
        assert_error_shape(fmt, status, payload)
    # Recovery: the next request of every route succeeds.
    for fmt, method, template, make_body in LOAD_ROUTES:
        body = json.dumps(make_body(0)).encode() if make_body else None
        status, _, payload = request(
            *server, method, fill(template, conversation), body=body,
            headers=auth_headers(fmt, api_key),
        )  # fmt: skip
        assert status == 200, (template, payload)
    held.refresh_from_db()
    assert held.metadata == {"keep": "me"}  # the caught write was not applied
    print(f"{len(answers)} answers, {len(unavailable)} 503s, {killed} backends terminated")


def test_openai_sdk_retries_a_dropped_connection_and_succeeds(server, project, api_key):
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    host, port = server
    client = openai.OpenAI(
        base_url=f"http://{host}:{port}/openai/v1", api_key=api_key, max_retries=2
    )
    locker = raw_connection()
    locker.execute(
        "SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE", [conversation.id]
    )
    result = {}

    def update():
        result["raw"] = client.conversations.with_raw_response.update(
            prefixed(conversation.id, "conv"), metadata={"k": "v"}
        )

    thread = threading.Thread(target=update)
    thread.start()
    try:
        # Wait until the server's session waits for our lock, then kill it mid-request.
        pid = wait_for_lock_waiter()
        with raw_connection() as watcher:
            watcher.autocommit = True
            watcher.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        locker.rollback()
        locker.close()
    thread.join(timeout=30)
    raw = result["raw"]
    assert raw.retries_taken >= 1
    assert raw.parse().metadata == {"keep": "me", "k": "v"}


def test_unwrapped_driver_errors_count_as_database_failures():
    """Closing a server-side cursor on a dropped connection raises psycopg's own error, not
    Django's wrapper (seen as a 500 under the load test above)."""
    from conversations.database.guards import database_failure

    assert database_failure(psycopg.OperationalError("consuming input failed")) == "unavailable"
    assert database_failure(psycopg.errors.QueryCanceled("canceling statement")) == "timeout"
    assert database_failure(psycopg.errors.UniqueViolation("duplicate")) is None
    assert database_failure(ValueError("not the database")) is None
