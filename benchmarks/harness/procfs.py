"""What Linux ``/proc`` says about processes: CPU of a server's tree and of the database side,
memory of a command and its workers, and the machine's load average."""

from __future__ import annotations

import os
from pathlib import Path


def process_stat(pid: int, *, reaped: bool = False) -> tuple[int, float]:
    """``(parent pid, user + system CPU seconds)`` of process ``pid``, from Linux's
    ``/proc/<pid>/stat``; with ``reaped``, plus the CPU of its children that ended and were
    waited for (``cutime`` + ``cstime``: the kernel adds a reaped child's CPU to its
    parent's). Raises ``OSError`` when the process is gone (or there is no ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` (say a PostgreSQL backend; ``/proc``; 0.0 when it is
    gone or there is no ``/proc``)."""
    try:
        return process_stat(pid)[1]
    except OSError:
        return 0.0


#: Every process seen in a server's tree: ``/proc/*/task/*/children`` may miss a child now and
#: then (the kernel lists it reliably only while the parent is stopped), so workers once seen
#: are read directly afterwards.
_SEEN: set[int] = set()


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (a gunicorn master), of each live
    descendant, and of every worker it has reaped (Linux ``/proc``; ``nan`` elsewhere).

    The difference of two readings is what the server spent in between, worker recycling
    included: a worker's CPU moves from its own ``/proc`` entry to the master's ``cutime``
    when the master waits for it (:func:`process_stat`), so a worker that served part of a
    run and was replaced still counts, exactly once. (Counting only the live processes lost
    every replaced worker's share: at ~3,000 requests/s gunicorn replaces a worker every few
    seconds, and the fast servers' CPU read a third of the truth.)"""
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


def redis_cpu() -> float:
    """CPU seconds of the machine's Redis processes."""
    return sum(service_cpu("", commands=("redis-server",)).values())


def tree_pss_kib(pid: int) -> int:
    """PSS (KiB) of process ``pid`` and its children, added up (0 for any that has gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids = [pid, *map(int, children.read().split())]
    except OSError:
        return 0
    total = 0
    for each in pids:
        try:
            with open(f"/proc/{each}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, ``"0.25, 2.33, 2.44"`` (the cores are
    shared: read every figure with it)."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())
