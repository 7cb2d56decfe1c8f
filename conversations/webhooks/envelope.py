"""Webhook payloads in AgentPhone's envelope (``docs/contract.md`` §Sources: AgentPhone webhooks).

Every payload is ``{"event", "channel", "timestamp", "agentId", "data", "conversationState",
"recentHistory"}``: ``timestamp`` is ISO 8601 UTC, ``conversationState`` the conversation's
metadata after the change (``null`` when cleared), ``recentHistory`` up to the endpoint's
``context_limit`` messages, oldest first, each ``{"content", "direction", "channel", "at",
"messageId"}`` (the ``agentphone`` SDK requires the first four).

Byte budget: :func:`fit_payload` keeps every payload, as compact UTF-8 JSON, within
``CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES`` (default 256 KiB, never below 192 KiB, which the
untrimmable part — ids, times, metadata before/after/state under the 16-pair, 512-character
rules — always fits in). It drops ``recentHistory`` items oldest first, then shortens the
longest strings (in practice the message's content), ending each with ``…``; a trimmed payload
carries ``"truncated": true``. The full texts stay readable through the API.

``agent.message`` (AgentPhone's event) ``data``: ``conversationId, numberId, from, to, message,
mediaUrl, mediaUrls, direction, receivedAt, messageId``. Its history is the messages before
this one. ``agent.conversation_updated`` (ours, for a metadata change) ``data``:
``conversationId, numberId, action, source, before, after, changedKeys, changedAt``.
``conversation.ai_resumed`` (ours: a timed handoff ended, ``conversations.domain.handoff``) has the
same ``data`` for the resume's audit row (``action`` ``ai_resume``, ``source`` ``system``;
``before`` holds the handoff: ``ai_disabled_until``, ``ai_disabled_by``, …).
"""

from __future__ import annotations

import json

from django.conf import settings

from conversations.domain.ids import prefixed
from conversations.domain.messaging import iso_utc as iso
from conversations.domain.messaging import message_parties
from conversations.models import Conversation, Message, MetadataChange
from conversations.webhooks import EVENT_CONVERSATION_UPDATED, EVENT_MESSAGE


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
    conversation: Conversation,
    change: MetadataChange,
    *,
    history: list[Message],
    event: str = EVENT_CONVERSATION_UPDATED,
) -> dict:
    """The ``agent.conversation_updated`` payload for an audited metadata change (or, with
    ``event``, the ``conversation.ai_resumed`` one for a resume's audit row)."""
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
        event,
        conversation,
        channel=conversation.channel,
        timestamp=change.changed_at,
        data=data,
        state=change.after,
        history=history,
    )


MIN_PAYLOAD_BYTES = 192 * 1024
ELLIPSIS = "…"


def payload_budget() -> int:
    """The byte budget of one payload (``CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES``, default
    256 KiB; values under 192 KiB count as 192 KiB)."""
    return max(settings.CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES)


def payload_size(payload: dict) -> int:
    """Bytes of ``payload`` as compact UTF-8 JSON (how the budget is measured)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def _strings(node):
    """Every string leaf of a JSON value as ``(length, container, key)``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str):
            yield len(value), node, key
        elif isinstance(value, dict | list):
            yield from _strings(value)


def fit_payload(payload: dict, budget: int | None = None) -> dict:
    """``payload`` trimmed to ``budget`` bytes (default :func:`payload_budget`).

    First the oldest ``recentHistory`` items go, then the longest strings are shortened
    (each ending with ``…``); anything trimmed sets ``"truncated": true``. A payload within
    the budget is returned unchanged. Mutates and returns ``payload``.
    """
    budget = budget or payload_budget()
    size = payload_size(payload)
    if size <= budget:
        return payload
    payload["truncated"] = True
    size += len(',"truncated":true')
    history = payload.get("recentHistory") or []
    while history and size > budget:
        dropped = history.pop(0)
        size -= payload_size(dropped) + (1 if history else 0)
    while size > budget:
        length, container, key = max(_strings(payload), key=lambda leaf: leaf[0])
        if length <= len(ELLIPSIS):
            break  # nothing left to shorten (cannot happen above the minimum budget)
        # A character's JSON form is at least its UTF-8 bytes, so cutting ``overflow``
        # UTF-8 bytes (plus room for the ellipsis) cuts at least ``overflow`` bytes.
        overflow = size - budget + len(ELLIPSIS.encode())
        raw = container[key].encode("utf-8", "surrogatepass")
        keep = raw[: max(0, len(raw) - overflow)].decode("utf-8", "ignore")
        container[key] = keep + ELLIPSIS
        size = payload_size(payload)
    return payload
