#!/usr/bin/env python
"""Update throughput: convstore's OpenAI update endpoint against a hand-written floor.

One run measures requests per second and p50/p99 latency of
``POST /openai/v1/conversations/{id}`` with ``{"metadata": {"k<n>": "<value>"}}`` (a merge
into an existing conversation) served by gunicorn on PostgreSQL, twice:

- **convstore**: ``convstore.wsgi`` (Django + DRF: API-key auth, partition lookup, metadata
  rules, ``SELECT … FOR UPDATE``, the write, the audit row, the OpenAI rendering);
- **floor**: ``benchmarks/floor_app.py``, a plain WSGI callable that runs one
  ``UPDATE … SET metadata = metadata || %s::jsonb … RETURNING`` in autocommit on a persistent
  psycopg connection — the least any server can do for the same request.

Both run under the same gunicorn settings on 127.0.0.1, and are loaded by the same client:
``--concurrency`` threads, each with its own keep-alive ``http.client`` connection. Request
``i`` sets key ``k{(i // conversations) % keys}`` of conversation ``i % conversations`` to a
value unique to the request, so every request is a real change (convstore never takes its
"nothing changed" shortcut) and metadata never passes ``--keys`` pairs (≤ 16). The servers
are measured in alternating rounds so a noisy neighbour on a shared machine hurts both alike.

The script sets everything up itself: it creates and migrates the database named by
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/convstore_bench``), makes
a ``benchmark`` project, an API key and two pools of conversations through the services,
starts both servers on free loopback ports, warms up, runs the load, stops the servers, and
checks that every update landed (the stored keys and last values, and one audit row per
convstore update). It exits 1 on any non-200 answer or failed check. Timings are printed,
never asserted.

Usage: ``.venv/bin/python benchmarks/update_throughput.py [--requests N] [--concurrency C]
[--workers W] [--duration SECONDS] ...`` (``make benchmark`` runs the defaults).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/convstore_bench"
PROJECT_NAME = "benchmark"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=6000, help="measured requests per server (default 6000)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=25.0,
        help="cap on each server's measured seconds, whichever of this and --requests "
        "comes first (default 25)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn worker class (default gthread)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads per worker (default 1)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating measuring rounds (default 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=300, help="unmeasured requests per server (default 300)"
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
    counts = (args.requests, args.concurrency, args.workers, args.threads, args.rounds)
    if min(counts + (args.conversations,)) < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("counts and --duration must be positive")
    return args


# --- set-up -------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist (PostgreSQL only)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare_data(conversations: int) -> tuple[str, list[str], list[str]]:
    """Migrate, reset the ``benchmark`` project, and return ``(raw_key, convstore_ids,
    floor_ids)``: two pools of empty conversations, ids rendered ``conv_<hex>``."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.db import connections

    from conversations import services
    from conversations.models import ApiKey, Conversation

    call_command("migrate", verbosity=0, interactive=False)
    project = services.project_get_or_create(name=PROJECT_NAME)
    Conversation.objects.filter(project=project).delete()  # audit rows go with them
    ApiKey.objects.filter(project=project).delete()  # earlier runs' keys
    _, raw_key = services.api_key_create(project=project, name="benchmark")
    actor = services.Actor.for_command("benchmark")
    pools = [
        [
            "conv_" + services.conversation_create(project=project, actor=actor, metadata={}).pk.hex
            for _ in range(conversations)
        ]
        for _pool in ("convstore", "floor")
    ]
    connections.close_all()
    return raw_key, pools[0], pools[1]


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app: str, args: argparse.Namespace, env: dict) -> tuple[subprocess.Popen, int]:
    """Start ``gunicorn app`` on a free loopback port; return once it accepts connections."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers),
        "--worker-class", args.worker_class,
        "--threads", str(args.threads),
        "--keep-alive", "30",
        "--chdir", str(ROOT),
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn {app} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"gunicorn {app} did not start on port {port}")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live descendants (Linux ``/proc``;
    ``nan`` elsewhere). Gunicorn workers live as long as the run, so deltas are per phase."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    try:
        while pending:
            current = pending.pop()
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- load ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One server under test and what its client has seen so far."""

    name: str
    port: int
    pid: int
    conversation_ids: list[str]
    headers: dict
    latencies: list[float] = field(default_factory=list)  # seconds, measured requests only
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    # (conversation index, key) -> (request number, value) of the last 200 answer
    last_write: dict = field(default_factory=dict)
    ok_total: int = 0  # 200 answers, warm-up included
    server_cpu: float = 0.0  # CPU seconds of the gunicorn master and workers, measured only
    client_cpu: float = 0.0  # CPU seconds of this load-generating process, measured only


