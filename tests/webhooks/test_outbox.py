"""The outbox: which changes write which events, in AgentPhone's envelope, atomically."""

import agentphone
import pytest
from django.db import transaction

from conversations import services
from conversations.domain.metadata import MetadataError
from conversations.models import Project, WebhookEvent
from conversations.services import Actor, MessageInput
from conversations.webhooks.endpoints import webhook_endpoint_create

from .conftest import SECRET

ACTOR = Actor.for_command("tests")


def new_conversation(project, **kwargs):
    kwargs.setdefault("phone_number", "+15551234567")
    kwargs.setdefault("participant", "+15559876543")
    return services.conversation_create(project=project, actor=ACTOR, **kwargs)


def add(conversation, *texts, role="user"):
    return services.messages_create(
        conversation=conversation, messages=[MessageInput(role=role, content=t) for t in texts]
    )


def test_message_writes_agent_message_event_with_envelope(project, endpoint):
    conversation = new_conversation(
        project,
        metadata={"orderId": "ORD-1"},
        channel="sms",
        agent_id="agt_1",
        phone_number_id="num_1",
    )
    add(conversation, "Hello")
    [message] = add(conversation, "I need help")
    event = WebhookEvent.objects.filter(event_type="agent.message").latest("id")
    payload = event.payload
    assert event.endpoint == endpoint and event.webhook_id.startswith("evt_")
    assert payload["event"] == "agent.message"
    assert (payload["channel"], payload["agentId"]) == ("sms", "agt_1")
    assert payload["conversationState"] == {"orderId": "ORD-1"}
    assert payload["data"] == {
        "conversationId": f"conv_{conversation.id.hex}",
        "numberId": "num_1",
        "from": "+15559876543",
        "to": "+15551234567",
        "message": "I need help",
        "mediaUrl": None,
        "mediaUrls": [],
        "direction": "inbound",
        "receivedAt": payload["timestamp"],
        "messageId": f"msg_{message.public_id.hex}",
    }
    [history] = payload["recentHistory"]
    assert (history["content"], history["direction"], history["channel"]) == (
        "Hello",
        "inbound",
        "sms",
    )


def test_recent_history_is_cut_to_the_context_limit(project, endpoint):
    endpoint.context_limit = 2
    endpoint.save(update_fields=["context_limit"])
    conversation = new_conversation(project)
    add(conversation, "one", "two", "three", "four")
    last = WebhookEvent.objects.filter(event_type="agent.message").latest("id").payload
    assert [h["content"] for h in last["recentHistory"]] == ["two", "three"]


def test_context_limit_zero_sends_no_history(project, receiver):
    webhook_endpoint_create(project=project, url=receiver.url, context_limit=0)
    conversation = new_conversation(project)
    add(conversation, "one", "two")
    assert all(e.payload["recentHistory"] == [] for e in WebhookEvent.objects.all())


def test_metadata_change_writes_conversation_updated_event(project, endpoint):
    conversation = new_conversation(project, metadata={"a": "1", "b": "2"})
    services.conversation_metadata_replace(
        conversation=conversation, metadata={"a": "1", "c": "3"}, actor=ACTOR
    )
    event = WebhookEvent.objects.filter(event_type="agent.conversation_updated").latest("id")
    payload = event.payload
    assert payload["event"] == "agent.conversation_updated"
    assert payload["conversationState"] == {"a": "1", "c": "3"}
    data = payload["data"]
    assert (data["action"], data["source"]) == ("replace", "command")
    assert data["before"] == {"a": "1", "b": "2"}
    assert data["changedKeys"] == ["b", "c"]


def test_clearing_metadata_sends_null_state(project, endpoint):
    conversation = new_conversation(project, metadata={"a": "1"})
    services.conversation_metadata_replace(conversation=conversation, metadata=None, actor=ACTOR)
    last = WebhookEvent.objects.latest("id").payload
    assert last["conversationState"] is None and last["data"]["changedKeys"] == ["a"]


def test_ai_switch_writes_an_event(project, endpoint):
    conversation = new_conversation(project)
    services.conversation_ai_set(conversation=conversation, disabled=True, actor=ACTOR)
    last = WebhookEvent.objects.latest("id").payload
    assert last["conversationState"] == {"ai_disabled": "true"}
    assert last["data"]["action"] == "ai_switch"


def test_rolled_back_change_leaves_no_event(project, endpoint):
    conversation = new_conversation(project)
    with pytest.raises(RuntimeError), transaction.atomic():
        add(conversation, "never stored")
        assert WebhookEvent.objects.count() == 1  # written inside the transaction
        raise RuntimeError
    assert WebhookEvent.objects.count() == 0


def test_invalid_metadata_writes_no_event(project, endpoint):
    conversation = new_conversation(project)
    with pytest.raises(MetadataError):
        services.conversation_metadata_replace(
            conversation=conversation, metadata={"k": 1}, actor=ACTOR
        )
    assert WebhookEvent.objects.count() == 0


def test_only_active_subscribed_endpoints_of_the_project_get_events(
    project, receiver, other_api_key
):
    messages_only = webhook_endpoint_create(
        project=project, url=receiver.url, events=["agent.message"]
    )
    webhook_endpoint_create(project=project, url=receiver.url, is_active=False)
    webhook_endpoint_create(project=Project.objects.get(name="globex"), url=receiver.url)
    conversation = new_conversation(project, metadata={"a": "1"})
    add(conversation, "hi")
    events = list(WebhookEvent.objects.values_list("endpoint", "event_type"))
    assert events == [(messages_only.pk, "agent.message")]


def test_every_endpoint_gets_its_own_event_and_id(project, receiver, endpoint):
    second = webhook_endpoint_create(project=project, url=receiver.url, secret=SECRET)
    add(new_conversation(project), "hi")
    events = WebhookEvent.objects.order_by("endpoint_id")
    assert [e.endpoint_id for e in events] == [endpoint.pk, second.pk]
    assert len({e.webhook_id for e in events}) == 2


@pytest.mark.django_db(transaction=True)
def test_changes_through_openai_and_agentphone_write_events(
    live_server, openai_client, api_key, project, receiver
):
    webhook_endpoint_create(project=project, url=receiver.url)
    created = openai_client.conversations.create(metadata={"topic": "x"})
    openai_client.conversations.items.create(
        created.id, items=[{"role": "user", "content": "from openai"}]
    )
    client = agentphone.AgentPhone(api_key=api_key, base_url=f"{live_server.url}/agentphone")
    client.conversations.update(created.id, metadata={"topic": "y"})
    events = [(e.event_type, e.payload) for e in WebhookEvent.objects.order_by("id")]
    assert [kind for kind, _ in events] == [
        "agent.conversation_updated",
        "agent.message",
        "agent.conversation_updated",
    ]
    assert events[0][1]["data"]["source"] == "openai"
    assert events[1][1]["data"]["message"] == "from openai"
    assert events[1][1]["conversationState"] == {"topic": "x"}
    assert events[2][1]["data"]["source"] == "agentphone"
    assert events[2][1]["conversationState"] == {"topic": "y"}
