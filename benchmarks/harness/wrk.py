"""The ``wrk`` load generator (Debian package ``wrk``): its command line and its figures.

Two ways to read a run: :func:`run_script` adds :data:`REPORTER_LUA` to a script's
``request()`` — it counts the answers other than 200 and prints one ``RESULT`` line of JSON
(requests, duration, p50/p99 in microseconds, non-200 answers, socket errors) and ``SAMPLE``
lines of the first bad answers; :func:`text_summary` parses wrk's own ``--latency`` text
(requests per second, p50/p99, non-2xx answers) for runs without a script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile


def ensure_wrk() -> None:
    """Exit unless ``wrk`` is installed."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make benchmark does it)")


def version() -> str:
    """wrk's version line, ``"wrk 4.1.0 [epoll]"``."""
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return out.split(" Copyright")[0].strip()


def run(
    url: str,
    *,
    threads: int,
    connections: int,
    duration: str,
    timeout: str | None = None,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    latency: bool = False,
    wait: float | None = None,
) -> subprocess.CompletedProcess:
    """One wrk run against ``url`` (``duration`` as wrk writes it, ``"5s"``; ``timeout``: wrk's
    per-request ``--timeout``; ``script``: a Lua file; ``headers``: ``"Name: value"`` lines;
    ``latency``: print the latency distribution); at most ``wait`` seconds. Its output is
    captured as text; the exit status is not checked."""
    argv = ["wrk", *(["--latency"] if latency else [])]
    argv += ["-t", str(threads), "-c", str(connections), "-d", duration]
    argv += ["--timeout", timeout] if timeout else []
    for header in headers:
        argv += ["-H", header]
    argv += ["-s", script] if script else []
    return subprocess.run(
        [*argv, url], capture_output=True, text=True, timeout=wait, check=False
    )


_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def text_summary(done: subprocess.CompletedProcess) -> dict:
    """Requests per second (``rate``), ``p50`` and ``p99`` in ms and the non-2xx answers
    (``bad``) from a ``--latency`` run's text; exits if wrk failed."""
    if done.returncode:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(out)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rate": rate,
        "p50": latency.get("50", float("nan")),
        "p99": latency.get("99", float("nan")),
        "bad": int(bad.group(1)) if bad else 0,
    }


#: Added after a script's ``request()`` by :func:`run_script`: setup() numbers the threads
#: (``tid``), response() counts answers other than 200 and keeps the first few, done() prints
#: one RESULT line of JSON (latencies in microseconds) and a SAMPLE line per kept answer.
REPORTER_LUA = r"""
local threads = {}
bad, samples, tid = 0, "", 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad = bad + 1
    if #samples < 600 then samples = samples .. status .. " " .. body:sub(1, 200) .. "\n" end
  end
end

function done(summary, latency, requests)
  local nbad, text = 0, ""
  for _, thread in ipairs(threads) do
    nbad = nbad + thread:get("bad")
    text = text .. thread:get("samples")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"non200": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    nbad, e.connect + e.read + e.write + e.timeout))
  for line in text:gmatch("[^\n]+") do io.write("SAMPLE " .. line .. "\n") end
end
"""


def run_script(
    url: str, request_lua: str, *, threads: int, connections: int, seconds: float
) -> tuple[dict, list[str]]:
    """One wrk run of ``request_lua`` (a Lua ``request()`` function and its data) with
    :data:`REPORTER_LUA` for ``seconds`` (rounded, at least 1), 10 s per request at most;
    returns ``(RESULT, the SAMPLE lines)``. Exits if wrk printed no RESULT."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(request_lua + REPORTER_LUA)
    try:
        out = run(
            url, threads=threads, connections=connections,
            duration=f"{max(1, round(seconds))}s", timeout="10s", script=handle.name,
            wait=seconds + 60,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)
    result, samples = None, []
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        elif line.startswith("SAMPLE "):
            samples.append(line[len("SAMPLE ") :])
    if result is None:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    return result, samples
