"""Reads of conversations: by id in a partition, metadata filters, pages, counts, export.

A request's partition is ``(project, isolation_key)`` (``docs/contract.md`` §Who sees
what): a conversation is visible only in the partition that created it. Anything outside it
is reported exactly like an unknown id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, connections, router
from django.db.models import (
    BooleanField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL

from conversations.domain.ids import parse_id
from conversations.models import (
    Conversation,
    Message,
    Project,
)
from conversations.selectors import rows


@dataclass(frozen=True)
class Partition:
    """The slice of the store a request may see: its key's project and isolation key."""

    project: Project
    isolation_key: str = ""


def conversation_queryset(*, partition: Partition) -> QuerySet[Conversation]:
    """All conversations of a partition."""
    return Conversation.objects.filter(
        project=partition.project, isolation_key=partition.isolation_key
    )


def conversation_get(*, partition: Partition, conversation_id: str | uuid.UUID) -> Conversation:
    """Find a conversation by id in any accepted form (see :mod:`conversations.domain.ids`).

    Raises:
        Conversation.DoesNotExist: unparseable id, unknown id, or another partition's id.
    """
    pk = conversation_id if isinstance(conversation_id, uuid.UUID) else parse_id(conversation_id)
    if pk is None:
        raise Conversation.DoesNotExist(conversation_id)
    using = router.db_for_read(Conversation)
    if connections[using].vendor == "postgresql":  # the hot read, without the ORM's compile
        found = rows.conversation_in_partition(
            pk, partition.project.pk, partition.isolation_key, using
        )
        if found is None:
            raise Conversation.DoesNotExist(conversation_id)
        return found
    return conversation_queryset(partition=partition).get(pk=pk)


def conversation_get_any(*, conversation_id: str | uuid.UUID) -> Conversation:
    """Find a conversation by id in any form across every project (staff and commands only).

    Raises:
        Conversation.DoesNotExist: unparseable or unknown id.
    """
    pk = conversation_id if isinstance(conversation_id, uuid.UUID) else parse_id(conversation_id)
    if pk is None:
        raise Conversation.DoesNotExist(conversation_id)
    return Conversation.objects.select_related("project").get(pk=pk)


def metadata_contains_q(pairs: dict[str, str]) -> Q:
    """A ``Q`` matching conversations whose metadata holds every ``key: value`` of ``pairs``
    (exact, case-sensitive string match) — THE metadata equality filter, used by the list
    selectors and by every format's filter syntax (Telnyx ``metadata->k=eq.v``).

    On PostgreSQL one jsonb containment ``metadata @> '{"k1": "v1", …}'``, served by the GIN
    index ``conv_metadata_gin_idx``; on SQLite one ``json_each`` test per pair (any key, even
    with quotes). A key or value holding NUL matches nothing: no stored metadata holds NUL
    (:mod:`conversations.domain.metadata`). An empty ``pairs`` matches everything.
    """
    if any("\x00" in key + value for key, value in pairs.items()):
        return Q(pk__in=[])
    if not pairs:
        return Q()
    if connection.vendor == "postgresql":
        return Q(metadata__contains=pairs)
    table = Conversation._meta.db_table
    sql = (
        f'EXISTS (SELECT 1 FROM json_each("{table}"."metadata") AS pair '
        "WHERE pair.key = %s AND pair.type = 'text' AND pair.value = %s)"
    )
    q = Q()
    for key, value in pairs.items():
        q &= Q(RawSQL(sql, [key, value], output_field=BooleanField()))
    return q


def conversation_metadata_filter(
    queryset: QuerySet[Conversation], pairs: list[tuple[str, str]]
) -> QuerySet[Conversation]:
    """Conversations whose metadata holds every ``(key, value)`` pair
    (:func:`metadata_contains_q`). Two different values for one key match nothing."""
    wanted: dict[str, str] = {}
    for key, value in pairs:
        if wanted.setdefault(key, value) != value:
            return queryset.none()
    return queryset.filter(metadata_contains_q(wanted)) if wanted else queryset


