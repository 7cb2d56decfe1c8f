"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py convstore.wsgi``.

Every value can be overridden from the environment (``GUNICORN_*``, below) or the command
line (``-w 8``, ``-b 0.0.0.0:9000``). What the defaults mean:

- ``workers`` = 2 × CPU cores + 1 (``GUNICORN_WORKERS``), ``gthread`` workers with
  ``threads`` = 2 (``GUNICORN_THREADS``): a request waits on PostgreSQL most of its time, so
  a few threads per process keep the cores busy. Each thread holds one persistent database
  connection (``DB_CONN_MAX_AGE``): size PostgreSQL's ``max_connections`` for
  workers × threads per instance.
- ``timeout`` 30 s (``GUNICORN_TIMEOUT``): a worker silent that long is killed and replaced.
  ``graceful_timeout`` 30 s (``GUNICORN_GRACEFUL_TIMEOUT``): on SIGTERM, workers stop
  accepting and finish in-flight requests for up to that long (graceful shutdown; give the
  orchestrator's stop grace period a little more). ``keepalive`` 5 s behind a load balancer.
- ``max_requests`` 2000 with jitter 200: workers are recycled now and then, so a slow leak
  cannot grow without bound.
- ``preload_app`` on (``GUNICORN_PRELOAD_APP=0`` turns it off): the master imports Django and
  convstore once and every worker forks from it, so a recycled worker starts in milliseconds
  instead of importing everything again (~0.7 s of CPU per start on the development machine;
  at 2,000 requests per worker that was ~0.35 ms of CPU per request, and a slow first
  request on each new worker). The master holds no database connection when it forks
  (:func:`when_ready` closes any), and the loaded heap is frozen out of the garbage
  collector (``gc.freeze()``) so workers share its pages. gunicorn's documented catch: a
  ``HUP`` restarts the workers but does not reload the code; deploy new code by restarting
  the master (or turn preloading off).
- ``bind`` ``127.0.0.1:8000`` (``GUNICORN_BIND``): loopback, for a reverse proxy on the same
  machine. gunicorn must not face the internet directly: a gthread worker gives a connection
  a thread from its first byte, so a few clients trickling their headers or bodies hold every
  thread. Put nginx in front (``deploy/nginx.conf``, docs/deployment.md) and bind to an
  address only the proxy reaches.
- Logs go to stderr. convstore logs one line per request itself (``LOG_FORMAT=json`` for
  JSON; request id, format, route, status, duration, project), so gunicorn's access log is
  off by default; ``GUNICORN_ACCESS_LOG=-`` turns it on (with the request id and duration).
- Metrics: ``PROMETHEUS_MULTIPROC_DIR`` (default: a fresh temporary directory) lets every
  worker count into shared files, so ``/metrics`` answers for the whole server whichever
  worker serves the scrape. The directory is emptied at start and a dead worker's gauges are
  dropped. Point ``deliver_webhooks`` workers at the same directory to include their counters.
"""

import gc
import multiprocessing
import os
import shutil
import tempfile


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _int("GUNICORN_THREADS", 2)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
preload_app = os.environ.get("GUNICORN_PRELOAD_APP", "1") != "0"
# Request line and header limits (gunicorn's defaults, stated): bodies are bounded by
# CONVSTORE_MAX_BODY_BYTES in the app.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms req=%({x-request-id}o)s'
# Django's logging (LOGGING in settings) writes the app's lines; keep gunicorn's own.
capture_output = False
# Whose X-Forwarded-Proto is believed (the load balancer's address).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="convstore-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR


def on_starting(server):
    """Empty the metrics directory: counters from a previous run must not be added in."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def when_ready(server):
    """Before the first fork, with the app preloaded: close any database connection the
    master opened while loading (a forked worker must never share one), then freeze the
    loaded heap so the workers' garbage collections leave its pages shared."""
    if not server.cfg.preload_app:
        return
    from django.db import connections

    connections.close_all()
    gc.freeze()


def child_exit(server, worker):
    """Drop a dead worker's live gauges (prometheus_client multiprocess mode)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this file created (not one named by the environment)."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
