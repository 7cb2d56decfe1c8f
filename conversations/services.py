"""Every write to the store. The API formats, the admin and the commands all call these.

Each metadata write runs in one transaction that locks the conversation row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite takes its database write lock at ``BEGIN``
because the connection uses ``IMMEDIATE`` transactions), re-reads the stored metadata,
applies the change, validates the *result* with :mod:`conversations.metadata`, writes it and
the audit row, and raises :mod:`conversations.events` signals. So two merges at once never
lose a key and no race pushes a conversation past 16 pairs.

``conversation`` may be a row or a primary key. The metadata writers take an optional
``scope`` queryset (a request's partition) that the row must belong to: callers that only
hold an id skip a separate visibility lookup, and an id outside the scope raises
``Conversation.DoesNotExist`` exactly like an unknown one.

Errors raised:

- :class:`conversations.metadata.MetadataError` for a broken metadata rule (nothing written);
- ``Conversation.DoesNotExist`` when the conversation vanished before the lock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from . import events
from . import metadata as rules
from .models import ApiKey, Conversation, Message, MetadataChange, Project

API_KEY_PREFIX = "cs_"
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)
PREVIEW_LENGTH = 200


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through which path; recorded in the audit trail.

    ``kind`` is a :class:`MetadataChange.ActorType` value; ``source`` names the path
    (``openai``, ``azure``, ``telnyx``, ``agentphone``, ``admin``, ``command``, ``system``).
    """

    kind: str
    source: str
    label: str
    api_key: ApiKey | None = None
    user: Any = None
    request_id: str = ""

    @classmethod
    def for_api_key(cls, api_key: ApiKey, *, source: str, request_id: str = "") -> Actor:
        """An API client authenticated with ``api_key``."""
        return cls(
            MetadataChange.ActorType.API_KEY,
            source,
            f"key {api_key.prefix}…",
            api_key=api_key,
            request_id=request_id,
        )

    @classmethod
    def for_staff(cls, user) -> Actor:
        """A staff user in the admin."""
        return cls(MetadataChange.ActorType.STAFF, "admin", user.get_username(), user=user)

    @classmethod
    def for_command(cls, command: str) -> Actor:
        """A management command, e.g. ``Actor.for_command("conversation set")``."""
        return cls(MetadataChange.ActorType.COMMAND, "command", command)


SYSTEM = Actor(MetadataChange.ActorType.SYSTEM, "system", "system")


@dataclass
class MessageInput:
    """A message to store, in the core's terms (formats translate their wire shape to this).

    Times are aware datetimes; ``direction`` defaults from ``role`` (``user`` → inbound,
    anything else → outbound) when left empty.
    """

    role: str = ""
    content: str = ""
    item_type: str = "message"
    status: str = "completed"
    content_parts: list | None = None
    payload: dict | None = None
    name: str = ""
    tool_calls: list | None = None
    tool_call_id: str = ""
    metadata: dict | None = None
    direction: str = ""
    channel: str = ""
    from_number: str = ""
    to_number: str = ""
    media_urls: list = field(default_factory=list)
    sent_at: datetime | None = None


# --- API keys -------------------------------------------------------------------------------


def hash_api_key(raw_key: str) -> str:
    """SHA-256 hex digest of a raw key (keys carry 160 random bits, so no slow hash is needed)."""
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def project_get_or_create(*, name: str) -> Project:
    """Return the project called ``name``, creating it if new."""
    project, _ = Project.objects.get_or_create(name=name)
    return project


