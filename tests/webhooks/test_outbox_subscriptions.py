"""What a metadata write puts in the outbox for each endpoint (docs/webhooks.md): an event only
for the active endpoints that subscribe to ``agent.conversation_updated``, each with the
recent history cut to that endpoint's ``context_limit``. Through the services, so on
PostgreSQL the one-statement write path (which reads the endpoints itself) is what runs."""

from conversations import services
from conversations.models import WebhookEvent
from conversations.services import Actor, MessageInput
from conversations.webhooks.endpoints import webhook_endpoint_create

ACTOR = Actor.for_command("tests")
UPDATED = "agent.conversation_updated"


def test_a_metadata_write_reaches_only_subscribed_active_endpoints_within_their_limits(project):
    messages_only = webhook_endpoint_create(
        project=project, url="https://a.example.com/h", events=["agent.message"]
    )
    everything = webhook_endpoint_create(
        project=project, url="https://b.example.com/h", context_limit=1
    )
    updates = webhook_endpoint_create(
        project=project, url="https://c.example.com/h", events=[UPDATED], context_limit=2
    )
    switched_off = webhook_endpoint_create(
        project=project, url="https://d.example.com/h", is_active=False
    )
    conversation = services.conversation_create(project=project, actor=ACTOR)
    services.messages_create(
        conversation=conversation,
        messages=[MessageInput(role="user", content=text) for text in ("one", "two", "three")],
    )

    services.conversation_metadata_merge(conversation=conversation, patch={"a": "1"}, actor=ACTOR)

    history = {
        event.endpoint_id: [item["content"] for item in event.payload["recentHistory"]]
        for event in WebhookEvent.objects.filter(event_type=UPDATED)
    }
    assert history == {everything.pk: ["three"], updates.pk: ["two", "three"]}
    assert messages_only.pk not in history and switched_off.pk not in history
