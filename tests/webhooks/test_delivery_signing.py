"""Signed deliveries: the ``agentphone`` SDK verifies and parses what a receiver gets, and
refuses a tampered body; events outlive their conversation."""

import json

import agentphone.webhook as ap_webhook
import pytest

from conversations import services
from conversations.models import WebhookEvent
from conversations.webhooks.delivery import deliver_due

from .conftest import add_messages, verify


def test_sdk_verifies_and_parses_a_delivery(project, endpoint, receiver):
    add_messages(project, "Hello", "Where is my order?", metadata={"orderId": "ORD-9"})
    report = deliver_due()
    assert len(report.delivered) == 3 and not report.retrying
    headers, body = receiver.requests[-1]
    event = verify(headers, body)
    assert event.event == "agent.message" and event.channel == "sms"
    assert event.data.message == "Where is my order?"
    assert event.data.from_number == "+15559876543"
    assert event.conversation_state == {"orderId": "ORD-9"}
    assert [h.content for h in event.recent_history] == ["Hello"]
    stored = WebhookEvent.objects.get(webhook_id=headers["X-Webhook-ID"])
    assert json.loads(body) == stored.payload
    assert stored.status == WebhookEvent.Status.DELIVERED and stored.attempt_count == 1


def test_sdk_rejects_a_tampered_body(project, endpoint, receiver):
    add_messages(project, "Hello")
    deliver_due()
    headers, body = receiver.requests[0]
    with pytest.raises(ap_webhook.WebhookVerificationError):
        verify(headers, body.replace(b"Hello", b"Hellp"))
    with pytest.raises(ap_webhook.WebhookVerificationError):
        ap_webhook.construct_event(
            body, headers["X-Webhook-Signature"], "whsec_other", headers["X-Webhook-Timestamp"]
        )


def test_signature_covers_non_ascii_bodies_byte_for_byte(project, endpoint, receiver):
    add_messages(project, "Grüße 👋")
    deliver_due()
    headers, body = receiver.requests[0]
    assert verify(headers, body).data.message == "Grüße 👋"


def test_events_of_a_deleted_conversation_are_still_delivered(project, endpoint, receiver):
    conversation = add_messages(project, "last words")
    services.conversation_delete(conversation=conversation)
    assert WebhookEvent.objects.get().conversation is None
    assert len(deliver_due().delivered) == 1
    assert verify(*receiver.requests[0]).data.message == "last words"
