"""``gunicorn.conf.py`` serves convstore: health, shared metrics, JSON logs, graceful stop."""

import json

import httpx
import pytest

from .conftest import ROOT, VENV_BIN, Server, child_env, database_url_for_child, free_port

TOKEN = "gunicorn-metrics-token"


def requests_counted(scraped: str, route: str) -> float:
    """``convstore_http_requests_total`` for 200 answers on ``route`` in a ``/metrics`` text."""
    line = next(
        line
        for line in scraped.splitlines()
        if line.startswith("convstore_http_requests_total{")
        and f'route="{route}"' in line
        and 'status="200"' in line
    )
    return float(line.rsplit(" ", 1)[1])


def production_server(metrics_dir, **env: str) -> Server:
    """gunicorn under the repository's ``gunicorn.conf.py`` on the test database, metrics
    behind :data:`TOKEN` in ``metrics_dir``; ``env`` adds ``GUNICORN_*`` and other settings."""
    port = free_port()
    return Server(
        [
            str(VENV_BIN / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "convstore.wsgi",
        ],
        child_env(
            DATABASE_URL=database_url_for_child(),
            CONVSTORE_METRICS_TOKEN=TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            **env,
        ),
        port,
    )


@pytest.mark.django_db(transaction=True)
def test_gunicorn_conf_serves_healthz_and_stops_gracefully(tmp_path):
    metrics_dir = tmp_path / "metrics"
    server = production_server(metrics_dir, GUNICORN_WORKERS="2", LOG_FORMAT="json")
    try:
        with httpx.Client(base_url=server.url) as http:
            for _ in range(6):
                response = http.get("/healthz")
                assert response.status_code == 200
                assert response.json() == {"status": "ok"}
            assert http.get("/readyz").status_code == 200
            scraped = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        code, _, stderr = server.stop()
    assert scraped.status_code == 200
    # Multiprocess mode: the scrape counts every worker's requests (the probes above,
    # 7 or more with the one waiting for start-up), whichever worker answered it.
    assert requests_counted(scraped.text, "healthz") >= 7
    assert list(metrics_dir.iterdir())  # the workers wrote their counters there
    assert code == 0  # SIGTERM: graceful shutdown, clean exit
    assert "Shutting down: Master" in stderr
    requests = [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and '"convstore.request"' in line
    ]
    assert any(r["route"] == "readyz" and r["status"] == 200 for r in requests)
    assert len({r["request_id"] for r in requests}) == len(requests)


@pytest.mark.django_db(transaction=True)
def test_recycled_workers_of_the_preloaded_app_keep_serving_and_counting(tmp_path):
    """The production settings preload the app and recycle workers: a worker recycled
    every 4 requests forks from the loaded master and answers at once, and the shared
    metrics still count every request whichever worker (dead or alive) served it."""
    server = production_server(
        tmp_path / "metrics",
        GUNICORN_WORKERS="1",
        GUNICORN_MAX_REQUESTS="4",
        GUNICORN_MAX_REQUESTS_JITTER="0",
    )
    try:
        with httpx.Client(base_url=server.url) as http:
            answers = [http.get("/readyz").status_code for _ in range(14)]
            scraped = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        code, _, stderr = server.stop()
    assert answers == [200] * 14  # readyz queries the database from each new worker
    assert stderr.count("Booting worker with pid") >= 4  # recycled at least 3 times
    assert requests_counted(scraped.text, "readyz") >= 14
    assert code == 0


def test_production_settings_preload_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # else the file sets one
    for name in ("GUNICORN_PRELOAD_APP", "GUNICORN_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)  # the defaults, not this shell's
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own file
    assert settings["preload_app"] is True
    assert settings["max_requests"] == 2000


def test_production_settings_bind_to_loopback_by_default(monkeypatch, tmp_path):
    """gunicorn must not face the internet (slow clients hold its threads): by default it
    listens on loopback, for a reverse proxy on the same machine (docs/deployment.md)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own file
    assert settings["bind"] == "127.0.0.1:8000"
