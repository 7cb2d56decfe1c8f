"""The signing secret: shown once at creation and rotation, masked everywhere after, audited."""

from http import HTTPStatus

import agentphone.webhook as ap_webhook
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from conversations import services
from conversations.models import WebhookEndpoint
from conversations.services import Actor, MessageInput
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import mask_secret, webhook_endpoint_create

ADD_URL = "/admin/conversations/webhookendpoint/add/"
LIST_URL = "/admin/conversations/webhookendpoint/"


def change_url(endpoint):
    return f"/admin/conversations/webhookendpoint/{endpoint.pk}/change/"


def add_form(project, url, secret=""):
    return {
        "project": project.pk,
        "url": url,
        "secret": secret,
        "events": ["agent.message"],
        "context_limit": 3,
        "is_active": "on",
        "description": "",
    }


def pages_of(client, endpoint) -> list[bytes]:
    """Every admin page that shows an endpoint."""
    urls = [
        LIST_URL,
        change_url(endpoint),
        f"/admin/conversations/webhookendpoint/{endpoint.pk}/history/",
        f"/admin/conversations/webhookendpoint/{endpoint.pk}/delete/",
        "/admin/conversations/webhookevent/",
    ]
    pages = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == HTTPStatus.OK, url
        pages.append(response.content)
    return pages


def test_mask_keeps_the_prefix_and_last_four():
    assert mask_secret("whsec_0123456789abcdef") == "whsec_…cdef"
    assert mask_secret("plain-secret-value") == "…alue"
    assert mask_secret("whsec_short") == "whsec_…"


@pytest.mark.parametrize("typed", ["", "whsec_typed_by_staff_0001"])
def test_admin_shows_the_secret_once_then_masked(admin_client, project, receiver, typed):
    add_page = admin_client.get(ADD_URL)
    assert add_page.status_code == HTTPStatus.OK and b'name="secret"' in add_page.content
    response = admin_client.post(ADD_URL, add_form(project, receiver.url, typed), follow=True)
    assert response.status_code == HTTPStatus.OK
    endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.secret
    assert secret == (typed or secret) and secret.startswith("whsec_")
    assert secret.encode() in response.content  # the add confirmation
    for page in pages_of(admin_client, endpoint):
        assert secret.encode() not in page
    assert mask_secret(secret).encode() in admin_client.get(change_url(endpoint)).content


def test_change_form_cannot_set_the_secret(admin_client, project, receiver):
    endpoint = webhook_endpoint_create(project=project, url=receiver.url, secret="whsec_original_1")
    form = add_form(project, receiver.url, "whsec_replaced_by_form")
    response = admin_client.post(change_url(endpoint), form)
    assert response.status_code == HTTPStatus.FOUND
    endpoint.refresh_from_db()
    assert endpoint.secret == "whsec_original_1"


def test_rotate_action_shows_the_new_secret_once_and_is_audited(
    admin_client, admin_user, project, receiver
):
    endpoint = webhook_endpoint_create(project=project, url=receiver.url, secret="whsec_old_0001")
    response = admin_client.post(
        LIST_URL, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    assert response.status_code == HTTPStatus.OK
    endpoint.refresh_from_db()
    new = endpoint.secret
    assert new != "whsec_old_0001" and new.startswith("whsec_")
    assert new.encode() in response.content
    for page in pages_of(admin_client, endpoint):
        assert new.encode() not in page
    entry = LogEntry.objects.get(object_id=str(endpoint.pk))
    assert entry.user == admin_user and entry.get_change_message() == "Rotated the signing secret."
    assert new not in entry.change_message

    conversation = services.conversation_create(
        project=project, actor=Actor.for_command("tests"), channel="sms"
    )
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content="after")]
    )
    deliver_due()
    headers, body = receiver.requests[-1]
    signature, timestamp = headers["X-Webhook-Signature"], headers["X-Webhook-Timestamp"]
    assert ap_webhook.construct_event(body, signature, new, timestamp).data.message == "after"
    with pytest.raises(ap_webhook.WebhookVerificationError):
        ap_webhook.construct_event(body, signature, "whsec_old_0001", timestamp)


def test_view_only_staff_sees_the_mask_and_cannot_rotate(client, project, receiver):
    endpoint = webhook_endpoint_create(
        project=project, url=receiver.url, secret="whsec_viewed_0001"
    )
    viewer = User.objects.create_user("viewer", password="pw-viewer-1234", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    client.force_login(viewer)
    page = client.get(change_url(endpoint))
    assert page.status_code == HTTPStatus.OK
    assert b"whsec_viewed_0001" not in page.content and b"whsec_\xe2\x80\xa60001" in page.content
    client.post(LIST_URL, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.secret == "whsec_viewed_0001"


def test_create_webhook_prints_the_secret_only_on_stdout(project, capsys, settings):
    call_command("create_webhook", "--project", "acme", "--url", "https://93.184.215.14/h")
    out, err = capsys.readouterr()
    secret = WebhookEndpoint.objects.get().secret
    assert out.strip() == secret and secret not in err
