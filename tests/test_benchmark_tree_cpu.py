"""The benchmarks (``benchmarks/harness/procfs.py``) read a server's CPU from ``/proc``: the
gunicorn master, its live workers, and the workers it replaced during the run (their CPU moves
to the master's ``cutime`` when it reaps them). Linux only; no timings are asserted, only that
CPU a child spent is counted."""

import subprocess
import sys

import pytest

from benchmarks.harness.procfs import tree_cpu

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: A parent that, on each line it reads, runs a child burning ~0.3 s of CPU and waits for it
#: (as the gunicorn master replaces a worker), then answers "done".
PARENT = """
import subprocess, sys
BURN = "import time\\nend = time.process_time() + 0.3\\nwhile time.process_time() < end: pass"
for line in sys.stdin:
    subprocess.run([sys.executable, "-c", BURN], check=True)
    print("done", flush=True)
"""


def test_a_child_that_ended_between_two_readings_still_counts():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdin and parent.stdout
        parent.stdin.write("go\n")  # warm: the interpreter's own start is not measured
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"
        before = tree_cpu(parent.pid)

        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"
        spent = tree_cpu(parent.pid) - before
    finally:
        parent.kill()
        parent.wait()
    # The child ran and was reaped between the readings: only the parent's cutime holds it.
    assert spent >= 0.25, spent
