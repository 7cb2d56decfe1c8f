"""Setting up endpoints: ``create_webhook`` and the admin generate secrets and refuse
operator mistakes; the admin shows attempts and retries an event."""

from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from conversations.models import WebhookEndpoint, WebhookEvent
from conversations.webhooks.delivery import deliver_due

from .conftest import add_messages


def test_create_webhook_prints_a_generated_secret(project, capsys):
    call_command(
        "create_webhook",
        "--project",
        "acme",
        "--url",
        "https://example.com/hook",
        "--events",
        "agent.message",
        "--context-limit",
        "5",
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    endpoint = WebhookEndpoint.objects.get()
    assert secret.startswith("whsec_") and endpoint.secret == secret
    assert (endpoint.events, endpoint.context_limit) == (["agent.message"], 5)


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "nope", "--url", "https://example.com/h"],
        ["--project", "acme", "--url", "not a url"],
        ["--project", "acme", "--url", "https://example.com/h", "--context-limit", "51"],
    ],
)
def test_create_webhook_reports_operator_mistakes(project, args):
    with pytest.raises(CommandError):
        call_command("create_webhook", *args)
    assert not WebhookEndpoint.objects.exists()


def test_admin_generates_a_secret_and_shows_attempts(admin_client, project, receiver):
    response = admin_client.post(
        "/admin/conversations/webhookendpoint/add/",
        {
            "project": project.pk,
            "url": receiver.url,
            "secret": "",
            "events": ["agent.message"],
            "context_limit": 3,
            "is_active": "on",
            "description": "",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    receiver.statuses = [502]
    add_messages(project, "hi")
    deliver_due()
    event = WebhookEvent.objects.get()
    page = admin_client.get(f"/admin/conversations/webhookevent/{event.pk}/change/")
    assert page.status_code == HTTPStatus.OK
    assert b"502" in page.content and event.webhook_id.encode() in page.content
    response = admin_client.post(
        "/admin/conversations/webhookevent/",
        {"action": "retry_now", "_selected_action": [event.pk]},
    )
    assert response.status_code == HTTPStatus.FOUND
    event.refresh_from_db()
    assert event.next_attempt_at <= timezone.now()
    for changelist in ("webhookendpoint", "webhookevent"):
        assert admin_client.get(f"/admin/conversations/{changelist}/").status_code == 200
