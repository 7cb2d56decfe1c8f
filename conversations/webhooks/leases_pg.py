"""The delivery worker's two statements per batch on PostgreSQL: claim, and record.

:func:`claim` leases up to ``batch`` due events and returns what sending them needs, in one
``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) … RETURNING``; :func:`record`
stores a batch's attempts and moves their events on in one statement over ``unnest``ed
arrays. Both run in autocommit: one statement is one transaction. They do what
:mod:`.delivery`'s ORM path does on SQLite, with the same semantics; every decision (lease
end, attempt number, new status, retry time) is made in Python by :mod:`.delivery` and only
its results are sent here.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from conversations.models import WebhookAttempt, WebhookEndpoint, WebhookEvent

_EVENT = WebhookEvent._meta.db_table
_ENDPOINT = WebhookEndpoint._meta.db_table
_ATTEMPT = WebhookAttempt._meta.db_table

# Head of line per (endpoint, conversation): ``due`` leaves out an event while an earlier
# pending event of its pair waits for a retry or is leased (the statement's snapshot), in id
# order so a batch holds a prefix of each pair's queue. ``kept`` then drops any event with an
# earlier pending event of its pair outside this batch: one another worker locked (skipped
# here) or leased after the snapshot, so two workers never hold one pair's events at once.
_CLAIM = f"""
WITH due AS (
    SELECT e.id, e.endpoint_id, e.conversation_id
    FROM {_EVENT} e JOIN {_ENDPOINT} p ON p.id = e.endpoint_id
    WHERE e.status = 'pending' AND e.next_attempt_at <= %(now)s AND p.is_active
      AND (e.locked_until IS NULL OR e.locked_until <= %(now)s)
      AND NOT EXISTS (
        SELECT 1 FROM {_EVENT} x
        WHERE x.status = 'pending' AND x.endpoint_id = e.endpoint_id
          AND x.conversation_id = e.conversation_id AND x.id < e.id
          AND (x.next_attempt_at > %(now)s OR x.locked_until > %(now)s)
        OFFSET 0  -- keeps it a per-row probe of webhook_event_queue_idx, not an anti-join
      )
    ORDER BY e.id
    LIMIT %(batch)s
    FOR UPDATE OF e SKIP LOCKED
),
kept AS (
    SELECT due.id FROM due
    WHERE NOT EXISTS (
        SELECT 1 FROM {_EVENT} x
        WHERE x.status = 'pending' AND x.endpoint_id = due.endpoint_id
          AND x.conversation_id = due.conversation_id AND x.id < due.id
          AND x.id NOT IN (SELECT id FROM due)
    )
)
UPDATE {_EVENT} e SET locked_until = %(until)s, locked_by = %(worker)s
FROM kept, {_ENDPOINT} p
WHERE e.id = kept.id AND p.id = e.endpoint_id
RETURNING e.id, e.attempt_count, e.webhook_id, e.event_type,
    e.payload::text, p.url, p.secret, e.endpoint_id, e.conversation_id
"""

_RECORD = f"""
WITH o AS (
    SELECT * FROM unnest(
        %(ids)s::bigint[], %(numbers)s::int[], %(started)s::timestamptz[],
        %(codes)s::int[], %(latencies)s::int[], %(errors)s::text[], %(ok)s::boolean[],
        %(statuses)s::text[], %(next)s::timestamptz[]
    ) AS o(id, number, started_at, status_code, latency_ms, error, ok, status, next_at)
),
held AS (
    SELECT e.id FROM {_EVENT} e JOIN o ON o.id = e.id
    WHERE e.locked_by = %(worker)s AND e.status = 'pending' AND e.attempt_count = o.number - 1
    ORDER BY e.id
    FOR UPDATE OF e
),
moved AS (
    UPDATE {_EVENT} e SET
        status = o.status,
        attempt_count = o.number,
        next_attempt_at = COALESCE(o.next_at, e.next_attempt_at),
        delivered_at = CASE WHEN o.ok THEN %(now)s ELSE e.delivered_at END,
        last_error = o.error,
        locked_until = NULL,
        locked_by = ''
    FROM held JOIN o ON o.id = held.id
    WHERE e.id = held.id
    RETURNING e.id
)
INSERT INTO {_ATTEMPT} (event_id, number, started_at, status_code, latency_ms, error, succeeded)
SELECT o.id, o.number, o.started_at, o.status_code, o.latency_ms, o.error, o.ok
FROM o JOIN moved ON moved.id = o.id
RETURNING event_id
"""


def claim(*, worker: str, batch: int, now: datetime, until: datetime) -> list[tuple]:
    """Lease up to ``batch`` due events of active endpoints to ``worker`` until ``until``.

    Returns rows ``(id, attempt_count, webhook_id, event_type, payload text, url, secret,
    endpoint_id, conversation_id)`` in id order (oldest first). Rows another transaction
    holds are skipped, never waited for; so is every later event of their (endpoint,
    conversation), and of a pair whose earlier event waits for a retry or is leased."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, {"now": now, "until": until, "batch": batch, "worker": worker})
        rows = cursor.fetchall()
    rows.sort()  # RETURNING keeps no order; ids are unique
    return rows


def record(*, worker: str, now: datetime, decisions: list) -> set[int]:
    """Store one attempt row per decision (:class:`~.delivery.Decision`) and move its event
    on, for the events ``worker`` still leases with the attempt count it claimed them with.

    Returns the ids recorded; the others (lease taken over) are left untouched. The events
    are locked in id order, as concurrent recorders must."""
    if not decisions:
        return set()
    params = {
        "worker": worker,
        "now": now,
        "ids": [d.event_id for d in decisions],
        "numbers": [d.number for d in decisions],
        "started": [d.started_at for d in decisions],
        "codes": [d.result.status_code for d in decisions],
        "latencies": [d.result.latency_ms for d in decisions],
        "errors": [d.result.error for d in decisions],
        "ok": [d.result.ok for d in decisions],
        "statuses": [d.status for d in decisions],
        "next": [d.next_attempt_at for d in decisions],
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD, params)
        return {row[0] for row in cursor.fetchall()}
