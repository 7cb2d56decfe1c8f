"""``/healthz`` (liveness) and ``/readyz`` (readiness): JSON, no auth, cheap.

Small views rather than django-health-check: a liveness probe must not touch the database,
the readiness checks are three short functions, and the JSON shape is ours:

- ``GET /healthz`` → 200 ``{"status": "ok"}``: the process answers. No database, no Redis.
- ``GET /readyz`` → 200 ``{"status": "ok", "checks": {...}}`` when every check passes, else
  503 ``{"status": "unavailable", "checks": {...}}``. Each check is ``{"ok": bool,
  "ms": float}`` plus ``"error"`` (the exception's class name) when it failed; the driver's
  message goes to the ``convstore.health`` log (WARNING), not to anonymous callers:

  - ``database``: ``SELECT 1`` on the ``default`` connection;
  - ``migrations``: every migration the code ships is recorded in ``django_migrations``
    (one query; the list the code ships is read from disk once per process);
  - ``redis``: ``PING`` to ``REDIS_URL`` (1 s timeouts), only when ``REDIS_URL`` is set.

Both answer ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

#: Seconds Redis has to connect and answer the readiness PING.
REDIS_TIMEOUT = 1.0


logger = logging.getLogger("convstore.health")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


@lru_cache(maxsize=1)
def shipped_migrations() -> frozenset[tuple[str, str]]:
    """``(app_label, name)`` of every migration in the code (read from disk, no database)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.graph.nodes)


def check_database() -> None:
    """``SELECT 1`` on the default connection; raises what the driver raises."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


class UnappliedMigrations(RuntimeError):
    """Migrations the code ships are not applied (``manage.py migrate`` has not run)."""


def check_migrations() -> None:
    """Raise :class:`UnappliedMigrations` naming unapplied migrations, if any."""
    recorder = MigrationRecorder(connections[DEFAULT_DB_ALIAS])
    applied = set(recorder.applied_migrations())
    missing = sorted(shipped_migrations() - applied)
    if missing:
        names = ", ".join(f"{app}.{name}" for app, name in missing[:10])
        raise UnappliedMigrations(f"{len(missing)} unapplied migration(s): {names}")


@lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )


def check_redis() -> None:
    """``PING`` the server named by ``REDIS_URL``."""
    _redis_client(settings.REDIS_URL).ping()


def _run(name: str, check) -> dict:
    start = time.perf_counter()
    result: dict = {"ok": True}
    try:
        check()
    except Exception as exc:  # A probe reports every failure; it never raises.
        # The answer names the exception's class only (no host names for anonymous callers);
        # the log line has the driver's words.
        logger.warning("readyz: %s check failed: %s", name, _first_line(exc))
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - start) * 1000, 2)
    return result


@never_cache
@require_safe
def healthz(request):
    """Liveness: the process answers (no database)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """Readiness: database reachable, migrations applied, Redis reachable when configured."""
    checks = {"database": _run("database", check_database)}
    if checks["database"]["ok"]:
        checks["migrations"] = _run("migrations", check_migrations)
    else:
        checks["migrations"] = {"ok": False, "error": "database unreachable", "ms": 0.0}
    if settings.REDIS_URL:
        checks["redis"] = _run("redis", check_redis)
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )
