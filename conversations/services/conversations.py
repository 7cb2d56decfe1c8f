"""Conversation writes: create, metadata merge/replace, AI replies, delete.

Each metadata write runs in one transaction that locks the conversation row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite takes its database write lock at ``BEGIN``
because the connection uses ``IMMEDIATE`` transactions), re-reads the stored metadata,
applies the change, validates the *result* with :mod:`conversations.domain.metadata`, writes it and
the audit row, and raises :mod:`conversations.domain.events` signals. So two merges at once never
lose a key and no race pushes a conversation past 16 pairs.

On PostgreSQL the merge and the replace first try :mod:`.fastwrite`: an unlocked read, the
same rules applied in Python, and one statement that writes the change, the audit row and
the outbox events only if the row's ``version`` is still the one read (compare-and-swap);
when it is not, they run the locking path above. Same results, same guarantees, 2–3 round
trips instead of 8.

``conversation`` may be a row or a primary key. The writers take an optional ``scope`` that
the row must belong to: a request's :class:`~conversations.selectors.Partition` (what the
formats pass; the fast path reads the row in it without building a queryset) or any
``Conversation`` queryset. Callers that only hold an id skip a separate visibility lookup,
and an id outside the scope raises ``Conversation.DoesNotExist`` exactly like an unknown one.

Errors raised:

- :class:`conversations.domain.metadata.MetadataError` for a broken metadata rule (nothing written);
- ``Conversation.DoesNotExist`` when the conversation vanished before the lock;
- :class:`conversations.domain.conditional.PreconditionFailed` when an ``if_match`` precondition
  (RFC 9110 ``If-Match``, parsed by :mod:`conversations.domain.conditional`) does not name the
  locked row's current state; it is checked by :func:`.locking.check_precondition` under the lock,
  before anything is written.

The timed handoff (:mod:`conversations.domain.handoff`): every metadata write applies
:func:`conversations.domain.handoff.finish` to its result, and every write under the row lock first
writes down a resume that has fallen due (:func:`.locking.settle`), so a resume gets exactly one
audit row and one ``conversation.ai_resumed`` event, whoever locks the row first. The fast
path leaves such a row to the locking path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from conversations.domain import clock, handoff
from conversations.domain import metadata as rules
from conversations.domain.conditional import EntityTags, check_if_match
from conversations.models import Conversation, Message, MetadataChange, Project
from conversations.services import fastwrite
from conversations.services.actors import Actor
from conversations.services.locking import (
    Scope,
    audit,
    check_precondition,
    locked,
    settle,
    store,
)
from conversations.services.messages import (
    MessageInput,
    MessageInvalid,
    messages_check,
    messages_create,
)


@transaction.atomic
def conversation_create(
    *,
    project: Project,
    actor: Actor,
    isolation_key: str = "",
    metadata: Mapping[str, Any] | None = None,
    name: str = "",
    messages: Iterable[MessageInput] = (),
    **context: Any,
) -> Conversation:
    """Create a conversation in the partition ``(project, isolation_key)``.

    ``metadata`` is validated as a whole (``None`` means ``{}``); ``context`` sets the
    telephony fields of :class:`Conversation` (``channel``, ``agent_id``, ``phone_number``,
    ``participant``, …). Initial ``messages`` are stored in order. Non-empty metadata is
    audited as a ``create`` change.

    Raises:
        MetadataError: invalid metadata; nothing is written.
        MessageInvalid: a message the store cannot keep; nothing is written.
    """
    clean = rules.validate_metadata(metadata if metadata is not None else {})
    clean = handoff.finish(None, clean, now=clock.now())
    messages = list(messages)
    messages_check(messages)
    now = timezone.now()
    conversation = Conversation.objects.create(
        project=project,
        isolation_key=isolation_key,
        name=name,
        metadata=clean,
        ai_disabled=rules.is_ai_disabled(clean),
        created_at=now,
        last_message_at=now,
        updated_at=now,
        **context,
    )
    if clean:
        audit(
            conversation, actor=actor, action=MetadataChange.Action.CREATE, before=None, after=clean
        )
    if messages:
        messages_create(conversation=conversation, messages=messages)
    return conversation


class _ResumeDue(Exception):
    """The fast path read a row whose handoff has ended: the locking path writes it down."""


def _if_match_check(if_match: EntityTags | None):
    """The same check for :func:`fastwrite.write`'s ``check`` hook. There it runs on the
    unlocked read; the compare-and-swap on that read's version then makes the write land on
    exactly the state that was checked, and a lost race re-runs the check under the row lock.
    A row with a resume due raises :class:`_ResumeDue` (the caller takes the locking path)."""

    def check(row: Conversation) -> None:
        if if_match is not None:
            check_if_match(row, if_match)
        if handoff.resume_due(row.metadata, clock.now()):
            raise _ResumeDue

    return check


def _fast_write(**kwargs: Any) -> Conversation | None:
    """:func:`fastwrite.write`, or ``None`` (take the locking path) when it is off or the row
    has a resume to write down."""
    if not fastwrite.enabled(router.db_for_write(Conversation)):
        return None
    try:
        return fastwrite.write(**kwargs)
    except _ResumeDue:
        return None


@transaction.atomic
def conversation_lock(
    *,
    conversation: Conversation | Any,
    scope: Scope = None,
    if_match: EntityTags | None = None,
) -> Conversation:
    """Lock the row for the rest of the caller's transaction and check ``if_match``.

    For a caller that makes several writes (or none) under one precondition, e.g. AgentPhone's
    ``PATCH``; call it inside ``transaction.atomic()``. Returns the locked row.

    Raises:
        PreconditionFailed: ``if_match`` does not name the current state.
        Conversation.DoesNotExist: the conversation is gone or outside ``scope``.
    """
    return check_precondition(locked(conversation, scope), if_match)


def _write_metadata(
    conversation: Conversation, new: dict | None, *, actor: Actor, action: str
) -> Conversation:
    """:func:`settle`, then the handoff rules on ``new`` and :func:`store` it."""
    settle(conversation)
    new = handoff.finish(conversation.metadata, new, now=clock.now())
    store(conversation, new, actor=actor, action=action)
    return conversation


def conversation_metadata_merge(
    *,
    conversation: Conversation | Any,
    patch: Mapping[str, Any],
    actor: Actor,
    scope: Scope = None,
    if_match: EntityTags | None = None,
) -> Conversation:
    """Shallow-merge ``patch`` into the stored metadata; a ``None`` value removes its key.

    The OpenAI/Azure ``POST /conversations/{id}`` and Telnyx ``PUT`` semantics. Returns the
    conversation as stored after the merge. On PostgreSQL this first tries
    :mod:`.fastwrite` (optimistic read, one statement, same rules and guarantees).

    Raises:
        MetadataError: the patch, or the merged result (more than 16 pairs), breaks a rule.
        PreconditionFailed: ``if_match`` does not name the current state; nothing is written.
        Conversation.DoesNotExist: the conversation is gone.
    """
    clean_patch = rules.validate_patch(patch)
    row = _fast_write(
        conversation=conversation,
        scope=scope,
        compute=lambda stored: _finish(stored, rules.merge(stored, clean_patch)),
        action=lambda new: MetadataChange.Action.MERGE,
        actor=actor,
        check=_if_match_check(if_match),
    )
    if row is not None:
        return row
    return _merge_locked(conversation, clean_patch, actor=actor, scope=scope, if_match=if_match)


def _finish(stored, new):
    return handoff.finish(stored, new, now=clock.now())


@transaction.atomic
def _merge_locked(
    conversation, clean_patch, *, actor: Actor, scope, if_match: EntityTags | None
) -> Conversation:
    row = check_precondition(locked(conversation, scope), if_match)
    settle(row)
    merged = rules.merge(row.metadata, clean_patch)
    return _write_metadata(row, merged, actor=actor, action=MetadataChange.Action.MERGE)


def conversation_metadata_replace(
    *,
    conversation: Conversation | Any,
    metadata: Mapping[str, Any] | None,
    actor: Actor,
    scope: Scope = None,
    if_match: EntityTags | None = None,
) -> Conversation:
    """Replace the whole metadata object; ``None`` clears it (stored as null), ``{}`` empties it.

    The AgentPhone ``PATCH`` semantics, the OpenAI ``"metadata": null`` clear, and the admin's
    key/value editor.

    Raises:
        MetadataError: the new object breaks a rule; nothing is written.
        PreconditionFailed: ``if_match`` does not name the current state; nothing is written.
        Conversation.DoesNotExist: the conversation is gone.
    """
    clean = None if metadata is None else rules.validate_metadata(metadata)
    action = MetadataChange.Action.REPLACE if clean else MetadataChange.Action.CLEAR
    row = _fast_write(
        conversation=conversation,
        scope=scope,
        compute=lambda stored: _finish(stored, clean),
        action=lambda new: action,
        actor=actor,
        check=_if_match_check(if_match),
    )
    if row is not None:
        return row
    return _replace_locked(conversation, clean, action, actor=actor, scope=scope, if_match=if_match)


@transaction.atomic
def _replace_locked(
    conversation, clean, action: str, *, actor: Actor, scope, if_match: EntityTags | None
) -> Conversation:
    row = check_precondition(locked(conversation, scope), if_match)
    return _write_metadata(row, clean, actor=actor, action=action)


@transaction.atomic
def conversation_update_fields(*, conversation: Conversation, **values: Any) -> Conversation:
    """Set non-metadata fields (``name``, ``group_name``, …) and bump ``version``, atomically.

    Locks the row (re-reading its ``version``), then writes the fields, ``updated_at`` and
    ``version + 1`` in one ``UPDATE``: every write changes the ETag (:mod:`..conditional`), and
    a failed write leaves nothing behind. Sets the values on ``conversation`` and returns it.

    Raises:
        Conversation.DoesNotExist: the conversation is gone.
    """
    version = (
        Conversation.objects.select_for_update()
        .values_list("version", flat=True)
        .get(pk=conversation.pk)
    )
    for name, value in values.items():
        setattr(conversation, name, value)
    conversation.updated_at = timezone.now()
    conversation.version = version + 1
    conversation.save(update_fields=[*values, "updated_at", "version"])
    return conversation


@transaction.atomic
def conversation_delete(
    *,
    conversation: Conversation | Any,
    scope: Scope = None,
    if_match: EntityTags | None = None,
) -> None:
    """Delete a conversation with its messages and audit trail, under its row lock.

    Locking the row first means a message being added meanwhile either commits before the
    delete (and goes with it) or finds the conversation gone (``messages_create`` locks the
    same row); neither side fails on a foreign key.

    Raises:
        PreconditionFailed: ``if_match`` does not name the current state; nothing is deleted.
        Conversation.DoesNotExist: the conversation is gone or outside ``scope``.
    """
    check_precondition(locked(conversation, scope), if_match).delete()


# --- AI replies (the AI switch) -------------------------------------------------------------


class AIDisabled(Exception):
    """The conversation's AI switch is off (``metadata["ai_disabled"] == "true"``)."""

    def __init__(self, conversation: Conversation):
        super().__init__(f"AI responses are disabled for conversation {conversation.pk}.")
        self.conversation = conversation


