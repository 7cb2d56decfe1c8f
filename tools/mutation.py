"""Mutation testing of the core with mutmut 3: ``make mutation`` (see docs/mutation-testing.md).

mutmut changes one thing at a time in the code (``<`` to ``<=``, a constant, a dropped
argument…) and runs the tests that cover it; a change no test notices *survives*. This
script points mutmut at the core and its tests, runs it, and prints the score (killed /
tested) and every survivor with its diff.

    .venv/bin/python tools/mutation.py                        # the whole core
    .venv/bin/python tools/mutation.py --modules conversations/domain/metadata.py \\
        --tests tests/test_metadata.py                        # one module, its tests

mutmut reads its settings from ``setup.cfg`` (``[mutmut]``); this script writes that file
for the run and removes it afterwards. Results are kept in ``mutants/`` (git-ignored) and
reused by the next run of the same modules; ``--fresh`` starts over. The tests run on
whatever ``DATABASE_URL`` names (SQLite when unset; the fast write path is PostgreSQL-only,
so mutate ``conversations/services/fastwrite.py`` with PostgreSQL), one mutant at a time.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]

#: The core: where the documented guarantees live.
CORE = [
    "conversations/domain/metadata.py",
    "conversations/domain/durations.py",
    "conversations/domain/handoff.py",
    "conversations/domain/conditional.py",
    "conversations/http/idempotency.py",
    "conversations/services/*",
    "conversations/webhooks/outbox.py",
    "conversations/webhooks/leases.py",
    "conversations/webhooks/leases_pg.py",
]
#: The tests that defend the core (the API tests through every format included).
CORE_TESTS = [
    "tests/test_metadata.py",
    "tests/test_handoff.py",
    "tests/test_handoff_writes.py",
    "tests/conditional",
    "tests/test_idempotency.py",
    "tests/test_idempotency_leases.py",
    "tests/test_idempotency_concurrency.py",
    "tests/test_idempotency_rules.py",
    "tests/test_services.py",
    "tests/test_audit_trail.py",
    "tests/test_write_results.py",
    "tests/test_api_key_use.py",
    "tests/webhooks/test_outbox.py",
    "tests/webhooks/test_outbox_fast_path.py",
    "tests/webhooks/test_outbox_subscriptions.py",
    "tests/webhooks/test_delivery_signing.py",
    "tests/webhooks/test_delivery_retries.py",
    "tests/webhooks/test_delivery_leases.py",
    "tests/webhooks/test_delivery_order.py",
    "tests/webhooks/test_delivery_workers.py",
    "tests/webhooks/test_endpoint_setup.py",
]
#: What the tests need besides the mutated package (settings, helpers they import).
ALSO_COPY = ["convstore", "benchmarks", "manage.py", "gunicorn.conf.py"]
SURVIVED = {"survived", "no tests"}


def write_config(
    modules: list[str], tests: list[str], exclude: list[str] = (), root: Path = ROOT
) -> Path:
    """Write mutmut's ``[mutmut]`` settings to ``root/setup.cfg``: mutate ``modules``, run
    ``tests`` but the pytest ids in ``exclude``. Returns the file's path."""

    def lines(values):
        return "".join(f"\n    {value}" for value in values)

    config = root / "setup.cfg"
    config.write_text(
        "# Written by tools/mutation.py for one run; removed afterwards.\n"
        "[mutmut]\n"
        # Each mutant's tests run in a child forked from a server process that has only
        # collected the tests, never run them: a child forked from a process that ran them
        # inherits thread pools whose threads did not survive the fork (the webhook sender's
        # DNS resolver), its deliveries hang, and mutants are counted killed that no test
        # caught.
        "process_isolation = forkserver\n"
        "source_paths = conversations\n"
        f"only_mutate ={lines(modules)}\n"
        f"also_copy ={lines(ALSO_COPY)}\n"
        f"pytest_add_cli_args_test_selection ={lines(tests)}"
        f"{lines(f'--deselect={test}' for test in exclude)}\n"
        "pytest_add_cli_args =\n    -q\n    -p\n    no:cacheprovider\n"
    )
    return config


def statuses() -> dict[str, str]:
    """``{mutant name: status}`` of every mutant of the last run (``mutmut results``)."""
    out = subprocess.run(
        [*MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    return dict(re.findall(r"^\s+(\S+): (.+)$", out, flags=re.MULTILINE))


def report(found: dict[str, str], modules: list[str]) -> int:
    patterns = [m.removesuffix(".py").replace("/", ".").replace("*", "") for m in modules]
    found = {name: s for name, s in found.items() if any(name.startswith(p) for p in patterns)}
    counts: dict[str, int] = {}
    for status in found.values():
        counts[status] = counts.get(status, 0) + 1
    killed = counts.get("killed", 0)
    tested = killed + sum(counts.get(s, 0) for s in (*SURVIVED, "timeout", "suspicious"))
    print("\n=== mutation score")
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if tested:
        print(f"score: {killed}/{tested} killed = {100 * killed / tested:.1f} %")
    survivors = sorted(name for name, status in found.items() if status in SURVIVED)
    print(f"\n=== {len(survivors)} surviving mutants")
    for name in survivors:
        shown = subprocess.run([*MUTMUT, "show", name], cwd=ROOT, capture_output=True, text=True)
        print(shown.stdout.rstrip() + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", default=CORE, help="files (globs) to mutate")
    parser.add_argument(
        "--tests", nargs="+", default=CORE_TESTS, help="test files (or directories) to run"
    )
    parser.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="TEST_ID",
        help="tests to leave out (pytest ids, path::name), e.g. slow multi-process ones",
    )
    # One at a time: parallel runs would share the test database (SQLite's test-db.sqlite3 file,
    # PostgreSQL's test_<name>) and fail each other's tests, counting survivors as killed.
    parser.add_argument("--max-children", type=int, default=1, help="parallel test runs")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    args = parser.parse_args(argv)

    if args.fresh:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    config = write_config(args.modules, args.tests, args.exclude)
    try:
        run = subprocess.run(
            [*MUTMUT, "run", "--max-children", str(args.max_children)], cwd=ROOT
        )
        if run.returncode:
            print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
            return run.returncode
        return report(statuses(), args.modules)
    finally:
        config.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