def run_load(target: Target, args, *, count: int, duration: float, phase: str, measure: bool):
    """Send ``count`` updates (or for ``duration`` seconds) from ``args.concurrency`` threads."""
    counter = itertools.count()  # next() on itertools.count is atomic under the GIL
    stop_at = time.monotonic() + duration
    n_conv = len(target.conversation_ids)
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        latencies, writes, errors, samples = [], {}, 0, []
        while True:
            i = next(counter)
            if i >= count or time.monotonic() >= stop_at:
                break
            conv, key = i % n_conv, f"k{(i // n_conv) % args.keys}"
            value = f"{target.name}-{phase}-{i}"
            body = json.dumps({"metadata": {key: value}})
            path = f"/openai/v1/conversations/{target.conversation_ids[conv]}"
            started = time.perf_counter()
            try:
                conn.request("POST", path, body, target.headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, payload = 0, repr(exc).encode()
            latencies.append(time.perf_counter() - started)
            if status == 200:
                writes[(conv, key)] = (phase, i, value)
            else:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"{status} {payload[:200]!r}")
        conn.close()
        with lock:
            if measure:
                target.latencies.extend(latencies)
                target.requests += len(latencies)
                target.errors += errors
            target.error_samples.extend(samples)
            target.ok_total += len(latencies) - errors
            for slot, write in writes.items():
                if slot not in target.last_write or _later(write, target.last_write[slot]):
                    target.last_write[slot] = write

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    server_cpu, client_cpu = tree_cpu_seconds(target.pid), time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if measure:
        target.elapsed += time.perf_counter() - started
        target.server_cpu += tree_cpu_seconds(target.pid) - server_cpu
        target.client_cpu += time.process_time() - client_cpu