def conversation_cursor_page(
    *,
    partition: Partition,
    limit: int,
    descending: bool = True,
    after: str | None = None,
    before: str | None = None,
    agent_id: str | None = None,
    agent_name: str | None = None,
    metadata: list[tuple[str, str]] = (),
) -> tuple[list[Conversation], bool]:
    """One page of a partition's conversations by ``created_at`` (then id), keyset-paged.

    Serves Azure OpenAI v1 ``GET /conversations`` (and ours on the OpenAI base URL): ``after``
    and ``before`` are conversation ids (any form) naming a place in the list; the page holds
    the ``limit`` conversations right after ``after`` (or right before ``before``), in the
    list's order. ``has_more`` says whether more lie beyond the page in the direction of
    travel (past the page's end; for ``before`` alone, before its start). Keyset paging on
    ``(created_at, id)`` never skips or repeats a conversation that existed when paging
    started, whatever is inserted meanwhile.

    ``agent_id`` matches :attr:`Conversation.agent_id` exactly; ``agent_name`` matches an
    ``agent_id`` equal to it or of the form ``name:version`` (Azure's agent id format).
    ``metadata`` pairs are ANDed (:func:`conversation_metadata_filter`).

    Raises:
        Conversation.DoesNotExist: a cursor is no conversation of the partition
            (``exc.args[0]`` is ``"after"`` or ``"before"``).
    """
    queryset = conversation_queryset(partition=partition)
    if "\x00" in (agent_id or "") + (agent_name or ""):
        return [], False  # No stored agent id holds NUL; PostgreSQL cannot even compare it.
    if agent_id is not None:
        queryset = queryset.filter(agent_id=agent_id)
    if agent_name is not None:
        queryset = queryset.filter(
            Q(agent_id=agent_name) | Q(agent_id__startswith=f"{agent_name}:")
        )
    queryset = conversation_metadata_filter(queryset, list(metadata))

    def beyond(cursor_id: str, name: str, later: bool) -> Q:
        pk = parse_id(cursor_id)
        cursor = None if pk is None else conversation_queryset(partition=partition).filter(pk=pk)
        row = cursor.values("created_at", "pk").first() if cursor is not None else None
        if row is None:
            raise Conversation.DoesNotExist(name)
        op = "gt" if later else "lt"
        # The redundant inclusive bound lets the (…, created_at) index start at the cursor
        # instead of filtering every row before it (143 ms → 11 ms at 100,000 rows).
        return Q(**{f"created_at__{op}e": row["created_at"]}) & (
            Q(**{f"created_at__{op}": row["created_at"]})
            | Q(created_at=row["created_at"], **{f"pk__{op}": row["pk"]})
        )

    if after:
        queryset = queryset.filter(beyond(after, "after", later=not descending))
    if before:
        queryset = queryset.filter(beyond(before, "before", later=descending))
    backwards = bool(before) and not after  # Take the rows nearest the ``before`` cursor.
    newest_first = descending != backwards
    order = ("-created_at", "-pk") if newest_first else ("created_at", "pk")
    rows = list(queryset.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    return rows, has_more


#: How many of a partition's newest conversations a filtered page looks through first
#: (:func:`conversation_filtered_page`): about 0.5 ms of index walk at a million rows.
FIRST_WINDOW_ROWS = 1000
#: How far it looks when the first window shows the value is common enough to fill the
#: page there: about 2 ms.
WINDOW_ROWS = 5000
#: The window is used only for pages ending within this many rows (``offset + limit``): a
#: value on 1% of the rows fills them from the window; a page ending further is read by one
#: statement, as the planner chooses.
WINDOW_PAGE_ROWS = WINDOW_ROWS // 100


def conversation_filtered_page(
    *,
    partition: Partition,
    filtered: QuerySet[Conversation],
    column: str,
    descending: bool,
    offset: int,
    limit: int,
) -> Iterable[Conversation]:
    """Rows ``offset`` to ``offset + limit`` of ``filtered`` ordered by ``column`` then id.

    ``filtered`` is the partition's queryset with a filter whose conditions an index on
    ``metadata`` serves (Telnyx ``eq``, ``in``); ``column`` is ``created_at`` or
    ``last_message_at``, whose partition index ends with the id. The order is ``column``
    (``descending`` or not), then the id descending: the same rows in the same order as
    ``filtered.order_by(column, "-pk")[offset:offset + limit]``.

    Why not that one statement (issue 10): PostgreSQL chooses between walking the time index
    until ``limit`` rows match and fetching every match through the metadata index to sort
    them, by its estimate of how many rows match, and for a jsonb containment that estimate
    is a sample (a value absent from it counts 0.01%): a 1% value estimated at 0.01% had all
    its 10,000 matches fetched and sorted (50–70 ms), and a rare value that happened to be
    sampled had the index walked past nearly every row. So, on PostgreSQL, when the page
    ends within :data:`WINDOW_PAGE_ROWS`, the density of matches is measured instead:

    1. the filter is applied to the partition's :data:`FIRST_WINDOW_ROWS` first rows in the
       list's order, a subquery the planner cannot look past (at most that many index
       entries and rows read, whatever the estimates); a common value fills the page there;
    2. if those rows hold enough matches to expect three quarters of the page among
       :data:`WINDOW_ROWS` rows, the same over that larger window;
    3. otherwise (or if the larger window did not fill it) every match is found through
       the metadata index and sorted: the page is ordered by an expression
       (``column + interval '0'``) no index provides, so the planner cannot walk the time
       index past rows that do not match. Few rows match, or few among the newest.

    One statement per step taken (a value on 1% of the rows: two; a rare one: two; any
    value in a partition of fewer rows than the window: one, or two when none match). Not one
    statement for all (a ``UNION ALL`` whose later parts a one-time filter skips): its cost
    estimate counts the skipped parts, and past ``jit_above_cost`` PostgreSQL would compile
    the whole plan (tens of milliseconds) for every common value. Step 3 reads every match
    (a value rare among the newest rows but frequent among older ones pays its number of
    matches, as the plain statement did when it chose that plan). Elsewhere (SQLite, or a
    page ending past :data:`WINDOW_PAGE_ROWS`) the plain statement, streamed. Returns the
    rows in order (a list, or an iterator for the plain statement).
    """
    order = (F(column).desc() if descending else F(column).asc(), F("pk").desc())
    need = offset + limit
    plain = filtered.order_by(*order)
    connection = connections[filtered.db]
    if connection.vendor != "postgresql" or need > WINDOW_PAGE_ROWS:
        return plain[offset:need].iterator(chunk_size=100)
    newest = conversation_queryset(partition=partition).order_by(*order)
    # The window carries only what the filter and the order read (the filter is on metadata
    # within the partition): half the cost of carrying whole rows through it.
    narrow = newest.values("id", "project_id", "isolation_key", column, "metadata")
    ids_sql, ids_params = plain.values("id")[:need].query.sql_with_params()
    table = connection.ops.quote_name(Conversation._meta.db_table)
    head, found_from, tail = ids_sql.partition(f" FROM {table} ")
    if not found_from or "%s" in head:  # not the plain SELECT of the id this expects
        return plain[offset:need].iterator(chunk_size=100)

    def in_window(size: int) -> tuple[list[Conversation], bool]:
        """The page's matches among the ``size`` first rows, and whether the partition
        holds more rows than that (``False`` also when nothing matched)."""
        inner_sql, inner_params = narrow[:size].query.sql_with_params()
        ids = RawSQL(f"{head} FROM ({inner_sql}) {table} {tail}", [*inner_params, *ids_params])
        more_sql, more_params = newest.values("pk")[size : size + 1].query.sql_with_params()
        more = RawSQL(f"EXISTS ({more_sql})", more_params, BooleanField())
        rows = Conversation.objects.using(filtered.db).filter(pk__in=ids).annotate(more=more)
        rows = list(rows.order_by(*order))
        return rows, bool(rows) and rows[0].more

    found, more = in_window(FIRST_WINDOW_ROWS)
    if len(found) >= need or (found and not more):  # the page, or the partition's last rows
        return found[offset:need]
    if len(found) * WINDOW_ROWS >= 0.75 * need * FIRST_WINDOW_ROWS:
        found, more = in_window(WINDOW_ROWS)
        if len(found) >= need or (found and not more):
            return found[offset:need]
    unindexed = F(column) + Value(timedelta(0))
    rest = filtered.order_by(unindexed.desc() if descending else unindexed.asc(), F("pk").desc())
    return list(rest[offset:need])


#: A partition's conversation count is exact up to this many; past it, an estimate.
EXACT_COUNT_LIMIT = 1000


def conversation_count(*, partition: Partition) -> int:
    """How many conversations ``partition`` holds, cheap at any size.

    Exact up to :data:`EXACT_COUNT_LIMIT` (``SELECT COUNT(*) FROM (… LIMIT 1001)``, at most
    that many index entries read). Past it, on PostgreSQL, the planner's estimate of the
    partition's rows (``EXPLAIN``; the extended statistics ``conv_partition_stats`` keep it
    within a few percent after ``ANALYZE``), never below the limit; on SQLite an exact
    ``COUNT(*)``. Counting a million rows exactly on every page took 69–113 ms (issue 10).
    """
    queryset = conversation_queryset(partition=partition).order_by()
    capped = queryset[: EXACT_COUNT_LIMIT + 1].count()
    if capped <= EXACT_COUNT_LIMIT:
        return capped
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return max(int(plan[0]["Plan"]["Plan Rows"]), capped)


def conversation_activity_page(
    *, partition: Partition, limit: int, offset: int
) -> tuple[list[Conversation], bool, int]:
    """One offset page of a partition's conversations, most recent activity first.

    Ordered by ``last_message_at`` desc, then id (a stable order for equal times), walking
    the index ``conv_part_activity_id_idx``. Returns ``(conversations, has_more, total)``:
    ``has_more`` is exact (one row past the page is read), ``total`` is
    :func:`conversation_count` (exact up to :data:`EXACT_COUNT_LIMIT`, then an estimate),
    raised to at least what this page proves to exist. Serves AgentPhone's
    ``GET /v1/conversations`` (``limit``, ``offset``; "Sorted by most recent activity
    (lastMessageAt desc)"; ``{data, hasMore, total}``).
    """
    queryset = conversation_queryset(partition=partition).order_by("-last_message_at", "-id")
    rows = list(queryset[offset : offset + limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows and not has_more:
        return rows, False, offset + len(rows)  # the last page tells the exact total
    at_least = offset + len(rows) + 1 if has_more else 0
    return rows, has_more, max(conversation_count(partition=partition), at_least)


def conversation_export_iterator(*, project: Project | None = None, chunk_size: int = 500):
    """Every conversation (optionally of one project) by id, with its messages oldest first.

    Streams: ``iterator(chunk_size=…)`` reads ``chunk_size`` conversations at a time (a
    server-side cursor on PostgreSQL) and prefetches each chunk's messages in one query, so
    memory stays flat whatever the table size.
    """
    queryset = (
        Conversation.objects.select_related("project")
        .prefetch_related(Prefetch("messages", queryset=Message.objects.order_by("id")))
        .order_by("pk")
    )
    if project is not None:
        queryset = queryset.filter(project=project)
    return queryset.iterator(chunk_size=chunk_size)


def conversation_idle_queryset(*, idle_before, project: Project | None = None):
    """Conversations whose last activity (``last_message_at``) is before ``idle_before``."""
    queryset = Conversation.objects.filter(last_message_at__lt=idle_before)
    if project is not None:
        queryset = queryset.filter(project=project)
    return queryset
