"""What an outbox event holds beyond its envelope's shape: the conversation it belongs to
(the delivery order per conversation rests on it), the history of messages only, the state
during a timed handoff, and the resume event named as such."""

from datetime import timedelta

from conversations import services
from conversations.domain import clock
from conversations.models import WebhookEvent
from conversations.services import MessageInput
from conversations.webhooks.endpoints import webhook_endpoint_create
from tests.handoffs import switched_off

from .conftest import ACTOR


def _conversation(project, **kwargs):
    return services.conversation_create(project=project, actor=ACTOR, **kwargs)


def test_every_event_names_its_conversation(project, endpoint):
    conversation = _conversation(project)
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content="hi")]
    )
    services.conversation_metadata_merge(conversation=conversation, patch={"a": "1"}, actor=ACTOR)
    services.conversation_metadata_replace(conversation=conversation, metadata={}, actor=ACTOR)
    events = WebhookEvent.objects.order_by("id")
    assert [e.event_type for e in events] == ["agent.message"] + ["agent.conversation_updated"] * 2
    assert {e.conversation_id for e in events} == {conversation.pk}


def test_recent_history_holds_messages_only(project, endpoint):
    conversation = _conversation(project)
    services.messages_create(
        conversation=conversation,
        messages=[
            MessageInput(role="user", content="where is my order?"),
            MessageInput(item_type="function_call", name="lookup", payload={"arguments": "{}"}),
            MessageInput(item_type="function_call_output", payload={"output": "shipped"}),
            MessageInput(role="assistant", content="it has shipped"),
        ],
    )
    services.conversation_metadata_merge(conversation=conversation, patch={"a": "1"}, actor=ACTOR)
    message_event = WebhookEvent.objects.filter(event_type="agent.message").latest("id")
    update_event = WebhookEvent.objects.get(event_type="agent.conversation_updated")
    assert [h["content"] for h in message_event.payload["recentHistory"]] == ["where is my order?"]
    assert [h["content"] for h in update_event.payload["recentHistory"]] == [
        "where is my order?",
        "it has shipped",
    ]


def test_a_message_during_a_timed_handoff_carries_the_handoff_state(project, endpoint, real_time):
    (conversation,) = switched_off(project, minutes=5)
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content="hello?")]
    )
    event = WebhookEvent.objects.filter(event_type="agent.message").latest("id")
    assert event.payload["conversationState"] == conversation.metadata
    assert event.payload["conversationState"]["ai_disabled"] == "true"


def test_the_resume_event_says_it_is_one(project, endpoint, real_time):
    switched_off(project, minutes=5)
    clock.advance(timedelta(minutes=5))
    assert len(services.handoffs_resume_due()) == 1
    event = WebhookEvent.objects.get(event_type="conversation.ai_resumed")
    assert event.payload["event"] == "conversation.ai_resumed"
    assert event.payload["conversationState"] == {"ai_disabled": "false"}


def test_an_endpoint_with_no_context_gets_no_history_beside_one_with_context(
    project, endpoint, receiver
):
    bare = webhook_endpoint_create(project=project, url=receiver.url, context_limit=0)
    conversation = _conversation(project)
    services.messages_create(
        conversation=conversation,
        messages=[MessageInput(role="user", content=t) for t in ("one", "two")],
    )
    last = {
        e.endpoint_id: e.payload["recentHistory"]
        for e in WebhookEvent.objects.filter(event_type="agent.message").order_by("id")
    }
    assert last[bare.pk] == [] and [h["content"] for h in last[endpoint.pk]] == ["one"]
