"""What ``make test`` on SQLite without Redis says about the tests it skips: each reason names
the command that runs the test, and one line sums them up with ``make test-all``."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sqlite_run_says_how_to_run_what_it_skipped(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("PYTEST")
    }
    env["SQLITE_TEST_NAME"] = str(tmp_path / "test.sqlite3")  # not the running suite's file
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "tests/test_benchmark_floor.py", "tests/ratelimits",
         "-k", "benchmark_floor or redis"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert (
        "needs PostgreSQL (the floor app talks to it through psycopg): run `make test-all`, "
        "or DATABASE_URL=postgres://postgres@127.0.0.1:5432/convstore make test"
    ) in out
    assert (
        "needs Redis (REDIS_URL is not set): run `make test-all`, "
        "or REDIS_URL=redis://127.0.0.1:6379/0 make test"
    ) in out
    assert "skipped tests need PostgreSQL and " in out
    assert "need Redis: `make test-all` runs the whole suite on PostgreSQL with Redis." in out


def test_make_test_all_runs_make_test_on_postgresql_with_redis():
    dry_run = subprocess.run(
        ["make", "-n", "test-all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "CREATE DATABASE convstore_test_all" in dry_run
    assert (
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/convstore_test_all \\\n"
        "\tREDIS_URL=redis://127.0.0.1:6379/0 make --no-print-directory test"
    ) in dry_run
