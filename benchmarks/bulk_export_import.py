#!/usr/bin/env python
"""Bulk paths at database speed: ``import_conversations`` and ``export_conversations`` on
PostgreSQL, in conversations per second and peak memory: RSS of the command's process and,
when the import runs worker processes, the PSS of the command and its workers added up (the
memory target holds for the larger).

It writes its own JSONL file of ``--rows`` conversations (default 1,000,000; every
``--messages-every``-th one with two messages, default 10), empties the store of
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/convstore_bulk_bench``,
created and migrated if missing), then times, each command in its own process (the time of
the command itself, after Django's start-up):

1. ``import-empty``: the file into the empty store;
2. ``export``: the whole store to a file;
3. ``re-import-nochange``: the exported file again (nothing may change);

and checks that the second import changed nothing and (unless ``--no-verify``) that a second
export is byte-identical to the first. Figures are printed, never asserted.

Usage: ``.venv/bin/python benchmarks/bulk_export_import.py [--rows 20000]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import ROOT  # noqa: E402
from benchmarks.harness.db import open_database  # noqa: E402
from benchmarks.harness.procfs import load_average, tree_pss_kib  # noqa: E402
from benchmarks.harness.report import machine, verdict, where  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/convstore_bulk_bench"

# Runs a management command after Django's start-up (not timed) and reports the command's own
# seconds and the process's peak RSS (KiB) on its last stderr lines. The peak is VmHWM, this
# program's own: getrusage's ru_maxrss survives exec on Linux, so it would report this
# benchmark's (the parent's) peak when that is higher.
RUN_AND_MEASURE = """
import sys, time
import django
django.setup()
from django.core.management import call_command
started = time.perf_counter()
try:
    call_command(*sys.argv[1:])
finally:
    print(f"seconds={time.perf_counter() - started}", file=sys.stderr)
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"peak_rss_kib={peak}", file=sys.stderr)
    import resource  # the largest worker process the command started (import --jobs)
    print(f"workers_peak_rss_kib={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}",
          file=sys.stderr)
"""


# The code before the fast paths (still SQLite's path), timed in one process for a ratio
# measured in the same run: the ORM export with json.dumps, and conversations_import in
# chunks of 500 inside one transaction.
REFERENCE = """
import sys, time
from itertools import islice
import django
django.setup()
from django.db import connection, transaction
from conversations.transfer.jsonl import conversation_to_record, dumps, parse_line
from conversations.selectors import conversation_export_iterator
from conversations.services import Actor
from conversations.transfer.importing import conversations_import

path, rows = sys.argv[1], int(sys.argv[2])
actor = Actor.for_command("import_conversations")

def import_file():
    records = (parse_line(line) for line in open(path, encoding="utf-8") if line.strip())
    totals = [0, 0, 0]
    with transaction.atomic():
        while chunk := list(islice(records, 500)):
            counts = conversations_import(records=chunk, actor=actor)
            totals = [a + b for a, b in zip(totals, counts)]
    return totals

def export():
    with open(path + ".ref", "w", encoding="utf-8") as out:
        for c in conversation_export_iterator(chunk_size=500):
            out.write(dumps(conversation_to_record(c, c.messages.all())) + "\\n")

with connection.cursor() as cursor:
    cursor.execute("TRUNCATE conversations_conversation CASCADE")
steps = (("import-empty", import_file), ("export", export), ("re-import-nochange", import_file))
for name, step in steps:
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    connection.close()  # each step on a fresh connection, as each command gets
    with open("/proc/self/status") as status:  # VmHWM: this program's own peak (see above)
        rss = round(int(next(l.split()[1] for l in status if l.startswith("VmHWM:"))) / 1024)
    print(f"reference {name}: {rows:,} conversations in {seconds:.1f} s = {rows / seconds:,.0f} "
          f"conversations/s; peak RSS so far {rss} MB{'' if result is None else f' {result}'}",
          flush=True)
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="conversations (1,000,000)")
    parser.add_argument(
        "--messages-every",
        type=int,
        default=10,
        help="every Nth conversation gets 2 messages (10; 0 for none)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the second export")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also time the code before the fast paths (ORM export, ORM import), same file",
    )
    parser.add_argument("--keep", action="store_true", help="keep the JSONL files")
    parser.add_argument(
        "--jobs", type=int, help="import_conversations --jobs (default: the command's)"
    )
    return parser.parse_args(argv)


