"""``list_webhooks`` and ``delete_webhook`` beside ``create_webhook``."""

import pytest
from django.core.management import CommandError

from conversations import services
from conversations.models import WebhookEndpoint, WebhookEvent
from conversations.services import MessageInput, project_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_receivers_allowed(settings):
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = True


def test_list_shows_each_endpoint_with_its_secret_masked(run, project):
    secret, _ = run("create_webhook", "--project", "acme", "--url", "http://127.0.0.1:9/a")
    project_get_or_create(name="globex")
    run(
        "create_webhook", "--project", "globex", "--url", "http://127.0.0.1:9/b",
        "--events", "agent.message", "--inactive",
    )  # fmt: skip

    out, _ = run("list_webhooks")
    only_acme, _ = run("list_webhooks", "--project", "acme")

    a, b = WebhookEndpoint.objects.order_by("pk")
    assert out.splitlines()[0].split() == [
        "ID", "PROJECT", "URL", "EVENTS", "STATUS", "SECRET", "DESCRIPTION"
    ]  # fmt: skip
    rows = [line.split() for line in out.splitlines()[1:]]
    assert rows[0][:5] == [str(a.pk), "acme", "http://127.0.0.1:9/a", "all", "active"]
    assert rows[1][:5] == [str(b.pk), "globex", "http://127.0.0.1:9/b", "agent.message", "inactive"]
    assert secret.strip() not in out and "whsec_…" + secret.strip()[-4:] in out
    assert "/b" not in only_acme and "/a" in only_acme


def test_list_without_endpoints_says_how_to_register_one(run, db):
    out, err = run("list_webhooks")
    assert out.strip() == "ID  PROJECT  URL  EVENTS  STATUS  SECRET  DESCRIPTION"
    assert "create_webhook --project NAME --url URL" in err


def test_delete_removes_the_endpoint_and_drops_its_unsent_events(run, project):
    run("create_webhook", "--project", "acme", "--url", "http://127.0.0.1:9/a")
    endpoint = WebhookEndpoint.objects.get()
    conversation = services.conversation_create(
        project=project, actor=services.Actor.for_command("tests")
    )
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content="hi")]
    )
    queued = WebhookEvent.objects.filter(endpoint=endpoint).count()
    assert queued >= 1

    dry, _ = run("delete_webhook", str(endpoint.pk), "--dry-run")
    assert dry.startswith(f"Would delete webhook {endpoint.pk} → http://127.0.0.1:9/a")
    assert WebhookEndpoint.objects.exists()

    out, _ = run("delete_webhook", str(endpoint.pk))
    assert f"({queued} undelivered events dropped)" in out
    assert not WebhookEndpoint.objects.exists() and not WebhookEvent.objects.exists()
    with pytest.raises(CommandError, match=f"No webhook endpoint with id {endpoint.pk}"):
        run("delete_webhook", str(endpoint.pk))
