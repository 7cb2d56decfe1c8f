#!/usr/bin/env python
"""Write-path throughput: convstore's updates and GET against a hand-written floor, with wrk.

Four scenarios, each served twice by gunicorn on PostgreSQL under the SAME settings:

==============  ================================================  ==========================
scenario        convstore route                                    floor (``floor_app.py``)
==============  ================================================  ==========================
``openai``      ``POST /openai/v1/conversations/{id}`` (merge)     one merging ``UPDATE``
``telnyx``      ``PUT /telnyx/v2/ai/conversations/{id}`` (merge)   one merging ``UPDATE``
``agentphone``  ``PATCH /agentphone/v1/conversations/{id}``        one replacing ``UPDATE``
``get``         ``GET /openai/v1/conversations/{id}``              one ``SELECT``
==============  ================================================  ==========================

- **convstore**: ``convstore.wsgi`` with everything on — API-key authentication, the
  partition check, every metadata rule, the row-level concurrency guarantee, the audit row and
  the webhook outbox (the benchmark project has one subscribed endpoint, so every update
  writes one outbox event);
- **floor**: ``benchmarks/floor_app.py``, plain WSGI + psycopg, one statement per request (the
  merge with the 16-pair check included), no authentication, audit or outbox.
- **django** (the framework's ceiling): ``benchmarks/django_bare_app.py``, convstore's own
  Django settings and middleware with one bare view that answers a constant conversation
  object (no database, no authentication, no DRF). Its ratio to the floor (``django/floor``)
  is the most any Django server can reach in this harness, measured in the same run.

The load comes from ``wrk`` (Debian package ``wrk``; ``make benchmark`` installs it), not
from Python threads: on 2 cores a Python client takes the server's CPU and hides the gap.
A generated Lua script makes every request write a distinct value (``{"metadata": {"k<n>":
"<unique>"}}``, keys rotated over ``--keys`` per conversation so metadata never passes 16
pairs), so every update is a real write. Per scenario the servers run alternately, floor, convstore,
then django, ``--rounds`` times (A B A B A B), after an unmeasured warm-up of each (repeated
until each server answered at least two requests per connection), so a busy
neighbour slows both alike. Printed per round and per scenario: requests, req/s, p50 and p99
(wrk's latency distribution), the server's CPU per request, the database side's CPU per
request (every PostgreSQL and Redis process: meaningful on an otherwise idle machine), and
the convstore/floor ratios.

Each scenario starts from freshly vacuumed tables (``VACUUM ANALYZE``; the development machine
runs PostgreSQL with autovacuum off, where dead row versions would pile up run after run).

Checks after the run (exit 1 if any fails): every answer was 200 (counted by the Lua
``response`` hook; no socket errors or timeouts), every counted update landed (the sum of
``version`` bumps over each pool is at least the updates counted and at most that plus one
in-flight request per connection, which wrk stops without reading), convstore wrote exactly
one audit row and one outbox event per update, and each convstore conversation holds exactly
the ``after`` of its latest audit row (the last value landed).

The script sets everything up itself: it creates and migrates the database named by
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/convstore_bench``), makes
a ``benchmark`` project, an API key, a webhook endpoint and two pools of conversations through
the services, starts both servers on free loopback ports, and stops them at the end. Timings
are printed, never asserted.

Usage: ``.venv/bin/python benchmarks/update_throughput.py [--duration S] [--connections C]
[--rounds R] [--scenarios openai,get] ...`` (``--help``; ``make benchmark`` runs the defaults).
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import servers as harness_servers  # noqa: E402
from benchmarks.harness import wrk  # noqa: E402
from benchmarks.harness.db import open_database, vacuum_analyze  # noqa: E402
from benchmarks.harness.env import rate_limiter_env  # noqa: E402
from benchmarks.throughput import report  # noqa: E402
from benchmarks.throughput.checks import verify  # noqa: E402
from benchmarks.throughput.scenarios import (  # noqa: E402
    SCENARIOS,
    SERVERS,
    Run,
    Server,
    prepare_data,
    run_wrk,
    warm_up,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per measured wrk run (default 5)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds per server (default 2)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds per scenario (default 3)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's, 2 x cores + 1)"
    )
    parser.add_argument(
        "--worker-class", help="gunicorn worker class (default: gunicorn.conf.py's, gthread)"
    )
    parser.add_argument(
        "--threads", type=int, help="gunicorn threads per worker (default: gunicorn.conf.py's, 2)"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {', '.join(SCENARIOS)} (default all)",
    )
    parser.add_argument(
        "--conversations", type=int, default=64, help="conversations per server (default 64)"
    )
    parser.add_argument(
        "--keys",
        type=int,
        default=8,
        choices=range(1, 17),
        metavar="1-16",
        help="metadata keys rotated per conversation (default 8)",
    )
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown or not args.scenarios:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    counts = (args.rounds, args.connections, args.wrk_threads, args.workers or 1, args.threads or 1)
    if min(counts + (args.conversations,)) < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("counts and --duration must be positive")
    if args.connections < args.wrk_threads:
        parser.error("--connections must be at least --wrk-threads")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    wrk.ensure_wrk()
    url, env = open_database(
        postgres_only=True,
        DB_CONN_MAX_AGE=os.environ.get("DB_CONN_MAX_AGE", "600"),
        LOG_FORMAT=os.environ.get("LOG_FORMAT", "json"),  # as the README's production command
        **rate_limiter_env(),
    )
    env["FLOOR_DATABASE_URL"] = url  # the floor's servers: the same database
    raw_key, *pools = prepare_data(args.conversations)
    from django.conf import settings

    assert not settings.DEBUG, "DEBUG must be off for a benchmark"
    options = harness_servers.gunicorn_options(args.workers, args.worker_class, args.threads)
    print(report.setup_lines(args, url, env, options), flush=True)
    from conversations.models import Conversation, MetadataChange, WebhookEvent

    servers: dict[str, Server] = {}
    runs: list[Run] = []
    with ExitStack() as stack:  # every server stopped on leaving
        for name, app, pool in SERVERS:
            # Each server's log (a JSON line per request, as in production) to a temporary file.
            proc, port = stack.enter_context(harness_servers.gunicorn(app, options, env))
            servers[name] = Server(name, port, proc.pid, pools[pool])
        print("\n" + report.ROUNDS.header(), flush=True)
        for scenario in args.scenarios:
            # Each scenario starts from vacuumed tables (benchmarks.harness.db.vacuum_analyze).
            vacuum_analyze(Conversation, MetadataChange, WebhookEvent)
            if args.warmup:
                warm_up(servers.values(), scenario, args, raw_key)
            for number in range(1, args.rounds + 1):
                for server in servers.values():
                    result = run_wrk(
                        server, scenario, args, key=raw_key, seconds=args.duration,
                        tag=f"{scenario}-r{number}",
                    )  # fmt: skip
                    runs.append(Run.of(scenario, server.name, number, result))
                    print(report.round_line(runs[-1]), flush=True)

    print("\n" + report.SUMMARY.header())
    for scenario in args.scenarios:
        print(report.summary_line(runs, scenario))

    problems = verify(servers["convstore"], audited=True, connections=args.connections)
    problems += verify(servers["floor"], audited=False, connections=args.connections)
    if problems:
        print("\nCHECK FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(
        f"\ncheck: every answer 200; convstore: {servers['convstore'].updates} updates counted, "
        f"each landed (version bumps), one audit row and one outbox event per update, every "
        f"conversation holds its latest audit row's value; floor: "
        f"{servers['floor'].updates} updates counted, each landed."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
