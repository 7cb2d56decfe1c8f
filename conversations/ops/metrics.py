"""Prometheus metrics: what ``/metrics`` exposes and the counters other modules increment.

Built on ``prometheus_client`` (the library django-prometheus wraps): django-prometheus
labels requests by view name, not by wire format, and its database metrics need the database
``ENGINE`` swapped for its own wrapper; one middleware of ours
(:class:`conversations.ops.observability.RequestObservabilityMiddleware`) labels every request
by format and route and times its database work with Django's ``execute_wrapper``.

Metric families (``route`` is the URL pattern, e.g.
``openai/v1/conversations/<str:conversation_id>``, never the concrete path, so the label set
stays bounded; ``format`` is ``openai``, ``azure``, ``telnyx``, ``agentphone``, ``admin``,
``ops`` (health and metrics), ``static`` or ``other``):

- ``convstore_http_requests_total{format,route,method,status}``: responses sent.
- ``convstore_http_request_duration_seconds{format,route}``: latency histogram (seconds).
- ``convstore_http_request_db_seconds{format,route}``: database time per request (seconds,
  the sum of every SQL statement's execution on the ``default`` connection).
- ``convstore_db_queries_total{format}``: SQL statements run while serving requests.
- ``convstore_rate_limited_total{format}``: requests refused with 429 by the rate limiter,
  which calls ``RATE_LIMITED.labels(format=...).inc()``.
- ``convstore_webhook_deliveries_total{outcome}``: webhook attempts by outcome
  (``delivered``, ``retry``, ``failed``), counted by the ``deliver_webhooks`` worker: in its
  own ``/metrics`` (``deliver_webhooks --metrics-port``), and in the app's when it shares
  ``PROMETHEUS_MULTIPROC_DIR``. Every outcome and every format's 429 count starts at 0.
- ``convstore_webhook_outbox_events{status}`` (``pending``, ``failed``) and
  ``convstore_webhook_outbox_oldest_due_seconds``: read from the outbox table when
  ``/metrics`` is scraped (counts capped at :data:`OUTBOX_COUNT_CAP`).

Several processes (gunicorn workers, webhook workers) share their counters when
``PROMETHEUS_MULTIPROC_DIR`` names a directory, which ``gunicorn.conf.py`` sets up
(``prometheus_client``'s multiprocess mode); otherwise each process reports its own.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger("convstore.metrics")

#: Latency buckets in seconds, from a cached key lookup to a slow admin page.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Database-time buckets in seconds.
DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
#: Largest outbox count one scrape runs (``SELECT COUNT(*) FROM (… LIMIT cap)``).
OUTBOX_COUNT_CAP = 100_000

REQUESTS = Counter(
    "convstore_http_requests",
    "HTTP responses sent, by wire format, URL pattern, method and status code.",
    ["format", "route", "method", "status"],
)
LATENCY = Histogram(
    "convstore_http_request_duration_seconds",
    "Time from the request entering Django to the response leaving it, in seconds.",
    ["format", "route"],
    buckets=LATENCY_BUCKETS,
)
DB_TIME = Histogram(
    "convstore_http_request_db_seconds",
    "Database time per request (sum of SQL statement execution), in seconds.",
    ["format", "route"],
    buckets=DB_BUCKETS,
)
DB_QUERIES = Counter(
    "convstore_db_queries",
    "SQL statements run while serving requests.",
    ["format"],
)
RATE_LIMITED = Counter(
    "convstore_rate_limited",
    "Requests refused with 429 by the rate limiter, by wire format.",
    ["format"],
)
WEBHOOK_DELIVERIES = Counter(
    "convstore_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered, retry (will be tried again), failed "
    "(out of attempts).",
    ["outcome"],
)


def start_known_labels() -> None:
    """Make every known label set exist in this process, at 0 until counted, so a rate over
    it exists before the first event (Prometheus' "avoid missing metrics"): each delivery
    outcome, each wire format's 429s. Called by :func:`exposition` and by the delivery
    worker, i.e. in the process that counts (after gunicorn's fork, in multiprocess mode)."""
    for outcome in ("delivered", "retry", "failed"):
        WEBHOOK_DELIVERIES.labels(outcome=outcome).inc(0)
    for name in ("openai", "azure", "telnyx", "agentphone"):
        RATE_LIMITED.labels(format=name).inc(0)


def webhook_delivery_recorded(status: str | None, count: int = 1) -> None:
    """Count ``count`` recorded webhook attempts; ``status`` is their events' new status.

    ``delivered`` → ``delivered``, ``pending`` → ``retry``, ``failed`` → ``failed``;
    ``None`` (another worker held the lease) counts nothing.
    """
    outcome = {"delivered": "delivered", "pending": "retry", "failed": "failed"}.get(status or "")
    if outcome and count:
        WEBHOOK_DELIVERIES.labels(outcome=outcome).inc(count)


class OutboxCollector:
    """Outbox depth, read from the database when ``/metrics`` is scraped.

    Two capped counts on the ``(status, next_attempt_at)`` index and the age of the oldest
    due pending event (0 when none is due).
    """

    def collect(self):
        """Yield the two gauges; nothing (and a warning in the log) if the database fails,
        so ``/metrics`` still answers the process's own metrics."""
        try:
            yield from self._collect()
        except DatabaseError as exc:
            logger.warning("metrics: outbox depth unavailable: %s", exc)

    def _collect(self):
        from conversations.models import WebhookEvent

        depth = GaugeMetricFamily(
            "convstore_webhook_outbox_events",
            f"Webhook events in the outbox by status (counted up to {OUTBOX_COUNT_CAP}).",
            labels=["status"],
        )
        for status in (WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED):
            count = WebhookEvent.objects.filter(status=status).order_by()[:OUTBOX_COUNT_CAP]
            depth.add_metric([str(status)], count.count())
        yield depth
        now = timezone.now()
        oldest = (
            WebhookEvent.objects.filter(
                status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now
            )
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "convstore_webhook_outbox_oldest_due_seconds",
            "Seconds the oldest due pending webhook event has waited (0 when none is due).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )


def exposition() -> bytes:
    """The Prometheus text exposition of every metric (all processes in multiprocess mode)."""
    start_known_labels()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    outbox = CollectorRegistry()
    outbox.register(OutboxCollector())
    return text + generate_latest(outbox)


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    items = (item.strip() for item in spec.split(","))
    return tuple(ipaddress.ip_network(item, strict=False) for item in items if item)


def metrics_access(request) -> tuple[bool, int, str]:
    """May this request read ``/metrics``? ``(allowed, status if not, reason)``.

    Allowed when ``Authorization: Bearer <CONVSTORE_METRICS_TOKEN>`` matches (compared in
    constant time), or when ``REMOTE_ADDR`` is in ``CONVSTORE_METRICS_ALLOWED_IPS``
    (addresses or CIDR networks; ``X-Forwarded-For`` is not trusted). With neither
    configured, ``/metrics`` is closed (403).
    """
    token = settings.CONVSTORE_METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if token and scheme.lower() == "bearer":
        if hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return True, 200, ""
        return False, 401, "Wrong metrics token."
    spec = ",".join(settings.CONVSTORE_METRICS_ALLOWED_IPS)
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    if address is not None and any(address in net for net in _networks(spec)):
        return True, 200, ""
    if token:
        return False, 401, "Send Authorization: Bearer <CONVSTORE_METRICS_TOKEN>."
    return (
        False,
        403,
        "Metrics are closed: set CONVSTORE_METRICS_TOKEN or CONVSTORE_METRICS_ALLOWED_IPS.",
    )


def metrics_view(request):
    """``GET /metrics``: the Prometheus text format, for a token holder or an allowed address.

    Refusals answer JSON ``{"error": …}``: 401 (with ``WWW-Authenticate: Bearer``) when a
    token is configured and missing or wrong, 403 when the address is not allowed.
    """
    allowed, status, reason = metrics_access(request)
    if not allowed:
        response = JsonResponse({"error": reason}, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="convstore-metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
