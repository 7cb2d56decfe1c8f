"""The PostgreSQL fast path of the metadata writers: an optimistic read, then ONE statement.

:func:`conversations.services.conversation_metadata_merge` and
:func:`~conversations.services.conversation_metadata_replace` try this first on PostgreSQL;
the locking path in :mod:`.conversations` stays the reference and the fallback, and is what
SQLite always runs. The rules are not copied: the new metadata is computed in Python by the
same :mod:`conversations.metadata` functions, and only the *result* goes to the database.

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

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from .. import events, rows
from .. import metadata as rules
from ..models import Conversation, MetadataChange, WebhookEndpoint, WebhookEvent
from .actors import Actor

#: ``dispatch_uid`` of the ``metadata_changed`` receivers whose work the fast path does itself.
FAST_PATH_RECEIVERS = frozenset({"webhooks.outbox.metadata_changed"})

def _table(model) -> str:
    return model._meta.db_table


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


def enabled(using: str) -> bool:
    """Whether writes on database alias ``using`` may take the fast path (see module)."""
    if not getattr(settings, "CONVSTORE_FAST_WRITES", True):
        return False
    if connections[using].vendor != "postgresql":
        return False
    return all(key[0] in FAST_PATH_RECEIVERS for key, *_ in events.metadata_changed.receivers)


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


def _read(pk, scope: QuerySet | None, using: str):
    """Step 1: ``(conversation, endpoints)``, or ``None`` when the row is not in scope."""
    partition = getattr(scope, "partition", None) if scope is not None else None
    if scope is None:
        row = rows.fetchone(_READ_ANY, [pk], using)
    elif partition is not None:
        params = [pk, partition.project.pk, partition.isolation_key]
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


def _insert_parts(obj, connection) -> tuple[list[str], list[str], list[Any]]:
    """Columns, typed placeholders and database values of an unsaved row, as ``Model.save()``
    would insert them."""
    fields = [f for f in obj._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    placeholders = [rows.cast(f, connection) for f in fields]
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    return columns, placeholders, values


def write(
    *,
    conversation: Conversation | Any,
    scope: QuerySet | None,
    compute: Callable[[dict | None], dict | None],
    action: Callable[[dict | None], str],
    actor: Actor,
) -> Conversation | None:
    """Run one metadata write on the fast path (see module).

    ``compute(stored_metadata)`` returns the new metadata (``None`` clears) and raises
    :class:`~conversations.metadata.MetadataError` for a broken rule; ``action(new)`` names
    the audit action. Returns the conversation as stored (unchanged, with no write, when the
    new metadata equals the stored one), or ``None`` when the row moved under us or is not
    in ``scope`` — the caller then runs the locking path, which re-reads and raises
    ``Conversation.DoesNotExist`` for a missing row.
    """
    from ..webhooks.outbox import metadata_event_rows

    using = router.db_for_write(Conversation)
    connection = connections[using]
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    found = _read(pk, scope, using)
    if found is None:
        return None
    row, endpoints = found
    before = row.metadata
    new = compute(before)
    if new == before:
        return row
    now = timezone.now()
    read_version = row.version
    row.metadata = new
    row.ai_disabled = rules.is_ai_disabled(new)
    row.updated_at = now
    change = MetadataChange(
        conversation=row,
        changed_at=now,
        actor_type=actor.kind,
        actor=actor.label[:255],
        api_key=actor.api_key,
        user=actor.user,
        source=actor.source,
        action=action(new),
        before=before,
        after=new,
        request_id=actor.request_id,
    )
    event_rows: list[WebhookEvent] = metadata_event_rows(row, change, endpoints)

    conv_table, pk_column = _table(Conversation), Conversation._meta.pk.column
    fields = {name: Conversation._meta.get_field(name) for name in ("metadata", "ai_disabled")}
    ep = _table(WebhookEndpoint)
    sql = [
        f"WITH upd AS (UPDATE {conv_table} SET "
        f"{fields['metadata'].column} = %s::jsonb, {fields['ai_disabled'].column} = %s::boolean, "
        f"{_column(Conversation, 'updated_at')} = %s::timestamptz, "
        f"{_column(Conversation, 'version')} = {_column(Conversation, 'version')} + 1 "
        f"WHERE {pk_column} = %s::uuid AND {_column(Conversation, 'version')} = %s::bigint "
        f"AND (SELECT COALESCE(array_agg(e.id ORDER BY e.id), '{{}}') FROM {ep} e "
        f"WHERE e.{_column(WebhookEndpoint, 'project')} = %s::bigint "
        f"AND e.{_column(WebhookEndpoint, 'is_active')}) = %s::bigint[] "
        f"RETURNING {_column(Conversation, 'version')})"
    ]
    params: list[Any] = [
        fields["metadata"].get_db_prep_save(new, connection),
        row.ai_disabled,
        now,
        row.pk,
        read_version,
        row.project_id,
        [endpoint.id for endpoint in endpoints],
    ]
    columns, placeholders, values = _insert_parts(change, connection)
    sql.append(
        f", aud AS (INSERT INTO {_table(MetadataChange)} ({', '.join(columns)}) "
        f"SELECT {', '.join(placeholders)} FROM upd RETURNING id)"
    )
    params.extend(values)
    for index, event in enumerate(event_rows):
        columns, placeholders, values = _insert_parts(event, connection)
        sql.append(
            f", ev{index} AS (INSERT INTO {_table(WebhookEvent)} ({', '.join(columns)}) "
            f"SELECT {', '.join(placeholders)} FROM upd)"
        )
        params.extend(values)
    sql.append(" SELECT upd.version, aud.id FROM upd, aud")
    written = rows.fetchone("".join(sql), params, using)
    if written is None:
        return None  # the version (or the endpoint set) moved: take the locking path
    row.version, change.pk = written
    return row
