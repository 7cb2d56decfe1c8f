"""Derived views of stored values that several formats and the webhooks share."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the domain rules sit below the models
    from conversations.models import Conversation, Message


def message_parties(message: Message, conversation: Conversation) -> tuple[str, str]:
    """``(from, to)`` of a message, derived from the conversation when the message has none.

    Messages written through OpenAI or Telnyx carry no numbers. An inbound message then
    comes from the conversation's ``participant`` to its ``phone_number`` (our side); an
    outbound one the other way round. Stored numbers always win.
    """
    if message.direction == "inbound":
        ours, theirs = conversation.participant, conversation.phone_number
    else:
        ours, theirs = conversation.phone_number, conversation.participant
    return message.from_number or ours, message.to_number or theirs


def iso_utc(value: dt.datetime | None, *, timespec: str = "microseconds") -> str | None:
    """An aware datetime as ISO 8601 in UTC with a ``Z`` suffix; ``None`` stays ``None``.

    ``timespec`` as :meth:`datetime.isoformat`: AgentPhone and its webhooks always show
    microseconds (``2025-01-15T12:00:00.000000Z``); Telnyx uses ``"auto"``.
    """
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
