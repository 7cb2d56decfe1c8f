"""Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords from one client
IP, the right password is refused too and the page says why."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse


@pytest.mark.django_db
def test_wrong_passwords_lock_the_admin_login(client, django_user_model):
    django_user_model.objects.create_superuser("boss", password="right-password-123")
    login = reverse("admin:login")
    assert settings.AXES_FAILURE_LIMIT == 5  # the documented default
    statuses = [
        client.post(login, {"username": "boss", "password": "wrong"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    # The form again with its error, until the limit-th failure locks the IP out.
    assert statuses == [HTTPStatus.OK] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    refused = client.post(login, {"username": "boss", "password": "right-password-123"})

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "too many login attempts" in refused.content.decode().lower()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.FOUND  # still logged out


@pytest.mark.django_db
def test_fewer_failures_then_the_right_password_logs_in(client, django_user_model):
    django_user_model.objects.create_superuser("boss", password="right-password-123")
    login = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(login, {"username": "boss", "password": "wrong"})

    accepted = client.post(login, {"username": "boss", "password": "right-password-123"})

    assert accepted.status_code == HTTPStatus.FOUND
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_forwarded_client_ip_is_validated_behind_a_proxy(client, settings, django_user_model):
    """With CONVSTORE_PROXY_COUNT, the client IP comes from X-Forwarded-For; a value that is
    not an IP address falls back to REMOTE_ADDR instead of reaching axes' IP column."""
    settings.CONVSTORE_PROXY_COUNT = 1
    django_user_model.objects.create_superuser("boss", password="right-password-123")
    login = reverse("admin:login")
    for forwarded in ("not-an-ip", "203.0.113.7"):
        response = client.post(
            login, {"username": "boss", "password": "wrong"}, HTTP_X_FORWARDED_FOR=forwarded
        )
        assert response.status_code == HTTPStatus.OK
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        "127.0.0.1",
        "203.0.113.7",
    }


@pytest.mark.django_db
def test_login_page_warns_before_the_lockout(client, django_user_model):
    django_user_model.objects.create_superuser("boss", password="right-password-123")
    login = reverse("admin:login")
    first = client.get(login).content.decode()
    assert f"After {settings.AXES_FAILURE_LIMIT} failed sign-ins from this address" in first
    page = client.post(login, {"username": "boss", "password": "wrong"}).content.decode()
    assert f"{settings.AXES_FAILURE_LIMIT - 1} attempts left before sign-in" in page
    for _ in range(settings.AXES_FAILURE_LIMIT - 2):
        page = client.post(login, {"username": "boss", "password": "wrong"}).content.decode()
    assert "1 attempt left before sign-in" in page


@pytest.mark.django_db
def test_axes_section_sits_below_the_conversation_sections(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert index.index("Conversations") < index.index("Axes")
