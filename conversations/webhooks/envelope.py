"""Webhook payloads in AgentPhone's envelope (``providers/telnyx-agentphone.md`` §B.6).

Every payload is ``{"event", "channel", "timestamp", "agentId", "data", "conversationState",
"recentHistory"}``: ``timestamp`` is ISO 8601 UTC, ``conversationState`` the conversation's
metadata after the change (``null`` when cleared), ``recentHistory`` up to the endpoint's
``context_limit`` messages, oldest first, each ``{"content", "direction", "channel", "at",
"messageId"}`` (the ``agentphone`` SDK requires the first four).

``agent.message`` (AgentPhone's event) ``data``: ``conversationId, numberId, from, to, message,
mediaUrl, mediaUrls, direction, receivedAt, messageId``. Its history is the messages before
this one. ``agent.conversation_updated`` (ours, for a metadata change) ``data``:
``conversationId, numberId, action, source, before, after, changedKeys, changedAt``.
"""

from __future__ import annotations

from ..ids import prefixed
from ..messaging import iso_utc as iso
from ..messaging import message_parties
from ..models import Conversation, Message, MetadataChange
from . import EVENT_CONVERSATION_UPDATED, EVENT_MESSAGE


def history_item(message: Message, conversation: Conversation) -> dict:
    """One ``recentHistory`` item."""
    return {
        "content": message.content,
        "direction": message.direction or "outbound",
        "channel": message.channel or conversation.channel,
        "at": iso(message.created_at),
        "messageId": prefixed(message.public_id, "msg"),
    }


def _envelope(event, conversation, *, channel, timestamp, data, state, history) -> dict:
    return {
        "event": event,
        "channel": channel,
        "timestamp": iso(timestamp),
        "agentId": conversation.agent_id or None,
        "data": data,
        "conversationState": state,
        "recentHistory": [history_item(m, conversation) for m in history],
    }


def message_envelope(
    conversation: Conversation, message: Message, *, state, history: list[Message]
) -> dict:
    """The ``agent.message`` payload for a stored message; ``state`` is the metadata."""
    from_number, to_number = message_parties(message, conversation)
    media_urls = [url for url in message.media_urls or [] if isinstance(url, str)]
    data = {
        "conversationId": prefixed(conversation.id, "conv"),
        "numberId": conversation.phone_number_id or None,
        "from": from_number,
        "to": to_number,
        "message": message.content,
        "mediaUrl": media_urls[0] if media_urls else None,
        "mediaUrls": media_urls,
        "direction": message.direction or "outbound",
        "receivedAt": iso(message.created_at),
        "messageId": prefixed(message.public_id, "msg"),
    }
    return _envelope(
        EVENT_MESSAGE,
        conversation,
        channel=message.channel or conversation.channel,
        timestamp=message.created_at,
        data=data,
        state=state,
        history=history,
    )


def metadata_envelope(
    conversation: Conversation, change: MetadataChange, *, history: list[Message]
) -> dict:
    """The ``agent.conversation_updated`` payload for an audited metadata change."""
    before, after = change.before or {}, change.after or {}
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    data = {
        "conversationId": prefixed(conversation.id, "conv"),
        "numberId": conversation.phone_number_id or None,
        "action": change.action,
        "source": change.source,
        "before": change.before,
        "after": change.after,
        "changedKeys": changed,
        "changedAt": iso(change.changed_at),
    }
    return _envelope(
        EVENT_CONVERSATION_UPDATED,
        conversation,
        channel=conversation.channel,
        timestamp=change.changed_at,
        data=data,
        state=change.after,
        history=history,
    )
