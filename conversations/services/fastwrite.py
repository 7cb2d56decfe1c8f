"""The PostgreSQL fast path of the metadata writers: an optimistic read, then ONE statement.

:func:`conversations.services.conversation_metadata_merge` and
:func:`~conversations.services.conversation_metadata_replace` try this first on PostgreSQL;
the locking path in :mod:`.conversations` stays the reference and the fallback, and is what
SQLite always runs. The rules are not copied: the new metadata is computed in Python by the
same :mod:`conversations.domain.metadata` functions, and only the *result* goes to the database.

How one write goes (at most 3 database round trips; 2 when no endpoint needs message history
or the conversation has no messages):

1. **Read** the row, scoped to the caller's partition, without a lock, together with the
   project's active webhook endpoints (``id``, ``events``, ``context_limit``) in the same
   ``SELECT`` (a correlated subquery).
2. **Compute** in Python: the merged/replaced metadata (``metadata.merge`` and its 16-pair
   check), the audit row, and the outbox events with their payloads
   (:func:`conversations.webhooks.outbox.metadata_event_rows`, the very code the signal path
   uses). If an endpoint wants ``recentHistory`` and the conversation has messages, they are
   read here (the optional round trip).
3. **Write** with one statement, in autocommit (one statement is atomic)::

       WITH upd AS (UPDATE conversation SET metadata = …, ai_disabled = …, updated_at = …,
                        version = version + 1
                     WHERE id = … AND version = <version read in 1>
                       AND <active endpoint ids of the project> = <ids read in 1>
                    RETURNING version),
            aud AS (INSERT INTO metadatachange (…) SELECT … FROM upd RETURNING id),
            ev0 AS (INSERT INTO webhookevent (…) SELECT … FROM upd), …
       SELECT upd.version, aud.id FROM upd, aud

   The audit row and the outbox rows are inserted only if the ``UPDATE`` matched, so they
   exist exactly when the change committed.

**Compare-and-swap.** The ``UPDATE`` only matches if ``version`` is still the one read: every
write to a conversation bumps it (metadata, fields, messages). If another writer got in
between — or the set of active endpoints changed — nothing is written and the call returns
``None``; the service then runs the locking path (``SELECT … FOR UPDATE``), which re-reads
and re-validates. So "16 concurrent merges keep 16 keys" and "a race never passes 16 pairs"
hold exactly as before: a merge is only ever applied to the metadata it was computed from.
(PostgreSQL re-checks the ``WHERE`` of an ``UPDATE`` against the newest row version after
waiting for a concurrent writer's lock, under READ COMMITTED.) Inside a caller's
transaction the statement simply joins it.

**Conditional writes** (If-Match / ``expected_version``): a check of the version read in
step 1 against the expected one slots in before step 2; the compare-and-swap already makes
the write conditional on that version.

**Signals.** The fast path writes what the ``events.metadata_changed`` receivers would write
(the outbox), so it only runs while the receivers connected to that signal are the ones
listed in :data:`FAST_PATH_RECEIVERS`; connect any other receiver and every write takes the
locking path, which sends the signal as before. ``CONVSTORE_FAST_WRITES=0`` turns the fast
path off altogether.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from conversations.domain import events
from conversations.domain import metadata as rules
from conversations.models import Conversation, MetadataChange, WebhookEndpoint, WebhookEvent
from conversations.selectors import Partition, rows
from conversations.services.actors import Actor

#: ``dispatch_uid`` of the ``metadata_changed`` receivers whose work the fast path does itself.
FAST_PATH_RECEIVERS = frozenset({"webhooks.outbox.metadata_changed"})


def _table(model) -> str:
    return model._meta.db_table


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


def enabled(using: str) -> bool:
    """Whether writes on database alias ``using`` may take the fast path (see module)."""
    if not settings.CONVSTORE_FAST_WRITES:
        return False
    if connections[using].vendor != "postgresql":
        return False
    return events.metadata_changed.receiver_uids() <= FAST_PATH_RECEIVERS


def _endpoints_sql() -> str:
    ep = _table(WebhookEndpoint)
    return (
        f"(SELECT COALESCE(jsonb_agg(jsonb_build_array(e.id, e.events, e.context_limit) "
        f"ORDER BY e.id), '[]'::jsonb) FROM {ep} e "
        f"WHERE e.{_column(WebhookEndpoint, 'project')} = c.{_column(Conversation, 'project')} "
        f"AND e.{_column(WebhookEndpoint, 'is_active')})"
    )


def _read_sql(where: str) -> str:
    return f"SELECT {rows.columns()}, {_endpoints_sql()} FROM {rows.TABLE} c WHERE {where}"


_READ_ANY = _read_sql(f"c.{rows.PK} = %s::uuid")
_READ_PARTITION = _read_sql(rows.partition_where())


def _read(pk, scope: Partition | QuerySet | None, using: str):
    """Step 1: ``(conversation, endpoints)``, or ``None`` when the row is not in scope."""
    if scope is None:
        row = rows.fetchone(_READ_ANY, [pk], using)
    elif isinstance(scope, Partition):
        params = [pk, scope.project.pk, scope.isolation_key]
        row = rows.fetchone(_READ_PARTITION, params, using)
    else:  # any other queryset: its own SQL as a subquery, with Django's binding
        inner, inner_params = scope.filter(pk=pk).values("pk").query.sql_with_params()
        sql = _read_sql(f"c.{rows.PK} = %s AND c.{rows.PK} IN ({inner})")
        with connections[using].cursor() as cursor:
            cursor.execute(sql, [pk, *inner_params])
            row = cursor.fetchone()
    if row is None:
        return None
    conversation = rows.to_conversation(row[:-1], using)
    raw_endpoints = row[-1]
    if isinstance(raw_endpoints, str):
        raw_endpoints = json.loads(raw_endpoints)
    endpoints = [
        WebhookEndpoint(
            id=ep_id,
            project_id=conversation.project_id,
            events=ep_events,
            context_limit=limit,
            is_active=True,
        )
        for ep_id, ep_events, limit in raw_endpoints
    ]
    return conversation, endpoints


def _insert_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _insert_values(obj, connection) -> list[Any]:
    """Database values of an unsaved row, as ``Model.save()`` would insert them."""
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in _insert_fields(obj)]


def _insert_sql(name: str, model, connection, returning: str = "") -> str:
    fields = _insert_fields(model)
    return (
        f", {name} AS (INSERT INTO {_table(model)} ({', '.join(f.column for f in fields)}) "
        f"SELECT {', '.join(rows.cast(f, connection) for f in fields)} FROM upd{returning})"
    )


@functools.cache
def _write_sql(events: int, alias: str) -> str:
    """The one statement of step 3 for ``events`` outbox rows (built once per shape)."""
    connection = connections[alias]
    col = functools.partial(_column, Conversation)
    ep, ep_col = _table(WebhookEndpoint), functools.partial(_column, WebhookEndpoint)
    return "".join(
        [
            f"WITH upd AS (UPDATE {_table(Conversation)} SET {col('metadata')} = %s::jsonb, "
            f"{col('ai_disabled')} = %s::boolean, {col('updated_at')} = %s::timestamptz, "
            f"{col('version')} = {col('version')} + 1 "
            f"WHERE {rows.PK} = %s::uuid AND {col('version')} = %s::bigint "
            f"AND (SELECT COALESCE(array_agg(e.id ORDER BY e.id), '{{}}') FROM {ep} e "
            f"WHERE e.{ep_col('project')} = %s::bigint AND e.{ep_col('is_active')}) "
            f"= %s::bigint[] RETURNING {col('version')})",
            _insert_sql("aud", MetadataChange, connection, " RETURNING id"),
            *(_insert_sql(f"ev{index}", WebhookEvent, connection) for index in range(events)),
            " SELECT upd.version, aud.id FROM upd, aud",
        ]
    )


def write(
    *,
    conversation: Conversation | Any,
    scope: Partition | QuerySet | None,
    compute: Callable[[dict | None], dict | None],
    action: Callable[[dict | None], str],
    actor: Actor,
    check: Callable[[Conversation], None] | None = None,
) -> Conversation | None:
    """Run one metadata write on the fast path (see module).

    ``compute(stored_metadata)`` returns the new metadata (``None`` clears) and raises
    :class:`~conversations.domain.metadata.MetadataError` for a broken rule; ``action(new)`` names
    the audit action. Returns the conversation as stored (unchanged, with no write, when the
    new metadata equals the stored one), or ``None`` when the row moved under us or is not
    in ``scope`` — the caller then runs the locking path, which re-reads and raises
    ``Conversation.DoesNotExist`` for a missing row. ``check(row)``, when given, runs on the
    row read before anything is computed and may raise (e.g. an If-Match / expected-version
    refusal); the compare-and-swap then guarantees the write lands on that very version.
    """
    from conversations.webhooks.outbox import metadata_event_rows

    using = router.db_for_write(Conversation)
    connection = connections[using]
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    found = _read(pk, scope, using)
    if found is None:
        return None
    row, endpoints = found
    if check is not None:
        check(row)
    before = row.metadata
    new = compute(before)
    if new == before:
        return row
    now = timezone.now()
    read_version = row.version
    row.metadata = new
    row.ai_disabled = rules.is_ai_disabled(new)
    row.updated_at = now
    change = actor.metadata_change(
        row, action=action(new), before=before, after=new, changed_at=now
    )
    event_rows: list[WebhookEvent] = metadata_event_rows(row, change, endpoints)

    params: list[Any] = [
        Conversation._meta.get_field("metadata").get_db_prep_save(new, connection),
        row.ai_disabled,
        now,
        row.pk,
        read_version,
        row.project_id,
        [endpoint.id for endpoint in endpoints],
        *_insert_values(change, connection),
    ]
    for event in event_rows:
        params.extend(_insert_values(event, connection))
    sql = _write_sql(len(event_rows), using)
    written = rows.fetchone(sql, params, using)
    if written is None:
        return None  # the version (or the endpoint set) moved: take the locking path
    row.version, change.pk = written
    return row
