"""Delivering outbox events: claim with a lease, sign, POST, record, retry.

Signing is AgentPhone's (``docs/contract.md`` §Sources: AgentPhone webhooks; the
``agentphone`` SDK's ``verify_webhook``): ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret,
f"{timestamp}." + body)>`` over the exact bytes sent, ``X-Webhook-Timestamp`` in unix seconds
(wall clock at the attempt, so receivers' 300 s replay window holds on retries) and
``X-Webhook-ID``, the same on every attempt of an event.

Leases, recording and the retry rule are :mod:`.leases`'s: several workers never send one
event at once, a worker killed mid-batch leaves its events to another once the lease passes.

Speed (``deliver_batches``, used by ``deliver_webhooks``): on PostgreSQL a batch is claimed
and loaded in one statement, sent ``CONVSTORE_WEBHOOK_CONCURRENCY`` attempts at a time over
keep-alive connections (:class:`~.transport.Sender`; one conversation's events to one
endpoint in order), and recorded in one statement (attempt rows inserted, events moved on),
while the next batch is already being sent. SQLite does the same in a few ORM queries.
Transport safety — the address rule at connect time, the 4 KiB answer cap, the
whole-attempt deadline — is :mod:`.transport`'s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from conversations.models import WebhookEvent
from conversations.ops.metrics import webhook_delivery_recorded
from conversations.webhooks.leases import Outgoing, claim, decide, record_many, release
from conversations.webhooks.transport import AttemptResult, Sender, reason

USER_AGENT = "convstore-webhooks/1"
logger = logging.getLogger(__name__)


def request_timeout() -> float:
    """Seconds one attempt may take in all: DNS, connect, send, the answer's headers and
    body (``CONVSTORE_WEBHOOK_TIMEOUT``, default 10)."""
    return settings.CONVSTORE_WEBHOOK_TIMEOUT


def default_concurrency() -> int:
    """Attempts a worker runs at once (``CONVSTORE_WEBHOOK_CONCURRENCY``, default 8)."""
    return settings.CONVSTORE_WEBHOOK_CONCURRENCY


def worker_name() -> str:
    """A name unique to this worker: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def encode_payload(payload: dict) -> bytes:
    """The body bytes sent (and signed) for a payload: compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``f"{timestamp}."`` + body, keyed with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(event: Outgoing, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt of ``event``."""
    ts = str(timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-ID": event.webhook_id,
        "X-Webhook-Timestamp": ts,
        "X-Webhook-Signature": sign(event.secret, ts, body),
        "X-Webhook-Event": event.event_type,
    }


def send(event: Outgoing, sender: Sender) -> AttemptResult:
    """POST one signed attempt of ``event`` to its endpoint (no redirects followed), within
    the attempt's deadline, reading at most a few KiB of the answer (:mod:`.transport`)."""
    headers = signed_headers(event, event.body, int(time.time()))
    return sender.post(event.url, event.body, headers)


@dataclass
class BatchReport:
    """What :func:`deliver_due` did, by event id."""

    claimed: list[int] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def lease_for(rounds: int) -> timedelta:
    """How long a claim stays leased when its longest chain is ``rounds`` attempts one after
    another: twice that (a worker claims the next batch while the current one is being sent)
    at the whole-attempt timeout each, plus 30 s: ``2 × rounds × timeout + 30 s``."""
    return timedelta(seconds=2 * rounds * request_timeout() + 30)


