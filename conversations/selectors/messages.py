"""Reads of a conversation's messages (items): by id, and the pages every format lists,
each bounded by a row limit and a response byte budget (:mod:`conversations.domain.limits`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import (
    Count,
    F,
    Max,
    Q,
    QuerySet,
    RowRange,
    Sum,
    Window,
)

from conversations.domain.ids import parse_id
from conversations.domain.limits import ITEM_OVERHEAD_BYTES, response_budget, take_within_budget
from conversations.models import (
    Conversation,
    Message,
)


def message_get(*, conversation: Conversation, message_id: str) -> Message:
    """Find a message of ``conversation`` by the id it was sent with (``item_id``) or by its
    public id in any accepted form (``msg_…``/``fc_…`` + 32 hex, 32 hex, dashed UUID).

    Raises:
        Message.DoesNotExist: unknown id or not a message of this conversation.
    """
    if not isinstance(message_id, str) or not message_id:
        raise Message.DoesNotExist(message_id)
    match = Q(item_id=message_id)
    public_id = parse_id(message_id)
    if public_id is not None:
        match |= Q(public_id=public_id)
    found = list(Message.objects.filter(match, conversation=conversation)[:2])
    if not found:
        raise Message.DoesNotExist(message_id)
    # A sent id wins over an issued one that happens to parse to another row's public id.
    return next((m for m in found if m.item_id == message_id), found[0])


def partition_item(*, partition, item_id: str) -> Message | None:
    """The item of any conversation of ``partition`` (its ``project`` and ``isolation_key``)
    whose sent id is ``item_id``, or whose public id it names; ``None`` when there is none."""
    if not isinstance(item_id, str) or not item_id:
        return None
    match = Q(item_id=item_id)
    public_id = parse_id(item_id)
    if public_id is not None:
        match |= Q(public_id=public_id)
    return (
        Message.objects.filter(
            match,
            conversation__project=partition.project,
            conversation__isolation_key=partition.isolation_key,
        )
        .order_by("id")
        .first()
    )


def message_cursor_page(
    *, conversation: Conversation, after: Message | None, limit: int, descending: bool
) -> tuple[list[Message], bool]:
    """One page of a conversation's messages in insertion order, after a cursor message.

    Returns ``(messages, has_more)``; the page stops early (``has_more`` true) where the next
    message would pass the response budget. Serves OpenAI's cursor pagination (``after``,
    ``limit`` 1–100, ``order`` asc|desc).
    """
    queryset = Message.objects.filter(conversation=conversation)
    if after is not None:
        queryset = (
            queryset.filter(id__lt=after.id) if descending else queryset.filter(id__gt=after.id)
        )
    return _budget_page(queryset.order_by("-id" if descending else "id"), limit)


def _budget_page(queryset: QuerySet[Message], limit: int, budget: int | None = None):
    """Up to ``limit`` rows of an ordered message queryset that fit the response budget.

    One statement: a running sum of the rows' stored sizes (``size_bytes`` plus
    :data:`~conversations.domain.limits.ITEM_OVERHEAD_BYTES` each, in the page's order) is computed
    by the database, which sends only the rows that begin inside the budget — the ones that
    fit and the first one that does not, so a page of large messages never reaches the
    worker to be cut afterwards. The leading rows that fit are kept
    (:func:`conversations.domain.limits.take_within_budget`: at least one). Returns ``(rows,
    has_more)``; ``has_more`` is also true when the budget stopped the page early.
    """
    budget = response_budget() if budget is None else budget
    item = F("size_bytes") + ITEM_OVERHEAD_BYTES
    running = Window(Sum(item), order_by=list(queryset.query.order_by), frame=RowRange(None, 0))
    fetched = list(
        queryset.annotate(running=running, size=item)
        .filter(running__lt=F("size") + budget)  # began inside the budget
        .order_by(*queryset.query.order_by)[: limit + 1]
    )
    taken = take_within_budget((row.size_bytes for row in fetched[:limit]), budget)
    return fetched[:taken], len(fetched) > taken


def _shown(queryset: QuerySet[Message], item_types: Iterable[str] | None) -> QuerySet[Message]:
    """``queryset`` limited to the item types a format shows (``None``: every item)."""
    return queryset if item_types is None else queryset.filter(item_type__in=list(item_types))


def message_number_page(
    *,
    conversation: Conversation,
    page_number: int,
    page_size: int,
    item_types: Iterable[str] | None = None,
) -> tuple[list[Message], int, int]:
    """Page ``page_number`` (from 1) of a conversation's messages, oldest first (only those of
    ``item_types`` when given: the item types the format shows).

    Returns ``(messages, total_results, page_size)``; a page past the end is empty. Serves
    Telnyx's ``page[number]``/``page[size]`` pagination (``docs/contract.md``
    §Sources, Telnyx SDK).

    A numbered page cannot stop early without shifting every later page, so the response
    budget shrinks the page instead: the page size used is ``page_size``, or fewer, so that a
    page of the conversation's largest messages fits the budget (at least 1). It depends
    only on the conversation, so every page of one listing uses the same size and a client
    asking for ``page_number + 1`` (the SDK's auto-paging) sees every message once.
    """
    queryset = _shown(Message.objects.filter(conversation=conversation), item_types).order_by("id")
    stats = queryset.aggregate(total=Count("id"), largest=Max("size_bytes"))
    total, largest = stats["total"], stats["largest"] or 0
    page_size = max(1, min(page_size, response_budget() // (largest + ITEM_OVERHEAD_BYTES)))
    start = (page_number - 1) * page_size
    rows = list(queryset[start : start + page_size]) if start < total else []
    return rows, total, page_size


def message_time_page(
    *,
    conversation: Conversation,
    limit: int,
    before: datetime | None = None,
    after: datetime | None = None,
    budget: int | None = None,
    item_types: Iterable[str] | None = None,
) -> tuple[list[Message], bool]:
    """One page of a conversation's messages between exclusive ``created_at`` bounds (only
    those of ``item_types`` when given).

    Newest first, except when only ``after`` is given: then oldest first, so a client paging
    forward from ``after`` sees every message. Returns ``(messages, has_more)``; the page
    stops early (``has_more`` true) where the next message would pass the response budget
    (``budget`` bytes, default ``CONVSTORE_MAX_RESPONSE_BYTES``). Serves AgentPhone's
    ``GET /v1/conversations/{id}/messages`` (``before``/``after`` cursors).
    """
    queryset = _shown(Message.objects.filter(conversation=conversation), item_types)
    if before is not None:
        queryset = queryset.filter(created_at__lt=before)
    if after is not None:
        queryset = queryset.filter(created_at__gt=after)
    ascending = after is not None and before is None
    order = ("created_at", "id") if ascending else ("-created_at", "-id")
    return _budget_page(queryset.order_by(*order), limit, budget)


def message_recent(
    *,
    conversation: Conversation,
    limit: int,
    before_id: int | None = None,
    item_types: Iterable[str] | None = None,
) -> list[Message]:
    """The ``limit`` latest messages of a conversation (optionally older than ``before_id``;
    only those of ``item_types`` when given), oldest first. Serves webhook ``recentHistory``
    context."""
    if limit <= 0:
        return []
    queryset = _shown(Message.objects.filter(conversation=conversation), item_types)
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    return list(reversed(queryset.order_by("-id")[:limit]))
