"""The outbox payload byte budget: history trimmed first (oldest out), then long contents."""

import agentphone.webhook as ap_webhook

from conversations import services
from conversations.models import WebhookEvent
from conversations.services import Actor, MessageInput
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import webhook_endpoint_create
from conversations.webhooks.envelope import payload_budget, payload_size

from .conftest import SECRET

ACTOR = Actor.for_command("tests")
MB = 1_000_000


def conversation_with(project, *texts):
    conversation = services.conversation_create(project=project, actor=ACTOR, channel="sms")
    for text in texts:  # one call each: one event each, with the history before it
        services.messages_create(
            conversation=conversation, messages=[MessageInput(role="user", content=text)]
        )
    return conversation


def test_budget_defaults_to_256_kib_and_has_a_floor(settings):
    assert payload_budget() == 256 * 1024
    settings.CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES = 1000
    assert payload_budget() == 192 * 1024


def test_one_mb_messages_with_context_limit_50_stay_within_the_budget(project, receiver, settings):
    # The payload budget holds whatever message size a deployment allows: raise the message
    # limit (CONVSTORE_MAX_MESSAGE_BYTES, 256 KiB by default) above the 1 MB messages here.
    settings.CONVSTORE_MAX_MESSAGE_BYTES = 2 * MB
    webhook_endpoint_create(project=project, url=receiver.url, context_limit=50, secret=SECRET)
    texts = [f"{n:02d}" + "é" * (MB // 2) for n in range(6)]  # 1 MB of UTF-8 each
    conversation_with(project, *texts)
    events = list(WebhookEvent.objects.order_by("id"))
    assert len(events) == 6
    for event, text in zip(events, texts, strict=True):
        payload = event.payload
        assert payload_size(payload) <= payload_budget()
        assert payload["truncated"] is True
        assert payload["recentHistory"] == []  # each history item alone is over the budget
        message = payload["data"]["message"]
        assert message.endswith("…") and text.startswith(message[:-1])
        assert len(message.encode()) > 200 * 1024  # trimmed to fit, not emptied

    deliver_due()
    headers, body = receiver.requests[-1]
    assert len(body) <= payload_budget()
    event = ap_webhook.construct_event(
        body, headers["X-Webhook-Signature"], SECRET, headers["X-Webhook-Timestamp"]
    )
    assert event.data.message.startswith("05éé")


def test_history_goes_first_oldest_out(project, receiver):
    webhook_endpoint_create(project=project, url=receiver.url, context_limit=50, secret=SECRET)
    history = [f"h{n:02d}" + "x" * 20_000 for n in range(20)]  # 400 KB of history
    conversation_with(project, *history, "short question")
    last = WebhookEvent.objects.latest("id").payload
    assert payload_size(last) <= payload_budget() and last["truncated"] is True
    assert last["data"]["message"] == "short question"  # contents untouched
    kept = [item["content"] for item in last["recentHistory"]]
    assert 0 < len(kept) < 20
    assert kept == history[-len(kept) :]  # the newest survive, in order, whole


def test_small_payloads_are_untouched(project, receiver):
    webhook_endpoint_create(project=project, url=receiver.url, context_limit=50)
    conversation_with(project, "one", "two")
    assert all("truncated" not in e.payload for e in WebhookEvent.objects.all())
