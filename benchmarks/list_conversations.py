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
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    ensure_database,
    production_env,
    rate_limiter_env,
    start_gunicorn,
    stop_server,
)
from benchmarks.update_throughput import DEFAULT_DATABASE_URL  # noqa: E402

PROJECT_NAME = "benchmark-list"


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

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.utils import timezone

    from conversations import services
    from conversations.models import ApiKey, Conversation

    call_command("migrate", verbosity=0, interactive=False)
    project = services.project_get_or_create(name=PROJECT_NAME)
    Conversation.objects.filter(project=project).delete()
    ApiKey.objects.filter(project=project).delete()
    _, raw_key = services.api_key_create(project=project, name="benchmark")
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


_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, key: str, args) -> dict:
    """One ``wrk --latency`` run; returns req/s, p50/p99 in ms and the non-2xx count."""
    out = subprocess.run(
        [
            "wrk",
            "--latency",
            "-t",
            "2",
            "-c",
            str(args.connections),
            "-d",
            f"{args.duration}s",
            "-H",
            f"Authorization: Bearer {key}",
            url,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(out)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rate": rate,
        "p50": latency.get("50", float("nan")),
        "p99": latency.get("99", float("nan")),
        "bad": int(bad.group(1)) if bad else 0,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must name a PostgreSQL database")
    env = production_env(url, **rate_limiter_env())
    os.environ.update(env)
    ensure_database(url)
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
        f"{args.rows} conversations on {url.split('@')[-1]}; gunicorn --workers {args.workers}; "
        f"wrk -t2 -c{args.connections} -d{args.duration}s per request",
        flush=True,
    )
    options = ["--workers", str(args.workers), "--threads", "1", "--keep-alive", "30"]
    proc, port = start_gunicorn(
        "convstore.wsgi:application", options + ["--log-level", "warning"], env
    )
    results = []
    try:
        warm = SimpleNamespace(connections=args.connections, duration=2)
        for _name, path in requests:  # Warm both workers' connections and caches, unmeasured.
            run_wrk(f"http://127.0.0.1:{port}{path}", key, warm)
        for name, path in requests:
            results.append((name, run_wrk(f"http://127.0.0.1:{port}{path}", key, args)))
    finally:
        stop_server(proc)
    baseline = results[0][1]["rate"] or float("nan")
    print(f"\n{'request':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs retrieve':>12}")
    for name, r in results:
        print(
            f"{name:<20} {r['rate']:>8.1f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
            f"{r['rate'] / baseline:>12.2f}"
        )
    bad = sum(r["bad"] for _, r in results)
    if bad:
        print(f"\n{bad} non-2xx answers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
