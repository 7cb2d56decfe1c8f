"""``/healthz`` and ``/readyz``: JSON, no auth, and readiness failing when a dependency is down."""

import os

import httpx
import pytest
from django.test import override_settings

from conversations.ops.health import shipped_migrations

from .conftest import ROOT, VENV_BIN, Server, child_env, database_url_for_child, free_port

# PING reads and writes nothing, so any database number will do.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: pytest-django makes any database access raise here, so this also
    # proves the request id, metrics and log middleware run no query.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert response["x-request-id"].startswith("req_")


@pytest.mark.django_db
def test_readyz_reports_database_and_migrations(client, settings):
    settings.REDIS_URL = ""  # CI's PostgreSQL run sets one; this test is about its absence
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations"}  # no REDIS_URL: no redis check
    assert all(check["ok"] for check in body["checks"].values())
    assert ("conversations", "0001_initial") in shipped_migrations()


@pytest.mark.django_db
def test_readyz_pings_redis_when_configured(client):
    with override_settings(REDIS_URL=TEST_REDIS_URL):
        response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_readyz_fails_when_redis_is_unreachable(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["ok"] is True


def test_probes_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def _server(database_url: str, **env: str) -> Server:
    """gunicorn with the repository's gunicorn.conf.py, one worker (runserver would stop at
    its start-up migration check when the database is down)."""
    port = free_port()
    return Server(
        [
            str(VENV_BIN / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "convstore.wsgi",
        ],
        child_env(DATABASE_URL=database_url, **env),
        port,
    )


def test_readyz_fails_when_the_database_is_unreachable():
    """A server whose DATABASES points at a closed port: alive, but not ready."""
    server = _server(
        f"postgres://postgres@127.0.0.1:{free_port()}/convstore", CONVSTORE_METRICS_TOKEN="t"
    )
    try:
        assert httpx.get(server.url + "/healthz").status_code == 200
        response = httpx.get(server.url + "/readyz", timeout=30)
        scraped = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer t"})
    finally:
        server.stop()
    # /metrics still answers the process's own metrics; only the outbox gauges are missing.
    assert scraped.status_code == 200
    assert 'route="readyz"' in scraped.text
    assert "convstore_webhook_outbox_events" not in scraped.text
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["migrations"]["ok"] is False
    assert "127.0.0.1" not in response.text  # no host names for anonymous callers


def test_readyz_fails_until_migrations_are_applied(tmp_path):
    server = _server(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        response = httpx.get(server.url + "/readyz", timeout=30)
    finally:
        server.stop()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["migrations"] == {
        "ok": False,
        "error": "UnappliedMigrations",
        "ms": checks["migrations"]["ms"],
    }


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_on_the_migrated_test_database():
    server = _server(database_url_for_child())
    try:
        response = httpx.get(server.url + "/readyz", timeout=30)
    finally:
        server.stop()
    assert response.status_code == 200, response.text
