"""One line of log and a few metric updates per request, without touching the database.

:class:`RequestObservabilityMiddleware` sits right inside
:class:`conversations.http.middleware.RequestIdMiddleware`. For each request it records:

- the metrics of :mod:`conversations.ops.metrics` (count, latency, database time and statements);
- one log record on the ``convstore.request`` logger (level INFO) whose fields are
  ``request_id``, ``method``, ``format``, ``route``, ``status``, ``duration_ms``,
  ``db_ms``, ``db_queries`` and ``project`` (the API key's project name, or ``null``).
  Never a key, a body, a query string, a concrete path or a metadata value: ``route`` is the
  URL pattern (``telnyx/v2/ai/conversations/<str:conversation_id>``), so filters such as
  ``metadata->customer=eq.Jane`` never reach the log.

:class:`JsonLineFormatter` renders records as one JSON object a line (``LOG_FORMAT=json``);
:class:`KeyValueFormatter` as ``key=value`` text (the default).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from django.db import connection

from conversations.ops import metrics

logger = logging.getLogger("convstore.request")

#: Path prefix → format label. Anything else is ``other``.
FORMAT_PREFIXES = (
    ("/openai/", "openai"),
    ("/azure/", "azure"),
    ("/telnyx/", "telnyx"),
    ("/agentphone/", "agentphone"),
    ("/admin/", "admin"),
    ("/static/", "static"),
    ("/healthz", "ops"),
    ("/readyz", "ops"),
    ("/metrics", "ops"),
)

#: Methods labelled by name; any other verb counts as ``other`` (bounded label values).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_format(path: str) -> str:
    """The wire format (or area) a path belongs to, for labels: ``openai``, ``admin``, …"""
    for prefix, name in FORMAT_PREFIXES:
        if path.startswith(prefix):
            return name
    return "other"


class DbTimer:
    """An ``execute_wrapper`` summing SQL execution time and statement count."""

    __slots__ = ("seconds", "queries")

    def __init__(self):
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.queries += 1


def _project_name(request) -> str | None:
    """The authenticated API key's project name, if the key (and its project) is at hand.

    Read only from objects already loaded (``ApiKey.project`` fetched with the key); never a
    query of its own.
    """
    api_key = getattr(request, "auth", None)
    if api_key is None or not hasattr(api_key, "project_id"):
        return None
    field = type(api_key)._meta.get_field("project")
    if field.is_cached(api_key):
        return api_key.project.name
    return str(api_key.project_id)


class RequestObservabilityMiddleware:
    """Count, time and log every request (see the module docstring); no database queries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        timer = DbTimer()
        with connection.execute_wrapper(timer):
            response = self.get_response(request)
        duration = time.perf_counter() - start
        fmt = request_format(request.path_info)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "<unmatched>"
        status = response.status_code
        method = request.method if request.method in METHODS else "other"
        metrics.REQUESTS.labels(fmt, route, method, str(status)).inc()
        metrics.LATENCY.labels(fmt, route).observe(duration)
        metrics.DB_TIME.labels(fmt, route).observe(timer.seconds)
        if timer.queries:
            metrics.DB_QUERIES.labels(fmt).inc(timer.queries)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "request",
                extra={
                    "fields": {
                        "request_id": getattr(request, "request_id", None),
                        "method": method,
                        "format": fmt,
                        "route": route,
                        "status": status,
                        "duration_ms": round(duration * 1000, 2),
                        "db_ms": round(timer.seconds * 1000, 2),
                        "db_queries": timer.queries,
                        "project": _project_name(request),
                    }
                },
            )
        return response


def _utc(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (ISO 8601 UTC, ms), ``level``, ``logger``,
    ``message``, then the record's ``fields`` (see :class:`RequestObservabilityMiddleware`)
    and ``exc_info`` as text when there is one."""

    def format(self, record):
        line = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER MESSAGE key=value …``, for people reading a terminal."""

    def format(self, record):
        parts = [_utc(record), record.levelname, record.name, record.getMessage()]
        for key, value in (getattr(record, "fields", None) or {}).items():
            parts.append(f"{key}={'-' if value is None else value}")
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text
