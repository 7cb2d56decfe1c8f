"""The reference deployment as a whole: races across the two app servers, nginx's body limit,
the client address nginx passes on, ``/metrics`` per app server, the streaming replica, the
delivery workers, and PgBouncer in transaction mode between the app and PostgreSQL.

The races send half their requests to each app server directly (``CONVSTORE_TEST_APP_URLS``),
so two processes that share nothing but PostgreSQL decide them.
"""

import http.server
import os
import threading
import time
import uuid
from http import HTTPStatus

import httpx
import openai
import psycopg
import psycopg.conninfo
import pytest

from .conftest import BASE_URL, DATABASE_URL, manage

MAX_BODY_BYTES = int(os.environ.get("CONVSTORE_TEST_MAX_BODY_BYTES", str(1024 * 1024)))
REPLICA_URL = os.environ.get("CONVSTORE_TEST_REPLICA_URL", "")


def run_together(count: int, work) -> list:
    """Run ``work(index)`` in ``count`` threads released at once; their results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_operator_key_from_create_api_key_works_through_nginx(operator_key):
    with httpx.Client(base_url=BASE_URL, headers={"Authorization": f"Bearer {operator_key}"}) as c:
        created = c.post("/openai/v1/conversations", json={"metadata": {"via": "nginx"}})
        assert created.status_code == HTTPStatus.OK, created.text
        fetched = c.get(f"/openai/v1/conversations/{created.json()['id']}")
    assert fetched.json()["metadata"] == {"via": "nginx"}


def test_if_match_race_across_two_app_servers_has_exactly_one_winner(http, api_key, app_urls):
    created = http.post("/openai/v1/conversations", json={"metadata": {"n": "0"}})
    conv_id, tag = created.json()["id"], created.headers["etag"]

    def update(index):
        with httpx.Client(
            base_url=app_urls[index % 2], headers={"Authorization": f"Bearer {api_key}"},
            timeout=60,
        ) as client:  # fmt: skip
            response = client.post(
                f"/openai/v1/conversations/{conv_id}",
                json={"metadata": {"n": str(index + 1)}},
                headers={"If-Match": tag},
            )
            return response.status_code, response.json()

    answers = run_together(8, update)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [HTTPStatus.OK] + [HTTPStatus.PRECONDITION_FAILED] * 7
    winner = next(body for status, body in answers if status == HTTPStatus.OK)
    final = http.get(f"/openai/v1/conversations/{conv_id}")
    assert final.json()["metadata"] == winner["metadata"]
    assert final.headers["etag"] != tag


def test_idempotency_key_race_across_two_app_servers_creates_one_conversation(
    http, api_key, app_urls
):
    key = f"race-{uuid.uuid4().hex}"

    def create(index):
        # The SDK retries a 409 (the first request still running) after its Retry-After.
        client = openai.OpenAI(
            base_url=f"{app_urls[index % 2]}/openai/v1", api_key=api_key, max_retries=8
        )
        return client.conversations.with_raw_response.create(
            metadata={"who": "everyone"}, extra_headers={"Idempotency-Key": key}
        ).http_response.json()

    bodies = run_together(8, create)
    assert len({body["id"] for body in bodies}) == 1
    listed = http.get("/telnyx/v2/ai/conversations").json()["data"]
    assert len(listed) == 1  # this test's project has one conversation


def test_nginx_refuses_a_body_over_the_apps_limit_and_passes_one_at_it(http):
    body = b'{"metadata": {"size": "limit"}}'
    at_limit = body + b" " * (MAX_BODY_BYTES - len(body))
    headers = {"Content-Type": "application/json"}
    accepted = http.post("/openai/v1/conversations", content=at_limit, headers=headers)
    assert accepted.status_code == HTTPStatus.OK, accepted.text
    refused = http.post("/openai/v1/conversations", content=at_limit + b" ", headers=headers)
    assert refused.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert refused.headers["server"] == "nginx"  # refused before any app server read it


@pytest.mark.skipif(not REPLICA_URL, reason="CONVSTORE_TEST_REPLICA_URL not set")
def test_the_replica_streams_what_the_app_writes(http):
    created = http.post("/openai/v1/conversations", json={"metadata": {"on": "primary"}})
    conv_id = created.json()["id"].removeprefix("conv_")
    with psycopg.connect(REPLICA_URL, autocommit=True) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        deadline = time.monotonic() + 30  # a failure timeout, not a measured bound
        while time.monotonic() < deadline:
            row = replica.execute(
                "SELECT metadata FROM conversations_conversation WHERE id = %s", (conv_id,)
            ).fetchone()
            if row:
                break
            time.sleep(0.05)
    assert row == ({"on": "primary"},)


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on a free loopback port recording each POST's headers."""

    def __init__(self):
        self.received: list[dict[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"


def test_two_delivery_workers_deliver_every_event_through_pgbouncer(http, project_and_key):
    receiver = Receiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        project, _ = project_and_key
        # The stack allows receivers on loopback (CONVSTORE_WEBHOOK_ALLOW_PRIVATE), as here.
        manage("create_webhook", "--project", project, "--url", receiver.url,
               "--events", "agent.conversation_updated",
               CONVSTORE_WEBHOOK_ALLOW_PRIVATE="1")  # fmt: skip
        ids = [
            http.post("/openai/v1/conversations", json={}).json()["id"] for _ in range(10)
        ]
        for round_ in range(2):
            for conv_id in ids:
                answer = http.post(
                    f"/openai/v1/conversations/{conv_id}", json={"metadata": {"r": str(round_)}}
                )
                assert answer.status_code == HTTPStatus.OK
        deadline = time.monotonic() + 60  # a failure timeout (workers poll every 2 s)
        while time.monotonic() < deadline:
            if len({h["X-Webhook-ID"] for h in receiver.received}) >= 20:
                break
            time.sleep(0.1)
    finally:
        receiver.shutdown()
    delivered = {h["X-Webhook-ID"] for h in receiver.received}
    assert len(delivered) == 20  # one event per update, none lost (at least once)
    assert {h["X-Webhook-Event"] for h in receiver.received} == {"agent.conversation_updated"}


def from_address(local_address: str, **headers: str) -> httpx.Client:
    """A client whose connections to nginx come from ``local_address`` (any 127.x.y.z is
    loopback on Linux), so nginx sees a client other than 127.0.0.1."""
    return httpx.Client(
        base_url=BASE_URL,
        transport=httpx.HTTPTransport(local_address=local_address),
        headers=headers,
        timeout=30,
    )


def test_the_app_counts_failed_logins_by_the_address_nginx_saw_not_a_forged_one():
    """nginx sets ``X-Forwarded-For`` to the peer's address (``CONVSTORE_PROXY_COUNT=1``):
    an attacker's failed logins are counted against its own address, whatever address it
    writes in the header, and the address it forges is not locked out."""
    octets = uuid.uuid4().bytes
    attacker, bystander = f"127.{octets[0]}.{octets[1]}.2", f"127.{octets[0]}.{octets[1]}.3"
    wrong = {"Authorization": "Bearer cs_wrong"}
    url = "/openai/v1/conversations/conv_" + "0" * 32
    with from_address(attacker, **wrong, **{"X-Forwarded-For": bystander}) as client:
        # 20 failures a minute per address (CONVSTORE_AUTH_FAILURE_LIMIT); 41 attempts cover
        # a window that turns over during the loop.
        statuses = []
        while HTTPStatus.TOO_MANY_REQUESTS not in statuses and len(statuses) < 41:
            statuses.append(client.get(url).status_code)
    assert statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS
    assert set(statuses[:-1]) == {HTTPStatus.UNAUTHORIZED}
    # Locked out by its own address: forging yet another one does not help.
    elsewhere = f"127.{octets[0]}.{octets[1]}.4"
    with from_address(attacker, **wrong, **{"X-Forwarded-For": elsewhere}) as client:
        assert client.get(url).status_code == HTTPStatus.TOO_MANY_REQUESTS
    # The forged address was never counted (its owner's header is the same, and true).
    with from_address(bystander, **wrong, **{"X-Forwarded-For": bystander}) as client:
        assert client.get(url).status_code == HTTPStatus.UNAUTHORIZED


def test_metrics_are_not_served_through_nginx_but_by_each_app_server(app_urls):
    with from_address("127.0.0.1") as client:
        through_nginx = client.get("/metrics")
    assert through_nginx.status_code == HTTPStatus.FORBIDDEN
    assert through_nginx.headers["server"] == "nginx"
    for url in app_urls:  # Prometheus' targets, scraped from an allowed address
        scraped = httpx.get(f"{url}/metrics", timeout=30)
        assert scraped.status_code == HTTPStatus.OK
        assert "convstore_http_requests_total" in scraped.text


def test_the_app_servers_reach_postgresql_through_pgbouncer_in_transaction_mode(app_urls):
    for url in app_urls:  # each app server makes at least one database connection
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == HTTPStatus.OK
    database = psycopg.conninfo.conninfo_to_dict(DATABASE_URL)
    admin = psycopg.conninfo.make_conninfo(DATABASE_URL, dbname="pgbouncer")
    with psycopg.connect(admin, autocommit=True) as pgbouncer:  # its admin console
        cursor = pgbouncer.execute("SHOW POOLS")
        names = [column.name for column in cursor.description]
        pools = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    pool = pools[database["dbname"]]
    assert pool["pool_mode"] == "transaction"
    assert pool["cl_active"] >= len(app_urls)  # the app servers' persistent connections
