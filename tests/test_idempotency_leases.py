"""``Idempotency-Key`` claims whose first request is running, crashed or expired: 409 while
it runs, taken over after its lease, and expired keys purged by their command."""

from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import openai
import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations.http import idempotency
from conversations.models import Conversation, IdempotencyKey
from tests.idempotency_keys import claim_like_a_running_request, key_header


def test_a_key_whose_first_request_is_running_answers_409_then_is_taken_over(
    openai_client, project
):
    claim_like_a_running_request(project, "/openai/v1/conversations", "busy", {})
    with pytest.raises(openai.ConflictError) as info:
        openai_client.conversations.create(extra_headers=key_header("busy"))
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.code == "idempotency_key_in_use"
    assert Conversation.objects.count() == 0

    # The first request's process died: once its lease runs out the key is free again.
    IdempotencyKey.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    created = openai_client.conversations.with_raw_response.create(extra_headers=key_header("busy"))
    assert created.status_code == HTTPStatus.OK and Conversation.objects.count() == 1


def test_telnyx_answers_409_in_its_envelope(http, project):
    claim_like_a_running_request(project, "/telnyx/v2/ai/conversations", "busy", {})
    response = http.post("/telnyx/v2/ai/conversations", json={}, headers=key_header("busy"))
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["errors"][0]["title"] == "Conflict"
    assert response.headers["retry-after"] == "1"


def test_a_claim_taken_over_after_its_lease_cannot_store_its_answer(project):
    first = claim_like_a_running_request(project, "/r", "k", {})
    IdempotencyKey.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    second = claim_like_a_running_request(project, "/r", "k", {})
    with pytest.raises(idempotency.IdempotencyKeyInUse):
        idempotency.complete(first, status_code=200, body=b"{}", headers={})
    idempotency.complete(second, status_code=200, body=b"{}", headers={})
    assert isinstance(claim_like_a_running_request(project, "/r", "k", {}), idempotency.Stored)


def test_expired_keys_are_new_keys_and_purged_by_their_command(openai_client, project):
    first = openai_client.conversations.create(extra_headers=key_header("old"))
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("purge_idempotency_keys", "--dry-run", stdout=out)
    assert "Would delete 1 expired" in out.getvalue() and IdempotencyKey.objects.count() == 1
    second = openai_client.conversations.create(extra_headers=key_header("old"))
    assert second.id != first.id  # The expired key was claimed afresh.

    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = claim_like_a_running_request(project, "/other", "new", {})
    call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 1 expired" in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_keys_expire_24_hours_after_first_use(openai_client):
    before = timezone.now()
    openai_client.conversations.create(extra_headers=key_header("ttl"))
    after = timezone.now()
    row = IdempotencyKey.objects.get()
    assert before + timedelta(hours=24) <= row.expires_at <= after + timedelta(hours=24)
