"""The development server (``make run``: ``runserver`` with ``DEBUG=1``) logs one line per
request, convstore's own, whatever the answer (200, 301, 401, 404)."""

import sys

import httpx
import pytest

from tests.ops.conftest import Server, child_env, database_url_for_child, free_port


@pytest.mark.django_db
def test_runserver_writes_one_line_per_request():
    port = free_port()
    server = Server(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        child_env(DEBUG="1", DATABASE_URL=database_url_for_child()),
        port,
    )
    try:
        statuses = [
            httpx.get(server.url + path, timeout=30).status_code
            for path in ("/docs/", "/admin", "/nowhere", "/openai/v1/conversations")
        ]
    finally:
        _, _, err = server.stop()
    assert statuses == [200, 301, 404, 401]
    lines = err.splitlines()
    # The readiness probe's request, then the four above: each one line, convstore's.
    assert len(lines) == 5, err
    assert all(" convstore.request request " in line for line in lines), err
    assert [line.split(" status=")[1].split()[0] for line in lines[1:]] == [
        "200", "301", "404", "401"
    ]  # fmt: skip
