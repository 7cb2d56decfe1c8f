"""The write-path benchmark's output: the set-up lines, a row per measured run, and per scenario
the convstore/floor ratios against issue 10's targets (printed, never asserted)."""

from __future__ import annotations

import os
import statistics

from benchmarks.harness import wrk
from benchmarks.harness.report import Column, Table, machine, verdict, where
from benchmarks.throughput.scenarios import SCENARIOS, Run

#: Targets from issue 10: update req/s ratio, update p99 ratio (at most), GET req/s ratio.
TARGET_UPDATE_RATIO, AIM_UPDATE_RATIO, TARGET_P99_RATIO, TARGET_GET_RATIO = 0.6, 0.8, 2.0, 0.7

#: One row per measured run.
ROUNDS = Table(
    Column("scenario", 11, align="<"),
    Column("server", 10, align="<"),
    Column("round", 5),
    Column("requests", 9),
    Column("req/s", 8, ".1f"),
    Column("p50 ms", 7, ".2f"),
    Column("p99 ms", 7, ".2f"),
    Column("CPU ms/req", 10, ".2f"),
    Column("DB CPU ms/req", 13, ".2f"),
)

#: One row per scenario, over its rounds.
SUMMARY = Table(
    Column("scenario", 11, align="<"),
    Column("floor req/s", 11, ".1f"),
    Column("convstore req/s", 15, ".1f"),
    Column("ratio", 6, ".2f"),
    Column("floor p50/p99 ms", 17),
    Column("convstore p50/p99 ms", 21),
    Column("p99 ratio", 9, ".2f"),
    Column("CPU ratio", 9, ".2f"),
    Column("DB CPU f/c", 10),
    Column("django/floor", 12, ".2f"),
    Column("target", 0, align="<", gap=2),
)


def setup_lines(args, url: str, env: dict, options: list[str]) -> str:
    """The machine, the servers' settings and the load, before any figure."""
    import gunicorn

    workers = args.workers or os.environ.get("GUNICORN_WORKERS", 2 * os.cpu_count() + 1)
    return (
        machine(f"gunicorn {gunicorn.__version__}", wrk.version(), f"database {where(url)}")
        + f"\nservers: gunicorn {' '.join(options)} on 127.0.0.1 (DEBUG off, "
        f"DB_CONN_MAX_AGE={env['DB_CONN_MAX_AGE']}; "
        f"{workers} workers x {args.threads or os.environ.get('GUNICORN_THREADS', 2)} threads), "
        f"the same for floor, convstore and django\n"
        f"load: wrk -t {args.wrk_threads} -c {args.connections}, {args.duration:g} s per run, "
        f"{args.rounds} alternating rounds (floor, convstore, django) per scenario after "
        f"{args.warmup:g} s warm-up each; {args.conversations} conversations per server, "
        f"{args.keys} keys rotated, every request a distinct value"
    )


def round_line(run: Run) -> str:
    """A measured run's row of :data:`ROUNDS`."""
    return ROUNDS.row(
        run.scenario, run.server, run.round, run.requests, run.rate,
        run.p50_ms, run.p99_ms, run.cpu_ms_per_request, run.db_cpu_ms_per_request,
    )  # fmt: skip


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


def summary_line(runs: list[Run], scenario: str) -> str:
    """A scenario's row of :data:`SUMMARY`: convstore against the floor over every round,
    the framework's ceiling (django/floor) and whether the target is met."""
    f_rate, f_p50, f_p99, f_cpu, f_db = summarise(runs, scenario, "floor")
    c_rate, c_p50, c_p99, c_cpu, c_db = summarise(runs, scenario, "convstore")
    ceiling = summarise(runs, scenario, "django")[0] / f_rate
    ratio, p99_ratio = c_rate / f_rate, c_p99 / f_p99
    f_cpu = f_cpu or float("nan")
    if SCENARIOS[scenario][3]:
        met = ratio >= TARGET_UPDATE_RATIO and p99_ratio <= TARGET_P99_RATIO
        target = (
            f"req/s >= {TARGET_UPDATE_RATIO} (aim {AIM_UPDATE_RATIO}), p99 <= "
            f"{TARGET_P99_RATIO:g}x: {verdict(met)}"
        )
    else:
        target = f"req/s >= {TARGET_GET_RATIO}: {verdict(ratio >= TARGET_GET_RATIO)}"
    return SUMMARY.row(
        scenario, f_rate, c_rate, ratio, f"{f_p50:.2f}/{f_p99:.2f}", f"{c_p50:.2f}/{c_p99:.2f}",
        p99_ratio, c_cpu / f_cpu, f"{f_db:.2f}/{c_db:.2f}", ceiling, target,
    )  # fmt: skip
