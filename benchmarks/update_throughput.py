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
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))
from benchmarks.common import (  # noqa: E402
    ensure_database,
    process_stat,
    production_env,
    rate_limiter_env,
    start_gunicorn,
    stop_server,
    vacuum_analyze,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/convstore_bench"
PROJECT_NAME = "benchmark"

#: scenario -> (HTTP method, convstore path prefix, body kind, counts as an update)
SCENARIOS = {
    "openai": ("POST", "/openai/v1/conversations/", "merge", True),
    "telnyx": ("PUT", "/telnyx/v2/ai/conversations/", "merge", True),
    "agentphone": ("PATCH", "/agentphone/v1/conversations/", "merge", True),
    "get": ("GET", "/openai/v1/conversations/", "none", False),
}
#: Targets from issue 10: update req/s ratio, update p99 ratio (at most), GET req/s ratio.
TARGET_UPDATE_RATIO, AIM_UPDATE_RATIO, TARGET_P99_RATIO, TARGET_GET_RATIO = 0.6, 0.8, 2.0, 0.7


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


# --- set-up -------------------------------------------------------------------------------


def prepare_data(conversations: int) -> tuple[str, list[str], list[str]]:
    """Migrate, reset the ``benchmark`` project, and return ``(raw_key, convstore_ids,
    floor_ids)``: two pools of empty conversations, ids rendered ``conv_<hex>``. The project
    gets one active webhook endpoint (every event, a loopback URL nobody delivers to), so each
    convstore update also writes an outbox event."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.db import connections
    from django.test import override_settings

    from conversations import services
    from conversations.models import ApiKey, Conversation, WebhookEndpoint
    from conversations.webhooks.endpoints import webhook_endpoint_create

    call_command("migrate", verbosity=0, interactive=False)
    project = services.project_get_or_create(name=PROJECT_NAME)
    Conversation.objects.filter(project=project).delete()  # audit rows go with them
    ApiKey.objects.filter(project=project).delete()  # earlier runs' keys
    WebhookEndpoint.objects.filter(project=project).delete()  # and endpoints, with events
    # A loopback URL nobody delivers to: allowed here only (README "Webhooks", addresses).
    with override_settings(CONVSTORE_WEBHOOK_ALLOW_PRIVATE=True):
        webhook_endpoint_create(project=project, url="http://127.0.0.1:9/benchmark-hooks")
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


def gunicorn_options(args: argparse.Namespace) -> list[str]:
    """The one set of gunicorn settings every server runs under: the production settings the
    README recommends (``gunicorn.conf.py``: 2 x cores + 1 ``gthread`` workers of 2 threads,
    worker recycling, …), gunicorn's own log at ``warning``; ``--workers``, ``--threads`` and
    ``--worker-class`` override the file's values when given."""
    options = ["--config", str(ROOT / "gunicorn.conf.py"), "--log-level", "warning"]
    if args.workers:
        options += ["--workers", str(args.workers)]
    if args.worker_class:
        options += ["--worker-class", args.worker_class]
    if args.threads:
        options += ["--threads", str(args.threads)]
    return options


def start_server(app: str, args: argparse.Namespace, env: dict) -> tuple[subprocess.Popen, int]:
    """Start ``gunicorn app`` under :func:`gunicorn_options` on a free loopback port, its log
    (a JSON line per request, as in production) to a temporary file."""
    return start_gunicorn(app, gunicorn_options(args), env)


#: Every process seen in a server's tree: ``/proc/*/task/*/children`` may miss a child now and
#: then (the kernel lists it reliably only while the parent is stopped), so workers once seen
#: are read directly afterwards.
_SEEN: set[int] = set()


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (a gunicorn master), of each live
    descendant, and of every worker it has reaped (Linux ``/proc``; ``nan`` elsewhere).

    The difference of two readings is what the server spent in between, worker recycling
    included: a worker's CPU moves from its own ``/proc`` entry to the master's ``cutime``
    when the master waits for it (:func:`benchmarks.common.process_stat`), so a worker that
    served part of a run and was replaced still counts, exactly once. (Counting only the
    live processes lost every replaced worker's share: at ~3,000 requests/s gunicorn replaces
    a worker every few seconds, and the fast servers' CPU read a third of the truth.)"""
    found: set[int] = set()
    # Popped from the end: pid first, so its tree is walked before a stray pid is judged.
    total, pending = 0.0, [*_SEEN, pid]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        try:
            parent, seconds = process_stat(current, reaped=True)
            if current != pid and parent not in found:
                continue  # a process seen once, no longer in this tree (or another server's)
            found.add(current)
            _SEEN.add(current)
            total += seconds
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return total if pid in found else float("nan")


#: The services every request also loads: PostgreSQL's processes and Redis (the limiter).
SERVICE_COMMANDS = ("postgres", "redis-server")


def service_cpu(database: str, commands: tuple[str, ...] = SERVICE_COMMANDS) -> dict[int, float]:
    """User + system CPU seconds, by pid, of the database side (Linux ``/proc``; empty
    elsewhere): PostgreSQL's shared processes (checkpointer, WAL writer, …), its client
    backends connected to ``database`` (the backend's process title names its database), and
    Redis. Per request it is what a run costs the database side (:func:`cpu_between`); other
    databases' clients are left out, Redis and the shared processes count whoever loads them.
    ``commands`` narrows the processes by name (``("redis-server",)``: Redis alone)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() not in commands:
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().split()
            # A client backend's title: "postgres: 15/main: <user> <database> <host(port)> …"
            if len(title) >= 5 and title[0] == "postgres:" and "(" in title[4]:
                if title[3] != database:
                    continue
            found[int(entry.name)] = process_stat(int(entry.name))[1]
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return found


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes spent between two :func:`service_cpu` readings: per
    process, so a backend that ended in between does not make the figure negative (what it
    spent in between is lost: an undercount); a new one counts from zero. ``nan`` without
    ``/proc``."""
    if not after:
        return float("nan")
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# --- load ---------------------------------------------------------------------------------

#: wrk script: request() builds a distinct write per request; response() counts non-200
#: answers; done() prints one RESULT line of JSON (latencies in microseconds).
LUA_TEMPLATE = r"""
local ids = {%(ids)s}
local method, prefix, kind, tag, keys = "%(method)s", "%(prefix)s", "%(kind)s", "%(tag)s", %(keys)d
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
local nthreads = %(nthreads)d
local threads = {}
counter, bad, samples, tid = 0, 0, "", 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local n = (counter - 1) * nthreads + tid
  local conv = ids[(n %% #ids) + 1]
  local body = nil
  if kind == "merge" then
    local key = "k" .. (math.floor(n / #ids) %% keys)
    body = '{"metadata": {"' .. key .. '": "' .. tag .. '-' .. tid .. '-' .. counter .. '"}}'
  end
  return wrk.format(method, prefix .. conv, headers, body)
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad = bad + 1
    if #samples < 600 then samples = samples .. status .. " " .. body:sub(1, 200) .. "\n" end
  end
end

function done(summary, latency, requests)
  local nbad, text = 0, ""
  for _, thread in ipairs(threads) do
    nbad = nbad + thread:get("bad")
    text = text .. thread:get("samples")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"non200": %%d, "socket_errors": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    nbad, e.connect + e.read + e.write + e.timeout))
  for line in text:gmatch("[^\n]+") do io.write("SAMPLE " .. line .. "\n") end
end
"""


@dataclass
class Server:
    """One gunicorn under test and its pool of conversations."""

    name: str
    port: int
    pid: int
    conversation_ids: list[str]
    updates: int = 0  # 200 answers to updates, warm-ups included
    update_runs: int = 0  # wrk runs of updates, warm-ups included
    problems: list[str] = field(default_factory=list)


@dataclass
class Run:
    """One measured wrk run."""

    scenario: str
    server: str
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    db_cpu_ms_per_request: float  # PostgreSQL and Redis (service_cpu)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(server: Server, scenario: str, args, *, key: str, seconds: float, tag: str) -> dict:
    """One wrk run of ``scenario`` against ``server``; returns wrk's RESULT (plus CPU)."""
    method, prefix, kind, is_update = SCENARIOS[scenario]
    script = LUA_TEMPLATE % {
        "ids": ", ".join(f'"{cid}"' for cid in server.conversation_ids),
        "method": method,
        "prefix": prefix,
        "kind": kind,
        "tag": tag,
        "keys": args.keys,
        "key": key,
        "nthreads": args.wrk_threads,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[-1].split("?")[0]
    cpu_before, services_before = tree_cpu(server.pid), service_cpu(database)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(args.wrk_threads),
                "-c",
                str(args.connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                f"http://127.0.0.1:{server.port}",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        os.unlink(handle.name)
    cpu = tree_cpu(server.pid) - cpu_before
    services_cpu = cpu_between(services_before, service_cpu(database))
    result = None
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        elif line.startswith("SAMPLE ") and len(server.problems) < 5:
            server.problems.append(f"{scenario}: non-200 answer {line[7:]}")
    if result is None:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    if result["non200"] or result["socket_errors"]:
        server.problems.append(
            f"{scenario} {tag}: {result['non200']} non-200 answers, "
            f"{result['socket_errors']} socket errors"
        )
    if is_update:
        server.updates += result["requests"] - result["non200"]
        server.update_runs += 1
    result["cpu"], result["services_cpu"] = cpu, services_cpu
    return result


# --- checks -------------------------------------------------------------------------------


def verify(server: Server, *, audited: bool, connections: int) -> list[str]:
    """Compare the database with what wrk counted; return failure messages."""
    from django.db.models import Max, Sum

    from conversations.domain.ids import parse_id
    from conversations.models import Conversation, MetadataChange, WebhookEvent

    problems = list(server.problems)
    ids = [parse_id(cid) for cid in server.conversation_ids]
    pool = Conversation.objects.filter(pk__in=ids)
    in_flight = connections * server.update_runs
    bumps = (pool.aggregate(total=Sum("version"))["total"] or 0) - len(ids)
    if not server.updates <= bumps <= server.updates + in_flight:
        problems.append(
            f"{server.name}: {bumps} version bumps for {server.updates} counted updates "
            f"(at most {in_flight} more may have been in flight when wrk stopped)"
        )
    changes = MetadataChange.objects.filter(conversation_id__in=ids)
    audits = changes.count()
    events = WebhookEvent.objects.filter(conversation_id__in=ids).count()
    if audited:
        if audits != bumps or events != bumps:
            problems.append(
                f"{server.name}: {audits} audit rows and {events} outbox events for {bumps} "
                f"updates (want one of each per update)"
            )
        latest = changes.values("conversation_id").annotate(last=Max("id")).values("last")
        after = dict(
            MetadataChange.objects.filter(id__in=latest).values_list("conversation_id", "after")
        )
        for pk, metadata in pool.values_list("pk", "metadata"):
            if pk in after and metadata != after[pk]:
                problems.append(
                    f"{server.name}: conversation {pk} holds {metadata!r}, its latest audit "
                    f"row says {after[pk]!r}"
                )
                break
    elif audits or events:
        problems.append(f"{server.name}: the floor wrote {audits} audit rows, {events} events")
    return problems


# --- main ---------------------------------------------------------------------------------


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make benchmark does it)")


def summarise(
    runs: list[Run], scenario: str, server: str
) -> tuple[float, float, float, float, float]:
    """``(req/s, p50 ms, p99 ms, CPU ms/req, DB CPU ms/req)`` over a server's rounds of a
    scenario: req/s over the summed time, latencies as the median of the rounds'
    percentiles, CPU per request over all the rounds' requests."""
    mine = [r for r in runs if r.scenario == scenario and r.server == server]
    total = sum(r.requests for r in mine)
    rate = total / sum(r.seconds for r in mine)
    cpu = sum(r.cpu_ms_per_request * r.requests for r in mine) / max(1, total)
    db_cpu = sum(r.db_cpu_ms_per_request * r.requests for r in mine) / max(1, total)
    return (
        rate,
        statistics.median(r.p50_ms for r in mine),
        statistics.median(r.p99_ms for r in mine),
        cpu,
        db_cpu,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    ensure_wrk()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must name a PostgreSQL database")
    sys.path.insert(0, str(ROOT))
    env = production_env(
        url,
        FLOOR_DATABASE_URL=url,
        DB_CONN_MAX_AGE=os.environ.get("DB_CONN_MAX_AGE", "600"),
        LOG_FORMAT=os.environ.get("LOG_FORMAT", "json"),  # as the README's production command
        **rate_limiter_env(),
    )
    os.environ.update(env)
    os.environ.pop("PYTEST_VERSION", None)

    ensure_database(url)
    raw_key, convstore_ids, floor_ids = prepare_data(args.conversations)
    from django.conf import settings

    assert not settings.DEBUG, "DEBUG must be off for a benchmark"
    import gunicorn

    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"gunicorn {gunicorn.__version__}, {wrk_version.split(' Copyright')[0].strip()}, "
        f"database {url.split('@')[-1]}\n"
        f"servers: gunicorn {' '.join(gunicorn_options(args))} on 127.0.0.1 (DEBUG off, "
        f"DB_CONN_MAX_AGE={env['DB_CONN_MAX_AGE']}; "
        f"{args.workers or os.environ.get('GUNICORN_WORKERS', 2 * os.cpu_count() + 1)} workers x "
        f"{args.threads or os.environ.get('GUNICORN_THREADS', 2)} threads), the same for floor, "
        f"convstore and django\n"
        f"load: wrk -t {args.wrk_threads} -c {args.connections}, {args.duration:g} s per run, "
        f"{args.rounds} alternating rounds (floor, convstore, django) per scenario after "
        f"{args.warmup:g} s warm-up each; {args.conversations} conversations per server, "
        f"{args.keys} keys rotated, every request a distinct value",
        flush=True,
    )
    from conversations.models import Conversation, MetadataChange, WebhookEvent

    servers: dict[str, Server] = {}
    procs = []
    runs: list[Run] = []
    try:
        for name, app, ids in (
            ("floor", "benchmarks.floor_app:application", floor_ids),
            ("convstore", "convstore.wsgi:application", convstore_ids),
            ("django", "benchmarks.django_bare_app:application", floor_ids),
        ):
            proc, port = start_server(app, args, env)
            procs.append(proc)
            servers[name] = Server(name, port, proc.pid, ids)
        print(
            f"\n{'scenario':<11} {'server':<10} {'round':>5} {'requests':>9} {'req/s':>8} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} {'DB CPU ms/req':>13}",
            flush=True,
        )
        for scenario in args.scenarios:
            # Each scenario starts from vacuumed tables (benchmarks.common.vacuum_analyze).
            vacuum_analyze(Conversation, MetadataChange, WebhookEvent)
            if args.warmup:
                for server in servers.values():
                    # Until every connection got answers: a cold worker (first connection,
                    # first query per thread) can take seconds on a loaded machine.
                    for attempt in range(5):
                        result = run_wrk(
                            server,
                            scenario,
                            args,
                            key=raw_key,
                            seconds=args.warmup,
                            tag=f"{scenario}-w{attempt}",
                        )
                        if result["requests"] >= 2 * args.connections:
                            break
            for number in range(1, args.rounds + 1):
                for server in servers.values():
                    result = run_wrk(
                        server,
                        scenario,
                        args,
                        key=raw_key,
                        seconds=args.duration,
                        tag=f"{scenario}-r{number}",
                    )
                    run = Run(
                        scenario,
                        server.name,
                        number,
                        result["requests"],
                        result["duration_us"] / 1e6,
                        result["p50_us"] / 1000,
                        result["p99_us"] / 1000,
                        result["cpu"] / max(1, result["requests"]) * 1000,
                        result["services_cpu"] / max(1, result["requests"]) * 1000,
                    )
                    runs.append(run)
                    print(
                        f"{scenario:<11} {server.name:<10} {number:>5} {run.requests:>9} "
                        f"{run.rate:>8.1f} {run.p50_ms:>7.2f} {run.p99_ms:>7.2f} "
                        f"{run.cpu_ms_per_request:>10.2f} {run.db_cpu_ms_per_request:>13.2f}",
                        flush=True,
                    )
    finally:
        for proc in procs:
            stop_server(proc)

    print(
        f"\n{'scenario':<11} {'floor req/s':>11} {'convstore req/s':>15} {'ratio':>6} "
        f"{'floor p50/p99 ms':>17} {'convstore p50/p99 ms':>21} {'p99 ratio':>9} "
        f"{'CPU ratio':>9} {'DB CPU f/c':>10} {'django/floor':>12}  target"
    )
    for scenario in args.scenarios:
        f_rate, f_p50, f_p99, f_cpu, f_db = summarise(runs, scenario, "floor")
        c_rate, c_p50, c_p99, c_cpu, c_db = summarise(runs, scenario, "convstore")
        ceiling = summarise(runs, scenario, "django")[0] / f_rate
        ratio, p99_ratio = c_rate / f_rate, c_p99 / f_p99
        f_cpu = f_cpu or float("nan")
        if SCENARIOS[scenario][3]:
            met = ratio >= TARGET_UPDATE_RATIO and p99_ratio <= TARGET_P99_RATIO
            target = (
                f"req/s >= {TARGET_UPDATE_RATIO} (aim {AIM_UPDATE_RATIO}), p99 <= "
                f"{TARGET_P99_RATIO:g}x: {'met' if met else 'NOT met'}"
            )
        else:
            met = ratio >= TARGET_GET_RATIO
            target = f"req/s >= {TARGET_GET_RATIO}: {'met' if met else 'NOT met'}"
        print(
            f"{scenario:<11} {f_rate:>11.1f} {c_rate:>15.1f} {ratio:>6.2f} "
            f"{f'{f_p50:.2f}/{f_p99:.2f}':>17} {f'{c_p50:.2f}/{c_p99:.2f}':>21} "
            f"{p99_ratio:>9.2f} {c_cpu / f_cpu:>9.2f} {f'{f_db:.2f}/{c_db:.2f}':>10} "
            f"{ceiling:>12.2f}  {target}"
        )

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
