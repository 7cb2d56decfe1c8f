"""Signed webhooks in AgentPhone's envelope, delivered from a durable outbox.

- :mod:`.endpoints`: registering endpoints (admin, ``create_webhook``), secrets.
- :mod:`.envelope`: the AgentPhone-shaped payloads (``docs/contract.md`` §Sources:
  AgentPhone webhooks).
- :mod:`.outbox`: signal receivers that write one :class:`~conversations.models.WebhookEvent`
  per subscribed endpoint inside the writing transaction (connected in ``apps.py``).
- :mod:`.delivery`: signing, claiming with a lease, sending, retrying (``deliver_webhooks``).
"""

EVENT_MESSAGE = "agent.message"
EVENT_CONVERSATION_UPDATED = "agent.conversation_updated"
EVENT_AI_RESUMED = "conversation.ai_resumed"
