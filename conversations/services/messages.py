"""Messages: append to a conversation (bumping its activity) and delete."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from conversations.domain import events, handoff
from conversations.domain.ids import parse_id
from conversations.domain.limits import max_message_bytes, message_size
from conversations.models import Conversation, Message
from conversations.services.handoff import handoff_extend_for_agent

PREVIEW_LENGTH = 200

#: The string fields of :class:`MessageInput` stored in a bounded ``CharField`` (each is
#: checked against its column's ``max_length``).
_BOUNDED_FIELDS = ("item_type", "item_id", "role", "status", "name", "tool_call_id", "direction")
_BOUNDED_FIELDS += ("channel", "from_number", "to_number")


class DuplicateItemId(Exception):
    """A sent ``item_id`` that the conversation (or the same batch) already holds; nothing is
    written. ``index`` is the item's position in the batch, ``item_id`` the id."""

    def __init__(self, *, index: int, item_id: str):
        super().__init__(f"Message {index}: item id {item_id!r} is already in the conversation.")
        self.index, self.item_id = index, item_id


class MessageInvalid(Exception):
    """A message the store cannot keep; nothing is written.

    ``field`` names the :class:`MessageInput` field at fault (``"size"`` for the whole
    message), ``index`` its position in the batch, ``code`` is ``"too_long"`` (``length`` >
    ``limit`` characters, the column's ``max_length``) or ``"too_large"`` (stored size
    ``length`` > ``limit`` bytes, ``CONVSTORE_MAX_MESSAGE_BYTES``). Each format words it.
    """

    def __init__(self, *, field: str, index: int, code: str, limit: int, length: int):
        unit = "bytes" if code == "too_large" else "characters"
        super().__init__(f"Message {index}: {field} has {length} {unit}, at most {limit}.")
        self.field, self.index, self.code = field, index, code
        self.limit, self.length = limit, length


@dataclass
class MessageInput:
    """A message to store, in the core's terms (formats translate their wire shape to this).

    Times are aware datetimes; ``direction`` defaults from ``role`` (``user`` → inbound,
    anything else → outbound) when left empty. ``item_id`` is a client-sent id, unique within
    the conversation ("" lets the store issue one).
    """

    role: str = ""
    content: str = ""
    item_type: str = "message"
    item_id: str = ""
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


def _default_direction(role: str) -> str:
    return "inbound" if role == "user" else "outbound"


def messages_check(messages: Iterable[MessageInput]) -> list[int]:
    """Check each message against the store's columns and the size limit, before any write.

    Returns each message's stored size (:func:`conversations.domain.limits.message_size`).

    Raises:
        MessageInvalid: a string longer than its column, or a message over
            ``CONVSTORE_MAX_MESSAGE_BYTES``.
    """
    sizes = []
    limit = max_message_bytes()
    for index, item in enumerate(messages):
        for name in _BOUNDED_FIELDS:
            value = getattr(item, name)
            max_length = Message._meta.get_field(name).max_length
            if isinstance(value, str) and len(value) > max_length:
                raise MessageInvalid(
                    field=name, index=index, code="too_long", limit=max_length, length=len(value)
                )
        size = message_size(**vars(item))
        if size > limit:
            raise MessageInvalid(
                field="size", index=index, code="too_large", limit=limit, length=size
            )
        sizes.append(size)
    return sizes


@transaction.atomic
def messages_create(
    *, conversation: Conversation, messages: Iterable[MessageInput]
) -> list[Message]:
    """Append messages to a conversation in order and bump its activity.

    Sets ``last_message_at`` to now (or to the newest ``sent_at`` if later), adds to
    ``message_count`` atomically, and stores a preview of the last text. Messages by people
    are stored whatever the AI switch says (the contract's human takeover); a staff/agent-side
    message pushes an idle handoff's end (:mod:`conversations.domain.handoff`).
    Sends ``events.message_added`` for each message. Returns the stored rows.

    Raises:
        MessageInvalid: a message breaks a column length or the size limit; nothing is
            written.
        DuplicateItemId: a sent ``item_id`` is already in the conversation or twice in the
            batch; nothing is written.
        Conversation.DoesNotExist: the conversation was deleted meanwhile.
    """
    messages = list(messages)
    sizes = messages_check(messages)
    # Lock the conversation first: a concurrent delete then waits for this batch, or this
    # batch finds the conversation gone (DoesNotExist) instead of failing on the foreign key.
    locked = Conversation.objects.select_for_update().only("pk", "metadata").get(pk=conversation.pk)
    # Under the lock, the sent item ids are checked against the stored ones race-free.
    _check_item_ids(conversation, messages)
    now = timezone.now()
    if any(
        handoff.is_agent_side(
            role=item.role, direction=item.direction or _default_direction(item.role)
        )
        for item in messages
    ):
        # The staff/agent side spoke: an idle handoff stays on that much longer.
        handoff_extend_for_agent(locked)
    rows = []
    for index, item in enumerate(messages):
        row = Message(
            conversation=conversation,
            item_type=item.item_type,
            item_id=item.item_id,
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
            size_bytes=sizes[index],
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
        "version": F("version") + 1,
    }
    if preview:
        updates["last_message_preview"] = preview[:PREVIEW_LENGTH]
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
    conversation.refresh_from_db(
        fields=["message_count", "last_message_at", "last_message_preview", "updated_at", "version"]
    )
    for row in rows:
        events.message_added.send(sender=Conversation, conversation=conversation, message=row)
    return rows


def _check_item_ids(conversation: Conversation, messages: list[MessageInput]) -> None:
    """Raise :class:`DuplicateItemId` for the first sent id already stored in the conversation
    (as a sent id, or as an issued ``<prefix>_<public id hex>``) or repeated in the batch."""
    sent = [(index, m.item_id) for index, m in enumerate(messages) if m.item_id]
    if not sent:
        return
    parsed = {parse_id(item_id) for _, item_id in sent} - {None}
    taken = set(
        Message.objects.filter(
            conversation=conversation, item_id__in=[i for _, i in sent]
        ).values_list("item_id", flat=True)
    )
    if parsed:
        taken_public = set(
            Message.objects.filter(conversation=conversation, public_id__in=parsed).values_list(
                "public_id", flat=True
            )
        )
        taken.update(i for _, i in sent if parse_id(i) in taken_public)
    seen: set[str] = set()
    for index, item_id in sent:
        if item_id in taken or item_id in seen:
            raise DuplicateItemId(index=index, item_id=item_id)
        seen.add(item_id)


@transaction.atomic
def message_delete(*, message: Message) -> None:
    """Delete one message and keep the conversation's message count right."""
    conversation_id = message.conversation_id
    message.delete()
    Conversation.objects.filter(pk=conversation_id, message_count__gt=0).update(
        message_count=F("message_count") - 1, version=F("version") + 1
    )
