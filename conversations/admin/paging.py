"""Counting and walking large selections, so the admin stays fast at a million rows.

- :class:`EstimatedCountPaginator` never runs ``COUNT(*)`` over the whole table.
- :func:`pks_in_chunks` walks a selection's primary keys a chunk per query, for bulk actions.
- :func:`count_noun` words a count for the messages those actions show.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

#: Largest exact count the admin runs; past it the list says "10000" and offers narrower filters.
COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """A paginator whose ``count`` is cheap on any table size.

    - Unfiltered on PostgreSQL: the planner's estimate ``pg_class.reltuples`` (kept fresh by
      autovacuum), when it is above :data:`COUNT_CAP`.
    - Otherwise: an exact count capped at :data:`COUNT_CAP` rows
      (``SELECT COUNT(*) FROM (… LIMIT 10000)``), so a broad filter reads at most that many
      index entries.

    Page links past the cap or the estimate may come up empty; staff narrow the list instead.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            estimate = _estimated_rows(queryset)
            if estimate is not None and estimate > COUNT_CAP:
                return estimate
        if isinstance(queryset, QuerySet):
            return queryset.order_by()[:COUNT_CAP].count()
        return super().count


#: Primary keys read per query by :func:`pks_in_chunks`.
PK_CHUNK = 500


def pks_in_chunks(queryset: QuerySet, chunk: int | None = None):
    """Yield the primary keys of ``queryset`` in key order, ``chunk`` (default
    :data:`PK_CHUNK`) per query (keyset pages: ``pk > last``).

    Memory stays one chunk whatever the selection, with no server-side cursor: one declared
    outside a transaction (``iterator()``) lives on one server connection, and behind a
    transaction-pooling PgBouncer the next ``FETCH`` may reach another (``cursor does not
    exist``). Each page is its own statement, so the caller's writes between pages run in
    their own transactions. A row added behind the last key read is not visited.
    """
    chunk = chunk or PK_CHUNK
    pks = queryset.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = list((pks if last is None else pks.filter(pk__gt=last))[:chunk])
        yield from page
        if len(page) < chunk:
            return
        last = page[-1]


def _estimated_rows(queryset: QuerySet) -> int | None:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    # reltuples is -1 (PostgreSQL 14+) or 0 before the table's first ANALYZE.
    return int(row[0]) if row and row[0] and row[0] > 0 else None


def count_noun(number: int, noun: str = "conversation") -> str:
    """``1 conversation``, ``3 conversations``: for admin messages."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
