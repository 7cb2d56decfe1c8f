"""The JSONL import upsert through the ORM, on every database (PostgreSQL's faster path:
:mod:`conversations.transfer.importing_pg`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.domain import metadata as rules
from conversations.domain.limits import message_size
from conversations.models import Conversation, Message, MetadataChange
from conversations.services.actors import Actor
from conversations.services.api_keys import project_get_or_create


@dataclass
class ConversationImport:
    """One conversation to upsert, already checked by :mod:`conversations.transfer.jsonl`.

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
            actor.metadata_change(row, action=action, before=before, after=after, changed_at=now)
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
            row.version += 1
            changed.add("version")
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


_MESSAGE_FIELDS = [  # size_bytes is derived: measured when the rows are written
    f.name
    for f in Message._meta.concrete_fields
    if f.name not in ("id", "conversation", "size_bytes")
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
        Message(conversation_id=pk, size_bytes=message_size(**m), **m)
        for pk, full in replace.items()
        for m in full
    )