def api_key_create(*, project: Project, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``project``; returns ``(ApiKey, raw_key)``. The raw key is never stored."""
    raw_key = API_KEY_PREFIX + secrets.token_hex(20)
    api_key = ApiKey.objects.create(
        project=project, name=name, prefix=raw_key[:12], key_hash=hash_api_key(raw_key)
    )
    return api_key, raw_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """Return the active key matching ``raw_key`` (with its project), or ``None``.

    ``last_used_at`` is refreshed at most once per :data:`API_KEY_TOUCH_INTERVAL`, so a burst of
    requests costs one write, not one each.
    """
    if not raw_key or len(raw_key) > 256:
        return None
    try:
        api_key = ApiKey.objects.select_related("project").get(
            key_hash=hash_api_key(raw_key), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke a key; returns ``False`` if it was already revoked (a no-op)."""
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return True


# --- conversations --------------------------------------------------------------------------


def _audit(
    conversation: Conversation, *, actor: Actor, action: str, before, after
) -> MetadataChange:
    change = MetadataChange.objects.create(
        conversation=conversation,
        actor_type=actor.kind,
        actor=actor.label[:255],
        api_key=actor.api_key,
        user=actor.user,
        source=actor.source,
        action=action,
        before=before,
        after=after,
        request_id=actor.request_id,
    )
    events.metadata_changed.send(sender=Conversation, conversation=conversation, change=change)
    return change


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
    """
    clean = rules.validate_metadata(metadata if metadata is not None else {})
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
        _audit(
            conversation, actor=actor, action=MetadataChange.Action.CREATE, before=None, after=clean
        )
    messages = list(messages)
    if messages:
        messages_create(conversation=conversation, messages=messages)
    return conversation


def _locked(conversation: Conversation | Any, scope: QuerySet | None = None) -> Conversation:
    """Lock and re-read the row; ``scope`` (e.g. a partition's queryset) must contain it."""
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    queryset = Conversation.objects.all() if scope is None else scope
    return queryset.select_for_update().get(pk=pk)


def _write_metadata(
    conversation: Conversation, new: dict | None, *, actor: Actor, action: str
) -> Conversation:
    """Store ``new`` on a locked row and audit it; a no-op when nothing changes."""
    before = conversation.metadata
    if new == before:
        return conversation
    conversation.metadata = new
    conversation.ai_disabled = rules.is_ai_disabled(new)
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["metadata", "ai_disabled", "updated_at"])
    _audit(conversation, actor=actor, action=action, before=before, after=new)
    return conversation


@transaction.atomic
def conversation_metadata_merge(
    *,
    conversation: Conversation | Any,
    patch: Mapping[str, Any],
    actor: Actor,
    scope: QuerySet | None = None,
) -> Conversation:
    """Shallow-merge ``patch`` into the stored metadata; a ``None`` value removes its key.

    The OpenAI/Azure ``POST /conversations/{id}`` and Telnyx ``PUT`` semantics. Returns the
    conversation as stored after the merge.

    Raises:
        MetadataError: the patch, or the merged result (more than 16 pairs), breaks a rule.
        Conversation.DoesNotExist: the conversation is gone.
    """
    clean_patch = rules.validate_patch(patch)
    row = _locked(conversation, scope)
    merged = rules.merge(row.metadata, clean_patch)
    return _write_metadata(row, merged, actor=actor, action=MetadataChange.Action.MERGE)


@transaction.atomic
def conversation_metadata_replace(
    *,
    conversation: Conversation | Any,
    metadata: Mapping[str, Any] | None,
    actor: Actor,
    scope: QuerySet | None = None,
) -> Conversation:
    """Replace the whole metadata object; ``None`` clears it (stored as null), ``{}`` empties it.

    The AgentPhone ``PATCH`` semantics, the OpenAI ``"metadata": null`` clear, and the admin's
    key/value editor.

    Raises:
        MetadataError: the new object breaks a rule; nothing is written.
        Conversation.DoesNotExist: the conversation is gone.
    """
    clean = None if metadata is None else rules.validate_metadata(metadata)
    row = _locked(conversation, scope)
    action = MetadataChange.Action.REPLACE if clean else MetadataChange.Action.CLEAR
    return _write_metadata(row, clean, actor=actor, action=action)


@transaction.atomic
def conversation_ai_set(
    *,
    conversation: Conversation | Any,
    disabled: bool,
    actor: Actor,
    scope: QuerySet | None = None,
) -> tuple[Conversation, bool]:
    """Flip the AI switch: set ``metadata["ai_disabled"]`` to ``"true"`` or ``"false"``.

    A no-op (nothing written, nothing audited) when the switch is already in that state.
    Returns ``(conversation, changed)``.

    Raises:
        MetadataError: turning AI off would add a 17th pair.
    """
    row = _locked(conversation, scope)
    if row.ai_disabled == disabled:
        return row, False
    new = rules.with_ai_disabled(row.metadata, disabled)
    return _write_metadata(row, new, actor=actor, action=MetadataChange.Action.AI_SWITCH), True


def conversation_update_fields(*, conversation: Conversation, **values: Any) -> Conversation:
    """Set non-metadata fields (``name``, ``group_name``, …) with ``update_fields``."""
    for name, value in values.items():
        setattr(conversation, name, value)
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=[*values, "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with its messages and audit trail."""
    conversation.delete()


# --- messages -------------------------------------------------------------------------------


def _default_direction(role: str) -> str:
    return "inbound" if role == "user" else "outbound"


@transaction.atomic
def messages_create(
    *, conversation: Conversation, messages: Iterable[MessageInput]
) -> list[Message]:
    """Append messages to a conversation in order and bump its activity.

    Sets ``last_message_at`` to now (or to the newest ``sent_at`` if later), adds to
    ``message_count`` atomically, and stores a preview of the last text. Messages by people
    are stored whatever the AI switch says (the contract's human takeover).
    Sends ``events.message_added`` for each message. Returns the stored rows.
    """
    now = timezone.now()
    rows = []
    for index, item in enumerate(messages):
        row = Message(
            conversation=conversation,
            item_type=item.item_type,
            role=item.role,
            status=item.status,
            content=item.content,
            content_parts=item.content_parts,
            payload=item.payload,
            name=item.name,
            tool_calls=item.tool_calls,
            tool_call_id=item.tool_call_id,
            metadata=item.metadata,
            direction=item.direction or _default_direction(item.role),
            channel=item.channel or conversation.channel,
            from_number=item.from_number,
            to_number=item.to_number,
            media_urls=item.media_urls,
            sent_at=item.sent_at,
            # One microsecond apart, so a batch keeps a strict time order and timestamp
            # cursors (AgentPhone's before/after) never split a tie.
            created_at=now + timedelta(microseconds=index),
        )
        rows.append(row)
    if not rows:
        return rows
    # bulk_create returns primary keys on PostgreSQL and SQLite ≥ 3.35 alike.
    Message.objects.bulk_create(rows)
    preview = next((r.content for r in reversed(rows) if r.content), "")
    updates: dict[str, Any] = {
        "message_count": F("message_count") + len(rows),
        "last_message_at": rows[-1].created_at,
        "updated_at": now,
    }
    if preview:
        updates["last_message_preview"] = preview[:PREVIEW_LENGTH]
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
    conversation.refresh_from_db(
        fields=["message_count", "last_message_at", "last_message_preview", "updated_at"]
    )
    for row in rows:
        events.message_added.send(sender=Conversation, conversation=conversation, message=row)
    return rows


@transaction.atomic
def message_delete(*, message: Message) -> None:
    """Delete one message and keep the conversation's message count right."""
    conversation_id = message.conversation_id
    message.delete()
    Conversation.objects.filter(pk=conversation_id, message_count__gt=0).update(
        message_count=F("message_count") - 1
    )


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
    being written waits for it. ``responder`` is a callable ``(conversation, message) -> str``
    (see :mod:`conversations.responders`); it runs inside the transaction, so when it fails
    nothing is stored. Returns ``(user_message, reply_message)``.

    Raises:
        AIDisabled: the switch is off; nothing is stored (``CONTRACT.md`` §The AI switch).
        ResponderNotConfigured: ``responder`` is ``None``; nothing is stored.
        ResponderFailed: the responder raised or returned a non-string; nothing is stored.
        Conversation.DoesNotExist: the conversation is gone.
    """
    row = _locked(conversation)
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
    (answer,) = messages_create(
        conversation=row, messages=[MessageInput(role="assistant", content=reply)]
    )
    return message, answer


# --- operator bulk operations (import, purge) -------------------------------------------------


@dataclass
class ConversationImport:
    """One conversation to upsert, already checked by :mod:`conversations.jsonl`.

    ``fields`` holds the :class:`Conversation` values present in the record (metadata already
    validated); ``messages`` the :class:`Message` values in order, or ``None`` to keep the
    stored messages.
    """

    id: Any
    project: str
    fields: dict[str, Any]
    messages: list[dict[str, Any]] | None = None


@transaction.atomic
def conversations_import(
    *, records: list[ConversationImport], actor: Actor
) -> tuple[int, int, int]:
    """Upsert a chunk of conversations by id; returns ``(created, updated, unchanged)``.

    Idempotent: importing the same records again writes nothing (only rows and fields that
    differ are updated; a message list is replaced only when it differs from the stored
    thread). New rows default missing times to now. A changed
    metadata object is audited (``create`` for a new conversation, ``replace``/``clear``
    otherwise) with ``actor``; the rows are bulk-written, so no ``events`` signals fire: an
    import is a restore, not live activity.

    Raises:
        django.db.IntegrityError: a message id already belongs to another conversation.
    """
    if not records:
        return 0, 0, 0
    projects = {name: project_get_or_create(name=name) for name in {r.project for r in records}}
    existing = Conversation.objects.select_for_update().in_bulk([r.id for r in records])
    now = timezone.now()
    created: list[Conversation] = []
    updated: list[Conversation] = []
    update_fields: set[str] = set()
    audits: list[MetadataChange] = []

    def audit(row: Conversation, action: str, before, after) -> None:
        audits.append(
            MetadataChange(
                conversation=row,
                actor_type=actor.kind,
                actor=actor.label[:255],
                user=actor.user,
                source=actor.source,
                action=action,
                before=before,
                after=after,
                changed_at=now,
            )
        )

    for record in records:
        values = dict(record.fields, project=projects[record.project])
        if "metadata" in values:
            values["ai_disabled"] = rules.is_ai_disabled(values["metadata"])
        if record.messages is not None:
            values["message_count"] = len(record.messages)
        row = existing.get(record.id)
        if row is None:
            row = Conversation(
                id=record.id,
                **{"created_at": now, "last_message_at": now, "updated_at": now, **values},
            )
            created.append(row)
            if row.metadata:
                audit(row, MetadataChange.Action.CREATE, None, row.metadata)
            continue
        before = row.metadata
        changed = {
            name
            for name, value in values.items()
            if (row.project_id != value.pk if name == "project" else getattr(row, name) != value)
        }
        for name in changed:
            setattr(row, name, values[name])
        if changed:
            update_fields.update(changed)
            updated.append(row)
        if "metadata" in changed:
            action = MetadataChange.Action.REPLACE if row.metadata else MetadataChange.Action.CLEAR
            audit(row, action, before, row.metadata)

    Conversation.objects.bulk_create(created)
    if updated:
        # Only rows and fields that differ: bulk_update's CASE per field gets slow when wide.
        Conversation.objects.bulk_update(updated, sorted(update_fields), batch_size=100)
    _import_messages(records, existing, now)
    MetadataChange.objects.bulk_create(audits)
    return len(created), len(updated), len(records) - len(created) - len(updated)


_MESSAGE_FIELDS = [
    f.name for f in Message._meta.concrete_fields if f.name not in ("id", "conversation")
]


def _message_defaults() -> dict[str, Any]:
    return {
        f.name: f.get_default() for f in Message._meta.concrete_fields if f.name in _MESSAGE_FIELDS
    }


def _import_messages(records, existing: dict, now: datetime) -> None:
    """Replace the messages of records that carry ``messages``, skipping identical threads."""
    given = {r.id: r.messages for r in records if r.messages is not None}
    if not given:
        return
    stored: dict[Any, list[dict]] = {pk: [] for pk in given if pk in existing}
    for row in (
        Message.objects.filter(conversation_id__in=list(stored))
        .order_by("conversation_id", "id")
        .values("conversation_id", *_MESSAGE_FIELDS)
    ):
        stored[row.pop("conversation_id")].append(row)
    defaults = _message_defaults()
    replace = {}
    for pk, messages in given.items():
        full = [{**defaults, "created_at": now, **m} for m in messages]
        if stored.get(pk) != full:
            replace[pk] = full
    if not replace:
        return
    Message.objects.filter(conversation_id__in=[pk for pk in replace if pk in stored]).delete()
    Message.objects.bulk_create(
        Message(conversation_id=pk, **m) for pk, full in replace.items() for m in full
    )


def conversations_purge(
    *, idle_before: datetime, project: Project | None = None, batch_size: int = 1000
) -> int:
    """Delete conversations whose last activity is before ``idle_before``; returns how many.

    Deletes in batches of ``batch_size``, one transaction each, so a large purge never holds
    locks long; a conversation that receives a message meanwhile is kept (the condition is
    re-checked in each ``DELETE``). Messages and audit rows go with their conversation.
    """
    queryset = Conversation.objects.filter(last_message_at__lt=idle_before)
    if project is not None:
        queryset = queryset.filter(project=project)
    total = 0
    while True:
        pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        with transaction.atomic():
            _, per_model = queryset.filter(pk__in=pks).delete()
        total += per_model.get(Conversation._meta.label, 0)
