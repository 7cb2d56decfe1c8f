"""The locked-row steps every metadata writer shares (:mod:`.conversations`, :mod:`.handoff`).

Under the row lock a writer :func:`locked` re-reads the row, :func:`check_precondition` checks
``If-Match`` (RFC 9110 §13.1.1), :func:`settle` writes down a timed handoff that has ended,
and :func:`store` writes the new metadata with its audit row (:func:`audit`) and event. The
rules they apply live in :mod:`conversations.domain`; the transaction is the caller's.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from conversations.domain import clock, events, handoff
from conversations.domain import metadata as rules
from conversations.domain.conditional import EntityTags, check_if_match
from conversations.models import Conversation, MetadataChange
from conversations.selectors import Partition, conversation_queryset
from conversations.services.actors import SYSTEM, Actor

#: Where a write may find its row: a request's partition, any queryset, or anywhere (None).
Scope = Partition | QuerySet | None


def audit(
    conversation: Conversation, *, actor: Actor, action: str, before, after
) -> MetadataChange:
    """Write the audit row of a metadata change (``before``/``after``: the metadata dicts, or
    ``None``) made by ``actor`` as ``action``, and send ``events.metadata_changed`` (the
    webhook outbox listens) in the caller's transaction. Returns the audit row."""
    change = actor.metadata_change(conversation, action=action, before=before, after=after)
    change.save(force_insert=True)
    events.metadata_changed.send(sender=Conversation, conversation=conversation, change=change)
    return change


def locked(conversation: Conversation | Any, scope: Scope = None) -> Conversation:
    """Lock and re-read the row (``SELECT … FOR UPDATE``); ``scope`` (a partition or a queryset)
    must contain it. ``conversation`` is a row or a primary key.

    Raises:
        Conversation.DoesNotExist: the row is gone or outside ``scope``.
    """
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    if scope is None:
        queryset = Conversation.objects.all()
    elif isinstance(scope, Partition):
        queryset = conversation_queryset(partition=scope)
    else:
        queryset = scope
    return queryset.select_for_update().get(pk=pk)


def check_precondition(row: Conversation, if_match: EntityTags | None) -> Conversation:
    """The conditional-write check (RFC 9110 §13.1.1), on a row locked by :func:`locked`;
    returns the row.

    Raises:
        PreconditionFailed: ``if_match`` does not name the row's current version.
    """
    check_if_match(row, if_match)
    return row


def settle(row: Conversation) -> MetadataChange | None:
    """On a locked row: write down a timed handoff that has ended (see module): the switch on,
    the handoff keys gone, audited as the system actor (action ``ai_resume``) and announced
    with ``events.ai_resumed``. Returns the audit row, or ``None`` when nothing was due."""
    if not handoff.resume_due(row.metadata, clock.now()):
        return None
    new = handoff.resumed(row.metadata)
    change = store(row, new, actor=SYSTEM, action=MetadataChange.Action.AI_RESUME)
    events.ai_resumed.send(sender=Conversation, conversation=row, change=change)
    return change


def store(
    conversation: Conversation, new: dict | None, *, actor: Actor, action: str
) -> MetadataChange | None:
    """Store ``new`` on a locked row and audit it; ``None`` (a no-op) when nothing changes."""
    before = conversation.metadata
    if new == before:
        return None
    conversation.metadata = new
    conversation.ai_disabled = rules.is_ai_disabled(new)
    conversation.updated_at = timezone.now()
    conversation.version += 1
    conversation.save(update_fields=["metadata", "ai_disabled", "updated_at", "version"])
    return audit(conversation, actor=actor, action=action, before=before, after=new)


