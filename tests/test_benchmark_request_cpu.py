"""``benchmarks/request_cpu.py`` runs convstore's hot routes in one process and prints each
stage's CPU beside the bare Django view and the floor. A smoke run on the test database
(PostgreSQL only: the floor speaks psycopg); its figures are not asserted, only that every
request answered 200 (the script raises otherwise) and every row is printed."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.ops.conftest import ROOT, database_url_for_child
from tests.skips import needs_postgresql

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=needs_postgresql("the floor app talks to it through psycopg"),
)


@pytest.mark.django_db(transaction=True)
def test_request_cpu_prints_every_stage_for_each_scenario():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(BENCH_DATABASE_URL=database_url_for_child(), PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [sys.executable, "benchmarks/request_cpu.py", "--requests", "5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for scenario, service in (
        ("openai", "service (merge)"),
        ("telnyx", "service (merge)"),
        ("agentphone", "service (replace)"),
        ("get", "service (read)"),
    ):
        block = done.stdout.split(f"{scenario} (CPU ms per request)")[1].split("\n\n")[0]
        for row in (
            "convstore process", "Django (handler, middleware)", "DRF dispatch",
            "rate limiter", service, "database client", "PostgreSQL backend",
            "machine CPU", "bare Django view, same path", "floor machine CPU",
        ):  # fmt: skip
            assert row in block, (scenario, row, block)
