"""The outbox: one :class:`WebhookEvent` per subscribed endpoint, written with the change.

The receivers run inside the service's transaction (``conversations.domain.events``), so an event
row exists exactly when the change it reports committed. Only active endpoints of the
conversation's project that subscribe to the event get a row. Connected in
``ConversationsConfig.ready``.
"""

from __future__ import annotations

import uuid

from django.dispatch import receiver

from conversations import selectors
from conversations.domain import clock, events, handoff
from conversations.models import (
    Conversation,
    Message,
    MetadataChange,
    WebhookEndpoint,
    WebhookEvent,
)
from conversations.webhooks import EVENT_AI_RESUMED, EVENT_CONVERSATION_UPDATED, EVENT_MESSAGE
from conversations.webhooks.envelope import fit_payload, message_envelope, metadata_envelope

#: The item types webhooks carry (``agent.message``, ``recentHistory``): messages only.
HISTORY_ITEM_TYPES = ("message",)


def subscribed_endpoints(conversation: Conversation, event_type: str) -> list[WebhookEndpoint]:
    """Active endpoints of the conversation's project that want ``event_type``."""
    endpoints = WebhookEndpoint.objects.filter(project_id=conversation.project_id, is_active=True)
    return [endpoint for endpoint in endpoints if endpoint.wants(event_type)]


def _event_rows(conversation, event_type, endpoints, build) -> list[WebhookEvent]:
    """One unsaved event per endpoint; ``build(history)`` renders the payload, and the history
    is read once at the largest context limit. Each payload is cut to the byte budget
    (:func:`~.envelope.fit_payload`: history first, then long contents)."""
    deepest = max(endpoint.context_limit for endpoint in endpoints)
    history = build.history(deepest)
    return [
        WebhookEvent(
            endpoint=endpoint,
            conversation=conversation,
            webhook_id="evt_" + uuid.uuid4().hex,
            event_type=event_type,
            payload=fit_payload(
                build(history[-endpoint.context_limit :] if endpoint.context_limit else [])
            ),
        )
        for endpoint in endpoints
    ]


def _enqueue(conversation, event_type, endpoints, build) -> list[WebhookEvent]:
    """Write one event per endpoint (see :func:`_event_rows`)."""
    return WebhookEvent.objects.bulk_create(_event_rows(conversation, event_type, endpoints, build))


class _MessageBuild:
    def __init__(self, conversation: Conversation, message: Message):
        self.conversation, self.message = conversation, message
        # The row may be stale (the message path does not lock it): read the state now.
        self.state = handoff.effective(
            Conversation.objects.filter(pk=conversation.pk)
            .values_list("metadata", flat=True)
            .first(),
            clock.now(),
        )

    def history(self, limit: int) -> list[Message]:
        return selectors.message_recent(
            conversation=self.conversation,
            limit=limit,
            before_id=self.message.id,
            item_types=HISTORY_ITEM_TYPES,
        )

    def __call__(self, history: list[Message]) -> dict:
        return message_envelope(self.conversation, self.message, state=self.state, history=history)


class _MetadataBuild:
    def __init__(self, conversation, change, event=EVENT_CONVERSATION_UPDATED):
        self.conversation, self.change, self.event = conversation, change, event

    def history(self, limit: int) -> list[Message]:
        if not self.conversation.message_count:  # kept exact by every message write
            return []
        return selectors.message_recent(
            conversation=self.conversation, limit=limit, item_types=HISTORY_ITEM_TYPES
        )

    def __call__(self, history: list[Message]) -> dict:
        return metadata_envelope(self.conversation, self.change, history=history, event=self.event)


def metadata_event_rows(
    conversation: Conversation, change: MetadataChange, endpoints: list[WebhookEndpoint]
) -> list[WebhookEvent]:
    """The unsaved ``agent.conversation_updated`` events of ``change`` for those of
    ``endpoints`` (active endpoints of the conversation's project) that subscribe to it.

    What :func:`on_metadata_changed` writes, for a writer that inserts the rows itself in
    the statement that makes the change (:mod:`conversations.services.fastwrite`). Reads
    the recent messages when an endpoint wants them and the conversation has any.
    """
    endpoints = [e for e in endpoints if e.wants(EVENT_CONVERSATION_UPDATED)]
    if not endpoints:
        return []
    build = _MetadataBuild(conversation, change)
    return _event_rows(conversation, EVENT_CONVERSATION_UPDATED, endpoints, build)


@receiver(events.message_added, dispatch_uid="webhooks.outbox.message_added")
def on_message_added(sender, conversation: Conversation, message: Message, **kwargs):
    """``agent.message`` for every stored message, whichever format stored it. Other OpenAI
    items (tool calls, reasoning, …) send none: the envelope is AgentPhone's message."""
    if message.item_type not in HISTORY_ITEM_TYPES:
        return
    endpoints = subscribed_endpoints(conversation, EVENT_MESSAGE)
    if endpoints:
        _enqueue(conversation, EVENT_MESSAGE, endpoints, _MessageBuild(conversation, message))


@receiver(events.metadata_changed, dispatch_uid="webhooks.outbox.metadata_changed")
def on_metadata_changed(sender, conversation: Conversation, change: MetadataChange, **kwargs):
    """``agent.conversation_updated`` for every audited metadata change, whatever the path."""
    endpoints = subscribed_endpoints(conversation, EVENT_CONVERSATION_UPDATED)
    rows = metadata_event_rows(conversation, change, endpoints)
    if rows:
        WebhookEvent.objects.bulk_create(rows)


@receiver(events.ai_resumed, dispatch_uid="webhooks.outbox.ai_resumed")
def on_ai_resumed(sender, conversation: Conversation, change: MetadataChange, **kwargs):
    """``conversation.ai_resumed`` once per ended timed handoff (its resume's audit row)."""
    endpoints = subscribed_endpoints(conversation, EVENT_AI_RESUMED)
    if endpoints:
        build = _MetadataBuild(conversation, change, EVENT_AI_RESUMED)
        _enqueue(conversation, EVENT_AI_RESUMED, endpoints, build)