def _later(a: tuple, b: tuple) -> bool:
    """Is write ``a`` (phase, request number, value) after ``b``? Phases sort by name+number."""
    return (a[0], a[1]) > (b[0], b[1])


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (seconds)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(pct / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


# --- checks -------------------------------------------------------------------------------


def verify(target: Target, *, audited: bool) -> list[str]:
    """Compare the database with what the client saw; return failure messages."""
    from conversations.ids import parse_id
    from conversations.models import Conversation, MetadataChange

    problems = []
    ids = [parse_id(cid) for cid in target.conversation_ids]
    stored = dict(Conversation.objects.filter(pk__in=ids).values_list("pk", "metadata"))
    for index, pk in enumerate(ids):
        expected = {
            key: write[2] for (conv, key), write in target.last_write.items() if conv == index
        }
        if (stored.get(pk) or {}) != expected:
            problems.append(
                f"{target.name}: conversation {index} holds {stored.get(pk)!r}, "
                f"expected {expected!r}"
            )
            break
    changes = MetadataChange.objects.filter(conversation_id__in=ids).count()
    wanted = target.ok_total if audited else 0
    if changes != wanted:
        problems.append(f"{target.name}: {changes} audit rows, expected {wanted}")
    if target.errors:
        problems.append(f"{target.name}: {target.errors} non-200 answers: {target.error_samples}")
    return problems


# --- main ---------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must name a PostgreSQL database")
    sys.path.insert(0, str(ROOT))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(
        DATABASE_URL=url,
        FLOOR_DATABASE_URL=url,
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="convstore.settings",
        DB_CONN_MAX_AGE=os.environ.get("DB_CONN_MAX_AGE", "600"),
        # Production settings over plain HTTP on loopback, with the rate limiter on at a limit
        # the load never reaches (README "Production settings", "Rate limits and lockout").
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        CONVSTORE_HTTPS="0",
        CONVSTORE_RATE_LIMIT=os.environ.get("CONVSTORE_RATE_LIMIT", "1000000/s"),
        # WhiteNoise warns once per worker that STATIC_ROOT is missing (no collectstatic).
        PYTHONWARNINGS="ignore:No directory at:UserWarning",
    )
    os.environ.update(env)
    os.environ.pop("PYTEST_VERSION", None)

    ensure_database(url)
    raw_key, convstore_ids, floor_ids = prepare_data(args.conversations)
    from django.conf import settings

    assert not settings.DEBUG, "DEBUG must be off for a benchmark"
    import gunicorn

    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"gunicorn {gunicorn.__version__}, database {url.split('@')[-1]}\n"
        f"servers: gunicorn --workers {args.workers} --worker-class {args.worker_class} "
        f"--threads {args.threads} on 127.0.0.1 (DEBUG off, DB_CONN_MAX_AGE="
        f"{env['DB_CONN_MAX_AGE']})\n"
        f"client: {args.concurrency} threads, keep-alive http.client; {args.requests} requests "
        f"or {args.duration:g} s per server in {args.rounds} alternating rounds, after "
        f"{args.warmup} warm-up requests; {args.conversations} conversations per server, "
        f"{args.keys} keys rotated",
        flush=True,
    )
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {raw_key}"}
    servers = []
    try:
        targets = []
        for name, app, ids in (
            ("convstore", "convstore.wsgi:application", convstore_ids),
            ("floor", "benchmarks.floor_app:application", floor_ids),
        ):
            proc, port = start_server(app, args, env)
            servers.append(proc)
            targets.append(Target(name, port, proc.pid, ids, headers))
        for target in targets:
            run_load(target, args, count=args.warmup, duration=30, phase="a-warmup", measure=False)
        per_round = max(1, args.requests // args.rounds)
        for number in range(args.rounds):
            for target in targets:
                run_load(
                    target,
                    args,
                    count=per_round,
                    duration=args.duration / args.rounds,
                    phase=f"b-round{number:03d}",
                    measure=True,
                )
    finally:
        for proc in servers:
            stop_server(proc)

    print(
        f"\n{'server':<10} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'server CPU ms/req':>18} {'client CPU ms/req':>18}"
    )
    rates = {}
    for target in targets:
        rates[target.name] = target.requests / target.elapsed if target.elapsed else 0.0
        print(
            f"{target.name:<10} {target.requests:>9} {target.errors:>7} "
            f"{rates[target.name]:>9.1f} {percentile(target.latencies, 50) * 1000:>8.2f} "
            f"{percentile(target.latencies, 99) * 1000:>8.2f} "
            f"{target.server_cpu / target.requests * 1000:>18.2f} "
            f"{target.client_cpu / target.requests * 1000:>18.2f}"
        )
    convstore, floor = targets
    ratio = rates["convstore"] / rates["floor"] if rates["floor"] else float("nan")
    p50_ratio = percentile(convstore.latencies, 50) / percentile(floor.latencies, 50)
    cpu_ratio = (convstore.server_cpu / convstore.requests) / (floor.server_cpu / floor.requests)
    print(
        f"\nconvstore / floor ratio: {ratio:.2f} (convstore serves {ratio:.0%} of the floor's "
        f"req/s; p50 latency {p50_ratio:.1f}x, server CPU per request {cpu_ratio:.1f}x the "
        f"floor's)"
    )

    problems = verify(convstore, audited=True) + verify(floor, audited=False)
    if problems:
        print("\nCHECK FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(
        f"\ncheck: 0 non-200 answers; every conversation of both pools holds exactly the keys "
        f"and last values the client wrote ({args.conversations} x 2); convstore wrote "
        f"{convstore.ok_total} audit rows for its {convstore.ok_total} updates, the floor none."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
