"""convstore's domain models: one store behind every wire format.

Writes go through :mod:`conversations.services`; reads that filter or page through
:mod:`conversations.selectors`. No model here knows any provider's wire format.
"""

from conversations.models.conversations import Conversation, MetadataChange
from conversations.models.idempotency import IdempotencyKey
from conversations.models.messages import Message
from conversations.models.projects import (
    API_KEY_LENGTH,
    API_KEY_PREFIX,
    ApiKey,
    Project,
    hash_api_key,
)
from conversations.models.webhooks import (
    WEBHOOK_EVENTS,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
    validate_webhook_events,
)

__all__ = [
    "API_KEY_LENGTH",
    "API_KEY_PREFIX",
    "WEBHOOK_EVENTS",
    "ApiKey",
    "Conversation",
    "IdempotencyKey",
    "Message",
    "MetadataChange",
    "Project",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookEvent",
    "hash_api_key",
    "validate_webhook_events",
]
