#!/usr/bin/env python
"""Where one request's CPU goes: convstore's hot routes called in one process, stage by stage.

``update_throughput.py`` says how fast the servers are under load; this script says why, with
no HTTP server, no load generator and no other process competing for the cores. It calls the
WSGI application (``convstore.wsgi``, production settings, the rate limiter counting in Redis,
one subscribed webhook endpoint: the same set-up as ``update_throughput.py``) ``--requests``
times per scenario, each request a distinct write, and prints the CPU time (user + system,
``time.process_time``) per request of the whole request and of each stage (inclusive: a stage
contains the ones indented under it):

- ``Django``: the WSGI handler and every middleware (request id, observability: metrics and
  the log line, security headers, …), i.e. the whole request minus the view;
- ``DRF dispatch``: the DRF view, of which ``auth + limits`` (key authentication, the rate
  limiter's Redis round trip as ``rate limiter``) and ``service`` (the domain core's call:
  merge, replace or read, of which ``database client``: psycopg's side of the statements);
- ``PostgreSQL backend`` and ``Redis``: CPU spent by the server processes for these requests
  (Linux ``/proc``; Redis counts every client, so run it on an otherwise idle machine).

Beside them, the same requests against ``benchmarks/django_bare_app.py`` (convstore's
settings and middleware, one bare view; in a child process): the framework's own share; and
against the floor (``benchmarks/floor_app.py``, in this process, on the other pool of
conversations): its CPU and its PostgreSQL backend's, so ``machine CPU`` (process +
PostgreSQL + Redis) compares what one request costs the whole machine. When the cores are
the limit, throughput goes as its inverse.

The stages are timed by wrapping those functions for the run (about 1 µs per call is added
to the whole). Figures vary ±20% between runs on the development machine; compare stages
within one run. Usage::

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/convstore_bench \\
        .venv/bin/python benchmarks/request_cpu.py [--requests 3000] [--scenarios openai,get]
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness.db import open_database  # noqa: E402
from benchmarks.harness.env import rate_limiter_env  # noqa: E402
from benchmarks.harness.procfs import process_cpu, redis_cpu  # noqa: E402
from benchmarks.harness.report import where  # noqa: E402
from benchmarks.throughput.scenarios import SCENARIOS, prepare_data  # noqa: E402

#: ``(label, module, attribute path)``: the stages, in print order (see module docstring).
STAGES = (
    ("whole request", "django.core.handlers.wsgi", "WSGIHandler.__call__"),
    ("  DRF dispatch", "rest_framework.views", "APIView.dispatch"),
    ("    auth + limits", "conversations.formats.base", "FormatViewMixin.perform_authentication"),
    ("      rate limiter", "conversations.http.ratelimit", "check_request"),
    ("    service (merge)", "conversations.services", "conversation_metadata_merge"),
    ("    service (replace)", "conversations.services", "conversation_metadata_replace"),
    ("    service (read)", "conversations.formats.base", "conversation_get"),
    ("      database client", "conversations.selectors.rows", "fetchone"),
)


def _timed(label: str, function, spent: collections.Counter):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - start

    return wrapper


def instrument(spent: collections.Counter) -> None:
    """Wrap every :data:`STAGES` function so its inclusive CPU time adds up in ``spent``."""
    for label, module_name, path in STAGES:
        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, _timed(label, getattr(owner, name), spent))


def environ(method: str, path: str, body: bytes, key: str) -> dict:
    """A WSGI environ as gunicorn builds it for one API request."""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }


def caller(application, scenario: str, ids: list[str], key: str):
    """``call(n)``: the n-th request of ``scenario`` (a distinct value per request); raises
    ``AssertionError`` on an answer other than 200."""
    method, prefix, kind, _ = SCENARIOS[scenario]

    def call(n: int) -> None:
        body = b""
        if kind == "merge":
            body = json.dumps({"metadata": {f"k{n % 8}": f"cpu-{scenario}-{n}"}}).encode()
        status = []
        answer = application(
            environ(method, prefix + ids[n % len(ids)], body, key),
            lambda line, headers, *exc: status.append(line),
        )
        b"".join(answer)
        if hasattr(answer, "close"):  # PEP 3333: the server calls it when there is one
            answer.close()
        assert status[0].startswith("200"), (scenario, status, n)

    return call


def measure_bare(scenarios: list[str], requests: int) -> dict[str, float]:
    """CPU ms per request of ``django_bare_app`` for each scenario, from a child process (its
    URLconf replaces convstore's, so it cannot share this one)."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--bare",
            "--requests",
            str(requests),
            "--scenarios",
            ",".join(scenarios),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bare_main(args: argparse.Namespace) -> int:
    """``--bare``: time the bare Django app and print ``{scenario: CPU ms}`` as JSON."""
    from benchmarks.django_bare_app import application

    out = {}
    for scenario in args.scenarios:
        call = caller(application, scenario, ["conv_0"], "none")
        for n in range(200):
            call(n)
        start = time.process_time()
        for n in range(args.requests):
            call(n)
        out[scenario] = (time.process_time() - start) / args.requests * 1000
    print(json.dumps(out))
    return 0


def measure_floor(scenario: str, ids: list[str], requests: int) -> tuple[float, float]:
    """``(process CPU ms, PostgreSQL backend CPU ms)`` per request of the floor app."""
    from benchmarks.floor_app import FloorApp

    app = FloorApp(os.environ["DATABASE_URL"])
    try:
        call = caller(app, scenario, ids, "none")
        for n in range(200):
            call(n)
        backend = app.connection().info.backend_pid
        db_before, start = process_cpu(backend), time.process_time()
        for n in range(200, 200 + requests):
            call(n)
        whole = time.process_time() - start
        return whole / requests * 1000, (process_cpu(backend) - db_before) / requests * 1000
    finally:
        app.close()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="per scenario (3000)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="subset, comma-separated")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    args.scenarios = args.scenarios.split(",")
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown or args.requests < 1:
        parser.error(f"unknown scenarios {sorted(unknown)}" if unknown else "--requests >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.bare:
        return bare_main(args)
    url, _ = open_database(LOG_FORMAT="json", **rate_limiter_env())
    key, ids, floor_ids = prepare_data(8)
    bare = measure_bare(args.scenarios, args.requests)

    from django.db import connection

    application = importlib.import_module("convstore.wsgi").application
    logging_off = open(os.devnull, "w")  # noqa: SIM115 - the request log, as to a file
    import logging

    for handler in logging.getLogger().handlers + logging.getLogger("convstore").handlers:
        if hasattr(handler, "setStream"):
            handler.setStream(logging_off)
    spent: collections.Counter = collections.Counter()
    instrument(spent)
    print(
        f"{args.requests} requests per scenario, in one process (Python "
        f"{sys.version.split()[0]}), database {where(url)}; CPU ms per request\n"
    )
    for scenario in args.scenarios:
        call = caller(application, scenario, ids, key)
        for n in range(200):  # warm: connection, prepared statements, caches
            call(n)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        spent.clear()
        db_before, redis_before = process_cpu(backend), redis_cpu()
        start = time.process_time()
        for n in range(200, 200 + args.requests):
            call(n)
        whole = time.process_time() - start
        db = process_cpu(backend) - db_before
        cache = redis_cpu() - redis_before
        per = 1000 / args.requests
        floor_cpu, floor_db = measure_floor(scenario, floor_ids, args.requests)
        rows = [
            ("convstore process", whole * per),
            (
                "  Django (handler, middleware)",
                (spent["whole request"] - spent["  DRF dispatch"]) * per,
            ),
            *((label, spent[label] * per) for label, *_ in STAGES[1:] if spent[label]),
            ("PostgreSQL backend", db * per),
            ("Redis", cache * per),
            ("machine CPU", (whole + db + cache) * per),
            ("bare Django view, same path", bare[scenario]),
            ("floor process", floor_cpu),
            ("floor PostgreSQL backend", floor_db),
            ("floor machine CPU", floor_cpu + floor_db),
        ]
        print(f"{scenario} (CPU ms per request)")
        for label, value in rows:
            print(f"  {label:<34} {value:7.3f}")
        print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
