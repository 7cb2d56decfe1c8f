"""Every read that finds, filters or pages, scoped to a partition.

A request's partition is ``(project, isolation_key)`` (``../shared/CONTRACT.md`` §Who sees
what): a conversation is visible only in the partition that created it. Anything outside it
is reported exactly like an unknown id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, router
from django.db.models import Prefetch, QuerySet

from . import rows
from .ids import parse_id
from .models import ApiKey, Conversation, Message, Project


@dataclass(frozen=True)
class Partition:
    """The slice of the store a request may see: its key's project and isolation key."""

    project: Project
    isolation_key: str = ""


def conversation_queryset(*, partition: Partition) -> QuerySet[Conversation]:
    """All conversations of a partition.

    The queryset carries the partition as ``.partition`` so the fast write path
    (:mod:`conversations.services.fastwrite`) can scope its raw read without compiling the
    queryset; a filtered clone drops the attribute and is compiled instead.
    """
    queryset = Conversation.objects.all()
    # Django's own lazy filter (what related managers use): the filter is built only when
    # the query is compiled, which the fast write path never does for this queryset.
    queryset._defer_next_filter = True
    queryset = queryset.filter(project=partition.project, isolation_key=partition.isolation_key)
    queryset.partition = partition
    return queryset


def conversation_get(*, partition: Partition, conversation_id: str | uuid.UUID) -> Conversation:
    """Find a conversation by id in any accepted form (see :mod:`conversations.ids`).

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


def message_get(*, conversation: Conversation, message_id: str) -> Message:
    """Find a message of ``conversation`` by its public id in any accepted form.

    Raises:
        Message.DoesNotExist: unparseable id or not a message of this conversation.
    """
    public_id = parse_id(message_id)
    if public_id is None:
        raise Message.DoesNotExist(message_id)
    return Message.objects.get(conversation=conversation, public_id=public_id)


def message_cursor_page(
    *, conversation: Conversation, after: Message | None, limit: int, descending: bool
) -> tuple[list[Message], bool]:
    """One page of a conversation's messages in insertion order, after a cursor message.

    Returns ``(messages, has_more)``. Serves OpenAI's cursor pagination (``after``, ``limit``
    1–100, ``order`` asc|desc).
    """
    queryset = Message.objects.filter(conversation=conversation)
    if after is not None:
        queryset = (
            queryset.filter(id__lt=after.id) if descending else queryset.filter(id__gt=after.id)
        )
    queryset = queryset.order_by("-id" if descending else "id")
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def message_number_page(
    *, conversation: Conversation, page_number: int, page_size: int
) -> tuple[list[Message], int]:
    """Page ``page_number`` (from 1) of a conversation's messages, oldest first.

    Returns ``(messages, total_results)``; a page past the end is empty. Serves Telnyx's
    ``page[number]``/``page[size]`` pagination (``providers/telnyx-agentphone.md`` §A.4).
    """
    queryset = Message.objects.filter(conversation=conversation).order_by("id")
    total = queryset.count()
    start = (page_number - 1) * page_size
    rows = list(queryset[start : start + page_size]) if start < total else []
    return rows, total


def conversation_activity_page(
    *, partition: Partition, limit: int, offset: int
) -> tuple[list[Conversation], int]:
    """One offset page of a partition's conversations, most recent activity first.

    Ordered by ``last_message_at`` desc, then id (a stable order for equal times). Returns
    ``(conversations, total)``. Serves AgentPhone's ``GET /v1/conversations`` (``limit``,
    ``offset``; "Sorted by most recent activity (lastMessageAt desc)").
    """
    queryset = conversation_queryset(partition=partition).order_by("-last_message_at", "-id")
    return list(queryset[offset : offset + limit]), queryset.count()


def message_time_page(
    *,
    conversation: Conversation,
    limit: int,
    before: datetime | None = None,
    after: datetime | None = None,
) -> tuple[list[Message], bool]:
    """One page of a conversation's messages between exclusive ``created_at`` bounds.

    Newest first, except when only ``after`` is given: then oldest first, so a client paging
    forward from ``after`` sees every message. Returns ``(messages, has_more)``. Serves
    AgentPhone's ``GET /v1/conversations/{id}/messages`` (``before``/``after`` cursors).
    """
    queryset = Message.objects.filter(conversation=conversation)
    if before is not None:
        queryset = queryset.filter(created_at__lt=before)
    if after is not None:
        queryset = queryset.filter(created_at__gt=after)
    ascending = after is not None and before is None
    order = ("created_at", "id") if ascending else ("-created_at", "-id")
    rows = list(queryset.order_by(*order)[: limit + 1])
    return rows[:limit], len(rows) > limit


def message_recent(
    *, conversation: Conversation, limit: int, before_id: int | None = None
) -> list[Message]:
    """The ``limit`` latest messages of a conversation (optionally older than ``before_id``),
    oldest first. Serves webhook ``recentHistory`` context."""
    if limit <= 0:
        return []
    queryset = Message.objects.filter(conversation=conversation)
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    return list(reversed(queryset.order_by("-id")[:limit]))


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


def api_key_list(*, project_name: str | None = None) -> QuerySet[ApiKey]:
    """API keys with their project, newest first; only ``project_name``'s when given."""
    queryset = ApiKey.objects.select_related("project").order_by("project__name", "-created_at")
    if project_name is not None:
        queryset = queryset.filter(project__name=project_name)
    return queryset


def api_key_find(*, reference: str) -> list[ApiKey]:
    """Keys matching ``reference``: a numeric id, a whole raw key, or the start of a prefix.

    Returns every match (the caller refuses to act on more than one).
    """
    from .services import hash_api_key  # The digest lives with the key writes.

    reference = reference.strip().rstrip("…").rstrip(".")
    if not reference:
        return []
    if reference.isdigit():
        return list(ApiKey.objects.select_related("project").filter(pk=int(reference)))
    by_hash = list(
        ApiKey.objects.select_related("project").filter(key_hash=hash_api_key(reference))
    )
    if by_hash:
        return by_hash
    return list(ApiKey.objects.select_related("project").filter(prefix__startswith=reference)[:20])
