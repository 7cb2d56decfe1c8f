"""The one harness every benchmark script shares.

- :mod:`benchmarks.harness.env`: the benchmark database's URL and the environment of the
  Django processes under test (production settings, the rate limiter);
- :mod:`benchmarks.harness.db`: the benchmark database — created, migrated, its projects reset,
  API keys made, tables vacuumed;
- :mod:`benchmarks.harness.servers`: processes on a free loopback port (gunicorn under the
  production settings, receivers), waited for and stopped;
- :mod:`benchmarks.harness.wrk`: the ``wrk`` load generator — its command line, a Lua reporter
  that prints one JSON line per run, and the parsing of its text summary;
- :mod:`benchmarks.harness.procfs`: what Linux ``/proc`` says about processes (CPU of a server's
  tree and of the database side, memory, the load average);
- :mod:`benchmarks.harness.report`: printing — the machine line, fixed-width tables,
  percentiles, ratios and target verdicts.

Figures are printed, never asserted. A script run as ``python benchmarks/<name>.py`` puts the
project's root on ``sys.path`` before it imports this package.
"""

from pathlib import Path

#: The project's root (where ``manage.py`` and ``gunicorn.conf.py`` are).
ROOT = Path(__file__).resolve().parents[2]
