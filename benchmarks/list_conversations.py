#!/usr/bin/env python
"""Listing conversations: ``GET /openai/v1/conversations`` pages and filters under ``wrk``.

Fills a ``benchmark-list`` project with ``--rows`` conversations (metadata ``n`` unique,
``parity`` even/odd, ``bucket`` one of 100), serves ``convstore.wsgi`` with gunicorn on
PostgreSQL, and loads each request below with ``wrk`` for ``--duration`` seconds, one after
another, printing requests per second, p50/p99 latency and the ratio to retrieving one
conversation (the baseline, measured in the same run):

- ``retrieve``: ``GET /conversations/{id}`` (baseline);
- ``first page``: ``GET /conversations`` (20 newest);
- ``page of 100``: ``?limit=100``;
- ``deep cursor``: ``?order=asc&limit=100&after=<the middle conversation>``;
- ``metadata, 1 match``: ``?metadata[n]=<one value>`` (jsonb ``@>``, the GIN index);
- ``metadata, 1%``: ``?metadata[bucket]=42&limit=100``;
- ``metadata, 50%``: ``?metadata[parity]=even&limit=100``.

The database is ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/convstore_bench``), created and migrated if needed.
Timings are printed, never asserted; any non-2xx answer exits 1.

Usage: ``.venv/bin/python benchmarks/list_conversations.py [--rows N] [--duration S]
[--connections C] [--workers W]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import wrk  # noqa: E402
from benchmarks.harness.db import new_api_key, open_database, reset_project, setup_django  # noqa: E402
from benchmarks.harness.env import rate_limiter_env  # noqa: E402
from benchmarks.harness.report import Column, Table, ratio, where  # noqa: E402
from benchmarks.harness.servers import gunicorn  # noqa: E402

PROJECT_NAME = "benchmark-list"
RESULTS = Table(
    Column("request", 20, align="<"),
    Column("req/s", 8, ".1f"),
    Column("p50 ms", 8, ".2f"),
    Column("p99 ms", 8, ".2f"),
    Column("vs retrieve", 12, ".2f"),
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="conversations (100000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per request (10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    args = parser.parse_args(argv)
    if min(args.rows, args.duration, args.connections, args.workers) < 2:
        parser.error("--rows, --duration, --connections and --workers must be at least 2")
    return args


def prepare_data(rows: int) -> tuple[str, list[str]]:
    """Reset the project, bulk-insert ``rows`` conversations, ANALYZE; return the key and the
    ids (oldest first)."""
    from datetime import timedelta

    setup_django()
    from django.db import connection, connections
    from django.utils import timezone

    from conversations.models import Conversation

    project = reset_project(PROJECT_NAME)
    raw_key = new_api_key(project)
    start = timezone.now() - timedelta(days=1)
    ids = []
    for offset in range(0, rows, 10_000):
        batch = [
            Conversation(
                project=project,
                created_at=start + timedelta(milliseconds=i),
                metadata={
                    "n": str(i),
                    "parity": "odd" if i % 2 else "even",
                    "bucket": str(i % 100),
                },
            )
            for i in range(offset, min(rows, offset + 10_000))
        ]
        Conversation.objects.bulk_create(batch)
        ids.extend(f"conv_{row.pk.hex}" for row in batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
    connections.close_all()
    return raw_key, ids


def measure(url: str, key: str, connections: int, seconds: int) -> dict:
    """One ``wrk --latency`` run; returns req/s, p50/p99 in ms and the non-2xx count."""
    done = wrk.run(
        url, threads=2, connections=connections, duration=f"{seconds}s",
        headers=(f"Authorization: Bearer {key}",), latency=True,
    )  # fmt: skip
    return wrk.text_summary(done)


def main(argv=None) -> int:
    args = parse_args(argv)
    url, env = open_database(postgres_only=True, **rate_limiter_env())
    key, ids = prepare_data(args.rows)
    middle, one = ids[len(ids) // 2], str(len(ids) // 3)
    base = "/openai/v1/conversations"
    requests = [
        ("retrieve", f"{base}/{ids[-1]}"),
        ("first page", base),
        ("page of 100", f"{base}?limit=100"),
        ("deep cursor", f"{base}?order=asc&limit=100&after={middle}"),
        ("metadata, 1 match", f"{base}?metadata%5Bn%5D={one}"),
        ("metadata, 1%", f"{base}?metadata%5Bbucket%5D=42&limit=100"),
        ("metadata, 50%", f"{base}?metadata%5Bparity%5D=even&limit=100"),
    ]
    print(
        f"{args.rows} conversations on {where(url)}; gunicorn --workers {args.workers}; "
        f"wrk -t2 -c{args.connections} -d{args.duration}s per request",
        flush=True,
    )
    options = ["--workers", str(args.workers), "--threads", "1", "--keep-alive", "30"]
    options += ["--log-level", "warning"]
    results = []
    with gunicorn("convstore.wsgi:application", options, env) as (_, port):
        for _name, path in requests:  # Warm both workers' connections and caches, unmeasured.
            measure(f"http://127.0.0.1:{port}{path}", key, args.connections, 2)
        for name, path in requests:
            result = measure(f"http://127.0.0.1:{port}{path}", key, args.connections, args.duration)
            results.append((name, result))
    baseline = results[0][1]["rate"]
    print("\n" + RESULTS.header())
    for name, r in results:
        print(RESULTS.row(name, r["rate"], r["p50"], r["p99"], ratio(r["rate"], baseline)))
    bad = sum(r["bad"] for _, r in results)
    if bad:
        print(f"\n{bad} non-2xx answers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
