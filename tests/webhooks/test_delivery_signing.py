"""Signed deliveries: the ``agentphone`` SDK verifies and parses what a receiver gets, and
refuses a tampered body; events outlive their conversation."""

import json

import agentphone.webhook as ap_webhook
import pytest

from conversations import services
from conversations.models import WebhookEvent
from conversations.webhooks.delivery import deliver_due, encode_payload
from conversations.webhooks.leases import compact_json

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
    assert body == encode_payload(WebhookEvent.objects.get().payload)  # UTF-8, not \u-escaped


@pytest.mark.parametrize(
    "stored",
    [
        json.dumps({"m": "Grüße 👋", "n": [1, None]}),  # SQLite's text: ASCII-escaped
        json.dumps({"m": "Grüße 👋", "n": [1, None]}, ensure_ascii=False),  # jsonb's rendering
    ],
)
def test_stored_json_is_sent_as_the_compact_utf8_bytes_encode_payload_gives(stored):
    assert compact_json(stored) == encode_payload({"m": "Grüße 👋", "n": [1, None]})


def test_stored_json_with_a_lone_surrogate_is_sent_compact_and_escaped():
    """UTF-8 cannot hold a lone surrogate: such text (never written by the API, whose parsers
    refuse it) is sent escaped rather than dropped."""
    assert compact_json('{"m": "\\ud800", "n": 1}') == b'{"m":"\\ud800","n":1}'


def test_events_of_a_deleted_conversation_are_still_delivered(project, endpoint, receiver):
    conversation = add_messages(project, "last words")
    services.conversation_delete(conversation=conversation)
    assert WebhookEvent.objects.get().conversation is None
    assert len(deliver_due().delivered) == 1
    assert verify(*receiver.requests[0]).data.message == "last words"
