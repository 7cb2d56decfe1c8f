"""The benchmarks (``benchmarks/harness/procfs.py``) read the database side's CPU per request from
``/proc``: PostgreSQL's backends of the benchmark's database (not other databases'), its shared
processes, and Redis. PostgreSQL on Linux only; no timings here."""

import sys
from pathlib import Path

import pytest
from django.db import connection

from benchmarks.harness.procfs import service_cpu
from tests.skips import needs_postgresql

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not sys.platform.startswith("linux"),
    reason=needs_postgresql("reads its processes from Linux /proc"),
)


def test_service_cpu_counts_this_database_backends_and_leaves_out_other_databases(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    if not Path(f"/proc/{backend}").exists():
        pytest.skip("PostgreSQL runs on another machine (its backend is not in /proc)")
    name = connection.settings_dict["NAME"]

    ours = service_cpu(name)
    others = service_cpu(name + "_another_database")

    assert backend in ours
    assert backend not in others
    assert all(seconds >= 0 for seconds in ours.values())
    shared = set(ours) - {backend}
    assert shared and shared <= set(others)  # the postmaster and its helpers count for both
