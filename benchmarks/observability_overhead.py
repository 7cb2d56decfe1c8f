"""What the metrics and request-log middleware costs per request, in microseconds.

Runs Django in this process (no server, no network) and times ``GET /healthz`` (no database)
and an authenticated OpenAI ``GET /openai/v1/conversations/{id}`` (a key lookup and a read)
through the full middleware stack, alternating rounds with and without
``conversations.ops.observability.RequestObservabilityMiddleware``. The request log is written
as JSON to ``/dev/null`` (formatting and the write are paid, the terminal is not).

    .venv/bin/python benchmarks/observability_overhead.py [--requests 3000] [--rounds 3]

Prints one line per path: median µs/request without and with the middleware, and the
difference. Uses a throwaway SQLite file; set DATABASE_URL to measure on PostgreSQL (the
script creates its tables with ``migrate`` and leaves the data there). Production settings
(``DEBUG`` off) over plain HTTP, the rate limiter at a limit the rounds never reach.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness.db import new_api_key, setup_django  # noqa: E402
from benchmarks.harness.env import production_env, use_env  # noqa: E402

MIDDLEWARE = "conversations.ops.observability.RequestObservabilityMiddleware"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per round and path")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per setting")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    # Production settings over plain HTTP; the rate limiter (counting in this process unless
    # REDIS_URL is set) at a limit the rounds never reach (the default 100/s answers 429).
    limit = os.environ.get("CONVSTORE_RATE_LIMIT", "1000000/s")
    use_env(production_env(url, LOG_FORMAT="json", CONVSTORE_RATE_LIMIT=limit))
    setup_django()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    from conversations.ops.observability import JsonLineFormatter
    from conversations.services import Actor, conversation_create, project_get_or_create

    project = project_get_or_create(name="bench")
    key = new_api_key(project, "bench")
    conversation = conversation_create(
        project=project, actor=Actor.for_command("bench"), metadata={"k": "v"}
    )
    devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the run
    handler = logging.StreamHandler(devnull)
    handler.setFormatter(JsonLineFormatter())
    log = logging.getLogger("convstore.request")
    log.handlers = [handler]

    with_mw = list(settings.MIDDLEWARE)
    without_mw = [m for m in with_mw if m != MIDDLEWARE]
    paths = {
        "GET /healthz": ("/healthz", {}),
        "GET /openai/v1/conversations/{id}": (
            f"/openai/v1/conversations/conv_{conversation.pk.hex}",
            {"Authorization": f"Bearer {key}"},
        ),
    }
    isolated(args.requests * 5)
    for label, (path, headers) in paths.items():
        timings: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(args.rounds):
            for name, middleware in (("without", without_mw), ("with", with_mw)):
                with override_settings(MIDDLEWARE=middleware):
                    client = Client()
                    for _ in range(50):  # warm-up
                        client.get(path, headers=headers)
                    start = time.perf_counter()
                    for _ in range(args.requests):
                        response = client.get(path, headers=headers)
                    elapsed = time.perf_counter() - start
                    assert response.status_code == 200, response.content
                    timings[name].append(elapsed / args.requests * 1e6)
        without = statistics.median(timings["without"])
        with_ = statistics.median(timings["with"])
        print(
            f"{label:40s} without {without:8.1f} µs/req   with {with_:8.1f} µs/req   "
            f"middleware {with_ - without:+7.1f} µs/req ({(with_ / without - 1) * 100:+.1f}%)"
        )


def isolated(requests: int) -> None:
    """The middleware alone around a view that does nothing, beside ``json.dumps`` of the
    log line's fields as a yardstick of how fast this machine is right now."""
    import json

    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from conversations.ops.observability import RequestObservabilityMiddleware

    match = resolve("/healthz")

    def view(request):
        request.resolver_match = match
        return HttpResponse(b"ok")

    request = RequestFactory().get("/healthz")
    request.request_id = "req_" + "0" * 32
    middleware = RequestObservabilityMiddleware(view)
    fields = {
        "request_id": request.request_id,
        "method": "GET",
        "format": "ops",
        "route": "healthz",
        "status": 200,
        "duration_ms": 1.0,
        "db_ms": 0.0,
        "db_queries": 0,
        "project": None,
    }
    log = logging.getLogger("convstore.request")

    def per_call(fn) -> float:
        start = time.perf_counter()
        for _ in range(requests):
            fn()
        return (time.perf_counter() - start) / requests * 1e6

    bare = per_call(lambda: view(request))
    full = per_call(lambda: middleware(request))
    level = log.level
    log.setLevel(logging.WARNING)
    quiet = per_call(lambda: middleware(request))
    log.setLevel(level)
    yardstick = per_call(lambda: json.dumps(fields))
    print(
        f"{'middleware alone (no-op view)':40s} metrics {quiet - bare:6.1f} µs/req   "
        f"metrics + JSON log line {full - bare:6.1f} µs/req   "
        f"(json.dumps of the line's fields: {yardstick:.1f} µs)"
    )


if __name__ == "__main__":
    main()
