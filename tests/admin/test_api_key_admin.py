"""Projects and API keys in the admin: create (key shown once), revoke, last use."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from conversations.models import ApiKey
from conversations.services import api_key_authenticate, api_key_create


@pytest.mark.django_db
def test_creating_a_key_shows_the_raw_key_once_and_it_authenticates(admin_client, project):
    response = admin_client.post(
        reverse("admin:conversations_apikey_add"),
        {"project": project.pk, "name": "support bot"},
        follow=True,
    )

    assert response.status_code == HTTPStatus.OK
    text = response.content.decode()
    raw_key = re.search(r"cs_[0-9a-f]{40}", text).group(0)
    key = ApiKey.objects.get()
    assert (key.project, key.name, key.prefix) == (project, "support bot", raw_key[:12])
    assert api_key_authenticate(raw_key) == key
    again = admin_client.get(reverse("admin:conversations_apikey_change", args=[key.pk]))
    assert raw_key not in again.content.decode()
    assert key.prefix in again.content.decode()


@pytest.mark.django_db
def test_revoke_action_revokes_and_counts_already_revoked(admin_client, project):
    first, raw_first = api_key_create(project=project)
    second, _ = api_key_create(project=project)
    admin_client.post(
        reverse("admin:conversations_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [second.pk]},
    )

    response = admin_client.post(
        reverse("admin:conversations_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "Revoked 1 API key; 1 was already revoked." in response.content.decode()
    assert api_key_authenticate(raw_first) is None


@pytest.mark.django_db
def test_key_list_and_project_page_show_last_use(admin_client, project):
    key, raw_key = api_key_create(project=project, name="used one")
    api_key_authenticate(raw_key)

    listing = admin_client.get(reverse("admin:conversations_apikey_changelist"))
    project_page = admin_client.get(
        reverse("admin:conversations_project_change", args=[project.pk])
    )

    assert listing.status_code == project_page.status_code == HTTPStatus.OK
    assert listing.context["cl"].result_list[0].last_used_at is not None
    assert key.prefix in project_page.content.decode()
    assert "last used" in listing.content.decode().lower()


@pytest.mark.django_db
def test_admin_turns_away_non_staff(client, django_user_model, make_conversation):
    django_user_model.objects.create_user("plain", password="pw-123456789")
    client.force_login(django_user_model.objects.get(username="plain"))
    conversation = make_conversation()

    response = client.post(
        reverse("admin:conversations_conversation_ai", args=[conversation.pk, "off"])
    )

    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response["Location"]
    conversation.refresh_from_db()
    assert conversation.ai_disabled is False
