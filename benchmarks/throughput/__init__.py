"""The write-path throughput benchmark's parts (``benchmarks/update_throughput.py`` runs them):

- :mod:`benchmarks.throughput.scenarios`: the four scenarios, their data, the servers under test
  and one measured wrk run;
- :mod:`benchmarks.throughput.checks`: after the run, whether every counted update landed;
- :mod:`benchmarks.throughput.report`: the tables, per round and per scenario, with the
  convstore/floor ratios against issue 10's targets.

Servers, wrk, ``/proc`` and printing come from :mod:`benchmarks.harness`."""