def default_lease(batch: int, concurrency: int) -> timedelta:
    """The lease of a batch of ``batch`` events sent ``concurrency`` at a time:
    :func:`lease_for` ``ceil(batch / concurrency)`` rounds."""
    return lease_for(-(-batch // max(1, concurrency)))


@dataclass
class _InFlight:
    """A claimed batch being sent: its ids and one future per (endpoint, conversation)."""

    claimed: list[int]
    futures: list[Future]


Outcome = tuple[Outgoing, AttemptResult, datetime]


def _send_in_order(events: list[Outgoing], sender: Sender) -> list[Outcome]:
    """Attempt one (endpoint, conversation) queue's events one after another, oldest first,
    stopping at the first that is not delivered: the later ones are not sent (they are
    released unattempted by :func:`_finish`), so a receiver never gets an event before an
    earlier one of the same conversation. An unexpected error in one send is logged and
    counts as that attempt's failure; it never loses the queue's other outcomes."""
    outcomes: list[Outcome] = []
    for event in events:
        started_at = timezone.now()
        try:
            result = send(event, sender)
        except Exception as exc:  # a bug must not lose the attempts already made
            logger.exception("webhook attempt of event %s failed unexpectedly", event.pk)
            result = AttemptResult(None, 0, reason(exc))
        outcomes.append((event, result, started_at))
        if not result.ok:
            break
    return outcomes


def _start(
    *, worker: str, batch: int, lease: timedelta, now: datetime | None, sender: Sender
) -> _InFlight | None:
    """Claim a batch, load its events and hand them to the sender's threads."""
    outgoing = claim(worker=worker, batch=batch, lease=lease, now=now)
    if not outgoing:
        return None
    claimed = [event.pk for event in outgoing]
    # One conversation's events to one endpoint go one after another, in id order (oldest
    # first; the claim holds only a gap-free run of each such queue), so a receiver sees
    # its conversationState move forward.
    queues: dict[tuple, list[Outgoing]] = {}
    for event in outgoing:
        queues.setdefault((event.endpoint_id, event.conversation_id), []).append(event)
    # Such a queue is sent one attempt after another: when one is longer than the lease
    # allows for, lengthen the lease (rare: many events of one conversation in one batch).
    needed = lease_for(max(map(len, queues.values()), default=0))
    if needed > lease:
        WebhookEvent.objects.filter(pk__in=claimed, locked_by=worker).update(
            locked_until=(now or timezone.now()) + needed
        )
    futures = sender.submit(lambda events: _send_in_order(events, sender), list(queues.values()))
    return _InFlight(claimed, futures)


def _finish(flight: _InFlight, *, worker: str, now: datetime | None) -> BatchReport:
    """Wait for a batch's attempts, record them together, release the events not attempted
    (behind a failed one of their queue), and report."""
    now = now or timezone.now()
    outcomes: list[Outcome] = []
    for future in flight.futures:
        try:
            outcomes += future.result()
        except Exception:  # the queue's thread itself failed: its events wait for the lease
            logger.exception("a webhook delivery queue failed")
    decisions = [
        decide(
            event_id=event.pk,
            attempts_before=event.attempt_count,
            result=result,
            started_at=started_at,
            now=now,
        )
        for event, result, started_at in outcomes
    ]
    statuses = record_many(worker=worker, decisions=decisions, now=now)
    attempted = {event.pk for event, _, _ in outcomes}
    release(worker=worker, ids=[pk for pk in flight.claimed if pk not in attempted])
    report = BatchReport(claimed=flight.claimed)
    buckets = {
        WebhookEvent.Status.DELIVERED: report.delivered,
        WebhookEvent.Status.PENDING: report.retrying,
        WebhookEvent.Status.FAILED: report.failed,
    }
    for event_id in report.claimed:
        bucket = buckets.get(statuses.get(event_id))
        if bucket is not None:
            bucket.append(event_id)
    for status, bucket in buckets.items():
        webhook_delivery_recorded(status, len(bucket))
    return report


def deliver_due(
    *,
    batch: int = 10,
    worker: str | None = None,
    lease: timedelta | None = None,
    now: datetime | None = None,
    sender: Sender | None = None,
) -> BatchReport:
    """Claim one batch of due events and attempt each once, ``sender.concurrency`` at a time.

    ``sender`` is the keep-alive client (by default one with ``CONVSTORE_WEBHOOK_CONCURRENCY``
    threads is made and closed here). ``now`` (default: the clock) decides what is due and
    when retries fall due; tests pass it to step through the backoff. The lease defaults to
    :func:`default_lease`. Attempts are recorded together once the batch is sent
    (:func:`record_many`).
    """
    worker = worker or worker_name()
    own_sender = sender is None
    sender = sender or Sender(timeout=request_timeout(), concurrency=default_concurrency())
    try:
        lease = lease or default_lease(batch, sender.concurrency)
        flight = _start(worker=worker, batch=batch, lease=lease, now=now, sender=sender)
        if flight is None:
            return BatchReport()
        return _finish(flight, worker=worker, now=now)
    finally:
        if own_sender:
            sender.close()


def deliver_batches(
    *,
    batch: int,
    worker: str,
    sender: Sender,
    lease: timedelta | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Iterator[BatchReport]:
    """Deliver batch after batch, overlapping the database with the network: while one
    batch is being sent, the previous one is recorded and the next one claimed.

    Yields a report per batch, and an empty report each time nothing was due (the caller
    sleeps, or stops). Once ``stopping()`` is true no new batch is claimed; the batch in
    flight is finished and the generator ends.
    """
    lease = lease or default_lease(batch, sender.concurrency)
    flight: _InFlight | None = None
    while True:
        following = None
        if not stopping():
            following = _start(worker=worker, batch=batch, lease=lease, now=None, sender=sender)
        if flight is not None:
            yield _finish(flight, worker=worker, now=None)
        elif following is None:
            if stopping():
                return
            yield BatchReport()
        flight = following
