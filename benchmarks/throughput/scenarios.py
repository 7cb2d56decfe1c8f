"""The write-path scenarios: their requests, their data, the servers under test, one wrk run.

Every scenario is served by three gunicorn servers (:data:`SERVERS`: floor, convstore, django)
on two pools of conversations; a generated Lua ``request()`` makes every request write a
distinct value (keys rotated so metadata never passes 16 pairs)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from benchmarks.harness import procfs, wrk

PROJECT_NAME = "benchmark"

#: scenario -> (HTTP method, convstore path prefix, body kind, counts as an update)
SCENARIOS = {
    "openai": ("POST", "/openai/v1/conversations/", "merge", True),
    "telnyx": ("PUT", "/telnyx/v2/ai/conversations/", "merge", True),
    "agentphone": ("PATCH", "/agentphone/v1/conversations/", "merge", True),
    "get": ("GET", "/openai/v1/conversations/", "none", False),
}

#: ``(server name, WSGI application, pool)``, in the order they run each round; pool 0 is
#: convstore's conversations, pool 1 the floor's (the bare Django view reads none).
SERVERS = (
    ("floor", "benchmarks.floor_app:application", 1),
    ("convstore", "convstore.wsgi:application", 0),
    ("django", "benchmarks.django_bare_app:application", 1),
)


def prepare_data(conversations: int) -> tuple[str, list[str], list[str]]:
    """Migrate, reset the ``benchmark`` project, and return ``(raw_key, convstore_ids,
    floor_ids)``: two pools of empty conversations, ids rendered ``conv_<hex>``. The project
    gets one active webhook endpoint (every event, a loopback URL nobody delivers to), so each
    convstore update also writes an outbox event."""
    from benchmarks.harness.db import new_api_key, reset_project, setup_django

    setup_django()
    from django.db import connections
    from django.test import override_settings

    from conversations import services
    from conversations.webhooks.endpoints import webhook_endpoint_create

    project = reset_project(PROJECT_NAME, endpoints=True)  # earlier runs' endpoints and events
    # A loopback URL nobody delivers to: allowed here only (README "Webhooks", addresses).
    with override_settings(CONVSTORE_WEBHOOK_ALLOW_PRIVATE=True):
        webhook_endpoint_create(project=project, url="http://127.0.0.1:9/benchmark-hooks")
    raw_key = new_api_key(project)  # earlier runs' keys deleted
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


#: wrk's ``request()`` (:func:`benchmarks.harness.wrk.run_script` adds the reporter): a
#: distinct write per request, ``{"metadata": {"k<n>": "<tag>-<thread>-<counter>"}}``.
REQUEST_LUA = r"""
local ids = {%(ids)s}
local method, prefix, kind, tag, keys = "%(method)s", "%(prefix)s", "%(kind)s", "%(tag)s", %(keys)d
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
local nthreads = %(nthreads)d
counter = 0

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

    @classmethod
    def of(cls, scenario: str, server: str, number: int, result: dict) -> Run:
        """A measured run from :func:`run_wrk`'s result."""
        per_request = 1000 / max(1, result["requests"])
        return cls(
            scenario, server, number, result["requests"], result["duration_us"] / 1e6,
            result["p50_us"] / 1000, result["p99_us"] / 1000,
            result["cpu"] * per_request, result["services_cpu"] * per_request,
        )  # fmt: skip


def run_wrk(server: Server, scenario: str, args, *, key: str, seconds: float, tag: str) -> dict:
    """One wrk run of ``scenario`` against ``server``; returns wrk's RESULT plus the server's
    CPU (``cpu``) and the database side's (``services_cpu``), in seconds."""
    method, prefix, kind, is_update = SCENARIOS[scenario]
    script = REQUEST_LUA % {
        "ids": ", ".join(f'"{cid}"' for cid in server.conversation_ids),
        "method": method,
        "prefix": prefix,
        "kind": kind,
        "tag": tag,
        "keys": args.keys,
        "key": key,
        "nthreads": args.wrk_threads,
    }
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[-1].split("?")[0]
    cpu_before, services_before = procfs.tree_cpu(server.pid), procfs.service_cpu(database)
    result, samples = wrk.run_script(
        f"http://127.0.0.1:{server.port}", script,
        threads=args.wrk_threads, connections=args.connections, seconds=seconds,
    )  # fmt: skip
    cpu = procfs.tree_cpu(server.pid) - cpu_before
    services_cpu = procfs.cpu_between(services_before, procfs.service_cpu(database))
    for sample in samples[: max(0, 5 - len(server.problems))]:
        server.problems.append(f"{scenario}: non-200 answer {sample}")
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


def warm_up(servers, scenario: str, args, key: str) -> None:
    """Unmeasured runs of ``scenario`` (``--warmup`` seconds each) until every server has
    answered at least two requests per connection, five runs at most: a cold worker (first
    connection, first query per thread) can take seconds on a loaded machine."""
    for server in servers:
        for attempt in range(5):
            result = run_wrk(
                server, scenario, args, key=key, seconds=args.warmup, tag=f"{scenario}-w{attempt}"
            )
            if result["requests"] >= 2 * args.connections:
                break