class ResponderNotConfigured(Exception):
    """No chat responder is configured (``CONVSTORE_CHAT_RESPONDER``), or it cannot be loaded."""


class ResponderFailed(Exception):
    """The chat responder raised, or returned something other than a NUL-free string."""


@transaction.atomic
def conversation_ai_reply(
    *,
    conversation: Conversation | Any,
    content: str,
    responder: Any,
    name: str = "",
) -> tuple[Message, Message]:
    """Store a user message and the AI reply ``responder`` writes for it, if AI is switched on.

    The AI switch is checked under the conversation's row lock, so a reply is never produced
    after a concurrent switch-off has committed; a switch-off that arrives while a reply is
    being written waits for it. ``responder`` is a callable ``(conversation, message) -> str`` (see
    :mod:`conversations.formats.telnyx.responders`); it runs inside the transaction, so when it
    fails nothing is stored. Returns ``(user_message, reply_message)``.

    Raises:
        AIDisabled: the switch is off; nothing is stored (``docs/contract.md`` §The AI switch).
        ResponderNotConfigured: ``responder`` is ``None``; nothing is stored.
        ResponderFailed: the responder raised or returned a non-string; nothing is stored.
        Conversation.DoesNotExist: the conversation is gone.
    """
    row = locked(conversation)
    settle(row)  # a timed handoff that has ended is written down; the AI answers again
    if row.ai_disabled:
        raise AIDisabled(row)
    if responder is None:
        raise ResponderNotConfigured("No chat responder is configured.")
    (message,) = messages_create(
        conversation=row, messages=[MessageInput(role="user", content=content, name=name)]
    )
    try:
        reply = responder(row, message)
    except Exception as exc:  # the responder is deployment code; report, never store
        raise ResponderFailed(f"The chat responder failed: {exc!r}") from exc
    if not isinstance(reply, str) or "\x00" in reply:
        raise ResponderFailed(f"The chat responder returned {type(reply).__name__}, not text.")
    try:
        (answer,) = messages_create(
            conversation=row, messages=[MessageInput(role="assistant", content=reply)]
        )
    except MessageInvalid as exc:
        raise ResponderFailed(f"The chat responder's reply cannot be stored: {exc}") from exc
    return message, answer