def write_file(path: Path, rows: int, messages_every: int) -> None:
    """A JSONL file in the export schema, varied like real data."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with open(path, "wb") as out:
        lines = []
        for i in range(rows):
            created = base + timedelta(seconds=i, microseconds=i % 1000)
            record = {
                "id": str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15 + 12345) % (1 << 128))),
                "project": "bulk" if i % 3 else "bulk-other",
                "isolation_key": "user-42" if i % 5 == 0 else "",
                "name": f"conv {i}",
                "created_at": created.isoformat(),
                "last_message_at": (created + timedelta(minutes=5)).isoformat(),
                "updated_at": (created + timedelta(minutes=6)).isoformat(),
                "metadata": None
                if i % 97 == 0
                else {"customer_name": f"Kundin {i} – ünïcode", "order_id": f"ORD-{i}"},
                "channel": ["sms", "voice", ""][i % 3],
                "agent_id": "",
                "phone_number_id": "",
                "phone_number": "+15550001111" if i % 2 else "",
                "participant": "",
                "is_group": i % 11 == 0,
                "group_name": "the group" if i % 11 == 0 else None,
                "last_message_preview": "",
                "messages": [],
            }
            if messages_every and i % messages_every == 0:
                record["messages"] = [
                    {
                        "id": str(uuid.UUID(int=(i * 2 + 1) * 0x2545F4914F6CDD1D % (1 << 128))),
                        "role": "user",
                        "content": f"hello {i}\nworld",
                        "direction": "inbound",
                        "created_at": created.isoformat(),
                    },
                    {
                        "id": str(uuid.UUID(int=(i * 2 + 2) * 0x2545F4914F6CDD1D % (1 << 128))),
                        "role": "assistant",
                        "content": "bye",
                        "content_parts": [{"type": "output_text", "text": "bye"}],
                        "direction": "outbound",
                        "created_at": (created + timedelta(seconds=1)).isoformat(),
                    },
                ]
            lines.append(orjson.dumps(record))
            if len(lines) >= 10_000:
                out.write(b"\n".join(lines) + b"\n")
                lines = []
        if lines:
            out.write(b"\n".join(lines) + b"\n")


def empty_store(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE conversations_conversation CASCADE")


def run_command(env: dict, *args: str) -> tuple[float, int, str, int]:
    """Run a management command; return ``(its seconds, peak RSS in MiB, stdout, peak PSS in
    MiB of the command and its workers added up, or 0 without workers)``. When the
    command starts worker processes (import ``--jobs``), the stdout ends with their figures:
    the largest worker's peak RSS (pages shared with the command, forked from it, count in
    both) and the peak of the command's and workers' PSS added up (each shared page counted
    once, split between its sharers), sampled every 0.2 s."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_AND_MEASURE, *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=err,
            text=True,
        )
        peak_pss = 0
        while process.poll() is None:
            peak_pss = max(peak_pss, tree_pss_kib(process.pid))
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr}")
    found = dict(line.split("=", 1) for line in stderr.splitlines() if "=" in line)
    seconds, rss = float(found["seconds"]), int(found["peak_rss_kib"])
    stdout = stdout.strip()
    if workers := int(found["workers_peak_rss_kib"]):
        stdout += (
            f"; workers' peak RSS {round(workers / 1024)} MB each; command + workers peak PSS "
            f"{round(peak_pss / 1024)} MB"
        )
        return seconds, round(rss / 1024), stdout, round(peak_pss / 1024)
    return seconds, round(rss / 1024), stdout, 0


#: Issue 10's targets: conversations/s of each step, and the peak RSS every step stays under.
TARGET_RATES = {"import-empty": 20_000, "export": 50_000, "re-import-nochange": 50_000}
TARGET_PEAK_MB = 150


def report_step(
    name: str, rows: int, seconds: float, rss: int, note: str = "", pss: int = 0
) -> None:
    """Print a step's figures and whether it meets :data:`TARGET_RATES` and
    :data:`TARGET_PEAK_MB` (printed, never asserted)."""
    rate = rows / seconds
    met = rate >= TARGET_RATES[name] and max(rss, pss) <= TARGET_PEAK_MB
    print(
        f"{name}: {rows:,} conversations in {seconds:.1f} s = {rate:,.0f} "
        f"conversations/s; peak RSS {rss} MB{note}; target >= {TARGET_RATES[name]:,}/s and "
        f"<= {TARGET_PEAK_MB} MB: {verdict(met)}; load average after "
        f"{load_average()}",
        flush=True,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    url, env = open_database(DEFAULT_DATABASE_URL, postgres_only=True)
    run_command(env, "migrate", "--noinput", "--verbosity", "0")
    empty_store(url)
    print(
        machine(f"database {where(url)}; {args.rows:,} conversations")
        + f", 2 messages on every {args.messages_every or '-'}th; load average {load_average()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="convstore-bulk-") as tmp:
        source, exported, again = (Path(tmp) / n for n in ("in.jsonl", "out.jsonl", "out2.jsonl"))
        write_file(source, args.rows, args.messages_every)

        jobs = [] if args.jobs is None else ["--jobs", str(args.jobs)]
        seconds, rss, out, pss = run_command(env, "import_conversations", str(source), *jobs)
        report_step("import-empty", args.rows, seconds, rss, f" ({out})", pss)
        seconds, rss, _, _ = run_command(env, "export_conversations", "--output", str(exported))
        size = f" ({exported.stat().st_size / 1e6:.0f} MB)"
        report_step("export", args.rows, seconds, rss, size)
        seconds, rss, out, pss = run_command(env, "import_conversations", str(exported), *jobs)
        report_step("re-import-nochange", args.rows, seconds, rss, f" ({out})", pss)
        ok = f"0 created, 0 updated, {args.rows} unchanged." in out
        if not args.no_verify:
            run_command(env, "export_conversations", "--output", str(again))
            same = exported.read_bytes() == again.read_bytes()
            print(f"second export byte-identical to the first: {same}")
            ok = ok and same
        if args.reference:
            empty_store(url)
            reference = subprocess.run(
                [sys.executable, "-c", REFERENCE, str(source), str(args.rows)],
                env=env,
                cwd=ROOT,
                text=True,
                check=False,
            )
            ok = ok and reference.returncode == 0
        if args.keep:
            for path in (source, exported):
                path.rename(ROOT / path.name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
