"""Derived views of a message that several formats and the webhooks share."""

from __future__ import annotations

from .models import Conversation, Message


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
