#!/usr/bin/env python
"""Client CPU of one hot read (``conversations.selectors.rows``) through Django's cursor wrapper,
beside the same read on a bare psycopg cursor with the execute wrappers called by hand (how the hot
reads ran before they went through Django's wrapper).

Both read the same conversation by id in its partition, prepared, on one connection, inside a
``connection.execute_wrapper`` like the one every API request runs under (the request
metrics). The two ways alternate in ``--rounds`` rounds of ``--reads`` reads each, so a
machine busy with other work slows both alike; it prints the CPU (user + system,
``time.process_time``) per read of each round and the medians. ``request_cpu.py`` shows the
same stage (``database client``) within whole requests. Usage::

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/convstore_bench \\
        .venv/bin/python benchmarks/hot_read_cpu.py [--reads 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness.db import open_database, setup_django  # noqa: E402


def bare_fetchone(sql, params, using="default"):
    """The read on a kept bare psycopg cursor, execute wrappers chained by hand."""
    import psycopg
    from django.db import connections

    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    cursor = BARE.get(raw)
    if cursor is None:
        cursor = BARE[raw] = psycopg.Cursor(raw)
    with connection.wrap_database_errors:

        def execute(sql, params, many, context):
            return cursor.execute(sql, params, prepare=True)

        for wrapper in reversed(connection.execute_wrappers):
            execute = functools.partial(wrapper, execute)
        execute(sql, params, False, {"connection": connection, "cursor": cursor})
        return cursor.fetchone()


BARE: dict = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=5000, help="per round (5000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each way (7)")
    args = parser.parse_args()
    open_database()
    setup_django()
    from django.db import connection

    from conversations.ops.observability import DbTimer
    from conversations.selectors import rows
    from conversations.services import SYSTEM, conversation_create, project_get_or_create

    project = project_get_or_create(name="hot-read-bench")
    conversation = conversation_create(project=project, metadata={"k": "v"}, actor=SYSTEM)
    sql, params = rows._GET_IN_PARTITION, [conversation.pk, project.pk, ""]
    ways = {"Django cursor wrapper": rows.fetchone, "bare psycopg cursor": bare_fetchone}
    figures = {name: [] for name in ways}
    timer = DbTimer()  # the request metrics' own execute wrapper
    with connection.execute_wrapper(timer):
        for read in ways.values():  # warm: prepare on the connection, make the cursors
            for _ in range(10):
                assert read(sql, params) is not None
        for _ in range(args.rounds):
            for name, read in ways.items():
                start = time.process_time()
                for _ in range(args.reads):
                    read(sql, params)
                figures[name].append((time.process_time() - start) / args.reads * 1000)
    print(f"{args.reads} reads x {args.rounds} rounds; CPU ms per read (client side)")
    for name, values in figures.items():
        rounds = " ".join(f"{v:.4f}" for v in values)
        print(f"  {name:24} median {statistics.median(values):.4f}   rounds: {rounds}")
    wrapped, bare = (statistics.median(v) for v in figures.values())
    print(f"  Django's wrapper / bare: {wrapped / bare:.3f}")


if __name__ == "__main__":
    main()
