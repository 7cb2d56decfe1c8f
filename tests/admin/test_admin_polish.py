"""The admin as support staff read it: API keys, webhooks, the audit trail, the list's words."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from conversations.models import ApiKey, MetadataChange, WebhookEndpoint, WebhookEvent
from conversations.services import api_key_create, api_key_revoke

CHANGELIST = reverse("admin:conversations_conversation_changelist")


@pytest.mark.django_db
def test_new_key_is_shown_once_in_a_copyable_box_with_a_notice(admin_client, project):
    form = admin_client.get(reverse("admin:conversations_apikey_add")).content.decode()
    assert "shown only once" in form

    page = admin_client.post(
        reverse("admin:conversations_apikey_add"),
        {"project": project.pk, "name": "bot"},
        follow=True,
    ).content.decode()
    match = re.search(r'<code class="cs-secret" id="new-api-key">(cs_[0-9a-f]{40})</code>', page)
    assert match, page[:3000]
    assert 'data-copy="new-api-key"' in page and "convstore/admin.js" in page


@pytest.mark.django_db
def test_revoke_button_on_the_key_page_and_the_list_words(admin_client, project):
    key, _ = api_key_create(project=project, name="bot")
    other, _ = api_key_create(project=project, name="old")
    api_key_revoke(api_key=other)
    page_url = reverse("admin:conversations_apikey_change", args=[key.pk])
    revoke_url = reverse("admin:conversations_apikey_revoke", args=[key.pk])
    assert revoke_url in admin_client.get(page_url).content.decode()
    assert admin_client.get(revoke_url).status_code == HTTPStatus.METHOD_NOT_ALLOWED

    response = admin_client.post(revoke_url, follow=True)
    assert f"Revoked API key {key.prefix}" in response.content.decode()
    key.refresh_from_db()
    assert not key.is_active
    assert revoke_url not in admin_client.get(page_url).content.decode()

    listing = admin_client.get(reverse("admin:conversations_apikey_changelist")).content.decode()
    assert listing.count('<span class="status-badge revoked">revoked</span>') == 2
    assert listing.count(">never<") == 2
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_webhook_pages_say_all_and_show_events_read_only(admin_client, project, make_conversation):
    endpoint = WebhookEndpoint.objects.create(project=project, url="https://hooks.example.com/a")
    conversation = make_conversation({"k": "v"})
    event = WebhookEvent.objects.get(endpoint=endpoint)
    listing = admin_client.get(
        reverse("admin:conversations_webhookendpoint_changelist")
    ).content.decode()
    assert '<td class="field-subscribed">all</td>' in listing

    page = admin_client.get(
        reverse("admin:conversations_webhookevent_change", args=[event.pk])
    ).content.decode()
    assert 'name="_save"' not in page
    assert '<pre class="cs-json">' in page and "&quot;event&quot;: &quot;agent." in page
    assert conversation.pk.hex in page or str(conversation.pk) in page


@pytest.mark.django_db
def test_audit_trail_links_to_the_conversation(admin_client, make_conversation):
    conversation = make_conversation({"k": "v"})
    assert MetadataChange.objects.filter(conversation=conversation).exists()
    listing = admin_client.get(
        reverse("admin:conversations_metadatachange_changelist")
    ).content.decode()
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    assert f'href="{url}">conv_{conversation.pk.hex}</a>' in listing


@pytest.mark.django_db
def test_conversation_list_words(admin_client, make_conversation):
    cleared = make_conversation({})
    cleared.metadata = None
    cleared.save(update_fields=["metadata"])
    listing = admin_client.get(CHANGELIST).content.decode()
    assert "<h1>Conversations</h1>" in listing
    assert "<title>Conversations | convstore admin</title>" in listing
    assert f'title="conv_{cleared.pk.hex}">conv_{cleared.pk.hex}</span>' in listing  # full id
    assert ">null<" not in listing and 'class="md-empty"' in listing
    assert "<summary> By metadata key present </summary>" in listing


@pytest.mark.django_db
def test_change_page_one_id_one_word_one_banner(admin_client, make_conversation):
    conversation = make_conversation({"k": "v"})
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    page = admin_client.get(url).content.decode()
    breadcrumbs = page.split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert f"conv_{conversation.pk.hex}" in breadcrumbs and str(conversation.pk) not in breadcrumbs
    isolation = page.split("field-isolation")[1][:400]
    assert '<div class="readonly">none</div>' in isolation

    data = {
        "name": "",
        "loaded_version": conversation.version,
        "meta-TOTAL_FORMS": "1",
        "meta-INITIAL_FORMS": "0",
        "meta-MIN_NUM_FORMS": "0",
        "meta-MAX_NUM_FORMS": "1000",
        "meta-0-key": "k" * 80,
        "meta-0-value": "v",
    }
    page = admin_client.post(url, data).content.decode()
    assert page.count('class="errornote"') == 1
    assert "The metadata was not saved" in page
    row = page.split('<tr class="metadata-row errors">')[1].split("</tr>")[0]
    assert row.index('name="meta-0-key"') < row.index("is too long")  # input first, then why
